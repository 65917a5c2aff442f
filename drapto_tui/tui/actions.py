"""One table of the app's actions: it feeds the key bindings, the footer, the help screen and the command palette.

The footer cannot hold every key at 80 columns, so it shows a few, chosen for the selected job's state (the
app's check_action hides a key that would do nothing there), in the order of FOOTER below: quit and help first,
so they are never the ones cut off. Every key works whether or not the footer shows it; help and the palette
list them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Action:
    id: str
    keys: str  # Textual key spec, comma-separated
    action: str
    description: str  # in help and the command palette
    help_keys: str  # as shown in help
    short: str = ""  # the footer's label; empty: not in the footer
    group: str = "Queue"


ACTIONS: list[Action] = [
    Action("down", "j,down", "cursor_down", "Next job", "j / ↓", group="Move"),
    Action("up", "k,up", "cursor_up", "Previous job", "k / ↑", group="Move"),
    Action("top", "g,home", "cursor_top", "First job", "g / Home", group="Move"),
    Action("bottom", "G,end", "cursor_bottom", "Last job", "G / End", group="Move"),
    Action("inspect", "enter", "inspect", "Inspect the job", "Enter", short="Inspect", group="Move"),
    Action("seg_next", "right_square_bracket", "segment(1)", "Next segment in the grid", "]", group="Move"),
    Action(
        "seg_prev", "left_square_bracket", "segment(-1)", "Previous segment in the grid", "[", group="Move"
    ),
    Action("pause", "space", "toggle_pause", "Pause / resume job", "Space", short="Pause"),
    Action("pause_all", "P", "toggle_pause_all", "Pause / resume all", "P", short="Pause all"),
    Action("move_up", "K,shift+up", "move_up", "Move job up", "K / Shift+↑"),
    Action("move_down", "J,shift+down", "move_down", "Move job down", "J / Shift+↓"),
    Action("move_top", "t", "move_top", "Move job to top", "t"),
    Action("move_bottom", "b", "move_bottom", "Move job to bottom", "b"),
    Action("prio_up", "plus,equals_sign", "priority(1)", "Raise priority", "+"),
    Action("prio_down", "minus", "priority(-1)", "Lower priority", "-"),
    Action("hold", "h", "toggle_hold", "Hold / release job", "h", short="Hold"),
    Action("retry", "r", "retry", "Retry failed job", "r", short="Retry"),
    Action("cancel", "x", "cancel", "Cancel job", "x", short="Cancel"),
    Action("remove", "d,delete", "remove", "Remove job from the queue", "d / Del", short="Remove"),
    Action("clear", "C", "clear_finished", "Clear finished jobs", "C"),
    Action("add", "a", "add", "Add files", "a", short="Add"),
    Action("filter", "slash", "filter", "Filter the queue", "/", group="View"),
    Action("log_filter", "e", "toggle_log_filter", "Log: selected job / all", "e", group="View"),
    Action("stats", "s", "stats", "Library: what encoding saved, by folder", "s", group="View"),
    Action("theme", "T", "cycle_theme", "Next theme", "T", group="View"),
    Action("help", "question_mark,f1", "help", "Help: every key", "? / F1", short="Help", group="View"),
    Action("quit", "q", "request_quit", "Quit", "q", short="Quit", group="View"),
]

#: Footer order, most wanted first; which of them show depends on the selected job (DraptoApp.check_action).
FOOTER = [
    "quit",
    "help",
    "pause",
    "resume",
    "retry",
    "cancel",
    "hold",
    "remove",
    "inspect",
    "add",
    "pause_all",
]

#: Footer-only twins that say what the key will do in the state at hand (the same key and action).
TWINS = {
    "resume": Binding("space", "toggle_pause('resume')", "Resume", id="resume"),
    "pause_all": Binding("P", "toggle_pause_all('resume')", "Resume all", id="resume_all"),
}


#: A key as help shows it, for the keys users write in a keymap.
_SHOWN = {
    "space": "Space",
    "enter": "Enter",
    "escape": "Esc",
    "delete": "Del",
    "question_mark": "?",
    "slash": "/",
    "plus": "+",
    "minus": "-",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
}


def keymap_problems(keymap: dict[str, str]) -> list[str]:
    """What is wrong with a user's keymap (ui.keys): unknown action ids, empty keys, a key given to two actions."""
    ids = [a.id for a in ACTIONS]
    problems = [f"no action {name!r}; the actions are {', '.join(ids)}" for name in keymap if name not in ids]
    problems += [f"{name} has no key" for name, keys in keymap.items() if not keys.strip()]
    owner: dict[str, str] = {}
    for action in ACTIONS:
        for key in (k.strip() for k in keymap.get(action.id, action.keys).split(",")):
            if key and key in owner and owner[key] != action.id:
                problems.append(f"{key!r} is given to both {owner[key]} and {action.id}")
            owner.setdefault(key, action.id)
    return problems


def app_keymap(keymap: dict[str, str]) -> dict[str, str]:
    """The user's keymap as Textual takes it, with the footer twins following their actions (space is both
    Pause and Resume: a new key for pause is the new key for resume)."""
    twins = {"pause": "resume", "pause_all": "resume_all"}
    out = dict(keymap)
    for name, twin in twins.items():
        if name in keymap:
            out[twin] = keymap[name]
    return out


def shown_keys(action: Action, keymap: dict[str, str]) -> str:
    """The action's keys as help and the palette show them: the user's own when remapped."""
    if action.id not in keymap:
        return action.help_keys
    return " / ".join(_SHOWN.get(k.strip(), k.strip()) for k in keymap[action.id].split(","))


def bindings() -> list[BindingType]:
    """Footer keys first in FOOTER order (Textual's footer draws in binding order), then every other key."""
    by_id = {a.id: a for a in ACTIONS}
    shown: list[BindingType] = []
    for key in FOOTER:
        if key in by_id:
            a = by_id[key]
            shown.append(Binding(a.keys, a.action, a.short, show=True, id=a.id, tooltip=a.description))
        if key in TWINS:
            shown.append(TWINS[key])
    hidden = [Binding(a.keys, a.action, a.description, show=False, id=a.id) for a in ACTIONS if not a.short]
    return shown + hidden
