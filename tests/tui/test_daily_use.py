"""The app as a daily user sees it at 80x24 (issue 15): footer keys, the grid's numbers and marks, wrapped log
lines and centred dialogs, one palette entry per action, Tab in the add dialog, removing and clearing jobs, and
an inspector that touches only what changed. Driven with Pilot on the fixed scene (tests/tui/scene.py)."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import DataTable, OptionList, RichLog, Static, TabbedContent
from textual.widgets._footer import FooterKey

from drapto_tui.config import load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.model.events import JobQueued, ProcessingEvents, ProcessingStatus, make_event
from drapto_tui.tui.app import DraptoApp
from drapto_tui.tui.screens.dialogs import QuitChoice
from drapto_tui.tui.widgets.queue_table import QueueTable
from drapto_tui.tui.widgets.segment_grid import MARKS, SegmentGrid
from tests.tui.scene import T0, build_scene, feed_sample

E = ProcessingEvents


def scene_app(tmp_path: Path, extra_jobs: int = 0, *settings: str) -> DraptoApp:
    config = load_config(
        env={},
        use_default_file=False,
        overrides=[
            f'processing.temp_dir="{tmp_path / "work"}"',
            f'output.dir="{tmp_path / "out"}"',
            *settings,
        ],
    )
    engine = Engine(config, monitor=False)
    build_scene(engine, extra_jobs=extra_jobs)
    return DraptoApp(engine, run_core=False, frozen=True)


def add_dialog_engine(tmp_path: Path) -> Engine:
    """An empty queue that takes the tests' tiny placeholder files as films (no size floor)."""
    config = load_config(
        env={},
        use_default_file=False,
        overrides=[f'processing.temp_dir="{tmp_path / "work"}"', "input.min_size=0"],
    )
    return Engine(config, monitor=False)


async def ready(pilot) -> None:
    feed_sample(pilot.app.core)
    pilot.app.refresh_from_state()
    await pilot.pause()


def footer(app: DraptoApp) -> dict[str, str]:
    """The footer keys on screen, key → label, with where each ends."""
    keys = {}
    for key in app.screen.query(FooterKey):
        if key.region.width and key.region.right <= app.size.width:
            keys[key.key] = key.description
    return keys


def finish_arrivals_segment_6(app: DraptoApp, at: datetime, **extra: object) -> None:
    """The scene's running job (Arrival) finishes its segment 6 at `at`."""
    app.core.bus.publish(
        make_event(
            E.SEGMENT_COMPLETE,
            timestamp=at,
            job_id="running",
            file="/films/Arrival (2016).mkv",
            segment=6,
            crf=30.0,
            score_measured=93.3,
            bytes=1_000_000,
            attempts=1,
            **extra,
        )
    )


async def select(pilot, name: str) -> None:
    app = pilot.app
    table = app.query_one(QueueTable)
    job = next(j for j in app.core.jobs() if Path(j.current_file or "").name == name)
    table.select_job(job.job_id)
    app.refresh_from_state()
    await pilot.pause()


def grid_lines(app: DraptoApp) -> list[str]:
    grid = app.query_one(SegmentGrid)
    return [grid.render_line(y).text for y in range(grid.size.height)]


async def test_footer_keeps_quit_and_help_and_follows_the_selected_job(tmp_path: Path) -> None:
    app = scene_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await select(pilot, "Arrival (2016).mkv")  # running
        keys = footer(app)
        assert keys["q"] == "Quit" and keys["question_mark"] == "Help"
        assert keys["space"] == "Pause" and keys["x"] == "Cancel" and "r" not in keys
        await select(pilot, "Heat (1995).mkv")  # failed
        keys = footer(app)
        assert keys["r"] == "Retry" and keys["d"] == "Remove" and "space" not in keys and "x" not in keys
        assert "q" in keys and "question_mark" in keys
        await select(pilot, "Dune Part Two (2024).mkv")  # paused
        assert footer(app)["space"] == "Resume"
        await select(pilot, "Alien (1979).mkv")  # held
        assert footer(app)["h"] == "Hold"
        # A key the footer does not show still works: h releases the held job.
        await pilot.press("h")
        alien = next(j for j in app.core.jobs() if j.current_file == "/films/Alien (1979).mkv")
        assert alien.status == ProcessingStatus.QUEUED
    async with scene_app(tmp_path / "wide").run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        keys = footer(pilot.app)
        assert {"q", "question_mark", "space", "x", "a"} <= set(keys)


