"""What library mode saved, read from the savings ledger (engine/ledger.py): the lifetime totals, each library
folder's, and the films replaced in place with where their originals wait. The same figures as `drapto-tui stats`
and `drapto-tui restore --list`, read beside a running service."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
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


def stats_table(lifetime: Totals, folders: dict[str, Totals]) -> Table:
    table = Table(box=None, padding=(0, 1), header_style="bold")
    table.add_column("Folder", overflow="fold")
    for name in ("Films", "Encoded", "In", "Out", "Saved", "Replaced"):
        table.add_column(name, justify="right", no_wrap=True)

    def row(label: str, t: Totals, style: str = "") -> None:
        share = f" {t.saved / t.bytes_in:.0%}" if t.bytes_in else ""
        table.add_row(
            Text(label, style=style),
            str(t.films),
            str(t.encoded),
            human_size(t.bytes_in),
            human_size(t.bytes_out),
            f"{human_size(t.saved)}{share}",
            str(t.replaced) + (f" ({t.restored} back)" if t.restored else ""),
        )

    row("all time", lifetime, "bold")
    for folder, totals in folders.items():
        row(folder, totals)
    return table


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
            yield Static(Text("What encoding saved (the savings ledger)", style="bold"))
            yield Static(self._body())
            yield Static(Text("Esc closes · drapto-tui restore PATH puts an original back", style="dim"))

    def _body(self) -> Table | str:
        try:
            with read_ledger(self.config) as ledger:
                if ledger is None or not (lifetime := ledger.lifetime()).films:
                    return "No film finished yet: the ledger fills as jobs end."
                folders = ledger.by_folder(library_roots(self.config))
                replaced = replaced_lines(ledger.replacements())
        except DraptoError as err:
            return err.line()
        table = stats_table(lifetime, folders)
        if replaced:
            table.add_section()
            table.add_row(Text("Replaced in place, newest first", style="bold"), *[""] * 6)
            for line in replaced:
                table.add_row(line, *[""] * 6)
        return table

    def action_close(self) -> None:
        self.dismiss(None)
