"""The app against the real core: a real clip is discovered, analysed by the embedded FFmpeg, and listed."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from drapto_tui.config import DraptoConfig
from drapto_tui.session import Session
from drapto_tui.tui.app import DraptoApp
from tests.media_helpers import MediaFactory


async def _wait_for(pilot, predicate, timeout: float = 20.0) -> None:  # noqa: ANN001
    import time

    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for the app"
        await pilot.pause(0.05)


async def test_queue_lists_analysed_files_and_keeps_them(config: DraptoConfig, media: MediaFactory,
                                                          tmp_path: Path) -> None:
    films = tmp_path / "films"
    media.copy_to(media.bbb(), films, "bunny.mp4")
    media.copy_to(media.dv(".mkv", profile=8, duration=1.0), films, "vision.mkv")
    (films / "broken.mkv").write_text("not a film")
    seen: list[object] = []

    app = DraptoApp(Session(config), [films])
    async with app.run_test(size=(100, 30), message_hook=seen.append) as pilot:
        table = app.query_one("#queue", DataTable)
        await _wait_for(pilot, lambda: table.row_count == 3 and all(
            j.stage.value in ("analyzed", "failed") for j in app.session.state.jobs.values()))
        await pilot.pause(0.2)
        rows = {table.get_row(key)[1]: table.get_row(key) for key in table.rows}
        assert str(rows["bunny.mp4"][2]) == "SD" and str(rows["bunny.mp4"][4]) == "chunked"
        assert str(rows["vision.mkv"][3]) == "DV" and str(rows["vision.mkv"][4]) == "direct"
        assert str(rows["broken.mkv"][5]) == "failed"
        # The error reached the log with the file named.
        log_text = "".join(line.text for line in app.query_one("#log").lines)
        assert "broken.mkv: not a media file" in log_text
        # j/G/g move the selection.
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == 2
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("q")
    assert not app.is_running

    # Relaunch on the same state dir: the same queue comes back, nothing is added twice.
    app2 = DraptoApp(Session(config), [films])
    async with app2.run_test(size=(100, 30)) as pilot:
        table = app2.query_one("#queue", DataTable)
        await _wait_for(pilot, lambda: table.row_count == 3)
        await pilot.pause(0.5)
        assert table.row_count == 3
        assert sorted(Path(j.current_file).name for j in app2.session.state.jobs.values()) == [
            "broken.mkv", "bunny.mp4", "vision.mkv"]
        await pilot.press("q")


async def test_themes_load_from_files_and_cycle(config: DraptoConfig, tmp_path: Path) -> None:
    from drapto_tui.tui.themes import load_themes, theme_dirs

    themes, problems = load_themes()
    names = {t.name for t in themes}
    assert {"drapto-dark", "drapto-light", "drapto-contrast"} <= names and problems == []
    bad = tmp_path / "bad-themes"
    bad.mkdir()
    (bad / "oops.toml").write_text('name = "oops"\nprimary = "#fff"\ncolour = "x"\n')
    _, problems = load_themes([bad])
    assert problems and "oops.toml: theme not loaded" in problems[0]
    assert theme_dirs()[0].name == "themes"

    app = DraptoApp(Session(config), [])
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "drapto-dark"
        await pilot.press("T")
        assert app.theme != "drapto-dark" and app.theme in names
        await pilot.press("q")
