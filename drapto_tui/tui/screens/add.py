"""Adding files: a path input with completion, then a preview of what discovery finds, then queue them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, Static

from drapto_tui.errors import DraptoError
from drapto_tui.tui.commands import AppCommands


class PathSuggester(Suggester):
    """Completes the last path component from the filesystem, as a shell does: to the longest start that every
    match shares, or to the one match (a folder gets its slash, so the next Tab goes on inside it). Tab or →
    accepts."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, prefix = os.path.split(expanded)
        try:
            names = sorted(
                n for n in os.listdir(folder or ".") if n.startswith(prefix) and not n.startswith(".")
            )
        except OSError:
            return None
        if not names:
            return None
        shared = os.path.commonprefix(names)  # noqa: RUF071 - names in one folder: the shared characters
        done = os.path.join(folder, shared if len(names) > 1 and len(shared) > len(prefix) else names[0])
        if os.path.isdir(done):
            done += os.sep
        return value + done[len(expanded) :] if len(done) > len(expanded) else None


class AddScreen(ModalScreen[list[Path] | None]):
    DEFAULT_CSS = """
    AddScreen { align: center middle; }
    #add { width: 90%; max-width: 100; height: auto; max-height: 90%; border: thick $primary;
           background: $surface; padding: 0 1; }
    #preview { height: auto; max-height: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Cancel"),
        # Before Textual's focus change: in this box Tab completes the path, as in a shell.
        Binding("tab", "complete", "Complete", priority=True, show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.found: list[Path] = []
        self.previewed = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="add"):
            yield Label("Add a file or folder (Tab completes; Enter previews, Enter again adds; Esc cancels)")
            yield Input(placeholder="/path/to/films", suggester=PathSuggester(), id="path")
            yield Static(id="preview")

    def action_complete(self) -> None:
        """Take the grey suggestion into the box (Textual's Input accepts it with → at the end of the text)."""
        box = self.query_one("#path", Input)
        if box.cursor_at_end:
            box.action_cursor_right()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value and value == self.previewed and self.found:
            self.dismiss([Path(os.path.expanduser(value))])
            return
        preview = self.query_one("#preview", Static)
        try:
            found = cast(AppCommands, self.app).preview_paths([Path(os.path.expanduser(value))])
        except DraptoError as err:
            self.found = []
            preview.update(err.line())
            return
        self.found = found.new
        self.previewed = value
        queued = f" ({len(found.queued)} already in the queue)" if found.queued else ""
        if not found.new:
            preview.update(f"nothing new to queue{queued}")
            return
        shown = "\n".join(f"  {p}" for p in found.new[:10])
        more = f"\n  … and {len(found.new) - 10} more" if len(found.new) > 10 else ""
        preview.update(
            f"{len(found.new)} file(s) will be queued{queued}:\n{shown}{more}\nEnter again to add them."
        )

    def action_close(self) -> None:
        self.dismiss(None)
