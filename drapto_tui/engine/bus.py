"""Events and the async event bus.

The pipeline publishes plain-data events; the StateManager, the UI and the JSONL log consume them. Each
subscriber has its own queue, so a slow one never blocks the pipeline or the others. High-rate progress events
are coalesced per (kind, job, segment): while one is still waiting in a subscriber's queue, a newer one
replaces it in place. Lifecycle events are never dropped or reordered; a lifecycle event also seals the
pending progress events before it, so no progress event overtakes the lifecycle event that followed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

from drapto_tui.model.events import Event, Payload, ProcessingEvents, ProcessingStatus, event_of


class _Slot:
    """A queue position holding the newest of a run of coalesced progress events."""

    __slots__ = ("event",)

    def __init__(self, event: Event) -> None:
        self.event = event


class Subscription:
    """One subscriber's queue. Iterate it (`async for event in sub`) or drain it in batches (`drain()`)."""

    def __init__(
        self, bus: EventBus, name: str, maxsize: int, kinds: frozenset[ProcessingEvents] | None
    ) -> None:
        self._bus = bus
        self.name = name
        self.maxsize = maxsize
        self.kinds = kinds
        # Lifecycle events sit in the queue as themselves; progress events sit in a _Slot that newer events
        # with the same key overwrite while the slot is open (listed in _open).
        self._items: deque[Event | _Slot] = deque()
        self._open: dict[tuple[str, str | None, Any], _Slot] = {}
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.delivered = 0
        self.coalesced = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def _offer(self, event: Event) -> None:
        if self.kinds is not None and event.event not in self.kinds:
            return
        if event.coalescable:
            key = event.coalesce_key()
            slot = self._open.get(key)
            if slot is not None:
                slot.event = event
                self.coalesced += 1
                return
            if len(self._items) >= self.maxsize and not self._shed_progress():
                self.dropped += 1
                return
            slot = self._open[key] = _Slot(event)
            self._items.append(slot)
        else:
            # Seal the open slots: later progress queues behind this event instead of overtaking it.
            self._open.clear()
            self._items.append(event)
        self._wake()

    def _shed_progress(self) -> bool:
        """Make room by dropping the oldest queued progress event; lifecycle events are never shed."""
        for i, item in enumerate(self._items):
            if isinstance(item, _Slot):
                del self._items[i]
                key = item.event.coalesce_key()
                if self._open.get(key) is item:
                    del self._open[key]
                self.dropped += 1
                return True
        return False

    def _wake(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self._wakeup.set()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wakeup.set()
        else:
            loop.call_soon_threadsafe(self._wakeup.set)

    def _pop(self) -> Event:
        item = self._items.popleft()
        if isinstance(item, _Slot):
            key = item.event.coalesce_key()
            if self._open.get(key) is item:
                del self._open[key]
            item = item.event
        self.delivered += 1
        return item

    def drain(self, limit: int | None = None) -> list[Event]:
        """Everything queued now (or up to `limit`), without waiting."""
        out: list[Event] = []
        with self._bus._lock:
            while self._items and (limit is None or len(out) < limit):
                out.append(self._pop())
            if not self._items:
                self._wakeup.clear()
        return out

    async def get(self) -> Event:
        self._loop = asyncio.get_running_loop()
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        with self._bus._lock:
            return self._pop()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._bus._unsubscribe(self)
        self._wake()


class JsonlLog:
    """Appends every event as one JSON line; flushes on lifecycle events so a crash loses only progress."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Created owner-only: every film and path is named in it.
        self._fh: TextIO | None = open(  # noqa: SIM115 - held open for the bus's life, closed by close()
            path, "a", encoding="utf-8", buffering=1 << 16, opener=lambda p, f: os.open(p, f, 0o600)
        )

    def write(self, event: Event) -> None:
        if self._fh is None:
            return
        try:
            self._fh.write(event.to_json())
            self._fh.write("\n")
            if not event.coalescable:
                self._fh.flush()
        except OSError as exc:
            # The log is a record, not the state: a full disk or a revoked permission stops the log (said once)
            # and never the encode.
            self._fh = None
            print(
                f"drapto-tui: {self.path}: event log stopped ({exc.strerror}); the queue's state is kept",
                file=sys.stderr,
            )

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None


def read_jsonl(path: Path) -> Iterable[Event]:
    """Events back from a JSONL log; a torn last line (crash mid-write) is skipped."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield Event.from_json(line)
            except ValueError:
                try:
                    json.loads(line)
                except ValueError:
                    continue
                raise


class EventBus:
    """Fan-out of events to subscribers; `publish` never blocks and is safe from any thread."""

    def __init__(self, log_path: Path | None = None, *, default_maxsize: int = 10_000) -> None:
        self._subs: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self.default_maxsize = default_maxsize
        self.log = JsonlLog(log_path) if log_path is not None else None
        self.published = 0

    def subscribe(
        self,
        name: str = "subscriber",
        *,
        maxsize: int | None = None,
        kinds: Iterable[ProcessingEvents] | None = None,
    ) -> Subscription:
        sub = Subscription(self, name, maxsize or self.default_maxsize, frozenset(kinds) if kinds else None)
        with contextlib.suppress(RuntimeError):
            sub._loop = asyncio.get_running_loop()
        with self._lock:
            self._subs.append(sub)
        return sub

    def add_listener(self, callback: Callable[[Event], None]) -> None:
        """A synchronous tap called inside publish; for cheap in-memory folds only (it must not block)."""
        self._listeners.append(callback)

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, event: Event) -> None:
        with self._lock:
            self.published += 1
            if self.log is not None:
                self.log.write(event)
            for sub in self._subs:
                sub._offer(event)
        for listener in self._listeners:
            listener(event)

    def emit(
        self,
        payload: Payload,
        *,
        job_id: str | None = None,
        file: str | Path | None = None,
        status: ProcessingStatus | None = None,
    ) -> Event:
        """Publish the event that carries this payload model. Emitters build the model itself, so mypy checks
        every field they give (there is no `emit(kind, **fields)` it cannot see into)."""
        event = event_of(payload, job_id=job_id, file=file, status=status)
        self.publish(event)
        return event

    def close(self) -> None:
        for sub in list(self._subs):
            sub.close()
        if self.log is not None:
            self.log.close()
