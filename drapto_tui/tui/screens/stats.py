"""What library mode saved, read from the savings ledger (engine/ledger.py): the lifetime totals, each library
folder's, and the films replaced in place with where their originals wait. The same figures as `drapto-tui stats`
and `drapto-tui restore --list`, read beside a running service."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.engine.ledger import Replacement, Totals
from drapto_tui.engine.library import library_roots, read_ledger
from drapto_tui.errors import DraptoError


def totals_text(label: str, t: Totals, *, bold: bool = False) -> Text:
    """A folder (or the lifetime) in two lines: its name, then its figures, so a long path never squeezes them."""
    share = f" ({t.saved / t.bytes_in:.0%})" if t.bytes_in else ""
    figures = (
        f"  {t.films} film{'s' if t.films != 1 else ''}, {t.encoded} encoded · {human_size(t.bytes_in)} →"
        f" {human_size(t.bytes_out)} · saved {human_size(t.saved)}{share}"
        + (f" · {t.replaced} replaced" if t.replaced else "")
        + (f" · {t.restored} restored" if t.restored else "")
    )
    text = Text()
    text.append(label, style="bold" if bold else "underline")
    text.append("\n" + figures)
    return text


def replaced_lines(replacements: list[Replacement]) -> list[str]:
    lines = []
    for r in reversed(replacements[-20:]):
        where = (
            "restored"
            if r.restored_at
            else "original deleted (library.trash_days)"
            if r.purged_at
            else f"original in {r.kept}"
        )
        lines.append(f"{r.replaced_at[:10]}  {r.target}  — {where}")
    return lines


class StatsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    StatsScreen { align: center middle; }
    #stats { width: 90%; max-width: 120; height: auto; max-height: 100%; border: thick $primary;
             background: $surface; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,s", "close", "Close")]

    def __init__(self, config: DraptoConfig) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="stats"):
            yield Static(Text("What encoding saved (the savings ledger)", style="bold reverse"))
            yield Static(self._body())
            yield Static(Text("Esc closes · drapto-tui restore PATH puts an original back", style="dim"))

    def _body(self) -> Group | Text:
        try:
            with read_ledger(self.config) as ledger:
                if ledger is None or not (lifetime := ledger.lifetime()).films:
                    return Text("No film finished yet: the ledger fills as jobs end.")
                folders = ledger.by_folder(library_roots(self.config))
                replaced = replaced_lines(ledger.replacements())
        except DraptoError as err:
            return Text(err.line())
        parts = [totals_text("All time", lifetime, bold=True)]
        parts += [totals_text(folder, totals) for folder, totals in folders.items()]
        if replaced:
            parts.append(Text("Replaced in place, newest first", style="bold"))
            parts += [Text(f"  {line}") for line in replaced]
        return Group(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
