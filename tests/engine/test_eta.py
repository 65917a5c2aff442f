"""ETAs from measured throughput and remaining work (issue 15): two jobs in parallel do not count twice, and a
resumed job's time and ETA count every run, not only the last one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from drapto_tui.engine.eta import EtaTracker
from drapto_tui.engine.fold import StateManager
from drapto_tui.model.events import ProcessingEvents, ProcessingStatus, make_event
from drapto_tui.model.state import ProcessingState
from tests.tui.scene import T0, media

E = ProcessingEvents


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def job(job_id: str, duration: float, progress: float, status=ProcessingStatus.RUNNING) -> ProcessingState:
    return ProcessingState(
        job_id=job_id,
        media=media(f"{job_id}.mkv", 1920, 1080, duration),
        progress=progress,
        status=status,
    )


def test_two_parallel_jobs_are_one_queue_rate_not_two_etas_added() -> None:
    """Two 600 s films encoding side by side at 1 film-second per second each, and a third 600 s film queued:
    1,800 s of film at 2 film-seconds per second is 900 s, then the third runs alone — the queue ETA a user can
    check is the work left over the rate measured, here 2/s. Adding each job's own time left (the old way) gave
    the two running jobs' ETAs twice over."""
    clock = Clock()
    tracker = EtaTracker(clock)
    for t in range(0, 121, 2):
        clock.now = float(t)
        jobs = [job("a", 600, t / 600), job("b", 600, t / 600), job("c", 600, 0.0, ProcessingStatus.QUEUED)]
        tracker.tick(jobs)
    assert tracker.rate() == pytest.approx(2.0)
    left = 600 * (1 - 120 / 600) * 2 + 600
    assert tracker.queue_eta(jobs) == pytest.approx(left / 2.0)


def test_queue_rate_ignores_paused_time_and_work_done_before_it_started() -> None:
    clock = Clock()
    tracker = EtaTracker(clock)
    # A relaunch: one film already half done before this tracker saw it.
    for t in range(0, 61, 5):
        clock.now = float(t)
        tracker.tick([job("a", 1000, 0.5 + t / 1000)])
    assert tracker.rate() == pytest.approx(1.0)  # not (500 + 60) / 60
    # Paused for an hour: the rate stays what it was when work stopped.
    clock.now = 3660.0
    tracker.tick([job("a", 1000, 0.56, ProcessingStatus.PAUSED)])
    for t in range(3665, 3726, 5):
        clock.now = float(t)
        tracker.tick([job("a", 1000, 0.56 + (t - 3660) / 1000)])
    assert tracker.rate() == pytest.approx(1.0)


def test_resumed_job_counts_the_time_of_every_run() -> None:
    """Run 1 works 100 s and is killed at 25 %; an hour later run 2 works 50 s more to 50 %. The job's time is
    150 s (not 50 s, not the hour between), and its ETA is that time scaled by what is left."""
    state = StateManager(None)
    f = "/films/a.mkv"

    def at(seconds: float, kind: ProcessingEvents, **data) -> None:
        state.update_state(
            make_event(kind, timestamp=T0 + timedelta(seconds=seconds), job_id="a", file=f, **data)
        )

    at(0, E.JOB_QUEUED, status=ProcessingStatus.QUEUED, output="/out/a.mkv")
    at(10, E.ANALYSIS_STARTED, status=ProcessingStatus.RUNNING)
    at(
        20,
        E.ENCODING_STARTED,
        path="chunked",
        segments=[{"index": i, "start": i * 10.0, "end": i * 10.0 + 10} for i in range(4)],
    )
    at(60, E.SEGMENT_PROGRESS, segment=0, progress=0.5)
    at(110, E.SEGMENT_COMPLETE, segment=0, crf=30.0)
    # Killed here. The next start puts the job back in the queue, then runs it.
    at(3700, E.JOB_UPDATED, status=ProcessingStatus.QUEUED, note="interrupted; resuming")
    at(3710, E.ANALYSIS_STARTED, status=ProcessingStatus.RUNNING)
    at(3740, E.JOB_PAUSED, status=ProcessingStatus.PAUSED)
    at(3900, E.JOB_RESUMED, status=ProcessingStatus.RUNNING)  # 160 s paused: not working time
    at(3920, E.SEGMENT_COMPLETE, segment=1, crf=31.0)
    a = state.jobs["a"]
    assert a.progress == pytest.approx(0.5)
    assert a.active_seconds == pytest.approx(100 + 30 + 20)
    now = T0 + timedelta(seconds=3920)
    assert EtaTracker().eta(a, now) == pytest.approx(150.0)
