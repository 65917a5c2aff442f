"""Event-bus throughput: events/s from one publisher through 1 and through 10 subscribers.

    .venv/bin/python benchmarks/bus.py [--events N]

Lifecycle events (SEGMENT_COMPLETE) all reach every subscriber; the progress run measures the coalescing path
(SEGMENT_PROGRESS over 8 segments). Consumers drain concurrently on the same loop, as the StateManager and the
UI do. With --log the bus also writes the JSONL log, as in the app. The last line is the cost of making a typed
event (its payload is validated), which the publishing code pays before the bus sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from drapto_tui.engine.bus import EventBus
from drapto_tui.model.events import ProcessingEvents, make_event


async def run(n_events: int, n_subs: int, kind: ProcessingEvents, log: bool) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        bus = EventBus(Path(tmp) / "events.jsonl" if log else None, default_maxsize=n_events + 10)
        subs = [bus.subscribe(f"s{i}") for i in range(n_subs)]
        received = [0] * n_subs

        async def consume(i: int) -> None:
            sub = subs[i]
            while True:
                batch = sub.drain()
                received[i] += len(batch)
                if batch and batch[-1].event == ProcessingEvents.ENCODING_COMPLETE:
                    return
                await asyncio.sleep(0)

        extra = (
            (lambda k: {"progress": k / n_events})
            if kind == ProcessingEvents.SEGMENT_PROGRESS
            else (lambda k: {})
        )
        events = [make_event(kind, job_id="j", segment=k % 8, **extra(k)) for k in range(n_events)]
        events.append(make_event(ProcessingEvents.ENCODING_COMPLETE, job_id="j", output="/out/j.mkv"))
        tasks = [asyncio.create_task(consume(i)) for i in range(n_subs)]
        start = time.perf_counter()
        for k, event in enumerate(events):
            bus.publish(event)
            if k % 256 == 0:
                await asyncio.sleep(0)  # a real pipeline yields to the loop between steps
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        bus.close()
        return (len(events)) / elapsed, min(received)


def construction_rate(n_events: int) -> float:
    """Typed events validate their payload when made: SEGMENT_PROGRESS events made per second."""
    start = time.perf_counter()
    for k in range(n_events):
        make_event(
            ProcessingEvents.SEGMENT_PROGRESS, job_id="j", segment=k % 8, progress=k / n_events, fps=40.0
        )
    return n_events / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{'events':<18}{'subscribers':>12}{'log':>6}{'events/s (median)':>20}{'delivered/sub':>15}")
    for kind in (ProcessingEvents.SEGMENT_COMPLETE, ProcessingEvents.SEGMENT_PROGRESS):
        for n_subs in (1, 10):
            for log in (False, True):
                rates, delivered = [], 0
                for _ in range(args.repeat):
                    rate, delivered = asyncio.run(run(args.events, n_subs, kind, log))
                    rates.append(rate)
                print(
                    f"{kind.value:<18}{n_subs:>12}{'yes' if log else 'no':>6}{statistics.median(rates):>20,.0f}"
                    f"{delivered:>15,}"
                )
    made = statistics.median(construction_rate(args.events) for _ in range(args.repeat))
    print(f"make_event (validated payload): {made:,.0f} events/s")


if __name__ == "__main__":
    main()
