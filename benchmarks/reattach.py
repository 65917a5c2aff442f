"""Reattach as a user feels it: the real `drapto-tui` started in a pseudo-terminal against a running service that
holds a big queue, timed until the emulated screen (pyte) shows the queue's rows; and whether any frame before
that showed an empty queue or zeroed counters.

    python3 dev.py bench reattach [--jobs 1000] [--times 5] [--ssh DESTINATION]

The service is started through the CLI in a state dir of its own, all work paused, and --jobs films queued and
probed (hard links of one small clip). Each attach is a fresh app process; it is killed afterwards, as a dropped
terminal would end it (the service goes on).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.service import fill_queue, settings  # noqa: E402
from benchmarks.ui_latency import Terminal  # noqa: E402

PROGRAM = Path(sys.executable).parent / "drapto-tui"


def over_ssh(destination: str, command: list[str]) -> list[str]:
    """The command as a user over SSH starts it: a pty on the far side (-tt), no prompt (keys set up)."""
    remote = f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color {shlex.join(command)}"
    return ["ssh", "-tt", "-o", "BatchMode=yes", destination, remote]


def attach_once(root: Path, columns: int, lines: int, ssh: str | None = None) -> tuple[float, bool]:
    sets = [arg for kv in settings(root) for arg in ("--set", kv)]
    command = [str(PROGRAM), *sets]
    started = time.perf_counter()
    term = Terminal([], columns, lines, command=over_ssh(ssh, command) if ssh else command)
    empty_first = False
    try:
        while True:
            term.pump(0.005)
            shown = term.screen.display
            if any("film 0000.mkv" in line for line in shown):
                return time.perf_counter() - started, empty_first
            # A frame with the header drawn but no rows: an empty queue said, where the queue has jobs.
            if any("queued 0" in line for line in shown):
                empty_first = True
            if time.perf_counter() - started > 60:
                raise TimeoutError("\n".join(shown))
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--times", type=int, default=5)
    parser.add_argument("--size", default="80x24")
    parser.add_argument(
        "--ssh",
        metavar="DESTINATION",
        help="attach through ssh to DESTINATION (e.g. 127.0.0.1, with key login set up), as a user over SSH does",
    )
    args = parser.parse_args()
    columns, lines = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory(prefix="drapto-reattach-") as tmp:
        root = Path(tmp)
        sets = [arg for kv in settings(root) for arg in ("--set", kv)]
        subprocess.run([str(PROGRAM), "service", "start", *sets], check=True, capture_output=True)
        try:
            asyncio.run(fill_queue(root, args.jobs, name="film {:04d}.mkv"))
            runs = [attach_once(root, columns, lines, args.ssh) for _ in range(args.times)]
            logins: list[float] = []
            if args.ssh:  # ssh's own share: the same login running nothing
                for _ in range(args.times):
                    began = time.perf_counter()
                    subprocess.run(["ssh", "-o", "BatchMode=yes", args.ssh, "true"], check=True)
                    logins.append(time.perf_counter() - began)
        finally:
            subprocess.run([str(PROGRAM), "service", "stop", *sets], check=False, capture_output=True)
    times = [t for t, _ in runs]
    empty = sum(1 for _, e in runs if e)
    print(
        f"reattach to a service with {args.jobs} jobs, {args.size} pty read by pyte, {os.cpu_count()} CPUs:"
        f" to the queue's rows p50 {statistics.median(times):.2f} s, max {max(times):.2f} s ({len(times)} runs);"
        f" an empty queue shown first in {empty} of {len(runs)}"
        + (
            f"; over ssh to {args.ssh}, of which an ssh login alone takes p50 {statistics.median(logins):.2f} s"
            if args.ssh
            else ""
        )
    )


if __name__ == "__main__":
    main()
