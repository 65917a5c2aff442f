"""Themes from TOML files: the ones shipped in the package (theme_files/, read with importlib.resources, so an
installed wheel has them), then the user's config dir, ~/.config/drapto-tui/themes (same name wins later).

A theme file that does not parse falls back to the built-in default, and the app says which file and why.
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import platformdirs
from textual.theme import Theme

THEME_KEYS = {
    "name",
    "dark",
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "luminosity_spread",
    "text_alpha",
    "variables",
}


def theme_dirs() -> list[Traversable]:
    bundled = files("drapto_tui.tui") / "theme_files"
    user = Path(platformdirs.user_config_dir("drapto-tui")) / "themes"
    return [d for d in (bundled, user) if d.is_dir()]


def load_theme_file(path: Traversable) -> Theme:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - THEME_KEYS
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    if "name" not in data or "primary" not in data:
        raise ValueError("a theme needs at least name and primary")
    return Theme(**data)


def load_themes(dirs: list[Traversable] | None = None) -> tuple[list[Theme], list[str]]:
    """Every theme that loads, and one line per file that did not."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    for folder in theme_dirs() if dirs is None else dirs:
        for path in sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name):
            try:
                theme = load_theme_file(path)
            except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
                problems.append(f"{path}: theme not loaded ({exc}); using the default")
                continue
            themes[theme.name] = theme
    return list(themes.values()), problems
