"""A Dask cluster that changes under a running queue (issue 28), on a real scheduler and real workers run as
separate `dask` processes on 127.0.0.1, nothing shared but the scheduler: a worker that joins mid-run adds its
slot within seconds, one that leaves takes it away, and a cluster with no worker says so where the user looks
(log, app header, `queue`) and goes on when one joins."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drapto_tui.engine.engine import Engine
from drapto_tui.model.events import ProcessingEvents, ProcessingStatus
from tests.fast_config import fast_config
from tests.judge import decoded_frames
from tests.media_helpers import MediaFactory

pytest.importorskip("distributed", reason="Dask is not installed (pip install 'drapto-tui[dask]')")
E = ProcessingEvents
DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A `dask scheduler` and `dask worker`s, each its own process with its own local directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start_scheduler(self) -> None:
        """On the cluster's one address: a scheduler started again is found where the workers and we look."""
        port = self.address.rsplit(":", 1)[1]
        self.procs["scheduler"] = self._spawn(
            "scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"]
        )
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                return
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)

    def start_worker(self, name: str, port: int | None = None, env: dict[str, str] | None = None) -> None:
        local = self.root / name
        local.mkdir(parents=True, exist_ok=True)
        fixed = ["--worker-port", str(port), "--no-nanny"] if port else []
        self.procs[name] = self._spawn(
            name,
            [DASK, "worker", self.address, "--name", name, "--nthreads", "1", "--nworkers", "1",
             "--no-dashboard", "--local-directory", str(local), *fixed],
            env,
        )  # fmt: skip

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(10)

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.root / f"{name}.log").open("wb")
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if shutil.which(DASK) is None:
        pytest.skip("the dask command is not installed")
    made = Cluster(tmp_path / "cluster")
    made.root.mkdir()
    made.start_scheduler()
    yield made
    made.close()


def clip_film(media: MediaFactory, tmp: Path, seconds: int, width: int = 320, height: int = 180) -> Path:
    clip = media.clip(width=width, height=height, duration=seconds, fps=24, audio="stereo", gop=24)
    return media.copy_to(clip, tmp / "films", "f.mkv")


def lines_said(engine: Engine, *, without_job: bool = False) -> list[str]:
    """Every line the engine says from now on (only those of no job, with `without_job`)."""
    lines: list[str] = []
    engine.bus.add_listener(
        lambda e: (not without_job or e.job_id is None) and lines.append(getattr(e.data, "message", ""))
    )
    return lines


async def running_on_one_worker(engine: Engine, film: Path) -> tuple[set[str], asyncio.Task[dict[str, bool]]]:
    """The film's job started, once its first segment runs on the cluster's one worker: (ids, the run)."""
    ids = engine.encode_paths([film], {})
    await engine.start(only=ids, preanalyse=False)
    run = asyncio.create_task(engine.run_until_idle())
    await wait_for(lambda: engine.executor.busy == 1 and engine.executor.slots == 1, 60, "a segment on w1")
    return ids, run


def events_of(tmp: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp / "work" / "logs" / "events.jsonl").open()]


def config_for(tmp: Path, cluster: Cluster, *extra: str):
    return fast_config(
        tmp, 'execution.backend="dask"', f'execution.scheduler="{cluster.address}"', "processing.parallel_jobs=0",
        *extra,
    )  # fmt: skip


