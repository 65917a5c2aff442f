"""Library mode in the app at 80x24: the add dialog says each film's verdict under the [library] rules before
anything is queued, `s` shows what encoding saved by folder and the films replaced in place, and the header says
what the schedule waits for. Real clips, real encodes, the real ledger."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

from textual.widgets import Static

from drapto_tui.engine.engine import Engine
from drapto_tui.tui.app import DraptoApp
from drapto_tui.tui.widgets.queue_table import QueueTable
from tests.fast_config import fast_config
from tests.media_helpers import MediaFactory
from tests.tui.test_daily_use import shown_text


async def type_path(pilot, text: str) -> None:
    for ch in text:
        await pilot.press({"/": "slash", " ": "space", "-": "minus", "_": "underscore"}.get(ch, ch))


async def test_adding_a_folder_says_each_films_verdict_first(
    ffmpeg: str, media: MediaFactory, tmp_path: Path
) -> None:
    films = tmp_path / "lib"
    media.copy_to(media.clip(duration=1.0), films, "Film.mkv")
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(media.clip(duration=1.0)), "-c:v", "libsvtav1", "-preset", "12",
         str(films / "Lean.mkv")],
        check=True,
    )  # fmt: skip
    engine = Engine(fast_config(tmp_path), monitor=False)
    app = DraptoApp(engine, run_core=False, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        await type_path(pilot, str(films))
        await pilot.press("enter")
        for _ in range(100):  # the verdicts come from a probe of each header, in a worker
            await pilot.pause(0.1)
            preview = shown_text(app.screen.query_one("#preview", Static))
            if "left by the [library] rules" in preview:
                break
        assert "2 file(s) will be queued; 1 to encode, 1 left by the [library] rules" in preview, preview
        assert "encode  Film.mkv  saves about" in preview
        assert "skip    Lean.mkv  already AV1 (library.skip_codecs)" in preview
    await engine.close()


async def test_s_shows_what_was_saved_by_folder_and_what_was_replaced(
    media: MediaFactory, tmp_path: Path
) -> None:
    films = tmp_path / "lib"
    media.copy_to(media.clip(duration=1.0), films, "Film.mp4")
    engine = Engine(fast_config(tmp_path, "library.replace=true"), monitor=False)
    ids, errors = engine.add_paths([films], preanalyse=False)  # the app's `a`: the config says in place
    assert not errors
    await engine.start(only=set(ids), preanalyse=False)
    assert all((await engine.run_until_idle()).values())
    app = DraptoApp(engine, run_core=False, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        text = "\n".join(shown_text(w) for w in app.screen.query(Static))
        assert "All time" in text and str(films) in text
        assert "Replaced in place" in text and str(films / "Film.mkv") in text and ".drapto-trash" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.screen_stack[0]
        await pilot.press("enter")  # the job's facts say it too
        await pilot.pause()
        facts = shown_text(app.screen.query_one("#facts", Static))
        assert "Replaced in place" in facts and "Original kept in" in facts
        await pilot.press("escape")
        engine.restore(str(films / "Film.mkv"))
        app.refresh_from_state()
        await pilot.pause()
        row = app.query_one(QueueTable).get_row_at(0)
        assert "restored" in [str(cell) for cell in row]
        assert "saved 0 B" in shown_text(app.query_one("#summary", Static))  # its saving is taken back out
    assert (films / "Film.mp4").exists() and not (films / "Film.mkv").exists()
    await engine.close()


async def test_the_header_says_what_the_schedule_waits_for(tmp_path: Path) -> None:
    for size, expected in (((80, 24), "WAIT 01:00"), ((120, 30), "waiting for the 01:00 window")):
        engine = Engine(fast_config(tmp_path, 'schedule.windows=["01:00-07:00"]'), monitor=False)
        engine.gate.clock = lambda: datetime(2026, 12, 6, 12, 0)
        await engine.check_schedule()
        app = DraptoApp(engine, run_core=False, frozen=True)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            assert shown_text(app.query_one("#summary", Static)).startswith(expected)
        await engine.close()
