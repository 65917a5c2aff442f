"""Every key, from the same table that makes the bindings, and the words the screens use (a newcomer meets
"kept", "~" or "below 93" before any documentation)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from drapto_tui.tui.actions import ACTIONS, shown_keys

#: The words on the screens, each in one line.
GLOSSARY = [
    ("Score", "how close the encode looks to the source, in the job's metric; each scene aims at the target"),
    ("VMAF", "a 0-100 score, the default metric (quality.metric)"),
    ("XPSNR", "a weighted PSNR in dB; the default for HDR films, where VMAF is not valid"),
    ("CRF", "SVT-AV1's quality knob (lower: better and bigger); searched per segment to reach the target"),
    ("segment", "a run of scenes encoded on its own; the grid has a cell per segment"),
    ("below N", "a segment measured under the target N, kept as the best reached (▼ in the grid)"),
    ("~", "a predicted score, not measured (audit mode measures 1 segment in 4)"),
    ("Pred", "the score the search predicted for the CRF it chose"),
    ("tries", "how many times a segment was encoded (a retry after a short measurement counts)"),
    ("kept", "AV1 would not save enough: no output is written, the source is what you keep"),
    ("held", "waits in the queue without starting until released (h)"),
    ("direct / chunked", "Dolby Vision encodes in one piece; everything else in segments"),
]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    #help { width: 70; max-width: 100%; height: auto; max-height: 100%; border: thick $primary;
            background: $surface; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.keymap = keymap or {}

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1))
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        group = None
        for action in ACTIONS:
            if action.group != group:
                group = action.group
                table.add_row(f"[underline]{group}[/]", "")
            table.add_row(shown_keys(action, self.keymap), action.description)
        table.add_row("[underline]Inspector[/]", "")
        table.add_row("Esc", "Back to the queue")
        table.add_row("r", "Retry the failed segment's job (keeps finished segments)")
        table.add_row("Ctrl+P", "Command palette: every action by name")
        table.add_row("[underline]Words[/]", "")
        for term, meaning in GLOSSARY:
            table.add_row(term, meaning)
        with VerticalScroll(id="help"):
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
