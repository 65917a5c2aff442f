"""A running drapto-tui core: config, working dirs, event bus, state store and the StateManager following the bus.

The headless commands and the TUI both open one Session; nothing here knows about Textual.
"""

from __future__ import annotations

import uuid

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.events import Event, EventBus, ProcessingEvents
from drapto_tui.errors import unusable
from drapto_tui.state import StateManager, StateStore
from drapto_tui.temp import TempManager


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


class Session:
    def __init__(self, config: DraptoConfig) -> None:
        self.config = config
        self.temp = TempManager(config)
        self.store = StateStore(self.temp.state)
        try:
            self.bus = EventBus(self.temp.logs / "events.jsonl")
        except PermissionError as exc:
            self.store.close()
            raise unusable(exc, "event log") from None
        self.state = StateManager(self.store)
        # The state fold is a synchronous tap: queue commands and the scheduler read state that already holds
        # every event published so far. It is cheap (an in-memory fold; lifecycle events cost one small SQLite
        # commit), unlike the UI and log consumers, which get their own queues.
        self.bus.add_listener(self.state.update_state)
        self._closed = False

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def emit(self, kind: ProcessingEvents, **kwargs: object) -> Event:
        return self.bus.emit(kind, **kwargs)  # type: ignore[arg-type]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.bus.close()
        self.state.close()
