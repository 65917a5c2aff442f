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
    """Completes the last path component from the filesystem (Tab / → accepts)."""

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
        done = os.path.join(folder, names[0])
        if os.path.isdir(done):
            done += os.sep
        return value + done[len(expanded) :]


class AddScreen(ModalScreen[list[Path] | None]):
    DEFAULT_CSS = """
    AddScreen { align: center middle; }
    #add { width: 90%; max-width: 100; height: auto; max-height: 90%; border: thick $primary;
           background: $surface; padding: 0 1; }
    #preview { height: auto; max-height: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.found: list[Path] = []
        self.previewed = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="add"):
            yield Label("Add a file or folder (Tab completes; Enter previews, Enter again adds; Esc cancels)")
            yield Input(placeholder="/path/to/films", suggester=PathSuggester(), id="path")
            yield Static(id="preview")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value and value == self.previewed and self.found:
            self.dismiss([Path(os.path.expanduser(value))])
            return
        preview = self.query_one("#preview", Static)
        try:
            self.found = cast(AppCommands, self.app).preview_paths([Path(os.path.expanduser(value))])
        except DraptoError as err:
            self.found = []
            preview.update(err.line())
            return
        self.previewed = value
        shown = "\n".join(f"  {p}" for p in self.found[:10])
        more = f"\n  … and {len(self.found) - 10} more" if len(self.found) > 10 else ""
        preview.update(f"{len(self.found)} file(s) will be queued:\n{shown}{more}\nEnter again to add them.")

    def action_close(self) -> None:
        self.dismiss(None)
