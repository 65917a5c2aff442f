"""FFmpeg dying, the app killed at five points, a lost SSH link, a corrupt checkpoint, a second instance."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from drapto_tui.model.events import Event
from tests.fault_ffmpeg import ffmpeg_killing, kill_count
from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, args_for, encode, fingerprint, stray_ffmpeg


@pytest.fixture(scope="module")
def film(media: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s, keyframe every second, stereo: four 2-second segments."""
    return media.copy_to(
        media.clip(width=160, height=90, duration=8, fps=24, audio="stereo", gop=24),
        tmp_path_factory.mktemp("films"),
        "film.mkv",
    )


def test_ffmpeg_killed_mid_segment_is_retried(tmp_path: Path, film: Path, ffmpeg: str) -> None:
    wrapper = ffmpeg_killing(tmp_path, ffmpeg, ["seg-0001.mkv", "libsvtav1"], times=1, after=0.05)
    before = fingerprint([film])
    run = encode(tmp_path, film, extra=(f'tools.ffmpeg="{wrapper}"',))
    assert run.code == 0, run.stderr
    assert kill_count(tmp_path) == 1
    seg1 = next(e for e in run.events if e.event == E.SEGMENT_COMPLETE and e.data.segment == 1)
    assert seg1.data.attempts == 2
    assert fingerprint([film]) == before and not stray_ffmpeg(tmp_path)


def test_ffmpeg_always_failing_for_one_segment(
    tmp_path: Path, film: Path, media: MediaFactory, ffmpeg: str
) -> None:
    other = media.copy_to(
        media.clip(width=160, height=90, duration=2, audio=None, gop=24), film.parent, "other.mkv"
    )
    wrapper = ffmpeg_killing(tmp_path, ffmpeg, ["seg-0002.mkv", "libsvtav1"], times=100, after=0.05)
    before = fingerprint([film, other])
    run = encode(tmp_path, film, other, extra=(f'tools.ffmpeg="{wrapper}"', "search.max_retries=2"))
    assert run.code == 1
    assert kill_count(tmp_path) == 3  # three attempts, all recorded
    seg_errors = [e for e in run.events if e.event == E.ERROR_OCCURRED and e.data.segment == 2]
    assert [e.data.attempt for e in seg_errors] == [1, 2, 3]
    fatal = [e for e in run.fatal()]
    assert len(fatal) == 1 and str(film) in fatal[0].data.message and "segment 2" in fatal[0].data.message
    assert [e.file for e in run.completed()] == [str(other)]  # the other job finished
    assert not (tmp_path / "out" / "film.mkv").exists()
    assert fingerprint([film, other]) == before and not stray_ffmpeg(tmp_path)


KILL_POINTS = {
    "after-analysis": lambda e: e.event == E.ANALYSIS_COMPLETE,
    "after-segmenting": lambda e: e.event == E.ENCODING_STARTED,
    "mid-search": lambda e: e.event == E.SEARCH_STEP,
    "after-first-segment": lambda e: e.event == E.SEGMENT_COMPLETE,
    "during-mux": lambda e: e.event == E.STAGE_STARTED and e.data.stage == "muxing",
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_resume(tmp_path: Path, film: Path, point: str) -> None:
    before = fingerprint([film])
    proc = subprocess.Popen(
        args_for(tmp_path, film), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first: list[Event] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        first.append(Event.from_json(line))
        if KILL_POINTS[point](first[-1]):
            proc.kill()
            break
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()  # type: ignore[union-attr]
    assert not (tmp_path / "out" / "film.mkv").exists()
    run = encode(tmp_path, film)
    assert run.code == 0, run.stderr
    done_before = {e.data.segment for e in first if e.event == E.SEGMENT_COMPLETE}
    done_after = [e.data.segment for e in run.events if e.event == E.SEGMENT_COMPLETE]
    assert not done_before & set(done_after), (done_before, done_after)  # no segment done twice
    planned = next(e for e in [*first, *run.events] if e.event == E.ENCODING_STARTED).data.segments
    assert sorted(done_before | set(done_after)) == list(range(len(planned)))
    assert (tmp_path / "out" / "film.mkv").exists()
    assert fingerprint([film]) == before
    time.sleep(0.2)
    assert not stray_ffmpeg(tmp_path)


def test_sighup_mid_run(tmp_path: Path, film: Path) -> None:
    proc = subprocess.Popen(
        args_for(tmp_path, film), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if Event.from_json(line).event == E.SEARCH_STEP:
            proc.send_signal(signal.SIGHUP)
            break
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert not stray_ffmpeg(tmp_path)
    assert encode(tmp_path, film).code == 0


def test_corrupt_checkpoint_is_a_clear_error_not_an_empty_queue(tmp_path: Path, film: Path) -> None:
    assert encode(tmp_path, film).code == 0
    db = tmp_path / "work" / "state" / "state.sqlite3"
    for side in ("-wal", "-shm"):
        Path(str(db) + side).unlink(missing_ok=True)
    db.write_bytes(b"\0garbage" * 512)
    run = encode(tmp_path, film)
    assert run.code == 1 and run.events == []
    line = run.stderr.strip()
    assert line.startswith(f"drapto-tui: {db}: state database is unreadable") and "move it aside" in line
    result = subprocess.run(
        [*args_for(tmp_path, film)[:3], "queue", "--set", f'processing.temp_dir="{tmp_path / "work"}"'],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "state database is unreadable" in result.stderr


def test_second_instance_is_refused(tmp_path: Path, film: Path) -> None:
    first = subprocess.Popen(
        args_for(tmp_path, film), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert first.stdout is not None
    for line in first.stdout:
        if Event.from_json(line).event == E.ANALYSIS_STARTED:
            break
    second = encode(tmp_path, film)
    assert second.code == 1 and second.events == []
    assert f"state dir is in use by drapto-tui pid {first.pid}" in second.stderr
    first.communicate(timeout=120)
    assert first.returncode == 0


def test_bad_config_value_and_unknown_key(tmp_path: Path, film: Path) -> None:
    bad = encode(tmp_path, film, extra=("encoding.preset=99",))
    assert bad.code == 2 and "encoding.preset = 99 (from --set)" in bad.stderr and bad.events == []
    unknown = encode(tmp_path, film, extra=("encoding.crf_sd=20",))
    assert unknown.code == 2 and "encoding.crf_sd (from --set): unknown key" in unknown.stderr
    assert not (tmp_path / "out").exists()
