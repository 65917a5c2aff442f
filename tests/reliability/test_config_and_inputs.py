"""Values and inputs that must be refused at start, each with one line that says what it really is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.media_helpers import MediaFactory
from tests.reliability.harness import encode, one_line


@pytest.fixture
def film(media: MediaFactory, tmp_path: Path) -> Path:
    return media.copy_to(
        media.clip(width=160, height=90, duration=2, fps=24, audio=None, gop=24),
        tmp_path / "films",
        "film.mkv",
    )


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (
            'processing.hwaccel="bogus"',
            "processing.hwaccel = 'bogus' (from --set): this FFmpeg has no such method;"
            " choose one of none, auto",
        ),
        (
            'tools.ffmpeg="/nonexistent/ffmpeg"',
            "tools.ffmpeg = '/nonexistent/ffmpeg' (from --set): no such file",
        ),
        (
            "processing.temp_dir={blocker}/work",
            "processing.temp_dir = '{blocker}/work' (from --set): {blocker} is a file, not a folder",
        ),
        (
            "output.dir={blocker}/out",
            "output.dir = '{blocker}/out' (from --set): {blocker} is a file, not a folder",
        ),
    ],
    ids=["hwaccel", "ffmpeg", "temp-dir", "output-dir"],
)
def test_machine_dependent_values_exit_2_at_start(
    tmp_path: Path, film: Path, setting: str, expected: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    key, _, value = setting.format(blocker=blocker).partition("=")
    if key == "output.dir":  # -o is that key's override
        run = encode(tmp_path, film, out=Path(value))
    else:
        run = encode(
            tmp_path,
            film,
            extra=(f"{key}={value if value.startswith(chr(34)) else chr(34) + value + chr(34)}",),
        )
    assert run.code == 2 and run.events == []
    assert one_line(run.stderr).startswith("drapto-tui: config: " + expected.format(blocker=blocker))


def test_unknown_theme_stops_the_app_before_the_screen(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "drapto_tui",
            "--set",
            'ui.theme="neon"',
            "--set",
            f'processing.temp_dir="{tmp_path / "work"}"',
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("drapto-tui: config: ui.theme = 'neon' (from --set): no such theme; choose one of")
    assert "drapto-dark" in line


def test_cross_field_error_names_the_layer_of_each_field(tmp_path: Path) -> None:
    env = {**os.environ, "DRAPTO_PROCESSING__TEMP_DIR": str(tmp_path / "w")}
    result = subprocess.run(
        [sys.executable, "-m", "drapto_tui", "config", "show", "--set", "processing.max_segment=1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert (
        "processing.max_segment = 1 from --set" in line
        and "processing.min_segment = 5.0 from default" in line
    )
    assert "environment" not in line  # the temp_dir variable has nothing to do with it


def test_fifo_and_device_link_say_what_they_are(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mkv")
    (tmp_path / "zero.mkv").symlink_to("/dev/zero")
    run = encode(tmp_path, tmp_path / "pipe.mkv", tmp_path / "zero.mkv", timeout=60)
    assert run.code == 1
    messages = sorted(e.data.message for e in run.fatal())
    assert messages[0].startswith(f"{tmp_path / 'pipe.mkv'}: is a named pipe (FIFO), not a film file")
    assert messages[1].startswith(
        f"{tmp_path / 'zero.mkv'}: is a character device (/dev/zero), not a film file"
    )
    # With --json the fatal lines are on stderr too, one each.
    assert sorted(run.stderr.strip().splitlines()) == [f"drapto-tui: {m}" for m in messages]
    probe = subprocess.run(
        [sys.executable, "-m", "drapto_tui", "probe", str(tmp_path / "zero.mkv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "empty" not in probe.stderr and "character device (/dev/zero)" in one_line(probe.stderr)


def test_unreadable_folder_is_not_no_files_matching(film: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as another user")
    shared = Path(tempfile.mkdtemp(prefix="drapto-shared-"))
    try:
        shared.chmod(0o755)
        locked = shared / "locked"
        locked.mkdir(mode=0o700)
        shutil.copyfile(film, locked / "film.mkv")
        env = {**os.environ, "HOME": str(shared), "XDG_CONFIG_HOME": str(shared / "cfg")}
        result = subprocess.run(
            [sys.executable, "-m", "drapto_tui", "probe", str(locked)],
            capture_output=True,
            text=True,
            timeout=60,
            user="nobody",
            env=env,
            cwd="/",
        )
        assert result.returncode == 1
        assert one_line(result.stderr) == (
            f"drapto-tui: {locked}: cannot read this folder (Permission denied) —"
            " make it readable (chmod u+rx) or run as its owner"
        )
    finally:
        shutil.rmtree(shared, ignore_errors=True)
