"""The selected job's segments as a grid of cells drawn with the Line API (one widget, not one per cell).

Each cell is coloured by state and shows CRF and measured VMAF once known; a cell under the VMAF target is
drawn in the error colour. Cells wrap to the width; when narrow, cells shrink to coloured blocks without text.
The direct path has one wide cell with the encode's progress.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from drapto_tui.model.state import ProcessingState, SegmentStatus

CELL = 11  # "27.25 93.4 " fits; narrow mode uses 2-character blocks


class SegmentGrid(ScrollView, can_focus=False):
    DEFAULT_CSS = """
    SegmentGrid { height: 6; }
    """
    compact: reactive[bool] = reactive(False)

    def __init__(self, *, target: float = 93.0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.target = target
        self.job: ProcessingState | None = None
        self._signature: tuple = ()

    def show(self, job: ProcessingState | None) -> None:
        signature = (job.job_id, job.updated, job.status, job.progress) if job else ()
        if signature == self._signature:
            return
        self._signature = signature
        self.job = job
        self._resize()
        self.refresh()

    def watch_compact(self) -> None:
        self._resize()
        self.refresh()

    def on_resize(self) -> None:
        self._resize()

    def _cell_width(self) -> int:
        return 2 if self.compact else CELL

    def _per_row(self) -> int:
        return max(1, (self.size.width or 80) // self._cell_width())

    def _resize(self) -> None:
        count = len(self.job.segments) if self.job else 0
        rows = 1 if not self.job else max(1, -(-count // self._per_row()))
        self.virtual_size = Size(self.size.width, rows + 1)

    def _styles(self) -> dict[str, Style]:
        theme = self.app.current_theme
        fg = Style.parse(theme.foreground or "white")

        def bg(color: str | None, default: str) -> Style:
            return Style(bgcolor=color or default, color=theme.background or "black")

        return {
            SegmentStatus.QUEUED.value: Style(
                bgcolor=theme.panel or "grey23", color=theme.foreground or "white"
            ),
            SegmentStatus.SEARCHING.value: bg(theme.accent, "orange3"),
            SegmentStatus.ENCODING.value: bg(theme.primary, "blue"),
            SegmentStatus.DONE.value: bg(theme.success, "green"),
            SegmentStatus.FAILED.value: bg(theme.error, "red"),
            SegmentStatus.PAUSED.value: bg(theme.warning, "yellow"),
            "below": Style(bgcolor=theme.error or "red", color=theme.foreground or "white", bold=True),
            "text": fg,
        }

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_y = self.scroll_offset.y
        row = y + scroll_y
        job = self.job
        styles = self._styles()
        if job is None:
            return (
                Strip([Segment(" no job selected".ljust(width), styles["text"])])
                if row == 0
                else Strip.blank(width)
            )
        if job.encoding_path == "dolby_vision" and len(job.segments) <= 1:
            return self._direct_line(row, width, job, styles)
        segments = [job.segments[i] for i in sorted(job.segments)]
        if not segments:
            text = " waiting to be segmented" if row == 0 else ""
            return Strip([Segment(text.ljust(width), styles["text"])])
        per_row = self._per_row()
        chunk = segments[row * per_row : (row + 1) * per_row]
        if not chunk:
            return Strip.blank(width)
        out: list[Segment] = []
        cw = self._cell_width()
        paused = job.status.value == "paused"
        for seg in chunk:
            state = seg.status.value
            if paused and state in ("searching", "encoding"):
                state = "paused"
            style = styles.get(state, styles["text"])
            if seg.vmaf_measured is not None and seg.vmaf_measured < self.target:
                style = styles["below"]
            if cw == 2:
                out.append(Segment("▆▆" if state != "queued" else "░░", Style(color=style.bgcolor)))
                continue
            if seg.status == SegmentStatus.DONE and seg.crf is not None:
                if seg.vmaf_measured is not None:
                    vm = f"{seg.vmaf_measured:.1f}"
                elif seg.vmaf_predicted is not None:  # audit mode: predicted, not measured
                    vm = f"~{seg.vmaf_predicted:.1f}"
                else:
                    vm = "  - "
                label = f"{seg.crf:g} {vm}"
            elif seg.status in (SegmentStatus.SEARCHING, SegmentStatus.ENCODING):
                label = (
                    f"#{seg.index} {seg.status.value[:3]}"
                    if not seg.progress
                    else f"#{seg.index} {seg.progress:.0%}"
                )
            elif seg.status == SegmentStatus.FAILED:
                label = f"#{seg.index} fail"
            else:
                label = f"#{seg.index}"
            out.append(Segment(label[: cw - 1].center(cw - 1), style))
            out.append(Segment(" ", styles["text"]))
        used = sum(len(s.text) for s in out)
        out.append(Segment(" " * max(width - used, 0), styles["text"]))
        return Strip(out)

    def _direct_line(self, row: int, width: int, job: ProcessingState, styles: dict[str, Style]) -> Strip:
        if row != 0:
            return Strip.blank(width)
        seg = job.segments.get(0)
        progress = (
            1.0 if seg and seg.status == SegmentStatus.DONE else (seg.progress if seg else job.progress)
        )
        state = seg.status.value if seg else "queued"
        label = f" direct encode  CRF {seg.crf:g}  " if seg and seg.crf is not None else " direct encode  "
        label += f"{progress:.0%}"
        filled = int(width * progress)
        text = label.ljust(width)[:width]
        style = styles.get(state, styles["text"])
        return Strip(
            [Segment(text[:filled], style), Segment(text[filled:], styles[SegmentStatus.QUEUED.value])]
        )
