"""The main screen: summary line, queue, segment grid, meters, error log, footer keys.

Data flows one way: the core publishes events; the app follows a "ui" subscription and posts Textual messages
(meters, log); the queue and grid are redrawn from the folded state on a timer (ui.refresh_hz, so
at most that many redraws a second however fast events come), the StateManager's state is rendered, and keys
become Engine commands — never direct edits of widget data.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.screen import Screen
from textual.widgets import Input, RichLog, Static

from drapto_tui.config.units import human_size
from drapto_tui.engine.api import Core
from drapto_tui.engine.discovery import Preview
from drapto_tui.engine.eta import EtaTracker, film_seconds_done, fmt_eta
from drapto_tui.engine.library import Verdict, library_scan
from drapto_tui.engine.queue import ACTIVE, CLEARABLE
from drapto_tui.engine.schedule import wait_label
from drapto_tui.errors import DraptoError
from drapto_tui.model.events import EncodingComplete, ErrorOccurred, Notice, ProcessingStatus, ResourceSample
from drapto_tui.model.state import ErrorRecord, ProcessingState
from drapto_tui.quality.aim import quality_aim
from drapto_tui.tui.actions import ACTIONS, app_keymap, bindings, shown_keys
from drapto_tui.tui.messages import ProblemReported, ResourceSampled
from drapto_tui.tui.screens.add import AddScreen
from drapto_tui.tui.screens.dialogs import Confirm, QuitChoice
from drapto_tui.tui.screens.help import HelpScreen
from drapto_tui.tui.screens.stats import StatsScreen
from drapto_tui.tui.themes import load_themes
from drapto_tui.tui.widgets.key_footer import KeyFooter
from drapto_tui.tui.widgets.meters import Meters
from drapto_tui.tui.widgets.queue_table import QueueTable
from drapto_tui.tui.widgets.segment_grid import SegmentGrid

if TYPE_CHECKING:
    from drapto_tui.tui.screens.inspector import InspectorScreen


def _warm_inspector() -> None:
    """Import the inspector (its chart pulls in numpy) in the background once the first frame is out: the app
    opens without waiting for it, and Enter later finds it loaded."""
    threading.Thread(
        target=importlib.import_module, args=("drapto_tui.tui.screens.inspector",), daemon=True
    ).start()


COMPACT_WIDTH = 100
COMPACT_HEIGHT = 32

_S = ProcessingStatus
#: The footer keys that act on the selected job, and the states where they do something.
JOB_KEYS: dict[str, set[ProcessingStatus]] = {
    "toggle_pause": {_S.RUNNING, _S.PAUSED},
    "retry": {_S.FAILED, _S.CANCELLED},
    "cancel": {_S.RUNNING, _S.PAUSED, _S.QUEUED, _S.HELD},
    "toggle_hold": {_S.QUEUED, _S.HELD},
    "remove": set(_S) - ACTIVE,  # the queue refuses to remove a running or paused job
    "inspect": set(_S),
}


#: Why a job key does nothing in a state where it is off (said when it is pressed there).
WHY_NOT = {
    "toggle_pause": "only a running job pauses, only a paused one resumes",
    "retry": "only a failed or cancelled job is retried",
    "cancel": "it is not waiting or running, so there is nothing to cancel",
    "toggle_hold": "only a queued job is held (or released)",
    "remove": "cancel it (x) first",
}


def job_key_of(keymap: dict[str, str]) -> dict[str, str]:
    """The key that fires each job action, as Textual names keys (the one table of actions, then the keymap)."""
    return {
        key.strip(): action.action
        for action in ACTIONS
        if action.action in WHY_NOT
        for key in keymap.get(action.id, action.keys).split(",")
    }


def problem_line(file: str | None, segment: int | None, message: str) -> str:
    """One log line: the film's name, the segment unless the message names it, then the message without the
    path it often starts with (the name is said once, and at 80 columns the cause is what must fit)."""
    if file and message.startswith(f"{file}: "):
        message = message[len(file) + 2 :]
    seg = f" seg {segment}" if segment is not None and f"segment {segment}" not in message else ""
    return f"{Path(file).name if file else ''}{seg}: {message}"


class DraptoApp(App[int]):
    TITLE = "drapto-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = bindings()

    def __init__(
        self,
        core: Core,
        paths: list[Path] | None = None,
        *,
        start_paused: bool = False,
        frozen: bool = False,
        run_core: bool = True,
    ) -> None:
        super().__init__()
        self.run_core = run_core  # False: show the persisted state only (snapshots, UI benchmarks)
        #: The Engine in-process, or the service's client: the same command API (engine/api.py).
        self.core = core
        self.quit_mode: str | None = None
        self.paths = paths or []
        self.start_paused = start_paused
        self.frozen = frozen  # screenshots/snapshots: no clocks or ETAs
        self._ui = core.bus.subscribe("ui")
        self.etas = EtaTracker()  # per-job ETAs (from the folded state); the queue's ETA comes from the core
        self.filter_text = ""
        self.log_selected_only = False
        self._job_keys = job_key_of(core.config.ui.keys)
        self._log_for: str | None = None  # the job the filtered log shows
        self._log_entries: list[tuple[str | None, Text]] = []
        self._theme_names: list[str] = []
        self._keys_for: tuple = ()
        self._inspector: InspectorScreen | None = None  # composed on the first Enter, then re-aimed

    def get_driver_class(self) -> type[Driver]:
        """On a POSIX terminal, Textual's driver with a prompt lone Esc (tui/driver.py); elsewhere (Windows, the
        browser view's driver named by TEXTUAL_DRIVER) Textual's choice."""
        if os.name == "posix" and not os.environ.get("TEXTUAL_DRIVER"):
            from drapto_tui.tui.driver import PromptEscapeDriver

            return PromptEscapeDriver
        return super().get_driver_class()

    # -- layout ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        table = QueueTable(id="queue")
        table.border_title = "Queue"
        yield table
        with Horizontal(id="middle"):
            with Vertical(id="grid-box") as box:
                box.border_title = "Segments"
                yield SegmentGrid(id="grid", target=self.default_target())
            meters = Meters(id="meters")
            meters.border_title = "Resources"
            yield meters
        log = RichLog(id="log", markup=False, wrap=True, max_lines=5000, min_width=20)  # wrap at 80 columns
        log.border_title = "Warnings and errors"
        yield log
        yield Input(placeholder="filter by name (Enter keeps it, Esc clears)", id="filter")
        yield KeyFooter()

    def _replay_errors(self) -> None:
        """On start, the persisted warnings and errors (newest last), so a relaunch shows what went wrong."""
        records = []
        for job in self.core.state.jobs.values():
            for err in job.errors[-20:]:
                records.append((err.time, job, err))
            if job.status == ProcessingStatus.KEPT and job.stats.get("reason"):
                kept = ErrorRecord(time=job.updated, message=f"source kept — {job.stats['reason']}")
                records.append((job.updated, job, kept))
        for when, job, err in sorted(records, key=lambda r: r[0])[-200:]:
            stamp = "" if self.frozen else f"{when:%H:%M:%S} "
            line = problem_line(job.current_file, err.segment, err.message)
            self._log_line(job.job_id, stamp + line, "bold" if err.fatal else "")
            for line in err.stderr_tail[-4:]:
                self._log_line(job.job_id, f"    {line}", "dim")

    async def on_mount(self) -> None:
        if self.core.config.ui.keys:  # the user's keys (ui.keys), checked at launch
            self.set_keymap(app_keymap(self.core.config.ui.keys))
        self.core.listen(on_error=self._command_failed, on_added=self._paths_added, on_lost=self._core_lost)
        self._replay_errors()
        self._apply_themes()
        self._layout_for(self.size.width, self.size.height)
        self.call_after_refresh(self._refill_log)  # the replayed lines, wrapped at the log's real width
        self.query_one(QueueTable).focus()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._hangup)
        self.set_interval(1 / self.core.config.ui.refresh_hz, self.refresh_from_state)
        self.follow_bus()
        if self.run_core:
            self.start_core()
        self.refresh_from_state()
        self.call_after_refresh(_warm_inspector)

    @work(exclusive=True, group="core")
    async def start_core(self) -> None:
        try:
            await self.core.start(paused=self.start_paused)
        except DraptoError as err:
            self._log_line(None, err.line(), "bold")
            return
        if self.paths and (answer := self.core.add_paths(self.paths)) is not None:
            self._paths_added(*answer, announce=False)

    def _paths_added(self, new: list[str], errors: list[str], *, announce: bool = True) -> None:
        for line in errors:
            self._log_line(None, line, "bold")
        if announce:
            self.notify(f"queued {len(new)} file(s)")

    def _command_failed(self, line: str) -> None:
        self.notify(line, severity="warning", timeout=4)

    def _core_lost(self) -> None:
        """The service went away (stopped from another terminal, or killed): nothing to show any more."""
        self.quit_mode = "detach"
        self.exit(1, message="drapto-tui: the service went away; run drapto-tui again to start it")

    def _hangup(self) -> None:
        """The SSH link dropped or the window closed: as a plain quit for the core — a service client detaches
        (encoding goes on); an in-process engine checkpoints and stops (resumable), leaving no FFmpeg behind —
        and then the process ends. Nothing can be drawn on a terminal that is gone, and the usual exit would wait
        for ever on Textual's output thread writing to it (seen: the app left running after every dropped
        terminal)."""
        self.run_worker(self._leave_after_hangup(), group="hangup", exclusive=True)

    async def _leave_after_hangup(self) -> None:
        mode = self.quit_mode or self.core.default_quit
        try:
            if self.run_core:
                await self.core.shutdown(mode)
            else:
                await self.core.close()
        finally:
            os._exit(0)

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width, event.size.height)
        # Log lines are wrapped when written: write them again at the width the log has after this layout.
        self.call_after_refresh(self._refill_log)

    def _layout_for(self, width: int, height: int) -> None:
        compact = width < COMPACT_WIDTH or height < COMPACT_HEIGHT
        self.screen.set_class(compact, "compact")
        table = self.query_one(QueueTable)
        table.set_compact(compact, force=getattr(self, "_last_width", None) != width, width=width)
        self._last_width = width
        self.query_one(SegmentGrid).compact = compact
        self.query_one(Meters).compact = compact

    # -- themes ---------------------------------------------------------------------------------------------
    def _apply_themes(self) -> None:
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        self._theme_names = [t.name for t in themes] or ["textual-dark"]
        wanted = self.core.config.ui.theme
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            problems.append(f"ui.theme = {wanted!r}: no such theme; using {self._theme_names[0]}")
            self.theme = self._theme_names[0]
        for problem in problems:
            self._log_line(None, problem, "italic")

    def action_cycle_theme(self) -> None:
        names = self._theme_names
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=1.5)

    # -- rendering from state -------------------------------------------------------------------------------
    def _visible_jobs(self) -> list[ProcessingState]:
        jobs = self.core.jobs()
        if self.filter_text:
            needle = self.filter_text.lower()
            jobs = [j for j in jobs if needle in Path(j.current_file or "").name.lower()]
        return jobs

    @work(group="bus")
    async def follow_bus(self) -> None:
        """The 'ui' subscription as Textual messages: meters and the log react to those; the queue and the grid
        are drawn from the folded state on the refresh timer (at most ui.refresh_hz redraws a second)."""
        async for event in self._ui:
            data = event.data
            if isinstance(data, ResourceSample):
                self.post_message(ResourceSampled(data))
            elif isinstance(data, ErrorOccurred):
                self.post_message(ProblemReported(event.job_id, event.file, event.timestamp, data))
            elif isinstance(data, Notice):  # not a problem, but said where the user reads what happened
                note = ErrorOccurred(message=data.message, severity="warning", segment=data.segment)
                self.post_message(ProblemReported(event.job_id, event.file, event.timestamp, note))
            elif isinstance(data, EncodingComplete) and data.kept_source:
                # A kept film is not an error, but its reason belongs where the user looks for why.
                kept = ErrorOccurred(message=f"source kept — {data.reason}", severity="warning")
                self.post_message(ProblemReported(event.job_id, event.file, event.timestamp, kept))

    def on_resource_sampled(self, message: ResourceSampled) -> None:
        with contextlib.suppress(NoMatches):  # a sample that arrives while the app is closing
            self.query_one(Meters).feed(message.sample)

    def on_problem_reported(self, message: ProblemReported) -> None:
        if not self.query(Meters):  # the app is closing: its main screen's widgets are gone (the log too)
            return
        problem = message.problem
        stamp = "" if self.frozen else f"{message.at:%H:%M:%S} "
        line = problem_line(message.file, problem.segment, problem.message)
        self._log_line(message.job_id, stamp + line, "bold" if problem.fatal else "")
        for line in problem.stderr_tail[-4:]:
            self._log_line(message.job_id, f"    {line}", "dim")

    def refresh_from_state(self) -> None:
        try:
            meters = self.query_one(Meters)
        except NoMatches:  # the timer fired while the main screen's widgets are not (or no longer) mounted
            return
        jobs = self._visible_jobs()
        table = self.query_one(QueueTable)
        with self.batch_update():
            table.sync(jobs, None if self.frozen else self.etas)
            selected = table.selected_job()
            job = self.core.state.jobs.get(selected) if selected else None
            self.query_one(SegmentGrid).show(job)
            meters.select(selected)
            self._summary(self.core.jobs())
        keys_for = (job.status if job else None, self.core.paused_all)
        if keys_for != self._keys_for:  # the footer follows the selected job's state (recomposed only then)
            self._keys_for = keys_for
            self.refresh_bindings()

    def _log_line(self, job_id: str | None, message: str, style: str = "") -> None:
        text = Text(message, style=style)
        self._log_entries.append((job_id, text))
        if not self.log_selected_only or job_id in (None, self.query_one(QueueTable).selected_job()):
            self.query_one("#log", RichLog).write(text)

    def action_toggle_log_filter(self) -> None:
        self.log_selected_only = not self.log_selected_only
        self._refill_log()

    def _refill_log(self) -> None:
        log = self.query_one("#log", RichLog)
        log.clear()
        selected = self.query_one(QueueTable).selected_job()
        self._log_for = selected
        for job_id, text in self._log_entries[-2000:]:
            if not self.log_selected_only or job_id in (None, selected):
                log.write(text)
        log.border_title = "Warnings and errors" + (" (selected job)" if self.log_selected_only else "")

    def on_data_table_row_highlighted(self, event) -> None:
        """With the log on the selected job only (e), it follows the cursor."""
        selected = self.query_one(QueueTable).selected_job()
        if event.data_table.id == "queue" and self.log_selected_only and selected != self._log_for:
            self._refill_log()

    def _summary(self, jobs: list[ProcessingState]) -> None:
        counts = {s: 0 for s in ProcessingStatus}
        for job in jobs:
            counts[job.status] += 1
        total = sum(j.media.duration for j in jobs if j.media and j.status != ProcessingStatus.CANCELLED)
        done = sum(film_seconds_done(j) for j in jobs if j.status != ProcessingStatus.CANCELLED)
        # The net over every finished film: a film that came out larger counts against the others (never
        # "saved" beside a loss).
        net = sum(
            j.stats.get("input_bytes", 0) - j.stats.get("output_bytes", 0)
            for j in jobs
            if j.status == ProcessingStatus.COMPLETED and "output_bytes" in j.stats and not j.restored
        )
        eta = None if self.frozen else self.core.queue_eta()  # the core's figure: every viewer shows the same
        text = Text()
        if self.core.paused_all:  # first, so that it never falls off a narrow header
            text.append("PAUSED", style="bold reverse")
            text.append("  ")
        if waiting := self.core.waiting:  # the schedule's hold: "waiting for the 01:00 window"
            text.append(wait_label(waiting, wide=self.size.width >= 100), style="bold reverse")
            text.append("  ")
        counted = [
            ("done", ProcessingStatus.COMPLETED, True),
            ("kept", ProcessingStatus.KEPT, False),
            ("running", ProcessingStatus.RUNNING, True),
            ("paused", ProcessingStatus.PAUSED, False),  # their own counts: a paused job is not running,
            ("queued", ProcessingStatus.QUEUED, True),
            ("held", ProcessingStatus.HELD, False),  # and a held one will not start on its own
        ]
        text.append(
            "".join(
                f"{word} {counts[status]}  " for word, status, always in counted if always or counts[status]
            )
        )
        text.append(
            f"failed {counts[ProcessingStatus.FAILED]}",
            style="bold" if counts[ProcessingStatus.FAILED] else "",
        )
        text.append(f"   {100 * done / total:.0f}%" if total else "   0%")
        if eta is not None:
            text.append(f"  ETA {fmt_eta(eta)}")
        text.append(f"   saved {human_size(net)}" if net >= 0 else f"   grew {human_size(-net)}")
        if (lifetime := self.core.lifetime_saved()) > net and self.size.width >= 100:
            text.append(
                f" ({human_size(lifetime)} all time)"
            )  # the ledger's: films cleared off the queue too
        if self.filter_text:
            text.append(f"   filter: {self.filter_text}", style="italic")
        if text.markup != getattr(self, "_last_summary", None):  # an unchanged line costs no repaint
            self._last_summary = text.markup
            self.query_one("#summary", Static).update(text)

    # -- actions --------------------------------------------------------------------------------------------
    def _selected(self) -> str | None:
        return self.query_one(QueueTable).selected_job()

    def _do(self, fn, *args) -> None:
        try:
            fn(*args)
        except DraptoError as err:
            self.notify(err.line(), severity="warning", timeout=4)
        self.refresh_from_state()

    def action_cursor_down(self) -> None:
        self.query_one(QueueTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(QueueTable).action_cursor_up()

    def action_cursor_top(self) -> None:
        self.query_one(QueueTable).move_cursor(row=0, animate=False)

    def action_cursor_bottom(self) -> None:
        table = self.query_one(QueueTable)
        table.move_cursor(row=max(table.row_count - 1, 0), animate=False)

    def action_inspect(self) -> None:
        job_id = self._selected()
        if job_id:
            from drapto_tui.tui.screens.inspector import InspectorScreen  # warmed after the first frame

            if self._inspector is None:
                self._inspector = InspectorScreen(job_id)
                self.install_screen(self._inspector, "inspector")  # kept, and re-aimed at the next job
            else:
                self._inspector.show_job(job_id)
            self.push_screen(self._inspector)

    def on_data_table_row_selected(self, event) -> None:
        if event.data_table.id == "queue":
            self.action_inspect()

    def action_toggle_pause(self, _what: str = "") -> None:
        job = self.core.state.jobs.get(self._selected() or "")
        if job is None:
            return
        if job.status not in JOB_KEYS["toggle_pause"]:
            self.notify(
                f"{Path(job.current_file or '').name} is {job.status.value}: nothing to pause", timeout=3
            )
            return
        self._do(self.core.toggle_pause, job.job_id)

    def action_toggle_pause_all(self, _what: str = "") -> None:
        self._do(self.core.toggle_pause_all)

    def action_move_up(self) -> None:
        if job_id := self._selected():
            self._do(self.core.move, job_id, -1)

    def action_move_down(self) -> None:
        if job_id := self._selected():
            self._do(self.core.move, job_id, 1)

    def action_move_top(self) -> None:
        if job_id := self._selected():
            self._do(self.core.move, job_id, -(10**6))

    def action_move_bottom(self) -> None:
        if job_id := self._selected():
            self._do(self.core.move, job_id, 10**6)

    def action_priority(self, delta: int) -> None:
        if job_id := self._selected():
            self._do(self.core.bump_priority, job_id, delta)

    def action_toggle_hold(self) -> None:
        if job_id := self._selected():
            self._do(self.core.toggle_hold, job_id)

    # -- what screens may ask (tui/commands.py) ---------------------------------------------------------------
    def preview_paths(self, paths: Iterable[Path]) -> Preview:
        return self.core.preview(paths)

    async def library_verdicts(self, files: list[Path]) -> list[Verdict]:
        """The verdicts `drapto-tui scan` gives, from the same rules, ledger and probe (headers only)."""
        return await library_scan(files, self.core.config)

    def job_state(self, job_id: str) -> ProcessingState | None:
        return self.core.state.jobs.get(job_id)

    def default_target(self) -> float:
        try:
            return quality_aim(self.core.config, None).target
        except (
            DraptoError
        ):  # a target outside its metric's range: every job says so; the grid shows the number
            return self.core.config.quality.target or 0.0

    def job_commands(self, job_id: str) -> list[str]:
        return self.core.commands(job_id)

    def job_ffmpeg_log(self, job_id: str) -> list[str]:
        return self.core.job_log(job_id)

    def action_retry(self, job_id: str | None = None) -> None:
        if job_id := job_id or self._selected():
            self._do(self.core.retry, job_id)

    def action_cancel(self) -> None:
        job_id = self._selected()
        if not job_id:
            return
        name = Path(self.core.state.jobs[job_id].current_file or "?").name

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self.core.cancel(job_id), group="cancel")

        question = f"Cancel {name}?\nIts encoded segments are deleted; the source file is not touched."
        self.push_screen(Confirm(question), answered)

    def action_remove(self) -> None:
        """Take the selected job off the queue. Its source and any output are untouched; a job with encoded
        segments kept for a retry asks first, as those are deleted with it."""
        job = self.core.state.jobs.get(self._selected() or "")
        if job is None:
            return
        name = Path(job.current_file or "?").name
        if job.status not in JOB_KEYS["remove"]:
            self.notify(f"{name} is {job.status.value}: cancel it (x) first", severity="warning", timeout=4)
            return
        kept = (
            len(job.done_segments())
            if job.status in (ProcessingStatus.FAILED, ProcessingStatus.CANCELLED)
            else 0
        )

        def answered(yes: bool | None) -> None:
            if yes:
                self._do(self.core.remove, job.job_id)

        if kept:
            question = (
                f"Remove {name} from the queue?\nIts {kept} encoded segment(s) kept for a retry are deleted."
            )
        else:  # asked too: a removal has no undo
            output = " Its output file stays where it is." if job.status == ProcessingStatus.COMPLETED else ""
            question = f"Remove {name} from the queue?\nThe source file is not touched.{output}"
        self.push_screen(Confirm(question), answered)

    def action_clear_finished(self) -> None:
        """Remove every completed, kept and cancelled job from the queue (failed ones stay: they need a look)."""
        count = sum(1 for j in self.core.jobs() if j.status in CLEARABLE)
        if not count:
            self.notify("no finished job to clear", timeout=2)
            return
        self._do(self.core.clear_finished)
        self.notify(f"cleared {count} finished job(s)", timeout=2)

    def action_segment(self, delta: int) -> None:
        self.query_one(SegmentGrid).select_segment(delta)

    def action_add(self) -> None:
        def added(paths: list[Path] | None) -> None:
            if paths and (answer := self.core.add_paths(paths)) is not None:
                self._paths_added(*answer)

        self.push_screen(AddScreen(), added)

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("visible")
        box.value = self.filter_text
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.filter_text = event.value.strip()
            self.refresh_from_state()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            event.input.remove_class("visible")
            self.query_one(QueueTable).focus()

    def on_key(self, event) -> None:
        box = self.query_one("#filter", Input)
        if event.key == "escape" and box.has_class("visible"):
            box.value = ""
            self.filter_text = ""
            box.remove_class("visible")
            self.query_one(QueueTable).focus()
            event.stop()
            return
        self._say_why_not(event)

    def _say_why_not(self, event) -> None:
        """A job key pressed where it does nothing (check_action turned it off for the selected job's state, so
        its action never runs) says why, instead of nothing."""
        action = self._job_keys.get(event.key)
        if action is None or len(self.screen_stack) > 1 or self.query_one("#filter", Input).has_focus:
            return
        job = self.core.state.jobs.get(self._selected() or "")
        if job is None or job.status in JOB_KEYS[action]:
            return
        name = Path(job.current_file or "?").name
        self.notify(f"{name} is {job.status.value}: {WHY_NOT[action]}", timeout=3)
        event.stop()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.core.config.ui.keys))

    def action_stats(self) -> None:
        self.push_screen(StatsScreen(self.core.config))

    def action_request_quit(self) -> None:
        if not self.core.is_running():
            self.exit(0)
            return

        def chosen(mode: str | None) -> None:
            if mode:
                self.quit_mode = mode
                if mode == "finish" and self.core.default_quit != "detach":
                    self.notify("finishing the running jobs, then quitting…", timeout=10)
                    self.core.finish_then_stop()
                    self.run_worker(self._finish_then_exit(), group="quit")
                else:
                    self.exit(0)

        self.push_screen(QuitChoice(detach=self.core.default_quit == "detach"), chosen)

    async def _finish_then_exit(self) -> None:
        while self.core.is_running():
            await asyncio.sleep(0.3)
        self.exit(0)

    MAIN_ONLY = {parse_action(a.action)[1] for a in ACTIONS} - {"help", "request_quit", "cycle_theme"}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Queue keys act on the main screen only (the inspector and dialogs have their own). A footer key that
        would do nothing for the selected job (retry on a running one, pause on a finished one) is off: it leaves
        the footer, which then has room for the keys that do something (tui/actions.py)."""
        if action in self.MAIN_ONLY and len(self.screen_stack) > 1:
            return False
        if action == "toggle_pause_all":
            return self.core.paused_all == (parameters == ("resume",))
        if action not in JOB_KEYS:
            return True
        job = self.core.state.jobs.get(self._selected() or "")
        if job is None:
            return False
        if action == "toggle_pause":
            wanted = ProcessingStatus.PAUSED if parameters == ("resume",) else ProcessingStatus.RUNNING
            return job.status == wanted
        return job.status in JOB_KEYS[action]

    def get_system_commands(self, screen: Screen):
        """Textual's own entries, less those ours replace (its Quit skips the running-work question, its Keys
        panel is our help, its theme picker offers themes not made for this app), then every action of ours once, called directly: a palette entry always does
        something, or says why not, whatever the footer shows."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Keys", "Theme"):
                yield command
        for action in ACTIONS:
            if action.id in ("down", "up"):
                continue
            _, name, params = parse_action(action.action)
            yield SystemCommand(
                f"{action.description} ({shown_keys(action, self.core.config.ui.keys)})",
                action.description,
                lambda n=name, p=params: getattr(self, f"action_{n}")(*p),
            )

    async def on_unmount(self) -> None:
        # However the app ends (q, Ctrl+C, lost terminal): an in-process engine checkpoints and releases the
        # state dir; a service client detaches unless the user chose to stop the service.
        mode = self.quit_mode or self.core.default_quit
        if self.run_core:
            await self.core.shutdown(mode)
        else:
            await self.core.close()
