"""Full disks and unusable outputs: found before the work (when queued and again at start), and a disk that fills
mid-run fails the job with one line, keeps the state store writable and ends the command."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drapto_tui.model.events import Event
from tests.judge import decoded_frames
from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, Run, args_for, encode, fingerprint, stray_ffmpeg


@contextlib.contextmanager
def mounted(path: Path, size: str, *, read_only: bool = False) -> Iterator[Path]:
    """A real small filesystem (tmpfs) at `path`: ENOSPC and EROFS as a user's disk gives them."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the filesystem holding `folder`."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.stderr, run.stderr


def big_source(ffmpeg: str, path: Path, seconds: int = 4) -> Path:
    """A film whose size is mostly PCM audio (6 channels): large on disk, quick to encode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=160x90:rate=24:duration={seconds}",
            "-f",
            "lavfi",
            "-i",
            f"anullsrc=channel_layout=5.1:sample_rate=48000:d={seconds}",
            "-c:v",
            "libx264",
            "-g",
            "24",
            "-c:a",
            "pcm_s16le",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture
def small_film(media: MediaFactory, tmp_path: Path) -> Path:
    return media.copy_to(
        media.clip(width=160, height=90, duration=2, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "small.mkv",
    )


def test_disk_filling_mid_run_fails_with_one_line_and_the_queue_ends(
    tmp_path: Path, media: MediaFactory, ffmpeg: str
) -> None:
    films = tmp_path / "films"
    a = media.copy_to(
        media.clip(width=160, height=90, duration=8, fps=24, audio="stereo", gop=24), films, "a.mkv"
    )
    b = media.copy_to(
        media.clip(width=160, height=90, duration=4, fps=24, audio="stereo", gop=24, source="smptehdbars"),
        films,
        "b.mkv",
    )
    before = fingerprint([a, b])
    with mounted(tmp_path / "work", "48m") as work:
        proc = subprocess.Popen(
            args_for(tmp_path, a, b, extra=("processing.parallel_jobs=2",)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        events: list[Event] = []
        assert proc.stdout is not None
        filler = None
        for line in proc.stdout:
            events.append(Event.from_json(line))
            if filler is None and events[-1].event == E.SEGMENT_COMPLETE:
                filler = fill(work)
        _, err = proc.communicate(timeout=120)  # it ends: no job waits "for disk" forever
        run = Run(proc.returncode, events, err)
        no_traceback(run)
        assert run.code == 1
        fatal = {e.file: e.data.message for e in run.fatal()}
        assert str(a) in fatal, [e.data for e in run.fatal()]
        for file, message in fatal.items():
            assert "\n" not in message and file in message
            assert "disk is full" in message or "not enough temp space" in message or "cannot save" in message
        assert any(f"no space left on the filesystem holding {work}" in m for m in fatal.values())
        # The state store took the failure: a second terminal reads the queue and sees it.
        listed = subprocess.run(
            [sys.executable, "-m", "drapto_tui", "queue", "--json", "--set", f'processing.temp_dir="{work}"'],
            capture_output=True,
            text=True,
        )
        assert listed.returncode == 0, listed.stderr
        rows = {json.loads(x)["current_file"]: json.loads(x) for x in listed.stdout.splitlines()}
        assert rows[str(a)]["status"] == "failed"
        assert [e["outside"] for e in rows[str(a)]["errors"] if e["fatal"]][-1]  # not the film's fault
        # Space back: `encode --resume` takes the jobs a full disk failed, with their finished segments.
        filler.unlink()
        resumed = subprocess.run(
            [*args_for(tmp_path), "--resume"], capture_output=True, text=True, timeout=300
        )
        again = Run(
            resumed.returncode, [Event.from_json(x) for x in resumed.stdout.splitlines()], resumed.stderr
        )
        no_traceback(again)
        assert again.code == 0, again.stderr
    assert decoded_frames(ffmpeg, tmp_path / "out" / "a.mkv") == 192
    assert decoded_frames(ffmpeg, tmp_path / "out" / "b.mkv") == 96
    assert fingerprint([a, b]) == before and not stray_ffmpeg(tmp_path)


def test_a_job_that_cannot_fit_waits_for_running_jobs_then_fails_with_one_line(
    tmp_path: Path, small_film: Path, ffmpeg: str
) -> None:
    big = big_source(ffmpeg, tmp_path / "films" / "big.mkv")
    size = big.stat().st_size
    assert size > 2 << 20
    with mounted(tmp_path / "work", f"{int(size * 1.6)}"):
        run = encode(tmp_path, small_film, big, extra=("processing.parallel_jobs=2",), timeout=120)
    no_traceback(run)
    assert run.code == 1
    assert [e.file for e in run.completed()] == [str(small_film)]
    fatal = run.fatal()
    assert len(fatal) == 1 and fatal[0].file == str(big)
    line = fatal[0].data.message
    assert line.startswith(f"{big}: not enough temp space: needs about") and "processing.temp_dir" in line
    waits = [e for e in run.events if e.event == E.ERROR_OCCURRED and "waiting for disk" in e.data.message]
    assert waits and waits[0].file == str(big)  # held with a reason while the small film ran
    assert not [e for e in run.events if e.event == E.ANALYSIS_STARTED and e.file == str(big)]


def test_read_only_output_is_refused_before_any_work(tmp_path: Path, small_film: Path) -> None:
    with mounted(tmp_path / "ro-out", "1m", read_only=True) as out:
        run = encode(tmp_path, small_film, out=out)  # the configured folder: refused at start, exit 2
        no_traceback(run)
        assert run.code == 2 and run.events == []
        assert run.stderr.strip() == (
            f"drapto-tui: config: output.dir = '{out}' (from --set): {out} is not"
            " writable; choose a folder you can write"
        )
        # A folder below it (output.layout = "mirror") is found when the film is queued, before its work.
        films = small_film.parent.parent
        run = encode(tmp_path, films, out=out.parent, extra=('output.layout="mirror"',))
    assert run.code == 0, run.stderr  # films/small.mkv → <out.parent>/films/small.mkv: writable, fine
    with mounted(tmp_path / "ro2", "1m", read_only=True) as ro:
        sub = ro / "films"
        run = encode(tmp_path, small_film, out=sub)
    assert run.code == 2 and f"{ro} is not writable" in run.stderr


def test_full_output_filesystem_is_refused_when_queued(tmp_path: Path, small_film: Path) -> None:
    with mounted(tmp_path / "full-out", "1m") as out:
        fill(out)
        run = encode(tmp_path, small_film, out=out)
    no_traceback(run)
    assert run.code == 1
    fatal = run.fatal()
    assert len(fatal) == 1
    assert fatal[0].data.message.startswith(f"{small_film}: only 0 B free in {out}, the output needs about")
    assert not [e for e in run.events if e.event == E.ANALYSIS_STARTED]


def test_output_name_too_long_is_refused_when_queued(tmp_path: Path, media: MediaFactory) -> None:
    src = media.copy_to(
        media.clip(width=160, height=90, duration=2, fps=24, audio=None, gop=24, suffix=".ts"),
        tmp_path / "films",
        "x" * 252 + ".ts",
    )  # 255 bytes: fine as a source, 256 as .mkv
    run = encode(tmp_path, src)
    no_traceback(run)
    assert run.code == 1
    fatal = run.fatal()
    assert (
        len(fatal) == 1
        and "is 256 bytes, longer than the 255 this filesystem allows" in fatal[0].data.message
    )
    assert not [e for e in run.events if e.event == E.ANALYSIS_STARTED]


def test_output_checked_again_right_before_the_job_starts(tmp_path: Path, media: MediaFactory) -> None:
    # One slot: two films are in flight (one encoding, one being analysed); the third starts when one ends.
    films = tmp_path / "films"
    made = {
        name: media.copy_to(
            media.clip(width=160, height=90, duration=d, fps=24, audio=None, gop=24),
            films / name,
            f"{name}.mkv",
        )
        for name, d in (("a", 4), ("b", 2), ("c", 2))
    }
    proc = subprocess.Popen(
        args_for(tmp_path, films, extra=('output.layout="mirror"', "processing.parallel_jobs=1")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events: list[Event] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(Event.from_json(line))
        if events[-1].event == E.ANALYSIS_STARTED and events[-1].file == str(made["a"]):
            (tmp_path / "out").mkdir(exist_ok=True)
            (tmp_path / "out" / "c").write_text("a file where c's output folder must go")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    fatal = [e for e in events if e.event == E.ERROR_OCCURRED and e.data.fatal]
    assert len(fatal) == 1 and fatal[0].file == str(made["c"])
    assert "is a file, not a folder" in fatal[0].data.message
    assert not [e for e in events if e.event == E.SEGMENT_STARTED and e.file == str(made["c"])]
    assert (tmp_path / "out" / "a" / "a.mkv").exists() and (tmp_path / "out" / "b" / "b.mkv").exists()
