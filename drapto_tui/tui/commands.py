"""What screens may ask of the app: the app-level command API (screens never reach into the engine)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from drapto_tui.engine.discovery import Preview
from drapto_tui.engine.library import Verdict
from drapto_tui.model.state import ProcessingState


class AppCommands(Protocol):
    def preview_paths(self, paths: Iterable[Path]) -> Preview:
        """The films adding these paths would queue, and those already queued (DraptoError: one line)."""
        ...

    async def library_verdicts(self, files: list[Path]) -> list[Verdict]:
        """What the [library] rules make of these films found in a folder (engine/library.py: scan)."""
        ...

    def job_state(self, job_id: str) -> ProcessingState | None: ...

    def default_target(self) -> float:
        """The target an SDR film's segments aim for, until a job says its own (the grid's and the chart's
        line)."""
        ...

    def job_commands(self, job_id: str) -> list[str]:
        """The FFmpeg command lines the job ran in this session."""
        ...

    def job_ffmpeg_log(self, job_id: str) -> list[str]:
        """The newest lines of the job's FFmpeg log (every run, across sessions)."""
        ...

    def action_retry(self, job_id: str | None = None) -> None: ...
