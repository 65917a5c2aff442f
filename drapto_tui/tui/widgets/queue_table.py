"""The queue as a DataTable keyed by job id: changed cells update in place, the cursor stays on its job."""

from __future__ import annotations

import time
from pathlib import Path
from statistics import fmean

from rich.text import Text
from textual.widgets import DataTable

from drapto_tui.config.units import human_size
from drapto_tui.events import ProcessingStatus
from drapto_tui.state import ProcessingState, SegmentStatus

WIDE = [("#", "pos"), ("File", "file"), ("Class", "class"), ("HDR", "hdr"), ("Path", "path"), ("Status", "status"),
        ("%", "pct"), ("ETA", "eta"), ("Size in → out", "size"), ("VMAF", "vmaf")]
NARROW = [("#", "pos"), ("File", "file"), ("HDR", "hdr"), ("Status", "status"), ("%", "pct"), ("ETA", "eta"),
          ("VMAF", "vmaf")]
#: Fixed widths; the file name takes what is left of the terminal.
WIDTHS = {"pos": 4, "class": 5, "hdr": 3, "path": 7, "status": 9, "pct": 4, "eta": 7, "size": 21, "vmaf": 5}
STATUS_STYLE = {
    ProcessingStatus.QUEUED: "", ProcessingStatus.RUNNING: "bold", ProcessingStatus.PAUSED: "reverse",
    ProcessingStatus.COMPLETED: "dim", ProcessingStatus.FAILED: "bold reverse", ProcessingStatus.CANCELLED: "dim strike",
    ProcessingStatus.HELD: "italic",
}


def fmt_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class EtaTracker:
    """Active (not paused) running time per job, so ETAs ignore time spent paused."""

    def __init__(self) -> None:
        self.active: dict[str, float] = {}
        self._last = time.monotonic()

    def tick(self, jobs: list[ProcessingState]) -> None:
        now = time.monotonic()
        dt = now - self._last
        self._last = now
        for job in jobs:
            if job.status == ProcessingStatus.RUNNING:
                self.active[job.job_id] = self.active.get(job.job_id, 0.0) + dt

    def eta(self, job: ProcessingState) -> float | None:
        active = self.active.get(job.job_id)
        if not active or job.progress <= 0.01 or job.status not in (ProcessingStatus.RUNNING, ProcessingStatus.PAUSED):
            return None
        return active * (1 - job.progress) / job.progress


def vmaf_mean(job: ProcessingState) -> float | None:
    values = [s.vmaf_measured for s in job.segments.values()
              if s.status == SegmentStatus.DONE and s.vmaf_measured is not None]
    return fmean(values) if values else None


class QueueTable(DataTable):
    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.compact = False
        self._order: list[str] = []
        self._cells: dict[str, dict[str, str]] = {}
        self._stamp: dict[str, object] = {}

    def columns_for(self) -> list[tuple[str, str]]:
        return NARROW if self.compact else WIDE

    def set_compact(self, compact: bool, *, force: bool = False, width: int | None = None) -> None:
        if force or compact != self.compact or not self.columns:
            self.compact = compact
            selected = self.selected_job()
            self.clear(columns=True)
            columns = self.columns_for()
            fixed = sum(WIDTHS[k] for _, k in columns if k != "file")
            room = (width or self.size.width or self.app.size.width) - 2 * len(columns) - fixed - 5
            for label, key in columns:
                self.add_column(label, key=key, width=WIDTHS.get(key, max(room, 12)))
            self._order = []
            self._cells.clear()
            self._stamp.clear()
            self._pending_select = selected

    def selected_job(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:  # noqa: BLE001 - no rows yet
            return None

    def select_job(self, job_id: str | None) -> None:
        if job_id is None:
            return
        try:
            self.move_cursor(row=self.get_row_index(job_id), animate=False)
        except Exception:  # noqa: BLE001 - the job is filtered out
            pass

    def row_for(self, job: ProcessingState, position: int, eta: float | None) -> dict[str, object]:
        media = job.media or {}
        badge = "DV" if media.get("dolby_vision") else (media.get("hdr_format") or "")
        out_bytes = job.stats.get("output_bytes")
        in_bytes = media.get("size") or job.stats.get("input_bytes")
        size = (human_size(in_bytes) if in_bytes else "") + (f" → {human_size(out_bytes)}" if out_bytes else "")
        vm = vmaf_mean(job)
        name = Path(job.current_file or "?").name
        prio = f" ↑{job.priority}" if job.priority > 0 else (f" ↓{-job.priority}" if job.priority < 0 else "")
        return {
            "pos": str(position),
            "file": name + prio,
            "class": str(media.get("resolution_class", "")).upper(),
            "hdr": Text(badge, style="bold"),
            "path": {"dolby_vision": "direct", "chunked": "chunked"}.get(job.encoding_path or "", ""),
            "status": Text(job.status.value, style=STATUS_STYLE.get(job.status, "")),
            "pct": f"{job.progress * 100:.0f}%" if job.progress else "",
            "eta": fmt_eta(eta),
            "size": size,
            "vmaf": f"{vm:.1f}" if vm is not None else "",
        }

    def sync(self, jobs: list[ProcessingState], etas: EtaTracker) -> None:
        """Bring the table in line with `jobs` (already ordered and filtered) with the fewest changes."""
        selected = getattr(self, "_pending_select", None) or self.selected_job()
        self._pending_select = None
        order = [j.job_id for j in jobs]
        keys = [k for _, k in self.columns_for()]
        if order != self._order:
            # Reorder or membership change: rebuild rows (DataTable has no move_row), keep the cursor on its job.
            self.clear()
            self._cells.clear()
            self._stamp.clear()
            for i, job in enumerate(jobs, 1):
                row = self.row_for(job, i, etas.eta(job))
                self.add_row(*[row[k] for k in keys], key=job.job_id)
                self._cells[job.job_id] = {k: str(row[k]) for k in keys}
                self._stamp[job.job_id] = (job.updated, job.status)
            self._order = order
            self.select_job(selected)
            return
        for i, job in enumerate(jobs, 1):
            eta = etas.eta(job)
            stamp = (job.updated, job.status, fmt_eta(eta))
            if self._stamp.get(job.job_id) == stamp:
                continue
            self._stamp[job.job_id] = stamp
            row = self.row_for(job, i, eta)
            old = self._cells.get(job.job_id, {})
            for key in keys:
                text = str(row[key])
                if old.get(key) != text:
                    self.update_cell(job.job_id, key, row[key])
                    old[key] = text
            self._cells[job.job_id] = old
