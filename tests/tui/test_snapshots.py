"""Snapshots of the real app's screens (pytest-textual-snapshot) on a fixed mid-encode queue.

Update after an intended UI change with: .venv/bin/python -m pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.config import load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.tui.app import DraptoApp
from drapto_tui.tui.screens.dialogs import QuitChoice
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


async def settled(pilot) -> None:
    """Until two screens taken 50 ms apart are the same: some widgets draw over more than one frame (the chart's
    plots draw onto canvases that paint on the next refresh), and a loaded machine may be between the two."""
    before = pilot.app.export_screenshot()
    for _ in range(60):
        await pilot.pause(0.05)
        now = pilot.app.export_screenshot()
        if now == before:
            return
        before = now


def and_settle(before):
    async def run(pilot) -> None:
        await before(pilot)
        await settled(pilot)

    return run


SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@SIZES
def test_main_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """The running job selected: its grid shows a segment under the VMAF target (▼), selected and told."""
    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=and_settle(_prime))


@SIZES
def test_failed_segment(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    """The failed job selected: its grid shows the failed segment (✗) and its cause; the footer offers retry."""

    async def on_failed(pilot) -> None:
        await _prime(pilot)
        await pilot.press("j", "j")
        pilot.app.refresh_from_state()
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=and_settle(on_failed))


@SIZES
def test_inspector(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    async def open_inspector(pilot) -> None:
        await _prime(pilot)
        await pilot.press("enter", "right")  # the running job's Segments tab
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=and_settle(open_inspector))


@SIZES
def test_inspector_chart(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    async def open_chart(pilot) -> None:
        await _prime(pilot)
        await pilot.press("enter", "right", "right")
        await pilot.pause(0.3)

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=and_settle(open_chart))


@SIZES
def test_help(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    async def open_help(pilot) -> None:
        await _prime(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=and_settle(open_help))


@SIZES
@pytest.mark.parametrize("dialog", ["cancel", "remove", "quit", "add"])
def test_dialogs(snap_compare, tmp_path: Path, size: tuple[int, int], dialog: str) -> None:
    async def open_dialog(pilot) -> None:
        await _prime(pilot)
        if dialog == "cancel":
            await pilot.press("x")  # the running job
        elif dialog == "remove":
            await pilot.press("j", "j", "d")  # the failed job, whose encoded segments would go with it
        elif dialog == "quit":
            pilot.app.push_screen(QuitChoice(detach=True))  # what q shows while encodes run
        else:
            await pilot.press("a", "slash", *"films")
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=and_settle(open_dialog))


@SIZES
@pytest.mark.parametrize("theme", ["drapto-light", "drapto-contrast"])
def test_themes(snap_compare, tmp_path: Path, size: tuple[int, int], theme: str) -> None:
    async def themed(pilot) -> None:
        pilot.app.theme = theme
        await _prime(pilot)

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=and_settle(themed))
