"""The CLI as a user runs it: real subprocesses, real files; bad input gives one line, no traceback, no litter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fault_ffmpeg import ffmpeg_without
from tests.media.test_probe import BAD_INPUTS
from tests.media_helpers import MediaFactory


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "drapto_tui", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=120,
    )


def test_probe_json_bbb(media: MediaFactory) -> None:
    result = cli("probe", "--json", str(media.bbb()))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for key in (
        "path",
        "duration",
        "fps",
        "width",
        "height",
        "resolution_class",
        "hdr",
        "dolby_vision",
        "dv_profile",
        "encoding_path",
        "audio",
        "subtitles",
        "chapters",
    ):
        assert key in data, key
    assert (data["width"], data["height"], data["resolution_class"]) == (1280, 720, "sd")
    assert data["hdr"] is False and data["dolby_vision"] is False and data["dv_profile"] is None
    assert data["audio"][0]["channels"] == 6 and data["encoding_path"] == "chunked"
    assert data["subtitles"] == 0 and data["chapters"] == 0


def test_probe_json_dolby_vision(media: MediaFactory) -> None:
    result = cli("probe", "--json", str(media.dv(".mkv", profile=8, duration=1.0)))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (
        data["dolby_vision"] is True and data["dv_profile"] == 8 and data["encoding_path"] == "dolby_vision"
    )


def test_probe_text_for_several_files(media: MediaFactory) -> None:
    result = cli("probe", str(media.bbb()), str(media.dv(".mp4", profile=8, duration=1.0)))
    assert result.returncode == 0, result.stderr
    assert "1280x720" in result.stdout and "path chunked" in result.stdout
    assert "Dolby Vision profile 8" in result.stdout and "path dolby_vision" in result.stdout


@pytest.mark.parametrize(
    ("make", "message"), BAD_INPUTS, ids=["missing", "zero-byte", "text-as-mkv", "audio-only"]
)
def test_probe_bad_input(tmp_path: Path, media: MediaFactory, make, message) -> None:
    path = make(tmp_path, media)
    before = sorted(tmp_path.iterdir())
    result = cli("probe", str(path), cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"drapto-tui: {path}") and message in lines[0]
    assert "Traceback" not in result.stderr
    assert sorted(tmp_path.iterdir()) == before  # nothing written next to the input


def test_probe_bad_file_does_not_stop_the_others(tmp_path: Path, media: MediaFactory) -> None:
    bad = tmp_path / "zero.mkv"
    bad.write_bytes(b"")
    result = cli("probe", "--json", str(bad), str(media.bbb()))
    assert result.returncode == 1
    assert "zero.mkv: file is empty" in result.stderr
    assert json.loads(result.stdout)[0]["width"] == 1280


def _run_app_headless(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Start-up errors of the app are reported before any screen opens, so no terminal is needed for them."""
    return cli(*args, cwd=cwd, env={"TERM": "dumb"})


