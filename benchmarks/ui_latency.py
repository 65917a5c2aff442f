"""Key → screen latency of the app with 1,000 queued jobs (and a 10,000-segment job) under 100 events/s.

    .venv/bin/python benchmarks/ui_latency.py [--jobs 1000] [--rate 100] [--keys 200]

A background task publishes progress events at --rate per second while keys (j, k, J, K) are pressed one at a
time; latency is the time from the key press until the screen has been refreshed with the new selection/order.
Prints p50/p95/max and the process RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drapto_tui.config import load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.model.events import ProcessingEvents, ProcessingStatus
from drapto_tui.tui.app import DraptoApp
from drapto_tui.tui.widgets.queue_table import QueueTable

E = ProcessingEvents


async def run(jobs: int, rate: float, keys: int, segments: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config(
            use_default_file=False, env={}, overrides=[f"processing.temp_dir={json.dumps(tmp)}"]
        )
        session = Engine(config, monitor=False)
        for i in range(jobs):
            session.emit(
                E.JOB_QUEUED,
                job_id=f"job{i:05d}",
                file=f"/films/film {i:05d}.mkv",
                status=ProcessingStatus.QUEUED,
                position=i,
                size=4_000_000_000,
            )
        session.emit(
            E.ENCODING_STARTED,
            job_id="job00000",
            file="/films/film 00000.mkv",
            path="chunked",
            segments=[
                {"index": s, "start": s * 6.0, "end": s * 6.0 + 6.0, "frames": 144} for s in range(segments)
            ],
        )
        app = DraptoApp(session, run_core=False)
        latencies: list[float] = []
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            stop = False

            async def traffic() -> None:
                n = 0
                while not stop:
                    session.emit(
                        E.SEGMENT_PROGRESS,
                        job_id=f"job{n % 20:05d}",
                        file="x",
                        segment=n % segments,
                        progress=(n % 100) / 100,
                    )
                    n += 1
                    await asyncio.sleep(1 / rate)

            feeder = asyncio.create_task(traffic())
            table = app.query_one(QueueTable)
            sequence = ["j", "j", "J", "k", "K", "j"]
            for i in range(keys):
                key = sequence[i % len(sequence)]
                before = (table.cursor_row, table.selected_job(), tuple(table._jobs_at[:5]))
                start = time.perf_counter()
                await pilot.press(key)
                # Wait for the change to reach the screen (the next refresh after the key was handled).
                while (table.cursor_row, table.selected_job(), tuple(table._jobs_at[:5])) == before:
                    await asyncio.sleep(0.001)
                await pilot.pause()  # until the app is idle again: the refresh with the change has been drawn
                latencies.append((time.perf_counter() - start) * 1000)
            stop = True
            await feeder
            rss = psutil.Process().memory_info().rss
            await pilot.press("q")
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(len(latencies) * 0.95) - 1],
        "max_ms": latencies[-1],
        "rss_mib": rss / 2**20,
        "keys": len(latencies),
    }


async def floor(keys: int) -> dict[str, float]:
    """The same measurement on a bare Textual DataTable of 40 rows: what Pilot's press/idle cycle costs alone."""
    from textual.app import App
    from textual.widgets import DataTable

    class Bare(App[None]):
        def compose(self):
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            for c in "abcdefghij":
                table.add_column(c, width=8)
            for i in range(40):
                table.add_row(*[f"{i}{c}" for c in "abcdefghij"])
            table.focus()

    app = Bare()
    latencies = []
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        for i in range(keys):
            before = table.cursor_row
            start = time.perf_counter()
            await pilot.press("down" if i % 2 == 0 else "up")
            while table.cursor_row == before:
                await asyncio.sleep(0.001)
            await pilot.pause()
            latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p95_ms": latencies[int(len(latencies) * 0.95) - 1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--segments", type=int, default=10_000)
    args = parser.parse_args()
    result = asyncio.run(run(args.jobs, args.rate, args.keys, args.segments))
    base = asyncio.run(floor(min(args.keys, 60)))
    print(
        f"measurement floor (bare Textual DataTable, same method): p50 {base['p50_ms']:.1f} ms,"
        f" p95 {base['p95_ms']:.1f} ms"
    )
    print(
        f"jobs {args.jobs}, segments {args.segments}, {args.rate:g} events/s, {result['keys']} keys: "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, max {result['max_ms']:.1f} ms, "
        f"RSS {result['rss_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
