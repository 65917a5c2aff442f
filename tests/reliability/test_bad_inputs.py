"""Bad inputs and hostile names, each next to a good file that must still finish."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.media.test_probe import _audio_only
from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, assert_fault_handled, encode, fingerprint, stray_ffmpeg


@pytest.fixture(scope="module")
def good_src(media: MediaFactory) -> Path:
    return media.clip(width=160, height=90, duration=2, fps=24, audio="stereo", gop=24)


def _zero(d: Path, media: MediaFactory) -> Path:
    p = d / "zero.mkv"
    p.write_bytes(b"")
    return p


def _truncated(d: Path, media: MediaFactory) -> Path:
    src = media.clip(width=320, height=180, duration=4, fps=24, audio="stereo", gop=24, source="mandelbrot")
    data = src.read_bytes()
    p = d / "truncated.mkv"
    p.write_bytes(data[: int(len(data) * 0.4)])
    return p


def _text(d: Path, media: MediaFactory) -> Path:
    p = d / "notes.mkv"
    p.write_text("shopping list\n" * 40)
    return p


CASES = [
    (_zero, "file is empty (0 bytes)"),
    (_truncated, ""),  # the cause depends on where the cut fell; the line must still name the file
    (_text, "not a media file"),
    (_audio_only, "no video stream"),
]


@pytest.mark.parametrize(
    ("make", "cause"), CASES, ids=["zero-byte", "truncated-40pct", "text-as-mkv", "audio-only"]
)
def test_bad_file_beside_a_good_one(
    tmp_path: Path, media: MediaFactory, good_src: Path, make, cause: str
) -> None:
    films = tmp_path / "films"
    films.mkdir()
    good = media.copy_to(good_src, films, "a-good.mkv")
    bad = make(films, media)
    before = fingerprint([bad, good])
    run = encode(tmp_path, films)
    assert_fault_handled(run, tmp_path, bad, good, cause, before)


@pytest.mark.skipif(
    os.geteuid() == 0, reason="running as root: mode 000 does not stop root from reading a file"
)
def test_unreadable_file(tmp_path: Path, media: MediaFactory, good_src: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    good = media.copy_to(good_src, films, "a-good.mkv")
    bad = media.copy_to(good_src, films, "locked.mkv")
    bad.chmod(0)
    try:
        run = encode(tmp_path, films)
        fatal = [e for e in run.fatal() if e.file == str(bad)]
        assert len(fatal) == 1 and "permission denied" in fatal[0].data.message
        assert [e.file for e in run.completed()] == [str(good)]
    finally:
        bad.chmod(0o644)


@pytest.mark.parametrize(
    "name",
    ["with space.mkv", 'it\'s "quoted".mkv', "new\nline.mkv", "-leading dash.mkv", "Amélie – 東京.mkv"],
    ids=["space", "quotes", "newline", "leading-dash", "non-ascii"],
)
def test_hostile_names_encode_fine(tmp_path: Path, media: MediaFactory, good_src: Path, name: str) -> None:
    films = tmp_path / "films"
    films.mkdir()
    src = media.copy_to(good_src, films, name)
    before = fingerprint([src])
    run = encode(tmp_path, films)
    assert run.code == 0, (run.stderr, [e.data for e in run.fatal()])
    out = tmp_path / "out" / (Path(name).stem + ".mkv")
    assert out.exists() and out.stat().st_size > 0
    assert fingerprint([src]) == before
    assert not stray_ffmpeg(tmp_path)


def test_video_without_audio_is_fine(tmp_path: Path, media: MediaFactory) -> None:
    src = media.copy_to(
        media.clip(width=160, height=90, duration=2, audio=None, gop=24), tmp_path / "films", "mute.mkv"
    )
    run = encode(tmp_path, src)
    assert run.code == 0 and (tmp_path / "out" / "mute.mkv").exists()


def test_missing_output_dir_is_created(tmp_path: Path, media: MediaFactory, good_src: Path) -> None:
    out = tmp_path / "new" / "deeper" / "out"
    run = encode(tmp_path, good_src, out=out)
    assert run.code == 0 and (out / f"{good_src.stem}.mkv").exists()


def test_unwritable_output_dir(tmp_path: Path, media: MediaFactory, good_src: Path) -> None:
    # chmod is no barrier to root, so the output path is made impossible instead: a file stands where a folder
    # must be. The job fails with one line naming the output; the encode's work is kept for a retry.
    blocker = tmp_path / "blocked"
    blocker.write_text("a file, not a folder")
    src = media.copy_to(good_src, tmp_path / "films", "film.mkv")
    before = fingerprint([src])
    run = encode(tmp_path, src, out=blocker / "out")
    # Found at start, before any work: a config error naming the key, where it came from and what is wrong.
    assert run.code == 2 and run.events == []
    assert run.stderr.strip() == (
        f"drapto-tui: config: output.dir = '{blocker / 'out'}' (from --set): {blocker} is"
        " a file, not a folder; choose a folder you can write"
    )
    assert fingerprint([src]) == before and blocker.read_text() == "a file, not a folder"
    assert not stray_ffmpeg(tmp_path)


def test_temp_dir_below_its_free_space_floor(tmp_path: Path, media: MediaFactory, good_src: Path) -> None:
    # Simulates a full temp filesystem with a floor above the free space: the job is refused before any work.
    src = media.copy_to(good_src, tmp_path / "films", "film.mkv")
    run = encode(tmp_path, src, extra=("resources.temp_free_floor=1000TiB",))
    assert run.code == 1
    fatal = run.fatal()
    line = fatal[0].data.message
    assert (
        len(fatal) == 1
        and line.startswith(f"{src}: not enough temp space")
        and "resources.temp_free_floor" in line
    )
    assert not [e for e in run.events if e.event == E.ANALYSIS_STARTED]  # refused before any work
    assert not (tmp_path / "out" / "film.mkv").exists()
