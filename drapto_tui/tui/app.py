"""The main screen: queue table, summary line, event log, footer keys.

Data flows one way: the core publishes events; a 'ui' subscription is drained on a timer (at most
ui.refresh_hz redraws a second), and widgets are redrawn from the StateManager's state, never edited directly.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, RichLog, Static

from drapto_tui.analysis import analyze, discover_files
from drapto_tui.config.units import human_size
from drapto_tui.errors import DraptoError
from drapto_tui.events import ProcessingEvents, ProcessingStatus
from drapto_tui.media.tools import require_ffmpeg
from drapto_tui.session import Session, new_job_id
from drapto_tui.state import ProcessingState
from drapto_tui.tui.themes import load_themes

COLUMNS = (("#", "pos"), ("File", "file"), ("Class", "class"), ("HDR", "hdr"), ("Path", "path"),
           ("Status", "status"), ("Stage", "stage"), ("Length", "length"), ("Size", "size"))
STATUS_STYLE = {
    ProcessingStatus.QUEUED: "dim", ProcessingStatus.RUNNING: "bold cyan", ProcessingStatus.PAUSED: "yellow",
    ProcessingStatus.COMPLETED: "green", ProcessingStatus.FAILED: "bold red", ProcessingStatus.CANCELLED: "magenta",
    ProcessingStatus.HELD: "yellow",
}


def _row(job: ProcessingState) -> dict[str, object]:
    media = job.media or {}
    badge = "DV" if media.get("dolby_vision") else (media.get("hdr_format") or ("HDR" if media.get("hdr") else ""))
    return {
        "pos": str(job.position + 1),
        "file": Path(job.current_file or "?").name,
        "class": str(media.get("resolution_class", "")).upper(),
        "hdr": Text(badge, style="bold magenta" if badge == "DV" else "bold yellow"),
        "path": {"dolby_vision": "direct", "chunked": "chunked"}.get(job.encoding_path or "", ""),
        "status": Text(job.status.value, style=STATUS_STYLE.get(job.status, "")),
        "stage": job.stage.value,
        "length": f"{media['duration']:.1f}s" if media.get("duration") else "",
        "size": human_size(media["size"]) if media.get("size") else "",
    }


class DraptoApp(App[int]):
    TITLE = "drapto-tui"
    CSS_PATH = "app.tcss"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("j,down", "cursor_down", "Down", show=False, id="down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="up"),
        Binding("g", "cursor_top", "Top", id="top"),
        Binding("G", "cursor_bottom", "Bottom", id="bottom"),
        Binding("T", "cycle_theme", "Theme", id="theme"),
    ]

    def __init__(self, session: Session, paths: list[Path], *, start_paused: bool = False) -> None:
        super().__init__()
        self.session = session
        self.paths = paths
        self.start_paused = start_paused
        self._ui_sub = session.bus.subscribe("ui")
        self._rows: dict[str, dict[str, object]] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="summary")
        table: DataTable[object] = DataTable(id="queue", cursor_type="row", zebra_stripes=True)
        table.border_title = "Queue"
        yield table
        log = RichLog(id="log", markup=False, wrap=True, max_lines=2000)
        log.border_title = "Events"
        yield log
        yield Footer()

    def _apply_themes(self) -> None:
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        self._theme_names = [t.name for t in themes] or ["textual-dark"]
        wanted = self.session.config.ui.theme
        if wanted in self.available_themes:
            self.theme = wanted
        else:
            problems.append(f"ui.theme = {wanted!r}: no such theme; using {self._theme_names[0]}")
            self.theme = self._theme_names[0]
        for problem in problems:
            self._log_line(problem, "yellow")
            self.notify(problem, severity="warning")

    def action_cycle_theme(self) -> None:
        names = self._theme_names
        current = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(current + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=1.5)

    async def on_mount(self) -> None:
        self._apply_themes()
        table = self.query_one("#queue", DataTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key)
        self.session.start()
        self.set_interval(1 / self.session.config.ui.refresh_hz, self.refresh_from_state)
        self.run_worker(self.queue_paths(), name="queue-paths", exclusive=True)
        self.refresh_from_state()

    async def queue_paths(self) -> None:
        """Discover and analyse the given paths; files already in the persisted queue are not added twice."""
        session = self.session
        try:
            ffmpeg = (await require_ffmpeg(session.config.tools.ffmpeg)).path
        except DraptoError as err:
            self._log_line(err.line(), "bold red")
            return
        try:
            files = discover_files(self.paths, session.config.input, session.bus)
        except DraptoError as err:
            self._log_line(err.line(), "bold red")
            files = []
        await session.settle()
        for file in files:
            if session.state.job_for_file(str(file)) is not None:
                continue
            job_id = new_job_id()
            output = session.config.output_root() / (file.stem + ".mkv")
            session.emit(ProcessingEvents.JOB_QUEUED, job_id=job_id, file=file, output=str(output),
                         status=ProcessingStatus.QUEUED)
            if await analyze(job_id, file, ffmpeg, session.bus) is not None:
                # Analysed and waiting: the encode stage takes it from here.
                session.emit(ProcessingEvents.JOB_UPDATED, job_id=job_id, status="queued")

    def _log_line(self, message: str, style: str = "") -> None:
        self.query_one("#log", RichLog).write(Text(message, style=style))

    def refresh_from_state(self) -> None:
        events = self._ui_sub.drain()
        for event in events:
            name = Path(event.file).name if event.file else ""
            if event.event == ProcessingEvents.ERROR_OCCURRED:
                self._log_line(f"{event.timestamp:%H:%M:%S} error  {event.data.get('message', '')}", "bold red")
            elif not event.coalescable and event.event != ProcessingEvents.JOB_UPDATED:
                self._log_line(f"{event.timestamp:%H:%M:%S} {event.event.value:<18} {name}")
        self._render_queue()

    def _render_queue(self) -> None:
        table = self.query_one("#queue", DataTable)
        jobs = self.session.state.ordered_jobs()
        seen = set()
        with self.batch_update():
            for job in jobs:
                seen.add(job.job_id)
                row = _row(job)
                old = self._rows.get(job.job_id)
                if old is None:
                    table.add_row(*[row[key] for _, key in COLUMNS], key=job.job_id)
                else:
                    for _, key in COLUMNS:
                        if str(old[key]) != str(row[key]):
                            table.update_cell(job.job_id, key, row[key])
                self._rows[job.job_id] = row
            for job_id in list(self._rows):
                if job_id not in seen:
                    table.remove_row(job_id)
                    del self._rows[job_id]
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.status.value] = counts.get(job.status.value, 0) + 1
        summary = "  ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "queue empty"
        self.query_one("#summary", Static).update(f"{len(jobs)} jobs: {summary}")

    def action_cursor_down(self) -> None:
        self.query_one("#queue", DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#queue", DataTable).action_cursor_up()

    def action_cursor_top(self) -> None:
        table = self.query_one("#queue", DataTable)
        table.move_cursor(row=0)

    def action_cursor_bottom(self) -> None:
        table = self.query_one("#queue", DataTable)
        table.move_cursor(row=max(table.row_count - 1, 0))

    async def action_quit(self) -> None:
        self.exit(0)

    async def on_unmount(self) -> None:
        # Checkpoint and release the state dir however the app ends (q, Ctrl+C, lost terminal).
        await self.session.close()
