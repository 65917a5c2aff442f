from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from drapto_tui.engine.bus import EventBus, read_jsonl
from drapto_tui.model.events import COALESCABLE, Event, ProcessingEvents, ProcessingStatus, make_event

E = ProcessingEvents


def test_seed_members_exact() -> None:
    seed = {
        "FILE_DISCOVERED": "file_discovered", "ANALYSIS_STARTED": "analysis_started",
        "ANALYSIS_COMPLETE": "analysis_complete", "ENCODING_STARTED": "encoding_started",
        "SEGMENT_COMPLETE": "segment_complete", "ENCODING_COMPLETE": "encoding_complete",
        "ERROR_OCCURRED": "error_occurred",
    }
    for name, value in seed.items():
        assert ProcessingEvents[name].value == value
    assert not (COALESCABLE & {ProcessingEvents[n] for n in seed})


def test_payload_shape_and_json_round_trip() -> None:
    ev = make_event(E.SEGMENT_COMPLETE, job_id="j1", file="/x/a b.mkv", status=ProcessingStatus.RUNNING,
                    segment=3, crf=27.25, vmaf_measured=93.4)
    data = ev.model_dump(mode="json")
    assert set(data) == {"event", "timestamp", "file", "data", "status", "job_id"}
    assert data["event"] == "segment_complete" and data["status"] == "running"
    assert Event.from_json(ev.to_json()) == ev


async def test_fan_out_to_many_subscribers() -> None:
    bus = EventBus()
    subs = [bus.subscribe(f"s{i}") for i in range(5)]
    for i in range(10):
        bus.emit(E.SEGMENT_COMPLETE, job_id="j", segment=i)
    for sub in subs:
        got = [await sub.get() for _ in range(10)]
        assert [e.data["segment"] for e in got] == list(range(10))


async def test_progress_is_coalesced_lifecycle_never_dropped() -> None:
    bus = EventBus()
    sub = bus.subscribe("slow", maxsize=50)
    for i in range(1000):
        bus.emit(E.SEGMENT_PROGRESS, job_id="j", segment=0, progress=i / 1000)
        if i % 100 == 99:
            bus.emit(E.SEGMENT_COMPLETE, job_id="j", segment=i // 100)
    got = sub.drain()
    lifecycle = [e for e in got if e.event == E.SEGMENT_COMPLETE]
    assert [e.data["segment"] for e in lifecycle] == list(range(10))
    progress = [e for e in got if e.event == E.SEGMENT_PROGRESS]
    # One pending progress event per run between lifecycle events, each the newest of its run.
    assert len(progress) == 10
    assert [round(e.data["progress"] * 1000) for e in progress] == [99 + 100 * k for k in range(10)]
    assert sub.coalesced == 990 and sub.dropped == 0


async def test_no_progress_overtakes_a_later_lifecycle_event() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    bus.emit(E.ENCODING_PROGRESS, job_id="j", progress=0.5)
    bus.emit(E.ERROR_OCCURRED, job_id="j", message="retrying")
    bus.emit(E.ENCODING_PROGRESS, job_id="j", progress=0.1)
    kinds = [(e.event, e.data.get("progress")) for e in sub.drain()]
    assert kinds == [(E.ENCODING_PROGRESS, 0.5), (E.ERROR_OCCURRED, None), (E.ENCODING_PROGRESS, 0.1)]


async def test_full_queue_sheds_progress_not_lifecycle() -> None:
    bus = EventBus()
    sub = bus.subscribe(maxsize=5)
    for seg in range(20):
        bus.emit(E.SEGMENT_PROGRESS, job_id="j", segment=seg, progress=0.1)
    for seg in range(20):
        bus.emit(E.SEGMENT_COMPLETE, job_id="j", segment=seg)
    got = sub.drain()
    assert [e.data["segment"] for e in got if e.event == E.SEGMENT_COMPLETE] == list(range(20))
    assert sub.dropped > 0


async def test_slow_subscriber_does_not_block_publisher_or_others() -> None:
    bus = EventBus()
    slow = bus.subscribe("slow")
    fast = bus.subscribe("fast")
    received: list[int] = []

    async def consume_fast() -> None:
        async for ev in fast:
            received.append(ev.data["n"])
            if ev.data["n"] == 499:
                return

    async def consume_slow() -> None:
        async for _ in slow:
            await asyncio.sleep(10)  # never keeps up

    fast_task = asyncio.create_task(consume_fast())
    slow_task = asyncio.create_task(consume_slow())
    for n in range(500):
        bus.emit(E.SEGMENT_COMPLETE, job_id="j", n=n)  # returns at once whatever the subscribers do
    await asyncio.wait_for(fast_task, 2)
    assert received == list(range(500))
    assert len(slow) >= 498  # still queued for the slow one, nothing lost
    slow_task.cancel()


async def test_kind_filter_and_close() -> None:
    bus = EventBus()
    errors = bus.subscribe(kinds=[E.ERROR_OCCURRED])
    bus.emit(E.FILE_DISCOVERED, file="a")
    bus.emit(E.ERROR_OCCURRED, message="bad")
    assert [e.event for e in errors.drain()] == [E.ERROR_OCCURRED]
    errors.close()
    bus.emit(E.ERROR_OCCURRED, message="after close")
    assert errors.drain() == []


async def test_publish_from_another_thread_wakes_the_loop() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    threading.Thread(target=lambda: bus.emit(E.FILE_DISCOVERED, file="t")).start()
    ev = await asyncio.wait_for(waiter, 2)
    assert ev.file == "t"


def test_every_event_is_appended_to_jsonl(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "events.jsonl"
    bus = EventBus(log)
    bus.subscribe(maxsize=1)  # a lagging subscriber must not thin out the log
    for i in range(100):
        bus.emit(E.SEGMENT_PROGRESS, job_id="j", segment=0, progress=i / 100)
    bus.emit(E.ENCODING_COMPLETE, job_id="j")
    # Lifecycle events are flushed at once: readable before close.
    events = list(read_jsonl(log))
    assert len(events) == 101 and events[-1].event == E.ENCODING_COMPLETE
    bus.close()
    with log.open("a") as fh:
        fh.write('{"event": "segm')  # a torn last line from a crash
    assert len(list(read_jsonl(log))) == 101
