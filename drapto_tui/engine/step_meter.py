"""A step's progress (the scene pass, cutting, muxing) as StepProgress events, thinned to what a row shows.

Each FFmpeg reports twice a second and a scene pass runs one per core, so unthinned a long film's analysis
would put several events a second per job on the bus for a figure shown to the per cent."""

from __future__ import annotations

import time
from collections.abc import Callable

from drapto_tui.model.events import Payload, StepProgress

#: The least time between two reports of the same step, unless it has just finished.
REPORT_SECONDS = 0.5


class StepMeter:
    """Call it with a fraction (0 to 1): it emits a StepProgress when the figure moved by a whole per cent and
    REPORT_SECONDS have passed since the last one, and always when it reaches 1."""

    def __init__(self, emit: Callable[[Payload], None], interval: float = REPORT_SECONDS) -> None:
        self._emit = emit
        self._interval = interval
        self._last = -1.0
        self._at = -interval

    def restart(self) -> None:
        """A new step begins: its figures are its own (its first and its end are said whatever the last step's)."""
        self._last, self._at = -1.0, -self._interval

    def __call__(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        now = time.monotonic()
        finished = fraction >= 1.0 > self._last
        if finished or (abs(fraction - self._last) >= 0.01 and now - self._at >= self._interval):
            self._last, self._at = fraction, now
            self._emit(StepProgress(progress=round(fraction, 4)))
