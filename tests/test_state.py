from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from drapto_tui.engine.fold import SEGMENT_FIGURES, StateManager
from drapto_tui.engine.store import StateStore
from drapto_tui.errors import StateError
from drapto_tui.model.events import ProcessingEvents as E
from drapto_tui.model.events import ProcessingStatus, make_event
from drapto_tui.model.media import MediaProbe
from drapto_tui.model.state import ProcessingStage, SegmentStatus


def _run_job(mgr: StateManager, job: str = "j1", segments: int = 4, done: int = 2) -> None:
    mgr.update_state(make_event(E.JOB_QUEUED, job_id=job, file="/films/a.mkv", output="/out/a.mkv"))
    mgr.update_state(make_event(E.ANALYSIS_STARTED, job_id=job, file="/films/a.mkv"))
    mgr.update_state(
        make_event(
            E.ANALYSIS_COMPLETE,
            job_id=job,
            file="/films/a.mkv",
            media=MediaProbe(
                path="/films/a.mkv", size=10**9, duration=40.0, fps=24.0, width=1280, height=720
            ),
            encoding_path="chunked",
        )
    )
    mgr.update_state(
        make_event(
            E.ENCODING_STARTED,
            job_id=job,
            path="chunked",
            segments=[
                {"index": i, "start": i * 10.0, "end": (i + 1) * 10.0, "frames": 240} for i in range(segments)
            ],
        )
    )
    for i in range(done):
        mgr.update_state(make_event(E.SEGMENT_STARTED, job_id=job, segment=i, phase="searching", attempt=1))
        mgr.update_state(
            make_event(E.SEARCH_STEP, job_id=job, segment=i, attempt=1, crf=30.0, score=92.1, bytes=1000)
        )
        mgr.update_state(
            make_event(E.SEARCH_STEP, job_id=job, segment=i, attempt=1, crf=27.5, score=93.4, bytes=1300)
        )
        mgr.update_state(
            make_event(
                E.SEGMENT_COMPLETE,
                job_id=job,
                segment=i,
                crf=27.5,
                score_predicted=93.4,
                score_measured=93.2,
                bytes=1300,
                attempts=1,
            )
        )


def test_fold_lifecycle_into_state() -> None:
    mgr = StateManager()
    _run_job(mgr)
    job = mgr.get_current_state()
    assert job is not None and job.job_id == "j1"
    assert job.current_file == "/films/a.mkv" and job.encoding_path == "chunked"
    assert job.stage == ProcessingStage.ENCODING and job.status == ProcessingStatus.RUNNING
    assert job.done_segments() == [0, 1]
    assert job.segments[1].crf == 27.5 and [p.crf for p in job.segments[1].probes] == [30.0, 27.5]
    assert job.progress == pytest.approx(0.5)
    mgr.update_state(make_event(E.SEGMENT_PROGRESS, job_id="j1", segment=2, progress=0.5))
    assert job.progress == pytest.approx(0.625)
    mgr.update_state(
        make_event(
            E.ERROR_OCCURRED,
            job_id="j1",
            segment=3,
            message="ffmpeg died",
            stderr_tail=["x"],
            segment_failed=True,
        )
    )
    assert job.segments[3].status == SegmentStatus.FAILED and job.status == ProcessingStatus.RUNNING
    mgr.update_state(make_event(E.ERROR_OCCURRED, job_id="j1", message="gave up", fatal=True))
    assert job.status == ProcessingStatus.FAILED and len(job.errors) == 2


def test_every_payload_of_a_job_has_a_fold_and_every_figure_a_field() -> None:
    """The fold is a table by payload type: a new kind of event without a handler would be silently ignored."""
    from drapto_tui.model.events import PAYLOAD_KINDS, JobRemoved, ResourceSample, SegmentComplete
    from drapto_tui.model.state import SegmentState

    unfolded = set(PAYLOAD_KINDS) - set(StateManager.FOLDS)
    assert unfolded == {JobRemoved, ResourceSample}  # removal is handled first; a sample belongs to no job
    assert set(SEGMENT_FIGURES) <= set(SegmentComplete.model_fields) & set(SegmentState.model_fields)


