from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from drapto_tui.engine.bus import EventBus, read_jsonl
from drapto_tui.model.events import (
    COALESCABLE,
    EVENT_SCHEMA,
    EVENT_TYPES,
    EncodingComplete,
    EncodingProgress,
    ErrorOccurred,
    Event,
    FileDiscovered,
    ProcessingEvents,
    ProcessingStatus,
    SegmentComplete,
    SegmentCompleteEvent,
    SegmentProgress,
    make_event,
)

E = ProcessingEvents


def test_seed_members_exact() -> None:
    seed = {
        "FILE_DISCOVERED": "file_discovered",
        "ANALYSIS_STARTED": "analysis_started",
        "ANALYSIS_COMPLETE": "analysis_complete",
        "ENCODING_STARTED": "encoding_started",
        "SEGMENT_COMPLETE": "segment_complete",
        "ENCODING_COMPLETE": "encoding_complete",
        "ERROR_OCCURRED": "error_occurred",
    }
    for name, value in seed.items():
        assert ProcessingEvents[name].value == value
    assert not (COALESCABLE & {ProcessingEvents[n] for n in seed})


def test_payload_shape_and_json_round_trip() -> None:
    ev = make_event(
        E.SEGMENT_COMPLETE,
        job_id="j1",
        file="/x/a b.mkv",
        status=ProcessingStatus.RUNNING,
        segment=3,
        start=6.0,
        end=8.0,
        crf=27.25,
        score_measured=93.4,
        bytes=1234,
        bitrate=4936.0,
        encode_seconds=1.5,
        fps=32.0,
    )
    data = json.loads(ev.to_json())
    # The seed's envelope, unchanged for JSONL readers, plus the job and the format's version.
    assert set(data) == {"event", "timestamp", "file", "data", "status", "job_id", "schema"}
    assert (
        data["event"] == "segment_complete" and data["status"] == "running" and data["schema"] == EVENT_SCHEMA
    )
    # Only the fields the emitter gave are written (score_predicted was not given).
    assert set(data["data"]) == {
        "segment",
        "start",
        "end",
        "crf",
        "score_measured",
        "bytes",
        "bitrate",
        "encode_seconds",
        "fps",
    }
    back = Event.from_json(ev.to_json())
    assert back == ev and isinstance(back, SegmentCompleteEvent) and back.data.crf == 27.25


def test_every_kind_has_a_payload_model_and_unknown_fields_fail() -> None:
    assert set(EVENT_TYPES) == set(ProcessingEvents)
    with pytest.raises(ValidationError, match="progres"):
        make_event(E.SEGMENT_PROGRESS, job_id="j", segment=1, progres=0.5)  # a misspelt key fails loudly
    with pytest.raises(ValidationError):
        make_event(E.SEGMENT_PROGRESS, job_id="j", segment="three", progress=0.5)


def test_a_line_from_before_the_schema_field_still_reads() -> None:
    old = (
        '{"event":"job_updated","timestamp":"2026-11-01T10:00:00Z","file":"/f.mkv",'
        '"data":{"priority":2},"status":null,"job_id":"j1"}'
    )
    ev = Event.from_json(old)
    assert ev.data.given("priority") and not ev.data.given("held") and ev.data.priority == 2


async def test_fan_out_to_many_subscribers() -> None:
    bus = EventBus()
    subs = [bus.subscribe(f"s{i}") for i in range(5)]
    for i in range(10):
        bus.emit(SegmentComplete(segment=i), job_id="j")
    for sub in subs:
        got = [await sub.get() for _ in range(10)]
        assert [e.data.segment for e in got] == list(range(10))