async def test_grid_tells_the_selected_segment_and_marks_failed_apart_from_below_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # the marks, not the colours, must tell the states apart
    app = scene_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.no_color
        await ready(pilot)
        await select(pilot, "Arrival (2016).mkv")
        cells, detail, legend = grid_lines(app)
        # Until [ or ] is used, the selection follows the segment that most needs a look: 3, under target.
        assert detail.split() == [
            "seg",
            "3",
            "·",
            "30.0–40.0",
            "s",
            "·",
            "CRF",
            "26.75",
            "·",
            "VMAF",
            "92.10",
            "<",
            "93",
            "·",
            "1",
            "try",
        ]
        assert cells.split()[:7] == [
            MARKS[s] for s in ("done",) * 3 + ("below", "done", "searching", "encoding")
        ]
        for mark, word in ((MARKS["done"], "ok"), (MARKS["below"], "below 93"), (MARKS["failed"], "failed")):
            assert f"{mark} {word}" in legend
        await pilot.press("right_square_bracket")
        assert grid_lines(app)[1].startswith(" seg 4 · 40.0–50.0 s · CRF 31.5 · VMAF 93.60 · 1 try")
        await pilot.press("right_square_bracket", "right_square_bracket")
        assert "seg 6" in grid_lines(app)[1] and "encoding 40%" in grid_lines(app)[1]

        await select(pilot, "Heat (1995).mkv")
        cells, detail, _ = grid_lines(app)
        assert cells.split() == [MARKS["done"], MARKS["done"], MARKS["failed"], *[MARKS["queued"]] * 3]
        assert MARKS["failed"] != MARKS["below"]
        assert detail.startswith(" seg 2 · 20.0–30.0 s · 2 tries · FAILED: ")
        assert "FFmpeg exited 137" in detail


async def test_log_wraps_to_the_cause_and_dialogs_sit_in_the_middle_uncut(tmp_path: Path) -> None:
    app = scene_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        log = app.query_one("#log", RichLog)
        lines = [strip.text.rstrip() for strip in log.lines]
        assert all(len(line) <= log.size.width for line in lines)
        joined = " ".join(lines)
        assert "Heat (1995).mkv: segment 2: AV1 encode: FFmpeg exited" in joined
        assert "137 (Conversion failed!)" in joined
        assert "/films/Heat" not in joined  # the name once, not the path again inside the message

        await select(pilot, "Arrival (2016).mkv")
        await pilot.press("x")
        await pilot.pause()
        box = app.screen.query_one("#dialog").region
        assert abs(box.x + box.width / 2 - 40) <= 1 and abs(box.y + box.height / 2 - 12) <= 1
        label = app.screen.query_one("Label")
        text = "\n".join(label.render_line(y).text.rstrip() for y in range(label.size.height))
        assert "Its encoded segments are deleted; the source file is not touched." in " ".join(text.split())
        await pilot.press("n")
        app.push_screen(QuitChoice(detach=True))  # what q shows while encodes run (this scene runs none)
        await pilot.pause()
        box = app.screen.query_one("#dialog").region
        assert abs(box.x + box.width / 2 - 40) <= 1 and box.bottom <= 24


async def test_palette_lists_each_action_once_and_every_entry_acts(tmp_path: Path) -> None:
    app = scene_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        assert isinstance(app.screen, CommandPalette)
        options = app.screen.query_one(OptionList)
        titles = [
            str(options.get_option_at_index(i).prompt).split("\n")[0] for i in range(options.option_count)
        ]
        words = [t.split(" (")[0] for t in titles]
        assert len(words) == len(set(words)), titles
        assert "Quit" not in titles and "Keys" not in titles and "Quit (q)" in titles
        # An entry picked by name runs even where its key is off (the paused job's footer shows Resume, not
        # Pause; the palette's "Pause / resume all" still pauses everything).
        for ch in "pause all":
            await pilot.press("space" if ch == " " else ch)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.core.paused_all


