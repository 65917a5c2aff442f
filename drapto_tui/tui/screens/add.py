"""Adding files: a path input with completion, then a preview of what discovery finds, then queue them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, Label, Static

from drapto_tui.config.units import human_size
from drapto_tui.engine.library import Verdict
from drapto_tui.errors import DraptoError
from drapto_tui.tui.commands import AppCommands


def path_candidates(value: str) -> list[str]:
    """The names in the typed folder that start with the typed last component (hidden ones only when asked
    for), folders with their slash: what a shell lists on a second Tab."""
    expanded = os.path.expanduser(value)
    folder, prefix = os.path.split(expanded)
    try:
        names = sorted(n for n in os.listdir(folder or ".") if n.startswith(prefix))
    except OSError:
        return []
    if not prefix.startswith("."):
        names = [n for n in names if not n.startswith(".")]
    return [n + os.sep if os.path.isdir(os.path.join(folder or ".", n)) else n for n in names]


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
        folder = os.path.dirname(expanded)
        names = [n.rstrip(os.sep) for n in path_candidates(value)]
        if not names:
            return None
        prefix = os.path.basename(expanded)
        shared = os.path.commonprefix(names)  # noqa: RUF071 - names in one folder: the shared characters
        done = os.path.join(folder, shared if len(names) > 1 and len(shared) > len(prefix) else names[0])
        if len(names) > 1 and len(shared) <= len(prefix):
            return None  # ambiguous here: a second Tab lists the candidates
        if os.path.isdir(done):
            done += os.sep
        return value + done[len(expanded) :] if len(done) > len(expanded) else None


def verdict_lines(verdicts: list[Verdict], limit: int = 10) -> str:
    """A line a film: what will happen to it ("encode", saving about X) or why the rules leave it ("skip")."""
    lines = []
    for v in verdicts[:limit]:
        name = os.path.basename(v.path)
        if v.eligible:
            saving = f"saves about {human_size(v.projected_saving)}" if v.projected_bytes is not None else ""
            lines.append(f"  encode  {name}  {saving}")
        else:
            lines.append(f"  skip    {name}  {v.reason}")
    if len(verdicts) > limit:
        lines.append(f"  … and {len(verdicts) - limit} more (drapto-tui scan lists them all)")
    return "\n".join(lines)


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
        """Tab, as in a shell: take the grey completion into the box; when there is none to take (the names
        part ways here), list the candidates below."""
        box = self.query_one("#path", Input)
        if box.cursor_at_end and len(box._suggestion) > len(box.value):
            box.action_cursor_right()  # Textual's Input accepts its suggestion this way
            return
        names = path_candidates(box.value) if box.value else []
        preview = self.query_one("#preview", Static)
        if not names:
            preview.update(Text(f"nothing starts with {os.path.basename(box.value) or box.value!r} there"))
            return
        shown = "  ".join(names[:40])
        more = f"  … and {len(names) - 40} more" if len(names) > 40 else ""
        preview.update(Text(f"{len(names)} match(es): {shown}{more}"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#path", Input)
        typed = event.value.strip()
        # Enter with a grey completion showing means that path (it looks typed), unless what is typed exists.
        if typed and not os.path.exists(os.path.expanduser(typed)) and len(box._suggestion) > len(box.value):
            box.action_cursor_right()
        value = box.value.strip()
        if value and value == self.previewed and self.found:
            self.dismiss([Path(os.path.expanduser(value))])
            return
        preview = self.query_one("#preview", Static)
        try:
            found = cast(AppCommands, self.app).preview_paths([Path(os.path.expanduser(value))])
        except DraptoError as err:
            self.found = []
            preview.update(Text(err.line()))
            return
        self.found = found.new
        self.previewed = value
        queued = f" ({len(found.queued)} already in the queue)" if found.queued else ""
        if not found.new:
            preview.update(Text(f"nothing new to queue{queued}"))
            return
        shown = "\n".join(f"  {p}" for p in found.new[:10])
        more = f"\n  … and {len(found.new) - 10} more" if len(found.new) > 10 else ""
        folder = os.path.isdir(os.path.expanduser(value))
        preview.update(
            Text(
                f"{len(found.new)} file(s) will be queued{queued}:\n{shown}{more}\n"
                + ("Checking them against the [library] rules…\n" if folder else "")
                + "Enter again to add them."
            )
        )
        if (
            folder
        ):  # films found in a folder follow the library's rules: say each verdict before anything runs
            self.run_worker(self._judge(value, found.new, queued), exclusive=True, group="verdicts")

    async def _judge(self, value: str, files: list[Path], queued: str) -> None:
        head = f"{len(files)} file(s) will be queued{queued}"
        try:
            verdicts = await cast(AppCommands, self.app).library_verdicts(files)
        except DraptoError as err:
            text = f"{head}; the [library] rules could not be checked: {err.line()}"
        else:
            left = sum(1 for v in verdicts if not v.eligible)
            text = (
                f"{head}; {len(verdicts) - left} to encode, {left} left by the [library] rules:\n"
                f"{verdict_lines(verdicts)}"
            )
        if self.previewed == value and self.is_mounted:  # else the box has moved on to another path
            self.query_one("#preview", Static).update(Text(f"{text}\nEnter again to add them."))

    def action_close(self) -> None:
        self.dismiss(None)
