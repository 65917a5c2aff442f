"""A source that changes, shrinks or disappears between runs (or during one) never yields a spliced film."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from drapto_tui.model.events import Event
from tests.judge import decoded_frames, mediainfo_tracks
from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, Run, args_for, encode, stray_ffmpeg


def film_a(media: MediaFactory) -> Path:
    return media.clip(width=160, height=90, duration=8, fps=24, audio="stereo", gop=24)


def film_b(media: MediaFactory) -> Path:
    return media.clip(width=160, height=90, duration=5, fps=24, audio="stereo", gop=24, source="smptehdbars")


def run_until(tmp: Path, film: Path, predicate, *extra: str) -> tuple[subprocess.Popen[str], list[Event]]:
    proc = subprocess.Popen(
        args_for(tmp, film, extra=extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: list[Event] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(Event.from_json(line))
        if predicate(seen):
            break
    return proc, seen


def segments_done(n: int):
    return lambda seen: sum(e.event == E.SEGMENT_COMPLETE for e in seen) >= n


def killed_after_two_segments(tmp: Path, film: Path) -> None:
    proc, _ = run_until(tmp, film, segments_done(2))
    proc.kill()
    proc.communicate()


def encode_resume(tmp: Path) -> Run:
    args = args_for(tmp)
    proc = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    return Run(proc.returncode, [Event.from_json(line) for line in proc.stdout.splitlines()], proc.stderr)


def test_replaced_source_restarts_from_scratch(tmp_path: Path, media: MediaFactory, ffmpeg: str) -> None:
    film = media.copy_to(film_a(media), tmp_path / "films", "film.mkv")
    killed_after_two_segments(tmp_path, film)
    media.copy_to(film_b(media), tmp_path / "films", "film.mkv")  # another film under the same name
    run = encode_resume(tmp_path)
    assert run.code == 0, run.stderr
    why = [e.data.message for e in run.events if e.event == E.ERROR_OCCURRED]
    assert len(why) == 1 and "source changed since this job started" in why[0] and str(film) in why[0], why
    assert "encoded again from the start" in why[0]
    # Every segment of the new film was encoded in this run: nothing of the old one was reused.
    planned = next(e for e in run.events if e.event == E.ENCODING_STARTED).data.segments
    done = sorted(e.data.segment for e in run.events if e.event == E.SEGMENT_COMPLETE)
    assert done == list(range(len(planned)))
    out = tmp_path / "out" / "film.mkv"
    assert decoded_frames(ffmpeg, out) == decoded_frames(ffmpeg, film) == 120
    tracks = mediainfo_tracks(out)
    assert abs(tracks.video_seconds - 5.0) < 0.1 and len(tracks.audio_seconds) == 1
    assert abs(tracks.audio_seconds[0] - tracks.video_seconds) < 0.1
    assert not stray_ffmpeg(tmp_path)


def test_truncated_source_is_never_spliced(tmp_path: Path, media: MediaFactory, ffmpeg: str) -> None:
    film = media.copy_to(film_a(media), tmp_path / "films", "film.mkv")
    killed_after_two_segments(tmp_path, film)
    data = film.read_bytes()
    film.write_bytes(data[: len(data) // 2])
    run = encode_resume(tmp_path)
    warnings = [e.data.message for e in run.events if e.event == E.ERROR_OCCURRED and not e.data.fatal]
    assert any("source changed since this job started" in w and "size" in w for w in warnings), warnings
    out = tmp_path / "out" / "film.mkv"
    if run.code == 0:
        # What the truncated file presents, nothing more: video and audio end together, no stale segments.
        tracks = mediainfo_tracks(out)
        assert abs(tracks.audio_seconds[0] - tracks.video_seconds) < 0.15, tracks
        assert decoded_frames(ffmpeg, out) <= decoded_frames(ffmpeg, film) + 1
        assert tracks.video_seconds < 6.0
    else:
        assert run.code == 1 and not out.exists()
        fatal = [e.data.message for e in run.fatal()]
        assert len(fatal) == 1 and str(film) in fatal[0] and "\n" not in fatal[0]


def test_vanished_source_fails_the_job_with_one_line(tmp_path: Path, media: MediaFactory) -> None:
    film = media.copy_to(film_a(media), tmp_path / "films", "film.mkv")
    killed_after_two_segments(tmp_path, film)
    film.unlink()
    run = encode_resume(tmp_path)
    assert run.code == 1
    fatal = [e.data.message for e in run.fatal()]
    assert fatal == [
        f"{film}: the source file is gone — put it back and retry the job, or remove the job from the queue"
    ], fatal
    assert not (tmp_path / "out" / "film.mkv").exists()
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("change", ["replaced", "deleted"])
def test_source_changed_during_the_encode(tmp_path: Path, media: MediaFactory, change: str) -> None:
    film = media.copy_to(film_a(media), tmp_path / "films", "film.mkv")
    proc, _ = run_until(tmp_path, film, segments_done(1))
    if change == "replaced":
        media.copy_to(film_b(media), tmp_path / "films", "film.mkv")
    else:
        film.unlink()
    out, err = proc.communicate(timeout=300)
    events = [Event.from_json(line) for line in out.splitlines()]
    assert proc.returncode == 1, err
    fatal = [e.data.message for e in events if e.event == E.ERROR_OCCURRED and e.data.fatal]
    cause = (
        "the source changed while it was being encoded" if change == "replaced" else "the source file is gone"
    )
    assert len(fatal) == 1 and fatal[0].startswith(f"{film}: {cause}"), fatal
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "film.mkv").exists()
    assert not stray_ffmpeg(tmp_path)
    if change == "replaced":  # running it again starts over on the new film and finishes
        again = encode(tmp_path, film)
        assert again.code == 0, again.stderr
        assert mediainfo_tracks(tmp_path / "out" / "film.mkv").video_seconds == pytest.approx(5.0, abs=0.1)