def test_checkpoint_restores_queue_and_segments(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    mgr = StateManager(store)
    _run_job(mgr, "j1")
    mgr.update_state(make_event(E.JOB_QUEUED, job_id="j2", file="/films/b.mkv"))
    mgr.update_state(make_event(E.JOB_UPDATED, job_id="j2", position=-1, held=True))
    mgr.close()

    mgr2 = StateManager(StateStore(tmp_path))
    order = [j.job_id for j in mgr2.ordered_jobs()]
    assert order == ["j2", "j1"]
    assert mgr2.jobs["j2"].status == ProcessingStatus.HELD
    j1 = mgr2.jobs["j1"]
    assert j1.done_segments() == [0, 1]
    assert j1.segments[0].score_measured == 93.2 and len(j1.segments[0].probes) == 2
    assert j1.segments[3].status == SegmentStatus.QUEUED
    mgr2.update_state(make_event(E.JOB_REMOVED, job_id="j2"))
    mgr2.close()
    assert list(StateManager(StateStore(tmp_path)).jobs) == ["j1"]


def test_lifecycle_events_are_durable_at_once_progress_is_throttled(tmp_path: Path) -> None:
    mgr = StateManager(StateStore(tmp_path), progress_interval=3600)
    _run_job(mgr, done=1)
    mgr.update_state(make_event(E.SEGMENT_PROGRESS, job_id="j1", segment=1, progress=0.7))
    # Read with a second connection, as a relaunch after kill -9 would (no close, no final save).
    import sqlite3

    db = sqlite3.connect(tmp_path / "state.sqlite3")
    rows = dict(db.execute("SELECT idx, data FROM segments WHERE job_id='j1'").fetchall())
    assert '"status":"done"' in rows[0]
    assert '"progress":0.7' not in rows[1]  # progress waits for the next checkpoint
    mgr.save_checkpoint()
    rows = dict(db.execute("SELECT idx, data FROM segments WHERE job_id='j1'").fetchall())
    assert '"progress":0.7' in rows[1]


def test_search_cache_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.cache_put("seg:abc|crf=30|p8", {"score": 93.1, "bytes": 1234})
    store.close()
    assert StateStore(tmp_path).cache_get("seg:abc|crf=30|p8") == {"score": 93.1, "bytes": 1234}


def test_second_instance_is_refused(tmp_path: Path) -> None:
    first = StateStore(tmp_path)
    with pytest.raises(StateError, match=f"state dir is in use by drapto-tui pid {os.getpid()}"):
        StateStore(tmp_path)
    first.close()
    StateStore(tmp_path).close()  # free again once the first one closed


def test_corrupt_database_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError) as info:
        StateStore(tmp_path)
    line = info.value.line()
    assert "state.sqlite3" in line and "move it aside" in line
    (tmp_path / "state.sqlite3").unlink()
    StateStore(tmp_path).close()  # and the lock was released on the way out


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from drapto_tui.model.events import ProcessingEvents as E, make_event
    from drapto_tui.engine.fold import SEGMENT_FIGURES, StateManager
    from drapto_tui.engine.store import StateStore
    mgr = StateManager(StateStore(Path(sys.argv[1])))
    n = 0
    segs = [{"index": i, "start": i, "end": i + 1} for i in range(200)]
    mgr.update_state(make_event(E.ENCODING_STARTED, job_id="j", file="f", path="chunked", segments=segs))
    print("ready", flush=True)
    while True:
        n += 1
        job = mgr.jobs["j"]
        job.stats["n"] = n
        for seg in job.segments.values():
            seg.attempts = n
        mgr._dirty_jobs.add("j")
        mgr._dirty_segments.update(("j", i) for i in range(200))
        mgr.save_checkpoint()
    """
)


def test_kill_9_mid_checkpoint_leaves_a_consistent_checkpoint(tmp_path: Path) -> None:
    """Each checkpoint writes the job and its 200 segments; SIGKILL lands mid-write, reads stay consistent."""
    for round_ in range(5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.15 + 0.07 * round_)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        mgr = StateManager(StateStore(tmp_path))
        job = mgr.jobs["j"]
        n = job.stats.get("n", 0)
        assert {seg.attempts for seg in job.segments.values()} == {n}  # all from one transaction
        assert len(job.segments) == 200
        mgr.close()


def test_a_running_jobs_row_says_what_it_is_doing() -> None:
    """The queue's status column for a running job is its stage or step, never a bare 'running' with a blank %
    for the minute it analyses and cuts (issue 26); each word fits the column (9 characters)."""
    mgr = StateManager(None)
    mgr.update_state(make_event(E.JOB_QUEUED, job_id="j", file="/films/a.mkv", output="/out/a.mkv"))
    assert mgr.jobs["j"].activity() == "queued"
    mgr.update_state(make_event(E.ANALYSIS_STARTED, job_id="j", file="/films/a.mkv"))
    seen = [mgr.jobs["j"].activity()]
    for stage, step in (
        ("analyzing", "crop detection"),
        ("analyzing", "checking the end of the picture"),
        ("segmenting", "reading keyframes"),
        ("segmenting", "scene detection"),
        ("segmenting", "cutting 12 segments"),
        ("encoding", None),
        ("encoding", "joining segments"),
        ("audio", None),
        ("muxing", None),
        ("validating", None),
    ):
        data = {"stage": stage, **({"step": step} if step else {})}
        mgr.update_state(make_event(E.STAGE_STARTED, job_id="j", file="/films/a.mkv", **data))
        seen.append(mgr.jobs["j"].activity())
    assert seen == [
        "analysing",
        "crop",
        "checking",
        "keyframes",
        "scenes",
        "cutting",
        "encoding",
        "joining",
        "audio",
        "muxing",
        "checking",
    ]
    assert all(len(word) <= 9 for word in seen)
    mgr.update_state(make_event(E.JOB_PAUSED, job_id="j", file="/films/a.mkv"))
    assert mgr.jobs["j"].activity() == "paused"


def test_a_film_announced_in_batches_counts_its_progress_against_the_whole_film() -> None:
    """A long film's segments arrive range by range (one encoding_started each, film_end the picture's end):
    the first batch's finished segments are their share of the film, not of the batch."""
    mgr = StateManager()
    mgr.update_state(make_event(E.JOB_QUEUED, job_id="j", file="/films/a.mkv", output="/out/a.mkv"))

    def batch(first: int, count: int) -> None:
        segments = [
            {"index": i, "start": i * 10.0, "end": (i + 1) * 10.0} for i in range(first, first + count)
        ]
        mgr.update_state(
            make_event(E.ENCODING_STARTED, job_id="j", path="chunked", segments=segments, film_end=80.0)
        )

    def complete(i: int) -> None:
        mgr.update_state(make_event(E.SEGMENT_COMPLETE, job_id="j", segment=i, crf=30.0, bytes=1, attempts=1))

    batch(0, 2)
    complete(0)
    complete(1)
    assert mgr.jobs["j"].progress == pytest.approx(0.25)  # 20 s of an 80 s film, though all of this batch
    batch(2, 6)
    assert sorted(mgr.jobs["j"].segments) == list(range(8)) and mgr.jobs["j"].progress == pytest.approx(0.25)
    for i in range(2, 8):
        complete(i)
    assert mgr.jobs["j"].progress == pytest.approx(1.0)


