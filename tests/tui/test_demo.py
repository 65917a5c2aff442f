"""The demo as a newcomer meets it (`python3 dev.py demo`), in tmux: it says what it makes before the app opens
(no blank terminal), and the line it leaves on quitting names commands that work when typed as printed, with
drapto-tui not on PATH and the demo's own state folder (issue 26)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _wait(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_demo_says_what_it_does_and_its_hints_work(tmp_path: Path) -> None:
    program = Path(sys.executable).parent / "drapto-tui"
    if not program.exists():
        pytest.skip("the drapto-tui console script is not beside this Python")
    home = tmp_path / "home"
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p != str(program.parent)
    )
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PATH": path,
        "TMUX": "",
        "TERM": "xterm-256color",
    }
    assert (
        shutil.which("drapto-tui", path=path) is None
        or Path(shutil.which("drapto-tui", path=path)) != program
    )
    typed = os.path.relpath(program, ROOT)  # what a user in the clone types: .venv/bin/drapto-tui
    session = f"drapto-demo-{os.getpid()}"
    # What the README tells a newcomer to type; the pane stays to be read.
    shell = ["sh", "-c", "python3 dev.py demo --paused; sleep 60"]
    tmux = ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", "-c", str(ROOT)]
    subprocess.run([*tmux, *shell], check=True, env=env)

    def pane() -> str:
        capture = ["tmux", "capture-pane", "-p", "-J", "-S", "-200", "-t", session]
        return subprocess.run(capture, capture_output=True, text=True, env=env).stdout

    try:
        _wait(lambda: "testsrc2-720p-5.1.mkv" in pane() and "PAUSED" in pane(), 120, "the demo's queue")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True, env=env)
        _wait(lambda: "drapto-tui: detached;" in pane(), 30, "the parting line")
        shown = pane()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False, env=env)
    # Before the app opened, each clip it made was said.
    for name in ("testsrc2-720p-5.1.mkv", "dolby-vision-p8.1.mkv"):
        assert f"drapto-tui demo: making {name}" in shown, shown
    line = re.sub(r"\s+", " ", shown[shown.index("drapto-tui: detached;") :])
    found = re.search(r"— (.+?) looks in again, (.+?) stops it", line)
    assert found, line
    look, stop = found.groups()
    assert look.startswith(typed) and stop.startswith(f"{typed} service stop")
    # Typed as printed, from the clone, with drapto-tui not on PATH: it stops the demo's service.
    stopped = subprocess.run(shlex.split(stop), cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    assert stopped.returncode == 0 and "service stopped" in stopped.stdout, (
        stop,
        stopped.stdout,
        stopped.stderr,
    )