async def wait_for(check, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def test_a_worker_that_joins_mid_run_adds_a_slot_and_one_that_leaves_takes_it(
    tmp_path: Path, media: MediaFactory, ffmpeg: str, cluster: Cluster
) -> None:
    film = clip_film(media, tmp_path, 24)
    cluster.start_worker("w1")
    async with Engine(config_for(tmp_path, cluster, "encoding.preset=8"), monitor=False) as engine:
        lines = lines_said(engine, without_job=True)
        started_on: set[str] = set()
        engine.bus.add_listener(
            lambda e: e.event == E.SEGMENT_STARTED and started_on.add((e.data.worker or "").split(" ")[0])
        )
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        await wait_for(lambda: engine.executor.slots == 1, 30, "w1's slot")
        run = asyncio.create_task(engine.run_until_idle())
        await wait_for(lambda: engine.executor.busy == 1, 60, "the first segment")
        cluster.start_worker("w2")
        await wait_for(lambda: engine.executor.slots == 2, 30, "w2's slot")
        await wait_for(lambda: engine.executor.busy == 2, 30, "two segments at once")
        await wait_for(lambda: "w2" in started_on, 60, "a segment on w2")
        cluster.stop("w2")
        await wait_for(lambda: engine.executor.slots == 1, 30, "w2's slot to go")
        assert all((await asyncio.wait_for(run, 300)).values())
        (job,) = [engine.state.jobs[i] for i in ids]
    assert "worker w2 joined (2 connected, 2 segments at once)" in lines, lines
    assert "worker w2 left (1 connected, 1 segment at once)" in lines, lines
    assert job.status == ProcessingStatus.COMPLETED
    assert started_on == {"w1", "w2"}  # named as the workers were started, never by address
    assert decoded_frames(ffmpeg, tmp_path / "out" / "f.mkv") == decoded_frames(ffmpeg, film)


async def test_a_cluster_without_workers_says_so_and_goes_on_when_one_joins(
    tmp_path: Path, media: MediaFactory, ffmpeg: str, cluster: Cluster
) -> None:
    film = clip_film(media, tmp_path, 4, 160, 96)
    config = config_for(tmp_path, cluster)
    async with Engine(config, monitor=False) as engine:
        lines = lines_said(engine, without_job=True)
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        assert engine.waiting == "waiting for workers (0 connected)"
        assert Engine.look(config).waiting == engine.waiting  # what `queue` says beside the owner
        run = asyncio.create_task(engine.run_until_idle())
        await asyncio.sleep(3)  # the job is analysed and cut; its segments wait for a worker
        assert not run.done() and engine.executor.busy == 0
        cluster.start_worker("w1")
        assert all((await asyncio.wait_for(run, 300)).values())
        assert engine.waiting is None
    said = [line for line in lines if line]
    assert said[0] == "waiting for workers (0 connected): segments wait for a worker to join the cluster"
    assert "worker w1 joined (1 connected, 1 segment at once)" in said
    assert decoded_frames(ffmpeg, tmp_path / "out" / "f.mkv") == decoded_frames(ffmpeg, film)


async def test_a_worker_restarted_on_its_port_is_told_apart_and_its_segment_runs_again(
    tmp_path: Path, media: MediaFactory, ffmpeg: str, cluster: Cluster
) -> None:
    """The only worker is killed mid-segment and started again with the same name on the same port: the wait
    for a worker is said, and the lost segment is said once and placed once (the address is the same; the
    segment's bytes lived on the worker that was lost, and Dask's worker id tells a restarted one apart when
    the workers read the segments from a shared folder)."""
    film = clip_film(media, tmp_path, 8)
    port = free_port()
    cluster.start_worker("w1", port)
    async with Engine(config_for(tmp_path, cluster, "encoding.preset=8"), monitor=False) as engine:
        lines = lines_said(engine)
        ids, run = await running_on_one_worker(engine, film)
        await asyncio.sleep(0.5)
        cluster.stop("w1")  # SIGKILL: no goodbye to the scheduler
        await wait_for(lambda: engine.waiting == "waiting for workers (0 connected)", 60, "the wait")
        cluster.start_worker("w1", port)
        assert all((await asyncio.wait_for(run, 300)).values())
        (job,) = [engine.state.jobs[i] for i in ids]
    lost = [line for line in lines if "was lost mid-segment" in line]
    assert len(lost) == 1 and lost[0].startswith(
        f"worker w1 (tcp://127.0.0.1:{port}) was lost mid-segment"
    ), lost
    # The time around the work, each part apart: the try lost with the worker is not "transfer".
    done = [e["data"] for e in events_of(tmp_path) if e["event"] == "segment_complete"]
    assert sum(1 for d in done if d["lost_seconds"] > 0.5) == 1
    assert all(d["transfer_seconds"] < 2 and d["queued_seconds"] >= 0 for d in done)
    assert sum(d["check_seconds"] for d in done) > 0  # each new worker process checks its FFmpeg once
    assert job.status == ProcessingStatus.COMPLETED
    assert decoded_frames(ffmpeg, tmp_path / "out" / "f.mkv") == decoded_frames(ffmpeg, film)


async def test_a_lost_scheduler_puts_the_segments_back_and_no_job_fails(
    tmp_path: Path, media: MediaFactory, ffmpeg: str, cluster: Cluster
) -> None:
    """kill -9 the scheduler mid-run and start it again a few seconds later on its address, with its worker (a
    Dask worker ends with its scheduler; a supervisor starts it again): the coordinator says so in one line,
    reconnects, the running segments run again and the job completes (it used to fail with "unexpected
    ClosedClientError ... please report it")."""
    film = clip_film(media, tmp_path, 12)
    cluster.start_worker("w1")
    async with Engine(config_for(tmp_path, cluster, "encoding.preset=8"), monitor=False) as engine:
        lines = lines_said(engine)
        ids, run = await running_on_one_worker(engine, film)
        cluster.stop("scheduler")
        await wait_for(
            lambda: (engine.waiting or "").startswith("waiting for the Dask scheduler"), 30, "the wait"
        )
        await asyncio.sleep(2)
        cluster.start_scheduler()
        cluster.procs.pop("w1").wait(30)  # a Dask worker ends with its scheduler;
        cluster.start_worker("w1")  # its supervisor (systemd, a loop) starts it again
        assert all((await asyncio.wait_for(run, 300)).values())
        (job,) = [engine.state.jobs[i] for i in ids]
        assert engine.waiting is None
    lost = [line for line in lines if "was lost; the running segments wait" in line]
    back = [line for line in lines if "is back after" in line]
    assert len(lost) == 1 and len(back) == 1, [line for line in lines if line]
    assert not [e.message for e in job.errors if e.fatal]
    assert job.status == ProcessingStatus.COMPLETED
    assert decoded_frames(ffmpeg, tmp_path / "out" / "f.mkv") == decoded_frames(ffmpeg, film)


async def test_a_worker_whose_ffmpeg_cannot_is_left_out_and_the_others_do_the_work(
    tmp_path: Path, media: MediaFactory, ffmpeg: str, cluster: Cluster
) -> None:
    """w1's FFmpeg lacks libvmaf (DRAPTO_FFMPEG on that worker): it is left out in one line that names it and the
    fix, and w2 encodes every segment; the job does not fail for it."""
    from tests.fault_ffmpeg import ffmpeg_without

    lacking = ffmpeg_without(tmp_path, ffmpeg, "libvmaf")
    cluster.start_worker("w1", env={"DRAPTO_FFMPEG": str(lacking)})
    cluster.start_worker("w2")
    film = clip_film(media, tmp_path, 8, 160, 96)
    async with Engine(config_for(tmp_path, cluster), monitor=False) as engine:
        lines = lines_said(engine)
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        # Both seen by the coordinator (it looks once a second). Not "two slots": w1 may refuse its first segment
        # before the coordinator has counted it, and then it never adds a slot.
        await wait_for(lambda: len(engine.executor.workers or {}) == 2, 30, "both workers")
        assert all((await asyncio.wait_for(engine.run_until_idle(), 300)).values())
        (job,) = [engine.state.jobs[i] for i in ids]
        assert engine.executor.slots == 1  # w1's thread is not counted while it cannot do the work
    refused = [line for line in lines if "refuses the segment" in line]
    assert len(refused) == 1, refused  # said once, not per segment
    assert refused[0].startswith("worker w1 refuses the segment") and "libvmaf" in refused[0]
    assert "DRAPTO_FFMPEG on that worker" in refused[0] and "tools.ffmpeg" not in refused[0]
    assert {(s.worker or "").split(" ")[0] for s in job.segments.values()} == {"w2"}
    assert job.status == ProcessingStatus.COMPLETED
    assert decoded_frames(ffmpeg, tmp_path / "out" / "f.mkv") == decoded_frames(ffmpeg, film)


async def test_a_segments_bytes_go_to_the_worker_not_through_the_scheduler(
    tmp_path: Path, ffmpeg: str, cluster: Cluster
) -> None:
    """A 6 s segment of lossless noise (about 50 MB): the scheduler's memory does not grow by it (it grows by about
    13 MB whatever the segment, from the job's tasks and looks), and Dask warns of no large graph (the warning went
    to the user's terminal for every segment)."""
    import warnings

    import psutil

    film = tmp_path / "films" / "noise.mkv"
    film.parent.mkdir()
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=24:d=6,noise=alls=60:allf=t",
         "-c:v", "libx264", "-qp", "0", "-g", "144", str(film)],
        check=True,
    )  # fmt: skip
    size = film.stat().st_size
    assert size > 40 * 2**20  # the segment is one piece of about this size
    cluster.start_worker("w1")
    scheduler = psutil.Process(cluster.procs["scheduler"].pid)
    config = config_for(tmp_path, cluster, "processing.chunk_size=6", "encoding.preset=12")
    peak = 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with Engine(config, monitor=False) as engine:
            ids = engine.encode_paths([film], {})
            await engine.start(only=ids, preanalyse=False)
            await wait_for(lambda: engine.executor.slots == 1, 30, "w1")
            baseline = scheduler.memory_info().rss
            run = asyncio.create_task(engine.run_until_idle())
            while not run.done():
                peak = max(peak, scheduler.memory_info().rss)
                await asyncio.sleep(0.05)
            assert all(run.result().values())
    assert not [w for w in caught if "large graph" in str(w.message)]
    assert peak - baseline < size / 2, (peak - baseline, size)


