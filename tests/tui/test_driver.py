"""The terminal driver in a real pseudo-terminal: a lone Esc is delivered as Esc without a further key to push it
through, and escape sequences written at once stay the keys they are (an arrow is not Esc then `[B`).

How soon Esc acts is a speed figure: `python3 dev.py bench latency` measures it (benchmarks/RESULTS.md, UI)."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from drapto_tui.tui.driver import PromptEscapeDriver

pytestmark = pytest.mark.skipif(os.name != "posix", reason="a POSIX terminal driver")

CHILD = """
import sys
from textual.app import App
from drapto_tui.tui.driver import PromptEscapeDriver

class KeyLog(App):
    def on_mount(self):
        print("ready", file=log, flush=True)

    def on_key(self, event):
        print(event.key, file=log, flush=True)
        if event.key == "q":
            self.exit()

log = open(sys.argv[1], "w")
KeyLog(driver_class=PromptEscapeDriver).run()
"""


def _keys(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def _wait_for(log: Path, count: int, master: int, timeout: float = 30.0) -> list[str]:
    """The keys logged once there are `count` lines (the pty is drained meanwhile, so the app never blocks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            with contextlib.suppress(OSError):  # the child has gone: the log says what it got
                os.read(master, 65536)
        if len(keys := _keys(log)) >= count:
            return keys
    raise AssertionError(f"waited for {count} lines, the app logged {_keys(log)}")


def test_a_lone_esc_arrives_alone_and_sequences_stay_whole(tmp_path: Path) -> None:
    log = tmp_path / "keys.log"
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "ESCDELAY": "25"}
    env.pop("TEXTUAL_DRIVER", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(log)], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    try:
        _wait_for(log, 1, master)
        # A lone Esc, and nothing after it: it must arrive on its own (no later key pushes it through).
        os.write(master, b"\x1b")
        assert _wait_for(log, 2, master)[1] == "escape"
        # An arrow key and an F-key written whole are those keys, not Esc and letters.
        os.write(master, b"\x1b[B")
        os.write(master, b"\x1bOP")
        # Esc then a letter, each on its own write after the first has been delivered: Esc, then the letter.
        _wait_for(log, 4, master)
        os.write(master, b"\x1b")
        _wait_for(log, 5, master)
        os.write(master, b"j")
        os.write(master, b"q")
        keys = _wait_for(log, 7, master)
        assert keys[1:] == ["escape", "down", "f1", "escape", "j", "q"]
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_the_app_uses_it_on_a_terminal_and_textual_driver_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.drivers.headless_driver import HeadlessDriver

    from drapto_tui.tui.app import DraptoApp

    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    assert DraptoApp.get_driver_class(object.__new__(DraptoApp)) is PromptEscapeDriver
    # The browser view names its driver so (textual-serve); Textual's choice then stands.
    monkeypatch.setenv("TEXTUAL_DRIVER", "textual.drivers.headless_driver:HeadlessDriver")
    monkeypatch.setattr("textual.constants.DRIVER", "textual.drivers.headless_driver:HeadlessDriver")
    assert DraptoApp.get_driver_class(object.__new__(DraptoApp)) is HeadlessDriver
