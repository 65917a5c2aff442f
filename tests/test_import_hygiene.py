"""The core knows nothing of Textual: only drapto_tui/tui imports it."""

from __future__ import annotations

import ast
from pathlib import Path

import drapto_tui

PACKAGE = Path(drapto_tui.__file__).parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
            if node.module.startswith("drapto_tui.tui"):
                names.add("drapto_tui.tui")
    return names


def test_core_does_not_import_textual() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "tui" or rel.name == "cli.py":  # cli.py reaches the UI only through tui.launch
            continue
        bad = _imports(path) & {"textual", "drapto_tui.tui"}
        if bad:
            offenders.append(f"{rel}: {sorted(bad)}")
    assert offenders == []
    assert "textual" in _imports(PACKAGE / "tui" / "app.py")  # the check would see it


def test_no_shell_true_anywhere() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert "shell=True" not in path.read_text(encoding="utf-8"), path
