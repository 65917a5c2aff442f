"""One table of the app's actions: it feeds the key bindings, the help screen and the command palette."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Action:
    id: str
    keys: str  # Textual key spec, comma-separated
    action: str
    description: str
    help_keys: str  # as shown in help
    show: bool = False  # in the footer
    group: str = "Queue"


ACTIONS: list[Action] = [
    Action("down", "j,down", "cursor_down", "Next job", "j / ↓", group="Move"),
    Action("up", "k,up", "cursor_up", "Previous job", "k / ↑", group="Move"),
    Action("top", "g,home", "cursor_top", "First job", "g / Home", group="Move"),
    Action("bottom", "G,end", "cursor_bottom", "Last job", "G / End", group="Move"),
    Action("inspect", "enter", "inspect", "Inspect the job", "Enter", show=True, group="Move"),
    Action("pause", "space", "toggle_pause", "Pause / resume job", "Space", show=True),
    Action("pause_all", "P", "toggle_pause_all", "Pause / resume all", "P", show=True),
    Action("move_up", "K,shift+up", "move_up", "Move job up", "K / Shift+↑"),
    Action("move_down", "J,shift+down", "move_down", "Move job down", "J / Shift+↓"),
    Action("move_top", "t", "move_top", "Move job to top", "t"),
    Action("move_bottom", "b", "move_bottom", "Move job to bottom", "b"),
    Action("prio_up", "plus,equals_sign", "priority(1)", "Raise priority", "+"),
    Action("prio_down", "minus", "priority(-1)", "Lower priority", "-"),
    Action("hold", "h", "toggle_hold", "Hold / release job", "h"),
    Action("retry", "r", "retry", "Retry failed job", "r", show=True),
    Action("cancel", "x", "cancel", "Cancel job", "x", show=True),
    Action("add", "a", "add", "Add files", "a", show=True),
    Action("filter", "slash", "filter", "Filter the queue", "/", group="View"),
    Action("log_filter", "e", "toggle_log_filter", "Log: selected job / all", "e", group="View"),
    Action("theme", "T", "cycle_theme", "Next theme", "T", group="View"),
    Action("help", "question_mark,f1", "help", "Help", "? / F1", show=True, group="View"),
    Action("quit", "q", "request_quit", "Quit", "q", show=True, group="View"),
]


def bindings() -> list[BindingType]:
    return [Binding(a.keys, a.action, a.description, show=a.show, id=a.id) for a in ACTIONS]