async def test_progress_is_coalesced_lifecycle_never_dropped() -> None:
    bus = EventBus()
    sub = bus.subscribe("slow", maxsize=50)
    for i in range(1000):
        bus.emit(SegmentProgress(segment=0, progress=i / 1000), job_id="j")
        if i % 100 == 99:
            bus.emit(SegmentComplete(segment=i // 100), job_id="j")
    got = sub.drain()
    lifecycle = [e for e in got if e.event == E.SEGMENT_COMPLETE]
    assert [e.data.segment for e in lifecycle] == list(range(10))
    progress = [e for e in got if e.event == E.SEGMENT_PROGRESS]
    # One pending progress event per run between lifecycle events, each the newest of its run.
    assert len(progress) == 10
    assert [round(e.data.progress * 1000) for e in progress] == [99 + 100 * k for k in range(10)]
    assert sub.coalesced == 990 and sub.dropped == 0


async def test_no_progress_overtakes_a_later_lifecycle_event() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    bus.emit(EncodingProgress(progress=0.5), job_id="j")
    bus.emit(ErrorOccurred(message="retrying"), job_id="j")
    bus.emit(EncodingProgress(progress=0.1), job_id="j")
    kinds = [(e.event, getattr(e.data, "progress", None)) for e in sub.drain()]
    assert kinds == [(E.ENCODING_PROGRESS, 0.5), (E.ERROR_OCCURRED, None), (E.ENCODING_PROGRESS, 0.1)]


async def test_full_queue_sheds_progress_not_lifecycle() -> None:
    bus = EventBus()
    sub = bus.subscribe(maxsize=5)
    for seg in range(20):
        bus.emit(SegmentProgress(segment=seg, progress=0.1), job_id="j")
    for seg in range(20):
        bus.emit(SegmentComplete(segment=seg), job_id="j")
    got = sub.drain()
    assert [e.data.segment for e in got if e.event == E.SEGMENT_COMPLETE] == list(range(20))
    assert sub.dropped > 0


async def test_slow_subscriber_does_not_block_publisher_or_others() -> None:
    bus = EventBus()
    slow = bus.subscribe("slow")
    fast = bus.subscribe("fast")
    received: list[int] = []

    async def consume_fast() -> None:
        async for ev in fast:
            received.append(ev.data.segment)
            if ev.data.segment == 499:
                return

    async def consume_slow() -> None:
        async for _ in slow:
            await asyncio.sleep(10)  # never keeps up

    fast_task = asyncio.create_task(consume_fast())
    slow_task = asyncio.create_task(consume_slow())
    for n in range(500):
        bus.emit(SegmentComplete(segment=n), job_id="j")  # returns at once whatever the subscribers do
    await asyncio.wait_for(fast_task, 2)
    assert received == list(range(500))
    assert len(slow) >= 498  # still queued for the slow one, nothing lost
    slow_task.cancel()


async def test_kind_filter_and_close() -> None:
    bus = EventBus()
    errors = bus.subscribe(kinds=[E.ERROR_OCCURRED])
    bus.emit(FileDiscovered(size=1), file="a")
    bus.emit(ErrorOccurred(message="bad"))
    assert [e.event for e in errors.drain()] == [E.ERROR_OCCURRED]
    errors.close()
    bus.emit(ErrorOccurred(message="after close"))
    assert errors.drain() == []


async def test_publish_from_another_thread_wakes_the_loop() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    waiter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    threading.Thread(target=lambda: bus.emit(FileDiscovered(size=1), file="t")).start()
    ev = await asyncio.wait_for(waiter, 2)
    assert ev.file == "t"


def test_every_event_is_appended_to_jsonl(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "events.jsonl"
    bus = EventBus(log)
    bus.subscribe(maxsize=1)  # a lagging subscriber must not thin out the log
    for i in range(100):
        bus.emit(SegmentProgress(segment=0, progress=i / 100), job_id="j")
    bus.emit(EncodingComplete(output="/out/j.mkv"), job_id="j")
    # Lifecycle events are flushed at once: readable before close.
    events = list(read_jsonl(log))
    assert len(events) == 101 and events[-1].event == E.ENCODING_COMPLETE
    bus.close()
    with log.open("a") as fh:
        fh.write('{"event": "segm')  # a torn last line from a crash
    assert len(list(read_jsonl(log))) == 101


def test_an_event_is_built_from_its_payload_model_alone() -> None:
    """Each payload type names one kind, so an emitter can hand over a typed payload (mypy checks its fields)."""
    from drapto_tui.model.events import EVENT_TYPES, PAYLOAD_KINDS, SegmentComplete, event_of

    assert len(PAYLOAD_KINDS) == len(EVENT_TYPES)
    event = event_of(SegmentComplete(segment=3, crf=30.0, metric="xpsnr"), job_id="j", file="/films/a.mkv")
    assert event.event == ProcessingEvents.SEGMENT_COMPLETE
    assert Event.from_json(event.to_json()).data == SegmentComplete(segment=3, crf=30.0, metric="xpsnr")
