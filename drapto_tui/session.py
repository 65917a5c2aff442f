"""A running drapto-tui core: config, working dirs, event bus, state store and the StateManager following the bus.

The headless commands and the TUI both open one Session; nothing here knows about Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.events import Event, EventBus, ProcessingEvents, Subscription
from drapto_tui.state import StateManager, StateStore
from drapto_tui.temp import TempManager


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


class Session:
    def __init__(self, config: DraptoConfig) -> None:
        self.config = config
        self.temp = TempManager(config)
        self.bus = EventBus(self.temp.logs / "events.jsonl")
        self.store = StateStore(self.temp.state)
        self.state = StateManager(self.store)
        self._state_sub: Subscription | None = None
        self._state_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Session:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start(self) -> None:
        """Fold events into state on the running loop (the StateManager is one more bus subscriber)."""
        if self._state_task is None:
            self._state_sub = self.bus.subscribe("state")
            self._state_task = asyncio.create_task(self._follow(self._state_sub))

    async def _follow(self, sub: Subscription) -> None:
        async for event in sub:
            self.state.update_state(event)

    def emit(self, kind: ProcessingEvents, **kwargs: object) -> Event:
        return self.bus.emit(kind, **kwargs)  # type: ignore[arg-type]

    async def settle(self) -> None:
        """Let the StateManager catch up with everything published so far."""
        if self._state_sub is not None:
            for event in self._state_sub.drain():
                self.state.update_state(event)

    def log_path(self) -> Path:
        return self.temp.logs / "events.jsonl"

    async def close(self) -> None:
        await self.settle()
        if self._state_task is not None:
            self._state_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._state_task
            self._state_task = None
        self.bus.close()
        self.state.close()
