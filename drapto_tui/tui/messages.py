"""Textual messages the app posts from its bus subscription: the widgets react to these, never to raw events."""

from __future__ import annotations

from datetime import datetime

from textual.message import Message

from drapto_tui.model.events import ErrorOccurred, ResourceSample


class ResourceSampled(Message):
    """A new psutil sample for the meters. A backlog collapses to the newest: only the latest reading matters."""

    def __init__(self, sample: ResourceSample) -> None:
        super().__init__()
        self.sample = sample

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ResourceSampled)


class ProblemReported(Message):
    """A warning or error for the log panel (never collapsed: each line is kept)."""

    def __init__(self, job_id: str | None, file: str | None, at: datetime, problem: ErrorOccurred) -> None:
        super().__init__()
        self.job_id = job_id
        self.file = file
        self.at = at
        self.problem = problem