async def test_the_coordinator_holds_no_more_than_two_segments_bytes_whatever_the_slots(
    tmp_path: Path, ffmpeg: str, cluster: Cluster
) -> None:
    """Four workers take four lossless segments of about 60 MB at once: the coordinator reads each only when it
    sends it, two at a time, and lets it go once sent, so its memory grows by under three segments (measured:
    127 MB for 63 MB segments; before, it held all four for their whole encodes and grew by 284 MB, and 16 slots
    of 300 MB pieces would have held 4.8 GB)."""
    import psutil

    film = tmp_path / "films" / "noise.mkv"
    film.parent.mkdir()
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=24:d=24,noise=alls=60:allf=t",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-g", "144", str(film)],
        check=True,
    )  # fmt: skip
    piece = film.stat().st_size / 4
    assert piece > 30 * 2**20
    for name in ("w1", "w2", "w3", "w4"):
        cluster.start_worker(name)
    me = psutil.Process()
    config = config_for(tmp_path, cluster, "processing.chunk_size=6", "encoding.preset=12")
    async with Engine(config, monitor=False) as engine:
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        await wait_for(lambda: engine.executor.slots == 4, 60, "four workers")
        baseline = me.memory_info().rss
        peak = baseline
        run = asyncio.create_task(engine.run_until_idle())
        while not run.done():
            peak = max(peak, me.memory_info().rss)
            await asyncio.sleep(0.02)
        assert all(run.result().values())
        job = engine.state.jobs[next(iter(ids))]
        assert len(job.segments) == 4
        assert {(s.worker or "").split(" ")[0] for s in job.segments.values()} == {"w1", "w2", "w3", "w4"}
    assert decoded_frames(ffmpeg, tmp_path / "out" / "noise.mkv") == 576
    assert peak - baseline < 2.5 * piece, (peak - baseline, piece)
