"""The queue as a DataTable keyed by job id: changed cells update in place, the cursor stays on its job."""

from __future__ import annotations

import time
from pathlib import Path
from statistics import fmean

from rich.text import Text
from textual.widgets import DataTable

from drapto_tui.config.units import human_size
from drapto_tui.engine.eta import EtaTracker, fmt_eta
from drapto_tui.engine.live_figures import live_figures
from drapto_tui.model.events import ProcessingStatus
from drapto_tui.model.state import ProcessingState, SegmentStatus

WIDE = [
    ("#", "pos"),
    ("File", "file"),
    ("Class", "class"),
    ("HDR", "hdr"),
    ("Path", "path"),
    ("Status", "status"),
    ("%", "pct"),
    ("ETA", "eta"),
    ("Speed", "speed"),
    ("Size in → out", "size"),
    ("Score", "score"),
]
NARROW = [
    ("#", "pos"),
    ("File", "file"),
    ("HDR", "hdr"),
    ("Status", "status"),
    ("%", "pct"),
    ("ETA", "eta"),
    ("Score", "score"),
]
VOLATILE = {"pct", "eta", "speed", "score", "size"}
#: The file name's least width; below it these columns give way, in this order (120 columns show them all).
MIN_FILE_WIDTH = 16
DROPPED_FIRST = ("speed", "path", "class")
#: Fixed widths; the file name takes what is left of the terminal.
WIDTHS = {
    "pos": 4,
    "class": 5,
    "hdr": 3,
    "path": 7,
    "status": 9,
    "pct": 4,
    "eta": 7,
    "speed": 6,
    "size": 21,
    "score": 5,
}
STATUS_STYLE = {
    ProcessingStatus.QUEUED: "",
    ProcessingStatus.RUNNING: "bold",
    ProcessingStatus.PAUSED: "reverse",
    ProcessingStatus.COMPLETED: "dim",
    ProcessingStatus.KEPT: "dim italic",
    ProcessingStatus.FAILED: "bold reverse",
    ProcessingStatus.CANCELLED: "dim strike",
    ProcessingStatus.HELD: "italic",
}


def speed_text(speed: float) -> str:
    """× real time in at most five cells: 0.42×, 3.10×, 12.5×."""
    return f"{speed:.2f}×" if speed < 10 else f"{speed:.1f}×" if speed < 100 else f"{speed:.0f}×"


def _file_room(columns: list[tuple[str, str]], total: int) -> int:
    """What is left for the file name once the other columns and the cell padding are laid out."""
    return total - 2 * len(columns) - sum(WIDTHS[k] for _, k in columns if k != "file") - 5


def score_mean(job: ProcessingState) -> float | None:
    """The job's score so far, in its metric (the inspector names it): the mean of its measured segments."""
    values = [
        s.score_measured
        for s in job.segments.values()
        if s.status == SegmentStatus.DONE and s.score_measured is not None
    ]
    return fmean(values) if values else None


