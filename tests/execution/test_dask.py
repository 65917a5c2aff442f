"""The Dask executor on a LocalCluster of two worker processes, one thread each, each with its own local
directory (nothing shared but the scheduler: segments travel as bytes). Real FFmpeg on small clips."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from drapto_tui.engine.engine import Engine
from drapto_tui.model.events import ProcessingEvents, ProcessingStatus
from drapto_tui.model.state import SegmentStatus
from tests.fast_config import fast_config
from tests.judge import decoded_frames
from tests.media_helpers import MediaFactory

pytest.importorskip("distributed", reason="Dask is not installed (pip install 'drapto-tui[dask]')")
E = ProcessingEvents
DASK_LOCAL = ['execution.backend="dask-local"', "execution.workers=2", "processing.parallel_jobs=0"]


def config_for(tmp: Path, *extra: str):
    return fast_config(tmp, *DASK_LOCAL, *extra)


async def worker_ffmpegs(engine: Engine) -> list[psutil.Process]:
    """FFmpeg processes the Dask worker processes run (not the coordinator's own steps, such as crop detection)."""
    pids = await engine.executor.client.run(os.getpid)  # type: ignore[attr-defined]
    found = []
    for pid in pids.values():
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in children:  # one that ends while we look is not running (nor is a zombie)
            with contextlib.suppress(psutil.NoSuchProcess):
                if "ffmpeg" in child.name() and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
    return found


async def test_a_film_encodes_on_both_workers_and_validates(
    tmp_path: Path, media: MediaFactory, ffmpeg: str
) -> None:
    film = media.copy_to(
        media.clip(width=160, height=96, duration=8, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )
    async with Engine(config_for(tmp_path), monitor=False) as engine:
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        assert all((await engine.run_until_idle()).values())
        (job,) = [engine.state.jobs[i] for i in ids]
        # The inspector says which machine encoded which segment.
        from textual.widgets import DataTable

        from drapto_tui.tui.app import DraptoApp
        from drapto_tui.tui.screens.inspector import InspectorScreen

        app = DraptoApp(engine, run_core=False)
        async with app.run_test(size=(120, 40)) as pilot:
            app.push_screen(InspectorScreen(job.job_id))
            await pilot.pause(0.3)
            table = app.screen.query_one("#segments", DataTable)
            labels = [str(c.label) for c in table.columns.values()]
            assert labels[-1] == "Worker"
            shown = {str(table.get_row_at(r)[-1]) for r in range(table.row_count)}
            assert shown == {s.worker for s in job.segments.values()}
    workers = {s.worker for s in job.segments.values()}
    assert len(job.segments) == 4 and all(s.status == SegmentStatus.DONE for s in job.segments.values())
    assert len(workers) == 2 and None not in workers, workers  # both workers encoded segments
    out = tmp_path / "out" / "film.mkv"
    assert decoded_frames(ffmpeg, out) == decoded_frames(ffmpeg, film) == 192


async def test_a_worker_killed_mid_segment(tmp_path: Path, media: MediaFactory, ffmpeg: str) -> None:
    """Kill -9 the worker running a segment: the segment runs again elsewhere, once in the output, one line."""
    film = media.copy_to(
        media.clip(width=160, height=96, duration=8, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )
    async with Engine(config_for(tmp_path, "encoding.preset=10"), monitor=False) as engine:
        sub = engine.bus.subscribe("test", kinds=[E.SEGMENT_STARTED, E.SEGMENT_COMPLETE, E.ERROR_OCCURRED])
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        run = asyncio.create_task(engine.run_until_idle())
        killed = None
        deadline = time.monotonic() + 60
        while killed is None and time.monotonic() < deadline:
            event = await asyncio.wait_for(sub.get(), 60)
            worker = getattr(event.data, "worker", None)
            if event.event == E.SEGMENT_STARTED and worker and event.data.phase == "searching":
                address = worker.split("(", 1)[1].rstrip(")")
                pids = await engine.executor.client.run(os.getpid, workers=[address])  # type: ignore[attr-defined]
                killed = pids[address]
                os.kill(killed, signal.SIGKILL)
        assert killed is not None
        assert all((await asyncio.wait_for(run, 180)).values())
        (job,) = [engine.state.jobs[i] for i in ids]
        events = sub.drain()
    log = [json.loads(line) for line in (tmp_path / "work" / "logs" / "events.jsonl").open()]
    done = [e["data"]["segment"] for e in log if e["event"] == E.SEGMENT_COMPLETE.value]
    assert sorted(done) == [0, 1, 2, 3]  # each segment placed once
    assert job.status == ProcessingStatus.COMPLETED
    lost = [e for e in log if e["event"] == E.ERROR_OCCURRED.value and "was lost" in e["data"]["message"]]
    assert len(lost) == 1, [e["data"]["message"] for e in log if e["event"] == E.ERROR_OCCURRED.value]
    assert decoded_frames(ffmpeg, tmp_path / "out" / "film.mkv") == 192
    assert events is not None


async def test_pause_stops_the_workers_ffmpeg_and_cancel_ends_it(tmp_path: Path, media: MediaFactory) -> None:
    film = media.copy_to(
        media.clip(width=640, height=360, duration=12, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )
    async with Engine(config_for(tmp_path, "encoding.preset=8"), monitor=False) as engine:
        ids = engine.encode_paths([film], {})
        (job_id,) = ids
        await engine.start(only=ids, preanalyse=False)
        run = asyncio.create_task(engine.run_until_idle())
        deadline = time.monotonic() + 60
        while not await worker_ffmpegs(engine) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert time.monotonic() < deadline, "no FFmpeg started on the workers"
        engine.toggle_pause(job_id)

        async def all_stopped() -> bool:
            """Every FFmpeg still alive on the workers is stopped (one that ended between the listing and the
            look, such as the worker's quick check of its FFmpeg, is not running either)."""
            states = []
            for proc in await worker_ffmpegs(engine):
                with contextlib.suppress(psutil.NoSuchProcess):
                    states.append(proc.status())
            live = [state for state in states if state != psutil.STATUS_ZOMBIE]
            return bool(live) and all(state == psutil.STATUS_STOPPED for state in live)

        async def cpu_seconds() -> dict[int, float]:
            seconds = {}
            for proc in await worker_ffmpegs(engine):
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = proc.cpu_times()
                    seconds[proc.pid] = times.user + times.system
            return seconds

        deadline = time.monotonic() + 10
        while not await all_stopped() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert time.monotonic() < deadline, [(p.pid, p.status()) for p in await worker_ffmpegs(engine)]
        # Paused stays paused: over a second, no FFmpeg of the job on the workers gets any CPU time.
        before = await cpu_seconds()
        await asyncio.sleep(1.0)
        after = await cpu_seconds()
        assert before and all(after[pid] == before[pid] for pid in before if pid in after), (before, after)
        engine.toggle_pause(job_id)
        await asyncio.sleep(0.3)
        assert all(p.status() != psutil.STATUS_STOPPED for p in await worker_ffmpegs(engine))
        await engine.cancel(job_id)
        await asyncio.wait_for(run, 60)
        deadline = time.monotonic() + 10
        while await worker_ffmpegs(engine) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await worker_ffmpegs(engine) == []  # nothing of the job runs on the workers
        assert engine.state.jobs[job_id].status == ProcessingStatus.CANCELLED
    # And nothing of ours outlives the cluster (FFmpeg runs in sessions of its own, out of the workers' reach).
    assert not [
        p for p in psutil.process_iter(["cmdline"]) if "drapto-segment-" in " ".join(p.info["cmdline"] or [])
    ]


def test_scheduler_unreachable_is_one_line_and_exit_2(tmp_path: Path, media: MediaFactory) -> None:
    film = media.clip(width=160, height=96, duration=2, fps=24, audio="stereo", gop=24)
    args = [
        *(sys.executable, "-m", "drapto_tui", "encode", str(film)),
        *("--set", f'processing.temp_dir="{tmp_path / "work"}"', "-o", str(tmp_path / "out")),
        *("--set", 'execution.backend="dask"', "--set", 'execution.scheduler="tcp://127.0.0.1:9"'),
    ]
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Dask scheduler answers" in lines[0] and "tcp://127.0.0.1:9" in lines[0]
    assert time.monotonic() - started < 60


async def test_a_worker_without_a_suitable_ffmpeg_refuses(
    tmp_path: Path, media: MediaFactory, ffmpeg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers' FFmpeg (DRAPTO_FFMPEG, inherited by the local cluster's processes) lacks libsvtav1: every
    segment is refused with that line, and nothing is encoded differently."""
    from tests.fault_ffmpeg import ffmpeg_without

    monkeypatch.setenv("DRAPTO_FFMPEG", str(ffmpeg_without(tmp_path, ffmpeg, "libsvtav1")))
    film = media.copy_to(
        media.clip(width=160, height=96, duration=2, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )
    async with Engine(config_for(tmp_path), monitor=False) as engine:
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        results = await engine.run_until_idle()
        (job,) = [engine.state.jobs[i] for i in ids]
    assert not any(results.values()) and job.status == ProcessingStatus.FAILED
    fatal = [e.message for e in job.errors if e.fatal]
    assert fatal and "refuses the segment" in fatal[-1] and "libsvtav1" in fatal[-1]
    assert not (tmp_path / "out" / "film.mkv").exists()


async def test_the_meters_show_each_worker_and_its_ffmpeg(
    tmp_path: Path, media: MediaFactory, ffmpeg: str
) -> None:
    """With Dask, the meters show each worker by name, its CPU and memory counting the FFmpeg it runs (Dask's
    own metrics count the worker process alone); the resource samples carry them to every viewer (issue 26)."""
    film = media.copy_to(
        media.clip(width=320, height=180, duration=60, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )
    config = config_for(tmp_path, "encoding.preset=8", "resources.sample_interval=0.5")
    seen: list[dict] = []
    async with Engine(config) as engine:
        samples = engine.bus.subscribe("test-meters", kinds=[E.RESOURCE_SAMPLE])

        async def collect() -> None:  # as a viewer reads them (samples coalesce while unread)
            async for event in samples:
                if event.data.workers:
                    seen.append(event.data.workers)

        reader = asyncio.create_task(collect())
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        assert all((await engine.run_until_idle()).values())
        reader.cancel()
        samples.close()
    assert seen, "no sample named the workers"
    names = set().union(*seen)
    assert len(names) == 2  # the LocalCluster's two workers, by name
    # At some point a worker was encoding: well over what an idle Dask worker process uses.
    busiest = max(u.cpu for sample in seen for u in sample.values())
    assert busiest > 20, seen[-3:]  # an idle Dask worker process reads a few per cent
    assert all(u.rss > 0 for sample in seen for u in sample.values())


async def test_on_a_cluster_a_long_film_encodes_while_it_is_still_being_cut(
    tmp_path: Path, media: MediaFactory, ffmpeg: str
) -> None:
    """processing.cut_in_ranges = "auto": on a Dask cluster a film longer than two scene ranges is cut range by
    range, and the workers start on the first range's segments before the last range is cut."""
    film = media.copy_to(
        media.clip(width=160, height=96, duration=12, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )
    config = config_for(
        tmp_path, 'processing.segmentation="scene"', "processing.scene_range=3", "processing.max_segment=2"
    )
    async with Engine(config, monitor=False) as engine:
        sub = engine.bus.subscribe("test")
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        assert all((await engine.run_until_idle()).values())
        events = sub.drain()
    batches = [e for e in events if e.event == E.ENCODING_STARTED]
    assert len(batches) == 4
    first_start = next(i for i, e in enumerate(events) if e.event == E.SEGMENT_STARTED)
    assert first_start < events.index(batches[-1])
    out = tmp_path / "out" / "film.mkv"
    assert decoded_frames(ffmpeg, out) == decoded_frames(ffmpeg, film) == 288
