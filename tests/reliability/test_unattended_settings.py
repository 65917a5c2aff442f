"""Settings and arguments a week of unattended use meets, each as it was found: SVT-AV1 parameters that fight
the tool or that SVT-AV1 rejects, a config path that is not a file, the Dask backend without its extra, a
service whose log cannot be written, one bad path among good ones, a hook that fails or hangs. Each is one
line (and the right exit code), never a traceback, a silent override, or a failed job hours later."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, encode, one_line


@pytest.fixture
def film(media: MediaFactory, tmp_path: Path) -> Path:
    return media.copy_to(
        media.clip(width=160, height=90, duration=2, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drapto_tui", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("preset=4:foo=1", "preset is set by drapto-tui; set encoding.preset"),
        ("crf=20", "crf is set by drapto-tui; set quality.target"),
        ("lp=4", "lp is set by drapto-tui; set resources.encoder_threads"),
        ("keyint=300", "keyint is set by drapto-tui; set encoding.keyframe_interval"),
        ("tune", "'tune' is not key=value"),
        ("foo=1", "SVT-AV1 rejects it (Error parsing option foo: 1); fix or remove that key"),
        ("tune=9", "SVT-AV1 rejects it (Invalid tune flag"),
    ],
    ids=[
        "owned-preset",
        "owned-crf",
        "owned-lp",
        "owned-keyint",
        "not-key-value",
        "unknown-key",
        "bad-value",
    ],
)
def test_svt_params_that_fight_the_tool_or_svt(
    tmp_path: Path, film: Path, params: str, expected: str
) -> None:
    run = encode(tmp_path, film, extra=(f'encoding.svt_params="{params}"',))
    assert run.code == 2 and run.events == []
    line = one_line(run.stderr)
    assert line.startswith(f"drapto-tui: config: encoding.svt_params = '{params}' (from --set): "), line
    assert expected in line, line


def test_svt_params_it_takes_are_passed_on(tmp_path: Path, film: Path) -> None:
    run = encode(tmp_path, film, extra=('encoding.svt_params="tune=0:enable-overlays=1"',))
    assert run.code == 0, run.stderr
    log = next((tmp_path / "work" / "logs" / "jobs").glob("*/ffmpeg.log")).read_text()
    assert "tune=0:enable-overlays=1" in log


@pytest.mark.parametrize(
    "path", ["/dev/zero", "/dev/null", "{tmp}", "{big}"], ids=["zero", "null", "dir", "big"]
)
def test_a_config_path_that_is_not_a_config_file(tmp_path: Path, path: str) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (2 * 1024 * 1024) + b"\n")
    path = path.format(tmp=tmp_path, big=big)
    result = cli("config", "show", "--config", path, timeout=20)  # /dev/zero was read for ever
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"drapto-tui: config: {path}: ") and "give a TOML file" in line, line


#: Hides the dask extra from the interpreter, as on a machine where it was never installed.
NO_DASK = """
import sys
class _Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Hide())
"""


def test_dask_backend_without_the_extra(tmp_path: Path, film: Path) -> None:
    hide = tmp_path / "nodask"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(NO_DASK)
    env = {**os.environ, "PYTHONPATH": str(hide)}
    result = cli(
        "encode",
        str(film),
        "-o",
        str(tmp_path / "out"),
        "--set",
        f'processing.temp_dir="{tmp_path / "work"}"',
        "--set",
        'execution.backend="dask-local"',
        env=env,
    )
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "drapto-tui: config: execution.backend = 'dask-local': Dask is not installed;"
        " pip install 'drapto-tui[dask]'"
    )


def test_service_start_with_a_logs_folder_it_cannot_write(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "logs").write_text("a file where the logs folder goes")
    result = cli("service", "start", "--set", f'processing.temp_dir="{work}"')
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "cannot start the service: its log cannot be written" in line and str(work / "logs") in line


def test_one_bad_path_among_several_queues_the_rest(tmp_path: Path, film: Path) -> None:
    """`encode good.mkv missing.mkv loop-link film.mkv/` (a folder of that name, empty): the good film is
    encoded, each refused path is one line, and the exit is 1 (README: encode's exit codes)."""
    missing = tmp_path / "missing.mkv"
    loop = tmp_path / "loop-link"
    loop.symlink_to(loop)
    folder = tmp_path / "folder.mkv"
    folder.mkdir()
    run = encode(tmp_path, film, missing, loop, folder)
    assert run.code == 1
    lines = run.stderr.strip().splitlines()
    assert "Traceback" not in run.stderr and len(lines) == 3, lines
    assert lines[0] == f"drapto-tui: {missing}: no such file or directory — check the path"
    assert lines[1].startswith(f"drapto-tui: {loop}: a link that leads nowhere")
    assert lines[2].startswith(f"drapto-tui: {folder}: no files matching")
    (done,) = run.completed()
    assert Path(done.file or "").name == "film.mkv" and not run.fatal()
    assert (tmp_path / "out" / "film.mkv").exists()
    # Nothing that can be queued: the lines, exit 1, no work.
    only_bad = encode(tmp_path, missing, loop)
    assert only_bad.code == 1 and len(only_bad.stderr.strip().splitlines()) == 2
    assert not [e for e in only_bad.events if e.event == E.ENCODING_STARTED]


@pytest.mark.parametrize("kind", ["fails", "hangs"])
def test_a_failing_or_hanging_hook_is_a_warning_in_encode(tmp_path: Path, film: Path, kind: str) -> None:
    hook = tmp_path / "hook.sh"
    hook.write_text(
        '#!/bin/sh\necho "no notifier for $DRAPTO_JOB_ID" >&2\nexit 1\n'
        if kind == "fails"
        else "#!/bin/sh\nsleep 30\n"
    )
    hook.chmod(0o755)
    run = encode(tmp_path, film, extra=(f'hooks.on_job_end=["{hook}"]', "hooks.timeout=2"))
    assert run.code == 0, run.stderr  # a hook never changes the job's outcome
    warnings = [
        e.data.message for e in run.events if e.event == E.ERROR_OCCURRED and e.data.severity == "warning"
    ]
    expected = (
        "hook.sh exited 1: no notifier for"
        if kind == "fails"
        else "hook.sh ran longer than hooks.timeout = 2 s"
    )
    assert any(expected in message for message in warnings), (warnings, run.stderr)
