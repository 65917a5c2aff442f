"""Watch folders: a film that appears in one is queued once it has stopped growing.

The file system tells us when something changes (watchfiles: inotify on Linux, no polling of the folders); a
candidate is queued only after its size and modification time have stayed the same for `settle` seconds, so a
film still being copied in is never queued half-written. Films already in a watched folder when watching starts
are candidates too, judged the same way. Discovery's rules decide what is a film, exactly as for a folder scan
(input.file_pattern, size limits, hidden names, partial downloads: engine/discovery.py's not_a_film), and a film
already queued is never queued twice. A file that settled but is not a film is said once, with why, in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

from drapto_tui.config.schema import InputConfig
from drapto_tui.engine.discovery import not_a_film


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


class FolderWatch:
    def __init__(
        self,
        dirs: list[Path],
        input_config: InputConfig,
        queue_files: Callable[[list[Path]], None],
        *,
        settle: float,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.dirs = dirs
        self.input_config = input_config
        self.queue_files = queue_files
        self.settle = settle
        self.on_problem = on_problem
        self.candidates: dict[Path, _Seen | None] = {}
        self._said: dict[Path, str] = {}  # each file's reason is said once, not at every settle
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        for folder in self.dirs:  # what is there already is judged as what comes later
            for root, dirs, files in os.walk(folder):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                for name in files:
                    self.candidates.setdefault(Path(root) / name, None)
        self._settle()
        # Wake at least every second to judge candidates; otherwise only when the folders change.
        async for changes in awatch(
            *self.dirs, stop_event=self._stop, yield_on_timeout=True, rust_timeout=1000, recursive=True
        ):
            for change, name in changes:
                path = Path(name)
                if change != Change.deleted and path.is_file():
                    self.candidates.setdefault(path, None)
                elif change == Change.deleted:
                    self.candidates.pop(path, None)
            self._settle()

    def _settle(self) -> None:
        now = time.monotonic()
        ready: list[Path] = []
        for path, seen in list(self.candidates.items()):
            try:
                stat = path.stat()
            except OSError:
                self.candidates.pop(path, None)
                continue
            if seen is None or (stat.st_size, stat.st_mtime_ns) != (seen.size, seen.mtime_ns):
                self.candidates[path] = _Seen(stat.st_size, stat.st_mtime_ns, now)
            elif now - seen.since >= self.settle:
                ready.append(path)
                del self.candidates[path]
        films: list[Path] = []
        for path in ready:
            root = next((folder for folder in self.dirs if path.is_relative_to(folder)), None)
            why = not_a_film(path, self.input_config, root)
            if why is None:
                films.append(path)
            elif self.on_problem is not None and self._said.get(path) != why:
                self._said[path] = why
                self.on_problem(f"{path}: not queued: {why}")
        if films:
            self.queue_files(films)


__all__ = ["FolderWatch"]