class QueueTable(DataTable):
    """Rows are keyed by position ("r0", "r1", ...) and hold whichever job is there now: a reorder rewrites the
    few rows whose job changed instead of rebuilding the table (DataTable has no move_row), and the cursor is
    moved to wherever its job went."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.compact = False
        self._jobs_at: list[str] = []
        self._cells: list[dict[str, str]] = []
        self._stamp: list[object] = []
        self._pending_select: str | None = None
        self._volatile_due = 0.0
        self._columns: list[tuple[str, str]] = []

    def columns_for(self) -> list[tuple[str, str]]:
        return NARROW if self.compact else WIDE

    @property
    def shown_columns(self) -> list[tuple[str, str]]:
        """The columns the table has now (at a width between the compact and the full layout, some extras go)."""
        return self._columns or self.columns_for()

    def set_compact(self, compact: bool, *, force: bool = False, width: int | None = None) -> None:
        if force or compact != self.compact or not self.columns:
            self.compact = compact
            selected = self.selected_job()
            self.clear(columns=True)
            total = width or self.size.width or self.app.size.width
            columns = self.columns_for()
            for optional in DROPPED_FIRST:  # the file name keeps a readable width: the extras give way to it
                if _file_room(columns, total) >= MIN_FILE_WIDTH:
                    break
                columns = [c for c in columns if c[1] != optional]
            self._columns = columns
            room = _file_room(columns, total)
            for label, key in columns:
                self.add_column(label, key=key, width=WIDTHS.get(key, max(room, 12)))
            self._jobs_at, self._cells, self._stamp = [], [], []
            self._pending_select = selected

    def selected_job(self) -> str | None:
        row = self.cursor_row
        return self._jobs_at[row] if 0 <= row < len(self._jobs_at) else None

    def row_index(self, job_id: str) -> int | None:
        try:
            return self._jobs_at.index(job_id)
        except ValueError:
            return None

    def job_row(self, job_id: str) -> list[object]:
        index = self.row_index(job_id)
        if index is None:
            raise KeyError(job_id)
        return self.get_row(f"r{index}")

    def select_job(self, job_id: str | None) -> None:
        index = self.row_index(job_id) if job_id else None
        if index is not None and index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    def row_for(self, job: ProcessingState, position: int, eta: float | None) -> dict[str, object]:
        media = job.media
        badge = "" if media is None else "DV" if media.dolby_vision else (media.hdr_format or "")
        out_bytes = job.stats.get("output_bytes")
        in_bytes = (media.size if media else 0) or job.stats.get("input_bytes")
        # A running job: its speed against real time and its projected size, from the segments done so far.
        live = (
            live_figures(job) if job.status in (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED) else None
        )
        if out_bytes:
            after = f" → {human_size(out_bytes)}"
        elif live is not None and live.projected_bytes is not None:
            after = f" → ~{human_size(int(live.projected_bytes))}"
        else:
            after = ""
        size = (human_size(in_bytes) if in_bytes else "") + after
        vm = score_mean(job)
        name = Path(job.current_file or "?").name
        prio = f" ↑{job.priority}" if job.priority > 0 else (f" ↓{-job.priority}" if job.priority < 0 else "")
        return {
            "pos": str(position),
            "file": name + prio,
            "class": media.resolution_class.upper() if media else "",
            "hdr": Text(badge, style="bold"),
            "path": {"dolby_vision": "direct", "chunked": "chunked"}.get(job.encoding_path or "", ""),
            "status": Text(job.activity(), style=STATUS_STYLE.get(job.status, "")),
            "pct": f"{shown * 100:.0f}%" if (shown := job.shown_progress()) is not None else "",
            "eta": fmt_eta(eta),
            "speed": speed_text(live.speed) if live is not None and live.speed is not None else "",
            "size": size,
            "score": f"{vm:.1f}" if vm is not None else "",
        }

    def sync(self, jobs: list[ProcessingState], etas: EtaTracker | None) -> None:
        """Bring the table in line with `jobs` (ordered, filtered), touching only cells whose text changed.
        No `etas` (screenshots): no ETA column values."""
        selected = self._pending_select or self.selected_job()
        self._pending_select = None
        keys = [k for _, k in self.shown_columns]
        # Any cell update makes DataTable re-render every visible row, so cells that only creep (%, ETA, score,
        # size) are refreshed at most twice a second; status, names and order changes go out at once.
        now = time.monotonic()
        volatile_ok = now >= self._volatile_due
        volatile_done = False
        for i, job in enumerate(jobs):
            eta = etas.eta(job) if etas is not None else None
            stamp = (job.job_id, job.updated, job.status, fmt_eta(eta))
            if i < len(self._jobs_at) and self._stamp[i] == stamp:
                continue
            row = self.row_for(job, i + 1, eta)
            texts = {k: str(row[k]) for k in keys}
            if i >= len(self._jobs_at):
                self.add_row(*[row[k] for k in keys], key=f"r{i}")
                self._jobs_at.append(job.job_id)
                self._cells.append(texts)
                self._stamp.append(stamp)
                continue
            old = self._cells[i]
            changed = [k for k in keys if old.get(k) != texts[k]]
            if self._jobs_at[i] == job.job_id and changed and set(changed) <= VOLATILE and not volatile_ok:
                continue  # leave the stamp stale: it goes out with the next volatile round
            for key in changed:
                self.update_cell(f"r{i}", key, row[key])
            volatile_done = volatile_done or bool(set(changed) & VOLATILE)
            self._jobs_at[i] = job.job_id
            self._cells[i] = texts
            self._stamp[i] = stamp
        if volatile_done:
            self._volatile_due = now + 0.5
        while len(self._jobs_at) > len(jobs):
            last = len(self._jobs_at) - 1
            self.remove_row(f"r{last}")
            self._jobs_at.pop()
            self._cells.pop()
            self._stamp.pop()
        self.select_job(selected)
