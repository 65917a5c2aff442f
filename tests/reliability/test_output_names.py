"""Two films with the same name in different folders: each gets its own output, decided when queued."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drapto_tui.engine.output_names import plan_output
from tests.judge import decoded_frames, mediainfo_tracks
from tests.media_helpers import MediaFactory
from tests.reliability.harness import encode, queue_cli


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
    # Run again, the queue still has one row per film (the skip is said on the film's row, not a new one).
    rows = [json.loads(line) for line in queue_cli(tmp_path, "--json").stdout.splitlines()]
    assert sorted((r["current_file"], r["status"]) for r in rows) == [
        (str(a), "completed"),
        (str(b), "completed"),
    ]
    # `queue --remove ID` takes one off by the id `queue` prints; `--clear-finished` takes the rest.
    listing = queue_cli(tmp_path).stdout
    a_id = next(r["job_id"] for r in rows if r["current_file"] == str(a))
    assert a_id in listing
    removed = queue_cli(tmp_path, "--remove", a_id[:6])
    assert removed.returncode == 0 and f"removed {a_id}  {a}" in removed.stdout, removed.stderr
    missing = queue_cli(tmp_path, "--remove", "nosuchid")
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1 and "no such job" in missing.stderr
    cleared = queue_cli(tmp_path, "--clear-finished")
    assert cleared.returncode == 0 and "cleared 1 finished job(s)" in cleared.stdout
    assert queue_cli(tmp_path).stdout.strip() == "queue is empty"
    assert sorted(p.name for p in out.iterdir()) == ["film (2).mkv", "film.mkv"]  # outputs untouched


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