def test_before_its_encode_a_jobs_percent_is_its_steps_own() -> None:
    """A long film spends minutes finding scenes and cutting before any segment encodes: its row's % is that
    step's own (a blank % said nothing), each new step starts from nothing, and once the encode has begun the %
    is the film's again (issue 26)."""
    mgr = StateManager(None)
    file = "/films/a.mkv"
    mgr.update_state(make_event(E.JOB_QUEUED, job_id="j", file=file, output="/out/a.mkv"))
    mgr.update_state(make_event(E.ANALYSIS_STARTED, job_id="j", file=file))
    job = mgr.jobs["j"]
    assert job.shown_progress() is None
    mgr.update_state(
        make_event(E.STAGE_STARTED, job_id="j", file=file, stage="segmenting", step="scene detection")
    )
    mgr.update_state(make_event(E.STEP_PROGRESS, job_id="j", file=file, progress=0.4))
    assert (job.activity(), job.shown_progress()) == ("scenes", 0.4)
    mgr.update_state(make_event(E.JOB_PAUSED, job_id="j", file=file))
    assert job.shown_progress() == 0.4  # paused mid-step: the figure stays
    mgr.update_state(make_event(E.JOB_RESUMED, job_id="j", file=file))
    mgr.update_state(
        make_event(E.STAGE_STARTED, job_id="j", file=file, stage="segmenting", step="cutting 9 segments")
    )
    assert (job.activity(), job.shown_progress()) == ("cutting", None)
    mgr.update_state(make_event(E.STEP_PROGRESS, job_id="j", file=file, progress=1.0))
    assert job.shown_progress() == 1.0
    segments = [{"index": i, "start": i * 4.0, "end": i * 4.0 + 4.0} for i in range(4)]
    mgr.update_state(make_event(E.ENCODING_STARTED, job_id="j", file=file, path="chunked", segments=segments))
    assert job.step_progress is None and job.shown_progress() == 0.0
    mgr.update_state(make_event(E.SEGMENT_COMPLETE, job_id="j", file=file, segment=0, crf=30.0))
    assert job.shown_progress() == 0.25
    # The mux's own progress is said in the inspector; the row keeps the film's.
    mgr.update_state(make_event(E.STAGE_STARTED, job_id="j", file=file, stage="muxing"))
    mgr.update_state(make_event(E.STEP_PROGRESS, job_id="j", file=file, progress=0.5))
    assert job.shown_progress() == 0.25
