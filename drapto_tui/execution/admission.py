"""Admission control for new encodes on this machine.
 a new segment starts only while available memory minus its estimated need stays above
resources.memory_floor, and the temp dir's free space stays above resources.temp_free_floor. Estimates start
from a table by resolution class and learn from the peak RSS of finished encodes. When memory is tight, new
work waits (and says why); nothing running is killed for it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

#: Starting guesses of an SVT-AV1 encode's peak RSS by resolution class (bytes), before any was measured.
DEFAULT_NEED = {"sd": 600 * 2**20, "hd": 1200 * 2**20, "uhd": 3 * 2**30}


@dataclass
class MemoryEstimates:
    """Peak RSS per encode by resolution class, learned as encodes finish (a high-water mark with decay)."""

    learned: dict[str, float] = field(default_factory=dict)

    def need(self, resolution_class: str) -> int:
        return int(self.learned.get(resolution_class, DEFAULT_NEED.get(resolution_class, DEFAULT_NEED["hd"])))

    def observe(self, resolution_class: str, peak_rss: int) -> None:
        if peak_rss <= 0:
            return
        old = self.learned.get(resolution_class)
        # Follow rises at once, fall slowly: underestimating risks the floor, overestimating only waits.
        self.learned[resolution_class] = (
            peak_rss if old is None or peak_rss > old else 0.8 * old + 0.2 * peak_rss
        )


@dataclass
class Admission:
    """Whether a new encode may start now, and if not, why (one line for the error log)."""

    ok: bool
    reason: str = ""
    kind: str = ""  # "memory" or "disk" when not ok


class AdmissionControl:
    def __init__(
        self,
        temp_dir: Path,
        *,
        memory_floor: int,
        temp_free_floor: int,
        available_memory: Callable[[], int] | None = None,
    ) -> None:
        self.temp_dir = temp_dir
        self.memory_floor = memory_floor
        self.temp_free_floor = temp_free_floor
        self.estimates = MemoryEstimates()
        self._available = available_memory or (lambda: psutil.virtual_memory().available)
        self.reserved = 0  # estimated need of encodes started but not yet visible in available memory

    def check(self, resolution_class: str) -> Admission:
        need = self.estimates.need(resolution_class)
        available = self._available() - self.reserved
        if available - need < self.memory_floor:
            from drapto_tui.config.units import human_size

            return Admission(
                False,
                f"waiting for memory: {human_size(available)} available, an encode needs about"
                f" {human_size(need)}, floor {human_size(self.memory_floor)}"
                " (resources.memory_floor)",
                "memory",
            )
        try:
            free = shutil.disk_usage(self.temp_dir).free
        except OSError:
            free = 0
        if free < self.temp_free_floor:
            from drapto_tui.config.units import human_size

            return Admission(
                False,
                f"waiting for disk: {human_size(free)} free in {self.temp_dir}, floor"
                f" {human_size(self.temp_free_floor)} (resources.temp_free_floor)",
                "disk",
            )
        return Admission(True)


__all__ = ["Admission", "AdmissionControl", "MemoryEstimates"]
