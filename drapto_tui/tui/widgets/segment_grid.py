"""The selected job's segments as a grid of cells, drawn with the Line API (one widget, not one per cell).

Every state has its own mark as well as its own colour, so the grid reads in a monochrome terminal (NO_COLOR)
and to a colour-blind eye: a failed segment (✗) is not a segment that finished below the target (▼).
Under the cells, one line tells the selected segment's numbers (CRF, score measured or predicted in the job's
metric, attempts, the
error of a failed one) and one line is the legend. `[` and `]` move the selection; until they are used it
follows what most needs a look: a failed segment, else one below target, else the one being worked on.
At 80x24 the cells are two columns wide (mark only); wider, each shows its CRF and score. The direct path is one
wide bar with the encode's progress.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from drapto_tui.media.metrics import label_of
from drapto_tui.model.state import ProcessingState, SegmentState, SegmentStatus

CELL = 12  # "▼26.75 92.1 " fits; compact mode uses 2-column cells

#: One mark per state a cell can show, and the legend's words for it ("below" is a done segment under target).
MARKS = {
    "done": "■",
    "below": "▼",
    "failed": "✗",
    "searching": "?",
    "encoding": "▶",
    "paused": "‖",
    "queued": "·",
}
LEGEND = [
    ("done", "ok"),
    ("below", "below {target:g}"),
    ("failed", "failed"),
    ("searching", "search"),
    ("encoding", "encode"),
    ("paused", "paused"),
    ("queued", "queued"),
]


def cell_state(seg: SegmentState, target: float, job_paused: bool) -> str:
    """The cell's state as drawn: a done segment under the target is 'below'; a paused job's work 'paused'."""
    state = seg.status.value
    if job_paused and state in ("searching", "encoding"):
        return "paused"
    if seg.status == SegmentStatus.DONE:
        score = seg.score_measured if seg.score_measured is not None else seg.score_predicted
        if score is not None and score < target:
            return "below"
    return state if state in MARKS else "queued"


def describe(seg: SegmentState, target: float, job_paused: bool, label: str = "score") -> str:
    """The selected segment in one line: what it is, what was chosen, what it scored (`label`: the metric's
    name), how many tries."""
    state = cell_state(seg, target, job_paused)
    parts = [f"seg {seg.index}", f"{seg.start:.1f}–{seg.end:.1f} s"]
    if state in ("searching", "encoding", "paused"):
        parts.append(f"{state} {seg.progress:.0%}" if seg.progress else state)
    elif state == "queued":
        parts.append("queued")
    if seg.crf is not None:
        parts.append(f"CRF {seg.crf:g}")
    if seg.score_measured is not None:
        parts.append(f"{label} {seg.score_measured:.2f}" + (f" < {target:g}" if state == "below" else ""))
    elif seg.score_predicted is not None:
        parts.append(
            f"{label} ~{seg.score_predicted:.2f} predicted" + (f" < {target:g}" if state == "below" else "")
        )
    elif seg.probes:
        best = seg.probes[-1]
        parts.append(f"probe CRF {best.crf:g} → {best.score:.1f}")
    if seg.attempts:
        parts.append(f"{seg.attempts} {'try' if seg.attempts == 1 else 'tries'}")
    if state == "failed":
        # The cause, without the path and segment the message starts with (both are said already).
        cause = (seg.error or "").partition(f"segment {seg.index}: ")[2] or seg.error
        parts.append(f"FAILED: {cause}" if cause else "FAILED")
    return " · ".join(parts)


class SegmentGrid(Widget, can_focus=False):
    DEFAULT_CSS = """
    SegmentGrid { height: 6; }
    """
    compact: reactive[bool] = reactive(False)

    def __init__(self, *, target: float = 93.0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.default_target = target  # until the job says its own (when its encoding starts)
        self.job: ProcessingState | None = None
        self.selected: int | None = None  # a segment index; None: follow the one that most needs a look
        self._signature: tuple = ()

    @property
    def target(self) -> float:
        """The shown job's target, in its metric's unit."""
        if self.job is not None and self.job.target is not None:
            return self.job.target
        return self.default_target

    # -- what is shown --------------------------------------------------------------------------------------
    def show(self, job: ProcessingState | None) -> None:
        if (self.job.job_id if self.job else None) != (job.job_id if job else None):
            self.selected = None  # another job: follow its most telling segment again
        signature = (job.job_id, job.updated, job.status, job.progress) if job else ()
        if signature == self._signature:
            return
        self._signature = signature
        self.job = job
        self.refresh()

    def select_segment(self, delta: int) -> None:
        indexes = sorted(self.job.segments) if self.job else []
        if not indexes:
            return
        current = self.current_index()
        at = indexes.index(current) if current in indexes else 0
        self.selected = indexes[max(0, min(len(indexes) - 1, at + delta))]
        self.refresh()

    def current_index(self) -> int | None:
        """The selected segment: the user's pick, else the first failed, below-target or active one."""
        job = self.job
        if job is None or not job.segments:
            return None
        if self.selected in job.segments:
            return self.selected
        paused = job.status.value == "paused"
        order = sorted(job.segments)
        states = {i: cell_state(job.segments[i], self.target, paused) for i in order}
        for wanted in (("failed",), ("below",), ("searching", "encoding", "paused")):
            for i in order:
                if states[i] in wanted:
                    return i
        return order[0]

    def watch_compact(self) -> None:
        self.refresh()

    # -- drawing --------------------------------------------------------------------------------------------
    def _cell_width(self) -> int:
        return 2 if self.compact else CELL

    def _per_row(self) -> int:
        return max(1, (self.size.width or 80) // self._cell_width())

    def _styles(self) -> dict[str, Style]:
        theme = self.app.current_theme
        ink = theme.background or "black"

        def cell(color: str | None, default: str) -> Style:
            return Style(bgcolor=color or default, color=ink)

        return {
            "queued": Style(bgcolor=theme.panel or "grey23", color=theme.foreground or "white"),
            "searching": cell(theme.accent, "orange3"),
            "encoding": cell(theme.primary, "blue"),
            "done": cell(theme.success, "green"),
            "below": cell(theme.warning, "yellow"),
            "failed": Style(bgcolor=theme.error or "red", color=theme.foreground or "white", bold=True),
            "paused": cell(theme.secondary, "grey50"),
            "text": Style.parse(theme.foreground or "white"),
            "dim": Style(color=theme.foreground or "white", dim=True),
        }

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        height = self.size.height
        styles = self._styles()
        job = self.job
        if job is None:
            return self._text_line(" no job selected" if y == 0 else "", width, styles["text"])
        if height >= 3 and y == height - 1:
            return self._legend(width, styles)
        if height >= 2 and y == height - 2:
            return self._detail(width, job, styles)
        if job.encoding_path == "dolby_vision" and len(job.segments) <= 1:
            return self._direct_line(y, width, job, styles)
        if not job.segments:
            return self._text_line(" waiting to be segmented" if y == 0 else "", width, styles["text"])
        return self._cells_line(y, width, job, styles, rows=max(1, height - 2))

    def _text_line(self, text: str, width: int, style: Style) -> Strip:
        return Strip([Segment(text[:width].ljust(width), style)])

    def _cells_line(
        self, y: int, width: int, job: ProcessingState, styles: dict[str, Style], rows: int
    ) -> Strip:
        per_row = self._per_row()
        order = sorted(job.segments)
        selected = self.current_index()
        # The rows shown scroll so that the selected segment's row is always among them.
        sel_row = order.index(selected) // per_row if selected in order else 0
        top = max(0, sel_row - rows + 1)
        chunk = order[(top + y) * per_row : (top + y + 1) * per_row]
        if not chunk:
            return Strip.blank(width)
        out: list[Segment] = []
        cw = self._cell_width()
        paused = job.status.value == "paused"
        for i in chunk:
            seg = job.segments[i]
            state = cell_state(seg, self.target, paused)
            style = styles[state]
            if i == selected:
                style = style + Style(reverse=True, bold=True, underline=True)
            mark = MARKS[state]
            if cw == 2:
                out.append(Segment(mark + " ", style))
                continue
            if seg.crf is not None and state in ("done", "below", "failed"):
                if seg.score_measured is not None:
                    vm = f"{seg.score_measured:.1f}"
                elif seg.score_predicted is not None:  # audit mode: predicted, not measured
                    vm = f"~{seg.score_predicted:.1f}"
                else:
                    vm = "-"
                label = f"{mark}{seg.crf:g} {vm}"
            elif state in ("searching", "encoding", "paused"):
                label = f"{mark}#{seg.index} {seg.progress:.0%}" if seg.progress else f"{mark}#{seg.index}"
            elif state == "failed":
                label = f"{mark}#{seg.index} fail"
            else:
                label = f"{mark}#{seg.index}"
            out.append(Segment(label[: cw - 1].ljust(cw - 1), style))
            out.append(Segment(" ", styles["text"]))
        used = sum(len(s.text) for s in out)
        out.append(Segment(" " * max(width - used, 0), styles["text"]))
        return Strip(out)

    def _detail(self, width: int, job: ProcessingState, styles: dict[str, Style]) -> Strip:
        index = self.current_index()
        if index is None:
            return Strip.blank(width)
        seg = job.segments[index]
        line = " " + describe(seg, self.target, job.status.value == "paused", label_of(job.metric))
        state = cell_state(seg, self.target, job.status.value == "paused")
        style = styles["text"] + Style(bold=state in ("failed", "below"))
        return self._text_line(line, width, style)

    def _legend(self, width: int, styles: dict[str, Style]) -> Strip:
        text = Text(" ")
        for state, words in LEGEND:
            text.append(MARKS[state], styles[state])
            text.append(" " + words.format(target=self.target) + "  ", styles["dim"])
        hint = "[ ] select"
        if text.cell_len + len(hint) <= width:
            text.append(hint, styles["dim"])
        text.truncate(width, pad=True)
        return Strip(list(text.render(self.app.console)), width).crop(0, width)

    def _direct_line(self, row: int, width: int, job: ProcessingState, styles: dict[str, Style]) -> Strip:
        if row != 0:
            return Strip.blank(width)
        seg = job.segments.get(0)
        progress = (
            1.0 if seg and seg.status == SegmentStatus.DONE else (seg.progress if seg else job.progress)
        )
        state = cell_state(seg, self.target, job.status.value == "paused") if seg else "queued"
        label = f" direct encode  CRF {seg.crf:g}  " if seg and seg.crf is not None else " direct encode  "
        label += f"{progress:.0%}"
        filled = int(width * progress)
        text = label.ljust(width)[:width]
        return Strip([Segment(text[:filled], styles[state]), Segment(text[filled:], styles["queued"])])