async def test_add_dialog_completes_with_tab_and_counts_only_what_it_will_queue(tmp_path: Path) -> None:
    films = tmp_path / "my films"
    films.mkdir()
    (films / "new.mkv").write_bytes(b"\0" * 4096)
    (films / "Arrival (2016).mkv").write_bytes(b"\0" * 4096)
    engine = add_dialog_engine(tmp_path)
    engine.emit(JobQueued(), job_id="a", file=films / "Arrival (2016).mkv", status=ProcessingStatus.QUEUED)
    app = DraptoApp(engine, run_core=False, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        for ch in f"{tmp_path}/my":
            await pilot.press({"/": "slash", " ": "space"}.get(ch, ch))
        await pilot.pause(0.3)
        await pilot.press("tab")
        await pilot.pause(0.2)
        box = app.screen.query_one("#path")
        assert box.value == f"{films}/"  # completed to the folder, with its slash
        await pilot.press("enter")
        await pilot.pause(0.3)
        preview = str(app.screen.query_one("#preview").render())
        assert "1 file(s) will be queued (1 already in the queue)" in preview
        assert "new.mkv" in preview and "Arrival" not in preview


async def test_remove_and_clear_finished_from_the_keys(tmp_path: Path) -> None:
    app = scene_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        # A running job is not removed: the one line says to cancel it first.
        await select(pilot, "Arrival (2016).mkv")
        await pilot.press("d")
        assert len(app.core.jobs()) == 6
        # A failed job with encoded segments asks first, as they go with it.
        await select(pilot, "Heat (1995).mkv")
        await pilot.press("d")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "Confirm"
        await pilot.press("y")
        await pilot.pause()
        assert "Heat (1995).mkv" not in [Path(j.current_file or "").name for j in app.core.jobs()]
        # C takes every finished (completed, kept, cancelled) job off; queued and running ones stay.
        await pilot.press("C")
        await pilot.pause()
        left = {Path(j.current_file or "").name: j.status for j in app.core.jobs()}
        assert "Brazil (1985).mkv" not in left and len(left) == 4
        assert app.query_one(QueueTable).row_count == 4


async def test_inspector_updates_only_the_cells_that_changed(tmp_path: Path) -> None:
    app = scene_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await select(pilot, "Arrival (2016).mkv")
        await pilot.press("enter")
        await pilot.pause()
        inspector = app.screen
        table = inspector.query_one("#segments", DataTable)
        assert table.row_count == 12
        writes: list[str] = []
        original_update, original_clear = table.update_cell, table.clear
        table.update_cell = lambda row, col, value, **kw: (  # type: ignore[method-assign]
            writes.append(f"{row}:{col}"),
            original_update(row, col, value, **kw),
        )
        table.clear = lambda *a, **kw: (writes.append("clear"), original_clear(*a, **kw))  # type: ignore[method-assign]
        inspector.refresh_view()
        assert writes == []  # nothing changed: nothing touched

        def later(seconds: int, kind: ProcessingEvents, **data) -> None:
            at = T0 + timedelta(seconds=seconds)
            app.core.bus.publish(
                make_event(kind, timestamp=at, job_id="running", file="/films/Arrival (2016).mkv", **data)
            )

        later(1, E.SEGMENT_PROGRESS, segment=6, progress=0.7)
        inspector.refresh_view()
        assert writes == []  # progress is not a column: still nothing
        later(2, E.SEGMENT_COMPLETE, segment=6, crf=30.0, score_measured=93.3, bytes=1_000_000, attempts=1)
        inspector.refresh_view()
        assert "clear" not in writes and set(writes) == {"6:Status", "6:CRF", "6:Score", "6:Size"}
        assert table.get_row("6")[5] == "30"
        # The chart is built when its tab is first shown, then follows the segments as they finish.
        assert not inspector.query("SegmentChart")
        await pilot.press("right", "right")
        await pilot.pause(0.3)
        note = inspector.query_one("#chart-note")
        assert str(note.render()).startswith(" 6/12 segments · target 93 · 1 below")
        later(3, E.SEGMENT_COMPLETE, segment=7, crf=29.0, score_measured=92.0, bytes=1_000_000, attempts=1)
        inspector.refresh_view()
        await pilot.pause()
        assert str(note.render()).startswith(" 7/12 segments · target 93 · 2 below")


async def test_keys_that_do_not_apply_say_why_and_removal_asks(tmp_path: Path) -> None:
    """Space on a completed job, r on a running one, h on a failed one: each says why it does nothing (they used
    to do nothing in silence). d on a finished job asks, as a removal has no undo; n keeps it."""
    app = scene_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        said = lambda: [n.message for n in app._notifications]  # noqa: E731
        for name, key, why in (
            ("Brazil (1985).mkv", "space", "is completed: only a running job pauses"),
            ("Arrival (2016).mkv", "r", "is running: only a failed or cancelled job is retried"),
            ("Heat (1995).mkv", "h", "is failed: only a queued job is held"),
        ):
            await select(pilot, name)
            await pilot.press(key)
            await pilot.pause()
            assert any(name in line and why in line for line in said()), (key, said())
        await select(pilot, "Brazil (1985).mkv")
        await pilot.press("d")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "Confirm"
        await pilot.press("n")
        await pilot.pause()
        assert "Brazil (1985).mkv" in [Path(j.current_file or "").name for j in app.core.jobs()]


async def test_the_log_of_the_selected_job_follows_the_cursor(tmp_path: Path) -> None:
    app = scene_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        log = app.query_one("#log", RichLog)

        def shown() -> str:
            return "\n".join(strip.text for strip in log.lines)

        await select(pilot, "Heat (1995).mkv")
        await pilot.press("e")
        await pilot.pause()
        assert "Heat (1995).mkv" in shown()
        await pilot.press("k")  # the cursor moves to another job: the log shows that job's lines (none)
        await pilot.pause()
        assert "Heat (1995).mkv" not in shown()
        await pilot.press("j")
        await pilot.pause()
        assert "Heat (1995).mkv" in shown()


def test_the_inspectors_facts_read_as_words_with_units() -> None:
    """Not `output bytes 1177844` or `reduction percent -11.57`: labels and units a person reads; a failed job
    shows no '100%'; what the output does not carry is listed."""
    from rich.console import Console

    from drapto_tui.model.state import ProcessingState
    from drapto_tui.tui.screens.inspector import facts

    def text(job: ProcessingState) -> str:
        console = Console(width=120, record=True)
        console.print(facts(job))
        return console.export_text()

    done = ProcessingState(
        job_id="a",
        current_file="/films/a.mkv",
        status=ProcessingStatus.COMPLETED,
        progress=1.0,
        stats={
            "output_bytes": 1177844,
            "reduction_percent": -11.57,
            "crf_min": 30.5,
            "crf_max": 36.25,
            "metric": "vmaf",
            "score_file": 93.512,
            "changes": ["HDR10+ dynamic metadata not carried"],
        },
    )
    shown = text(done)
    for wanted in (
        "Output size",
        "1.1 MiB",
        "Saving",
        "11.6 % larger",
        "CRF",
        "30.5 to 36.25",
        "VMAF, whole film",
        "93.51",
        "Not carried",
        "HDR10+",
    ):
        assert wanted in shown, (wanted, shown)
    for raw in ("output bytes", "reduction percent", "crf min", "score file", "1177844"):
        assert raw not in shown, (raw, shown)
    failed = ProcessingState(
        job_id="b", current_file="/films/b.mkv", status=ProcessingStatus.FAILED, progress=1.0
    )
    assert "100%" not in text(failed)


async def test_a_keymap_from_the_config_moves_keys_everywhere(tmp_path: Path) -> None:
    """ui.keys = { add = "n", help = "f2", hold = "H" }: the footer shows the new keys, they act, the old ones do
    not, help lists the user's keys, and a key pressed where it does nothing still says why under its new key."""
    app = scene_app(tmp_path, 0, 'ui.keys={ add = "n", help = "f2", hold = "H" }')
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        await select(pilot, "Stalker (1979).mkv")  # queued: add and hold are in the footer
        keys = footer(app)
        assert keys.get("n") == "Add" and "a" not in keys, keys
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.__class__.__name__ != "HelpScreen"
        await pilot.press("f2")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen"
        shown = app.export_screenshot().replace("&#160;", " ")  # the screen as drawn
        assert re.search(r">f2\s*<", shown) and "Help: every key" in shown
        await pilot.press("escape")
        await pilot.pause()
        await select(pilot, "Heat (1995).mkv")
        await pilot.press("H")
        await pilot.pause()
        assert any("only a queued job is held" in n.message for n in app._notifications)


def test_a_bad_keymap_is_said_before_the_screen_opens(tmp_path: Path) -> None:
    import subprocess
    import sys

    sets = ["--set", f'processing.temp_dir="{tmp_path}"', "--set", 'ui.keys={ bogus = "z", hold = "x" }']
    result = subprocess.run(
        [sys.executable, "-m", "drapto_tui", "--foreground", *sets],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr, lines
    assert "no action 'bogus'; the actions are down, up," in lines[0]
    assert "'x' is given to both hold and cancel" in lines[1]


async def test_tab_twice_lists_the_candidates_and_enter_takes_the_grey_completion(tmp_path: Path) -> None:
    """A shell's Tab: where the names part ways the first Tab has nothing to take, the second lists them; Enter
    with a grey completion showing previews that path (it looks typed), not the bare prefix."""
    films = tmp_path / "films"
    films.mkdir()
    for name in ("dune.mkv", "dune-part-two.mkv", "heat.mkv"):
        (films / name).write_bytes(b"\0" * 4096)
    app = DraptoApp(add_dialog_engine(tmp_path), run_core=False, frozen=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()

        async def type_in(text: str) -> None:
            for ch in text:
                await pilot.press({"/": "slash", " ": "space", ".": "full_stop", "-": "minus"}.get(ch, ch))
            await pilot.pause(0.3)

        await type_in(f"{films}/dune")
        box = app.screen.query_one("#path")
        await pilot.press("tab")
        await pilot.pause(0.2)
        assert box.value == f"{films}/dune"  # dune.mkv and dune-part-two.mkv part ways here
        preview = str(app.screen.query_one("#preview").render())
        assert "2 match(es): dune-part-two.mkv  dune.mkv" in preview, preview
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        await type_in("he")
        await pilot.press("enter")  # the grey "at.mkv" is taken: heat.mkv is previewed, not "he"
        await pilot.pause(0.3)
        assert box.value == f"{films}/heat.mkv"
        preview = str(app.screen.query_one("#preview").render())
        assert "1 file(s) will be queued" in preview and "heat.mkv" in preview, preview


def test_a_running_jobs_facts_give_speed_and_projected_size() -> None:
    """Per job, what HandBrake and ab-av1 users read first: elapsed time, speed against real time, the size so
    far and projected, and the saving it means."""
    from drapto_tui.model.media import MediaProbe
    from drapto_tui.model.state import ProcessingState, SegmentState, SegmentStatus
    from drapto_tui.tui.screens.inspector import live_lines

    media = MediaProbe(
        path="/films/a.mkv",
        size=100 * 2**20,
        duration=100.0,
        fps=24.0,
        frame_count=2400,
        width=1920,
        height=800,
    )
    job = ProcessingState(
        job_id="a",
        current_file="/films/a.mkv",
        status=ProcessingStatus.RUNNING,
        progress=0.2,
        media=media,
        active_seconds=50.0,
        segments={
            i: SegmentState(
                index=i, start=i * 10.0, end=(i + 1) * 10.0, status=SegmentStatus.DONE, bytes=2**20
            )
            for i in range(2)
        },
    )
    lines = dict(live_lines(job))
    assert lines["Elapsed"] == "0:50"
    assert lines["Speed"] == "0.40× real time, 10 fps"
    assert lines["Video size"] == "2.0 MiB so far, 10.0 MiB projected"
    assert lines["Saving"] == "90% projected"


async def test_a_running_jobs_row_gives_speed_and_projected_size_where_it_fits(tmp_path: Path) -> None:
    """At 120 columns the queue row carries what the inspector leads with: speed against real time and the size
    the output is heading for; between the compact layout and 120 columns that extra gives way to the name."""
    app = scene_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        minute_later = T0 + timedelta(seconds=60)  # the running job has worked a minute since its last event
        finish_arrivals_segment_6(app, minute_later)
        app.refresh_from_state()
        await pilot.pause()
        table = app.query_one(QueueTable)
        assert [label for label, _ in table.shown_columns].count("Speed") == 1
        job = app.core.state.jobs["running"]
        cells = dict(
            zip([k for _, k in table.shown_columns], map(str, table.job_row("running")), strict=True)
        )
        speed = job.media.duration * job.progress / job.active_time(job.updated)  # type: ignore[union-attr]
        assert cells["speed"] == f"{speed:.2f}×" and len(cells["speed"]) <= 5
        assert " → ~" in cells["size"], cells["size"]
    narrower = scene_app(tmp_path / "narrower")
    async with narrower.run_test(size=(104, 40)) as pilot:
        await ready(pilot)
        table = narrower.query_one(QueueTable)
        keys = [k for _, k in table.shown_columns]
        assert "speed" not in keys and table.columns["file"].width >= 16  # type: ignore[index]


def shown_text(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def test_one_inspector_is_composed_and_re_aimed_at_each_job(tmp_path: Path) -> None:
    """Enter opens the inspector composed on the first Enter, re-aimed at the selected job: nothing of the
    previous job (its rows, its Dask worker column, its facts, its log) is left on it."""
    app = scene_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot)
        finish_arrivals_segment_6(app, T0 + timedelta(seconds=1), worker="w1")
        await select(pilot, "Arrival (2016).mkv")
        await pilot.press("enter")
        await pilot.pause()
        first = app.screen
        table = first.query_one("#segments", DataTable)
        assert table.row_count == 12 and "Worker" in [str(c.label) for c in table.columns.values()]
        await pilot.press("right")  # leave it on Segments: the next Enter opens on Facts all the same
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        await select(pilot, "Heat (1995).mkv")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen is first
        assert first.query_one(TabbedContent).active == "tab-facts"
        heat = next(j for j in app.core.jobs() if j.current_file == "/films/Heat (1995).mkv")
        assert "Heat (1995).mkv" in shown_text(first.query_one("#title", Static))
        assert table.row_count == len(heat.segments)
        assert [str(c.label) for c in table.columns.values()][-1] != "Worker"
        facts_text = shown_text(first.query_one("#facts", Static))
        assert "Heat (1995).mkv" in facts_text and "Arrival" not in facts_text
        assert "segment 2" in shown_text(first.query_one("#joblog", Static))
        await pilot.press("escape")
        await select(pilot, "Arrival (2016).mkv")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen is first and table.row_count == 12


async def test_a_job_finding_its_scenes_shows_how_far_the_scene_pass_has_got(tmp_path: Path) -> None:
    """Before its first segment encodes, a job's row at 80 columns says its step and that step's own progress,
    not a blank %, and the inspector says both the step's and the film's (issue 26)."""
    app = scene_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        file = "/films/Stalker (1979).mkv"
        for kind, data in (
            (E.ANALYSIS_STARTED, {"status": ProcessingStatus.RUNNING}),
            (E.STAGE_STARTED, {"stage": "segmenting", "step": "scene detection (2 parts at once)"}),
            (E.STEP_PROGRESS, {"progress": 0.4}),
        ):
            app.core.bus.publish(make_event(kind, timestamp=T0, job_id="queued", file=file, **data))
        await select(pilot, "Stalker (1979).mkv")
        table = app.query_one(QueueTable)
        cells = dict(zip([k for _, k in table.shown_columns], map(str, table.job_row("queued")), strict=True))
        assert (cells["status"], cells["pct"]) == ("scenes", "40%")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert "running · scenes 40% · 0% encoded" in shown_text(app.screen.query_one("#facts", Static))