def test_directory_without_matches(tmp_path: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    (films / "notes.txt").write_text("x")
    result = cli("probe", str(films), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"drapto-tui: {films}: no files matching '{'*.mkv,*.mp4,*.m4v,*.mov,*.m2ts,*.ts,*.avi,*.webm'}'"
        " — check the folder, input.file_pattern and input.min_size/max_size"
    )
    assert sorted(p.name for p in films.iterdir()) == ["notes.txt"]


def test_probe_a_directory_finds_its_films(tmp_path: Path, media: MediaFactory) -> None:
    films = tmp_path / "films"
    media.copy_to(media.clip(duration=1), films / "sub", "b.mkv")
    media.copy_to(media.bbb(), films, "a.mp4")
    result = cli("probe", "--json", str(films))
    assert result.returncode == 0, result.stderr
    assert [Path(d["path"]).name for d in json.loads(result.stdout)] == ["a.mp4", "b.mkv"]


def test_bad_config_value_and_unknown_key(tmp_path: Path, media: MediaFactory) -> None:
    result = cli("probe", str(media.bbb()), "--set", "encoding.preset=fast", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "drapto-tui: config: encoding.preset = 'fast' (from --set): "
        "Input should be a valid integer, unable to parse string as an integer"
    )
    result = cli("probe", str(media.bbb()), "--set", "encoding.presets=8", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "drapto-tui: config: encoding.presets (from --set): unknown key — did you mean 'encoding.preset'?"
    )
    assert list(tmp_path.iterdir()) == []


def test_ffmpeg_without_libsvtav1_stops_the_app_with_one_line(
    tmp_path: Path, media: MediaFactory, ffmpeg: str
) -> None:
    fake = ffmpeg_without(tmp_path, ffmpeg, "libsvtav1")
    result = _run_app_headless("--set", f'tools.ffmpeg="{fake}"', str(media.bbb()), cwd=tmp_path)
    assert result.returncode == 2, result.stdout  # a configured FFmpeg that cannot do the job: a config error
    assert result.stderr.strip() == (
        f"drapto-tui: config: tools.ffmpeg = '{fake}' (from --set): FFmpeg lacks encoder libsvtav1 (AV1 video"
        " (SVT-AV1), --enable-libsvtav1) — install an FFmpeg built with those options, or set tools.ffmpeg = ''"
        " to use the embedded build"
    )


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = cli("probe", str(tmp_path / "missing.mkv"), "--debug")
    assert result.returncode == 1 and "Traceback" not in result.stderr  # per-file errors stay one line
    result = cli("config", "show", "--set", "encoding.preset=99", "--debug")
    assert result.returncode != 0 and "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_ab_av1_backend_without_binary_stops_encode_with_one_line(
    tmp_path: Path, media: MediaFactory
) -> None:
    result = cli(
        "encode",
        str(media.bbb()),
        "-o",
        str(tmp_path / "out"),
        "--set",
        'encoding.search_backend="ab-av1"',
        "--set",
        'tools.ab_av1="ab-av1-not-installed"',
        "--set",
        f'processing.temp_dir="{tmp_path / "w"}"',
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "drapto-tui: tools.ab_av1 = ab-av1-not-installed: not found on PATH — install"
        " ab-av1 (cargo install ab-av1) or set encoding.search_backend = 'builtin'"
    )
    assert not (tmp_path / "out").exists()


def test_the_installed_command_runs(tmp_path: Path) -> None:
    """The `drapto-tui` console script the package installs (not `python -m`): its entry point must resolve."""
    script = Path(sys.executable).parent / "drapto-tui"
    if not script.exists():
        pytest.skip("drapto-tui is not installed beside this Python")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("drapto-tui "), version.stderr
    shown = subprocess.run(
        [str(script), "config", "show", "--set", f'processing.temp_dir="{tmp_path}"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and "[encoding]" in shown.stdout, shown.stderr


def test_usage_errors_exit_2_and_config_show_prints_where(tmp_path: Path) -> None:
    nothing = cli("encode")
    assert nothing.returncode == 2 and "nothing to encode" in nothing.stderr and "usage:" in nothing.stderr
    shown = cli("config", "show", env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)})
    assert shown.returncode == 0, shown.stderr
    import tomllib

    values = tomllib.loads(shown.stdout)
    assert values["processing"]["temp_dir"] and values["output"]["dir"]  # resolved, not ''
    assert values["processing"]["temp_dir"].startswith(str(tmp_path))


def test_parting_line_says_what_goes_on_and_where() -> None:
    from drapto_tui.model.events import ProcessingStatus
    from drapto_tui.model.state import ProcessingState
    from drapto_tui.tui.launch import parting_line

    jobs = [
        ProcessingState(job_id="a", status=ProcessingStatus.COMPLETED),
        ProcessingState(job_id="b", status=ProcessingStatus.RUNNING),
        ProcessingState(job_id="c", status=ProcessingStatus.QUEUED),
    ]
    detached = parting_line(jobs, "detach", "/films/av1", service_pid=42)
    assert "pid 42" in detached and "1 running and 1 queued" in detached and "/films/av1 (1 done)" in detached
    stopped = parting_line(jobs, "stop", "/films/av1")
    assert "2 job(s) resume on the next start" in stopped
    assert (
        parting_line(jobs[:1], "stop", "/out") == "drapto-tui: nothing left to do; outputs in /out (1 done)"
    )
