"""Snapshots of the real app's screens (pytest-textual-snapshot) on a fixed mid-encode queue.

Update after an intended UI change with: .venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.config import load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.tui.app import DraptoApp
from tests.tui.scene import build_scene, feed_sample


def make_app(tmp_path: Path) -> DraptoApp:
    config = load_config(
        env={},
        use_default_file=False,
        overrides=[f'processing.temp_dir="{tmp_path / "work"}"', 'output.dir="/out"'],
    )
    session = Engine(config, monitor=False)
    build_scene(session)
    return DraptoApp(session, run_core=False, frozen=True)


async def _prime(pilot) -> None:
    feed_sample(pilot.app.core)
    pilot.app.refresh_from_state()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=_prime)


def test_inspector(snap_compare, tmp_path: Path) -> None:
    async def open_inspector(pilot) -> None:
        await _prime(pilot)
        await pilot.press("enter", "right")  # the running job's Segments tab
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=open_inspector)


def test_help(snap_compare, tmp_path: Path) -> None:
    async def open_help(pilot) -> None:
        await _prime(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=open_help)
