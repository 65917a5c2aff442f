"""Key → screen latency of the app as a user feels it: the real app in a pseudo-terminal, its output read back by a
terminal emulator (pyte), with 1,000 queued jobs and a running job whose events come at 100 a second.

    python3 dev.py bench latency [--jobs 1000] [--rate 100] [--keys 200] [--size 80x24]

For each key (j/k move the selection, K/J move the job, Enter opens the inspector, Esc comes back) the time runs
from writing the key's bytes to the terminal until the emulated screen shows the change (the highlighted row is
the expected film at the expected place; the inspector's tabs are there, or gone). The same method on a bare
Textual DataTable is the floor: what a terminal, Textual's driver and the emulator cost without drapto-tui. Prints
p50/p95/max per key kind and in all, and the app process' peak RSS. The figures go to benchmarks/ui-latency.txt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import psutil
import pyte

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYS = {
    "j": b"j",
    "k": b"k",
    "J": b"J",
    "K": b"K",
    "enter": b"\r",
    "escape": b"\x1b",
    "down": b"\x1b[B",
    "up": b"\x1b[A",
}


# -- the app under test (the child, in the pty) -----------------------------------------------------------------
def film(i: int) -> str:
    return f"film {i:04d}.mkv"


def child_app(jobs: int, segments: int, rate: float) -> None:
    from drapto_tui.config import load_config

    # As `drapto-tui` does (tui/launch.py): the escape delay is set before Textual is imported.
    os.environ.setdefault("ESCDELAY", str(load_config(use_default_file=False, env={}).ui.escape_delay_ms))
    from drapto_tui.engine.engine import Engine
    from drapto_tui.model.events import (
        AnalysisStarted,
        EncodingStarted,
        JobQueued,
        ProcessingStatus,
        SegmentComplete,
        SegmentProgress,
    )
    from drapto_tui.tui.app import DraptoApp

    tmp = tempfile.mkdtemp(prefix="drapto-latency-")
    config = load_config(use_default_file=False, env={}, overrides=[f"processing.temp_dir={json.dumps(tmp)}"])
    engine = Engine(config, monitor=False)
    for i in range(jobs):
        engine.emit(
            JobQueued(position=i, size=4_000_000_000),
            job_id=f"job{i:04d}",
            file=f"/films/{film(i)}",
            status=ProcessingStatus.QUEUED,
        )
    running, path = "job0000", f"/films/{film(0)}"
    engine.emit(AnalysisStarted(), job_id=running, file=path, status=ProcessingStatus.RUNNING)
    engine.emit(
        EncodingStarted(
            path="chunked",
            segments=[
                {"index": s, "start": s * 6.0, "end": s * 6.0 + 6.0, "frames": 144} for s in range(segments)
            ],
        ),
        job_id=running,
        file=path,
    )
    app = DraptoApp(engine, run_core=False)

    async def traffic() -> None:
        """The running job's stream: progress of the segments in flight, each finishing after 50 reports."""
        n = 0
        while True:
            seg = (n // 50) % segments
            if n % 50 == 49:
                engine.emit(
                    SegmentComplete(segment=seg, crf=30.0, score_measured=93.2), job_id=running, file=path
                )
            else:
                engine.emit(SegmentProgress(segment=seg, progress=(n % 50) / 50), job_id=running, file=path)
            n += 1
            await asyncio.sleep(1 / rate)

    async def main() -> None:
        feeder = asyncio.create_task(traffic())
        await app.run_async()
        feeder.cancel()

    asyncio.run(main())


def child_bare(rows: int) -> None:
    from textual.app import App, ComposeResult
    from textual.screen import Screen
    from textual.widgets import DataTable, Static

    class Detail(Screen[None]):
        """Enter's and Esc's floor: a screen pushed and popped, with nothing on it but a line."""

        BINDINGS: ClassVar = [("escape", "app.pop_screen", "Back")]

        def compose(self) -> ComposeResult:
            yield Static("\nFacts")

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_data_table_row_selected(self) -> None:
            self.push_screen(Detail())

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_column("#")
            table.add_column("File")
            for i in range(rows):
                table.add_row(str(i + 1), film(i))
            table.focus()

    Bare().run()


# -- the user (the parent: a terminal emulator and a keyboard) ---------------------------------------------------
class Terminal:
    def __init__(self, args: list[str], columns: int, lines: int, command: list[str] | None = None) -> None:
        """The child is this script with `args`, or `command` (the real `drapto-tui`, for the reattach figure)."""
        self.screen = pyte.Screen(columns, lines)
        self.stream = pyte.ByteStream(self.screen)
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "COLUMNS": str(columns),
            "LINES": str(lines),
        }
        self.proc = subprocess.Popen(
            command or [sys.executable, __file__, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.peak_rss = 0
        self.cursor_bg = ""  # the table cursor's background, read off the screen at start

    def started(self, settle: float) -> None:
        """Wait for the first rows, let the start-up settle, and note the cursor's colour (on the first row)."""
        self.wait(lambda: any("film 0001.mkv" in line for line in self.screen.display), timeout=60)
        time.sleep(settle)
        self.drain()
        # The cursor row is the one data row in a colour of its own (the others alternate zebra stripes), once
        # the table has the focus.
        self.wait(lambda: self._lone_colour() is not None, timeout=30)
        self.cursor_bg = self._lone_colour() or ""

    def _lone_colour(self) -> str | None:
        colours = []
        for y, line in enumerate(self.screen.display):
            at = line.find("film ")
            if at >= 0:
                colours.append(self.screen.buffer[y][at].bg)
        lone = [c for c in colours if colours.count(c) == 1]
        return lone[0] if len(colours) >= 3 and len(lone) == 1 else None

    def pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                data = os.read(self.master, 1 << 16)
            except OSError:
                return
            self.stream.feed(data)

    def wait(self, predicate: Callable[[], bool], timeout: float = 30.0) -> float:
        start = time.perf_counter()
        while not predicate():
            if time.perf_counter() - start > timeout:
                raise TimeoutError("the screen did not show the change:\n" + "\n".join(self.screen.display))
            self.pump(0.005)
        return time.perf_counter() - start

    def press(self, key: str, shows: Callable[[], bool]) -> float:
        self.drain()
        start = time.perf_counter()
        os.write(self.master, KEYS[key])
        self.wait(shows)
        elapsed = (time.perf_counter() - start) * 1000
        self.sample_rss()
        return elapsed

    def drain(self) -> None:
        for _ in range(50):
            ready, _, _ = select.select([self.master], [], [], 0)
            if not ready:
                return
            self.pump(0)

    def sample_rss(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, psutil.Process(self.proc.pid).memory_info().rss)

    def highlighted(self) -> str | None:
        """The text of the row drawn in the table cursor's colour (found once: the first data row at start)."""
        buffer = self.screen.buffer
        for y in range(self.screen.lines):
            line = self.screen.display[y]
            at = line.find("film ")
            if at >= 0 and buffer[y][at].bg == self.cursor_bg:
                return line
        return None

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def row_is(term: Terminal, name: str, position: int | None) -> Callable[[], bool]:
    def shows() -> bool:
        if "Facts" in term.screen.display[1]:
            return False  # the inspector is still up
        line = term.highlighted()
        if line is None or name not in line:
            return False
        return position is None or line.replace("│", " ").split()[0] == str(position)

    return shows


def inspector_of(term: Terminal, name: str) -> Callable[[], bool]:
    """The whole inspector frame is drawn: its tabs, the film's facts, and no row of the queue left."""

    def shows() -> bool:
        lines = term.screen.display
        return (
            "Facts" in lines[1]
            and any(name in line and "File" in line for line in lines)
            and not any("Queue" in line for line in lines)
        )

    return shows


def percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    return {
        "p50": statistics.median(values),
        "p95": values[max(int(len(values) * 0.95) - 1, 0)],
        "max": values[-1],
        "n": len(values),
    }


def measure_app(
    jobs: int, segments: int, rate: float, keys: int, columns: int, lines: int
) -> tuple[dict, int]:
    term = Terminal(["--child-app", str(jobs), str(segments), str(rate)], columns, lines)
    try:
        term.started(settle=1.0)
        order = [film(i) for i in range(jobs)]
        cursor = 0
        times: dict[str, list[float]] = {}
        pattern = ["j", "j", "j", "J", "k", "K", "enter", "escape", "j"]
        for n in range(keys):
            key = pattern[n % len(pattern)]
            if key == "j":
                cursor += 1
            elif key == "k":
                cursor -= 1
            elif key in ("J", "K"):
                step = 1 if key == "J" else -1
                order[cursor], order[cursor + step] = order[cursor + step], order[cursor]
                cursor += step
            if key == "enter":
                shows = inspector_of(term, order[cursor])
            else:  # moves, and Esc back from the inspector: the main screen, the expected row highlighted
                shows = row_is(term, order[cursor], cursor + 1)
            try:
                times.setdefault(key, []).append(term.press(key, shows))
            except TimeoutError:
                rows = [
                    (line[:40], term.screen.buffer[y][6].bg) for y, line in enumerate(term.screen.display)
                ]
                raise TimeoutError(
                    f"key {n} {key!r}: expected {order[cursor]} at {cursor + 1}; {rows}"
                ) from None
        rss = term.peak_rss
    finally:
        term.close()
    return {key: percentiles(v) for key, v in times.items()} | {
        "all": percentiles([t for v in times.values() for t in v])
    }, rss


def measure_floor(keys: int, columns: int, lines: int) -> dict:
    term = Terminal(["--child-bare", "40"], columns, lines)
    try:
        term.started(settle=0.5)
        times: dict[str, list[float]] = {}
        for n in range(keys):
            key, cursor = ("down", 1) if n % 2 == 0 else ("up", 0)
            times.setdefault("↓/↑", []).append(term.press(key, row_is(term, film(cursor), None)))
        for _ in range(20):
            times.setdefault("enter", []).append(
                term.press("enter", lambda: "Facts" in term.screen.display[1])
            )
            times.setdefault("escape", []).append(term.press("escape", row_is(term, film(0), None)))
    finally:
        term.close()
    return {key: percentiles(v) for key, v in times.items()}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-app":
        child_app(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child-bare":
        child_bare(int(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--segments", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--keys", type=int, default=180)
    parser.add_argument("--size", default="80x24")
    parser.add_argument("--no-write", action="store_true", help="print only; leave ui-latency.txt as it is")
    args = parser.parse_args()
    columns, lines = (int(v) for v in args.size.split("x"))
    floor = measure_floor(min(args.keys, 60), columns, lines)
    app, rss = measure_app(args.jobs, args.segments, args.rate, args.keys, columns, lines)

    def fmt(p: dict) -> str:
        return f"p50 {p['p50']:.1f} ms, p95 {p['p95']:.1f} ms, max {p['max']:.1f} ms ({p['n']} keys)"

    out = [
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, {args.size} pty read by pyte {pyte.__version__ if hasattr(pyte, '__version__') else ''}".rstrip(),
        "floor (bare Textual: a DataTable, Enter pushing a one-line screen, Esc popping it; same pty and emulator):",
        *(f"  {key:<7} {fmt(p)}" for key, p in floor.items()),
        f"drapto-tui, {args.jobs} jobs, a running job of {args.segments} segments at {args.rate:g} events/s:",
        *(f"  {key:<7} {fmt(p)}" for key, p in app.items()),
        f"  peak RSS of the app process: {rss / 2**20:.0f} MiB",
        "Esc includes the wait for the rest of an escape sequence, as in any terminal program that tells Esc from"
        " Alt or an arrow key: bare Textual's input loop acts on it when its 100 ms poll times out (the floor's"
        f" Esc); drapto-tui's driver when its delay ({os.environ.get('ESCDELAY') or 'ui.escape_delay_ms, 25'} ms)"
        " is up.",
    ]
    text = "\n".join(out) + "\n"
    print(text, end="")
    if not args.no_write:
        (ROOT / "benchmarks" / "ui-latency.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
