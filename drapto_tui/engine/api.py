"""The command API a front end drives: the Engine in-process, or service/client.py's ServiceClient over the
socket. The app is written against this and nothing else, so the same screens steer either."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.discovery import Preview
from drapto_tui.engine.fold import StateManager
from drapto_tui.model.state import ProcessingState


class Core(Protocol):
    config: DraptoConfig
    bus: EventBus  # subscribe to follow events
    state: StateManager  # the folded state (jobs by id)
    paused_all: bool
    #: What quitting the app means by default: "stop" (in-process: resumable) or "detach" (the service goes on).
    default_quit: str

    def listen(
        self,
        *,
        on_error: Callable[[str], None],
        on_added: Callable[[list[str], list[str]], None],
        on_lost: Callable[[], None],
    ) -> None:
        """Where answers that come later go: a command's error, what add_paths queued, the core going away."""

    @property
    def waiting(self) -> str | None:
        """What the queue waits for now ("waiting for the 01:00 window", "waiting for workers (0 connected)"),
        or None."""
        ...

    def jobs(self) -> list[ProcessingState]: ...
    def queue_eta(self) -> float | None:
        """The queue's time left in seconds (None until the rate can be told), one figure for every viewer."""
        ...

    def lifetime_saved(self) -> int:
        """Bytes saved over every film the savings ledger holds (engine/ledger.py)."""
        ...

    def is_running(self) -> bool: ...
    async def start(self, *, paused: bool = False) -> None: ...
    def preview(self, paths: Iterable[Path]) -> Preview: ...
    def add_paths(
        self, paths: Iterable[Path], output_dir: Path | None = None
    ) -> tuple[list[str], list[str]] | None:
        """(new job ids, one-line errors) at once, or None when the answer comes to on_added later. Their
        outputs go to `output_dir` (a client's own folder), else the configured one."""

    def toggle_pause(self, job_id: str) -> None: ...
    def toggle_pause_all(self) -> None: ...
    def finish_then_stop(self) -> None: ...
    def move(self, job_id: str, offset: int) -> None: ...
    def bump_priority(self, job_id: str, delta: int) -> None: ...
    def toggle_hold(self, job_id: str) -> None: ...
    def retry(self, job_id: str) -> None: ...
    async def cancel(self, job_id: str) -> None: ...
    def remove(self, job_id: str) -> None: ...
    def clear_finished(self) -> list[str]: ...
    def commands(self, job_id: str) -> list[str]: ...
    def job_log(self, job_id: str) -> list[str]: ...
    async def shutdown(self, mode: str = ...) -> None: ...
    async def close(self) -> None: ...


__all__ = ["Core"]
