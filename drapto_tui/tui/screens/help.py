"""Every key, from the same table that makes the bindings."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from drapto_tui.tui.actions import ACTIONS


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: 70; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
            background: $surface; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1))
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        group = None
        for action in ACTIONS:
            if action.group != group:
                group = action.group
                table.add_row(f"[underline]{group}[/]", "")
            table.add_row(action.help_keys, action.description)
        table.add_row("[underline]Inspector[/]", "")
        table.add_row("Esc", "Back to the queue")
        table.add_row("r", "Retry the failed segment's job (keeps finished segments)")
        table.add_row("Ctrl+P", "Command palette: every action by name")
        with VerticalScroll(id="help"):
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
