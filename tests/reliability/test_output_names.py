"""Two films with the same name in different folders: each gets its own output, decided when queued."""

from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.engine.output_names import plan_output
from tests.judge import decoded_frames, mediainfo_tracks
from tests.media_helpers import MediaFactory
from tests.reliability.harness import encode


@pytest.fixture
def library(tmp_path: Path, media: MediaFactory) -> tuple[Path, Path, Path]:
    films = tmp_path / "films"
    a = media.copy_to(
        media.clip(width=160, height=90, duration=3, fps=24, audio="stereo", gop=24), films / "a", "film.mkv"
    )
    b = media.copy_to(
        media.clip(
            width=160,
            height=90,
            duration=2,
            fps=24,
            audio="stereo",
            gop=24,
            source="smptehdbars",
            suffix=".mp4",
        ),
        films / "b",
        "film.mp4",
    )
    return films, a, b


@pytest.mark.parametrize("overwrite", [False, True], ids=["plain", "overwrite"])
def test_same_name_gets_a_suffix_and_each_output_is_its_own_film(
    tmp_path: Path, library, ffmpeg: str, overwrite: bool
) -> None:
    films, a, b = library
    extra = ("output.overwrite=true",) if overwrite else ()
    run = encode(tmp_path, films, extra=extra)
    assert run.code == 0, run.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["film (2).mkv", "film.mkv"]
    # Judged against each source: frames and duration are that film's, not the other's.
    assert decoded_frames(ffmpeg, out / "film.mkv") == decoded_frames(ffmpeg, a) == 72
    assert decoded_frames(ffmpeg, out / "film (2).mkv") == decoded_frames(ffmpeg, b) == 48
    assert mediainfo_tracks(out / "film (2).mkv").video_seconds == pytest.approx(2.0, abs=0.1)
    done = {e.file: e.data.output for e in run.completed()}
    assert done == {str(a): str(out / "film.mkv"), str(b): str(out / "film (2).mkv")}

    again = encode(
        tmp_path, films, extra=extra
    )  # the same command again: nothing new, nothing replaced wrongly
    assert again.code == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["film (2).mkv", "film.mkv"]
    assert decoded_frames(ffmpeg, out / "film (2).mkv") == 48
    if not overwrite:
        assert all(e.data.skipped for e in again.completed())


def test_mirror_layout_repeats_the_folders(tmp_path: Path, library, ffmpeg: str) -> None:
    films, _a, _b = library
    run = encode(tmp_path, films, extra=('output.layout="mirror"',))
    assert run.code == 0, run.stderr
    out = tmp_path / "out"
    assert decoded_frames(ffmpeg, out / "a" / "film.mkv") == 72
    assert decoded_frames(ffmpeg, out / "b" / "film.mkv") == 48


def test_plan_output_is_deterministic() -> None:
    out = Path("/out")
    claimed = {"/out/film.mkv": "/x/film.mkv", "/out/film (2).mkv": "/y/film.mp4"}
    assert plan_output(Path("/z/film.avi"), None, out, "flat", claimed) == Path("/out/film (3).mkv")
    assert plan_output(Path("/y/film.mp4"), None, out, "flat", claimed) == Path("/out/film (2).mkv")
    assert plan_output(Path("/x/film.mkv"), None, out, "flat", claimed) == Path("/out/film.mkv")
    assert plan_output(Path("/lib/a/b/film.mkv"), Path("/lib"), out, "mirror", {}) == Path(
        "/out/a/b/film.mkv"
    )
    assert plan_output(Path("/elsewhere/film.mkv"), Path("/lib"), out, "mirror", {}) == Path("/out/film.mkv")
