"""The queue and the worker pool in-process, with real FFmpeg: pause, reorder, hold, cancel, retry, admission."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil
import pytest

from drapto_tui.config import DraptoConfig, load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.engine.queue import QueueError
from drapto_tui.model.events import ProcessingEvents, ProcessingStatus
from drapto_tui.model.state import SegmentStatus
from tests.fault_ffmpeg import ffmpeg_killing
from tests.media_helpers import MediaFactory
from tests.procs import encoder_pids, live_states

E = ProcessingEvents
BASE = [
    "encoding.preset=12",
    "search.n_subsample=2",
    "resources.temp_free_floor=0",
    "resources.memory_floor=0",
    'processing.segmentation="fixed"',
    "processing.chunk_size=2",
    "processing.min_segment=1",
    "search.samples=1",
    "search.sample_duration=1",
]


def cfg(tmp: Path, *extra: str) -> DraptoConfig:
    return load_config(
        env={},
        use_default_file=False,
        overrides=[f'processing.temp_dir="{tmp / "work"}"', f'output.dir="{tmp / "out"}"', *BASE, *extra],
    )


async def wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def clips(media: MediaFactory) -> list[Path]:
    return [
        media.clip(width=320, height=180, duration=d, fps=24, audio=None, gop=24, source=s)
        for d, s in ((8, "testsrc2"), (4, "smptehdbars"), (4, "testsrc"))
    ]


def test_queue_order_priority_hold_persist(tmp_path: Path, clips: list[Path]) -> None:
    async def scenario() -> None:
        config = cfg(tmp_path)
        async with Engine(config, monitor=False) as s:
            q = s.queue
            a, b, c = (q.add_job(p, tmp_path / f"{p.stem}-{i}.mkv") for i, p in enumerate(clips))
            order = lambda: [j.job_id for j in q.jobs()]  # noqa: E731
            assert order() == [a, b, c]
            q.move_down(a)
            assert order() == [b, a, c]
            q.move_to_top(c)
            assert order() == [c, b, a]
            q.move_up(a)
            assert order() == [c, a, b]
            q.move_to_bottom(c)
            assert order() == [a, b, c]
            q.bump_priority(c, +1)  # higher priority first
            assert order() == [c, a, b]
            q.move_down(c)  # moving past a lower-priority job takes its priority
            assert order() == [a, c, b] and s.state.jobs[c].priority == 0
            q.hold(a)
            assert q.get_next_job().job_id == c
            with pytest.raises(QueueError, match="cannot hold a held job"):
                q.hold(a)
            q.cancel_queued(b)
            assert s.state.jobs[b].status == ProcessingStatus.CANCELLED
            with pytest.raises(QueueError, match="cannot retry a queued job"):
                q.retry(c)
            saved = (order(), {j: s.state.jobs[j].status for j in order()})
        # Relaunch: the same queue in the same order with the same statuses.
        async with Engine(config, monitor=False) as s2:
            q2 = s2.queue
            assert ([j.job_id for j in q2.jobs()], {j.job_id: j.status for j in q2.jobs()}) == saved
            q2.release(a)
            q2.remove(b)
            assert [j.job_id for j in q2.jobs()] == [a, c]

    asyncio.run(scenario())


async def test_pause_really_stops_ffmpeg_and_job_finishes(tmp_path: Path, clips: list[Path]) -> None:
    config = cfg(tmp_path, "processing.parallel_jobs=1", "encoding.preset=8")
    async with Engine(config, monitor=False) as s:
        q, pool = s.queue, s.scheduler
        job = q.add_job(clips[0], tmp_path / "out" / "a.mkv")
        pool.start()
        await wait_for(lambda: job in pool.controls and encoder_pids(pool.job_pids(job)))
        pids = pool.job_pids(job)
        pool.pause_job(job)
        assert s.state.jobs[job].status == ProcessingStatus.PAUSED
        await asyncio.sleep(0.3)
        states = live_states(pids)
        assert states == {psutil.STATUS_STOPPED}  # 'T'
        frozen = dict(s.state.jobs[job].segments)
        await asyncio.sleep(0.5)
        assert {i: x.status for i, x in s.state.jobs[job].segments.items()} == {
            i: x.status for i, x in frozen.items()
        }
        pool.resume_job(job)
        assert s.state.jobs[job].status == ProcessingStatus.RUNNING
        await asyncio.wait_for(pool.run_until_idle(), 120)
        assert s.state.jobs[job].status == ProcessingStatus.COMPLETED
        await pool.stop()


async def test_cancel_running_job_ends_its_ffmpeg_and_cleans_up(tmp_path: Path, clips: list[Path]) -> None:
    config = cfg(tmp_path, "processing.parallel_jobs=1", "encoding.preset=8")
    async with Engine(config, monitor=False) as s:
        q, pool = s.queue, s.scheduler
        job = q.add_job(clips[0], tmp_path / "out" / "a.mkv")
        other = q.add_job(clips[1], tmp_path / "out" / "b.mkv")
        pool.start()
        await wait_for(lambda: job in pool.controls and pool.job_pids(job))
        pids = pool.job_pids(job)
        await pool.cancel_job(job)
        assert s.state.jobs[job].status == ProcessingStatus.CANCELLED
        assert not any(
            psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids
        )
        assert not (s.workdirs.paths["encoded"] / job).exists()
        await asyncio.wait_for(pool.run_until_idle(), 120)  # the queue goes on
        assert s.state.jobs[other].status == ProcessingStatus.COMPLETED
        assert not (tmp_path / "out" / "a.mkv").exists()
        await pool.stop()


async def test_reorder_changes_which_job_runs_next(tmp_path: Path, clips: list[Path]) -> None:
    config = cfg(tmp_path, "processing.parallel_jobs=1")
    async with Engine(config, monitor=False) as s:
        q, pool = s.queue, s.scheduler
        pool.max_in_flight = 1
        a = q.add_job(clips[1], tmp_path / "out" / "a.mkv")
        b = q.add_job(clips[2], tmp_path / "out" / "b.mkv")
        c = q.add_job(clips[0], tmp_path / "out" / "c.mkv")
        q.move_to_top(c)
        q.hold(b)
        sub = s.bus.subscribe(kinds=[E.ENCODING_COMPLETE])
        await asyncio.wait_for(pool.run_until_idle(), 180)
        finished = [e.job_id for e in sub.drain()]
        assert finished == [c, a]  # b is held: skipped until released
        q.release(b)
        pool.poke()
        await asyncio.wait_for(pool.run_until_idle(), 120)
        assert s.state.jobs[b].status == ProcessingStatus.COMPLETED
        await pool.stop()


async def test_retry_only_the_failed_segment(tmp_path: Path, clips: list[Path], ffmpeg: str) -> None:
    wrapper = ffmpeg_killing(tmp_path, ffmpeg, ["seg-0002.mkv", "libsvtav1"], times=2, after=0.05)
    config = cfg(tmp_path, "processing.parallel_jobs=1", "search.max_retries=1", f'tools.ffmpeg="{wrapper}"')
    async with Engine(config, monitor=False) as s:
        q, pool = s.queue, s.scheduler
        job = q.add_job(clips[0], tmp_path / "out" / "a.mkv")
        await asyncio.wait_for(pool.run_until_idle(), 120)
        state = s.state.jobs[job]
        assert state.status == ProcessingStatus.FAILED
        assert state.segments[2].status == SegmentStatus.FAILED
        done_before = set(state.done_segments())
        assert done_before  # others finished (or were running) and are kept
        sub = s.bus.subscribe(kinds=[E.SEGMENT_STARTED, E.SEGMENT_COMPLETE])
        q.retry(job)  # the wrapper has used up its two kills: the segment succeeds now
        pool.poke()
        await asyncio.wait_for(pool.run_until_idle(), 120)
        assert s.state.jobs[job].status == ProcessingStatus.COMPLETED
        rerun = {e.data.segment for e in sub.drain() if e.event == E.SEGMENT_COMPLETE}
        assert 2 in rerun and not rerun & done_before  # finished segments were not encoded again
        assert (tmp_path / "out" / "a.mkv").exists()
        await pool.stop()


async def test_admission_holds_work_back_under_a_low_memory_floor(tmp_path: Path, clips: list[Path]) -> None:
    config = cfg(tmp_path, "processing.parallel_jobs=2")
    async with Engine(config, monitor=False) as s:
        q, pool = s.queue, s.scheduler
        available = psutil.virtual_memory().available
        pool.admission.memory_floor = available * 2  # more than this machine has: nothing may start
        errors = s.bus.subscribe(kinds=[E.ERROR_OCCURRED])
        job = q.add_job(clips[1], tmp_path / "out" / "a.mkv")
        pool.start()
        await wait_for(lambda: s.state.jobs[job].segments)  # analysed and segmented, then it must wait
        await asyncio.sleep(2.0)
        assert pool.executor.busy == 0
        assert all(x.status == SegmentStatus.QUEUED for x in s.state.jobs[job].segments.values())
        waits = [e.data.message for e in errors.drain()]
        assert waits and waits[0].startswith("waiting for memory") and "resources.memory_floor" in waits[0]
        pool.admission.memory_floor = 0  # memory frees up: the work goes on, nothing was killed
        pool.poke()
        await asyncio.wait_for(pool.run_until_idle(), 120)
        assert s.state.jobs[job].status == ProcessingStatus.COMPLETED
        await pool.stop()
