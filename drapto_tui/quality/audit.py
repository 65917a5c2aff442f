"""Audit mode: which finals are measured, and how high an unmeasured one aims.

An unmeasured final saves its decode and its metric (about a fifth of a final at preset 8); what audit mode
risks is a scene below the floor (target − tolerance_below) that nobody saw. How far predictions miss is the
film's own to say: each measured final's first error (measured − predicted) is recorded, and once a few are
known an unmeasured segment aims high enough that a miss `Z` standard deviations deep still clears the floor.
While that aim would leave the acceptance window, the predictions are too loose to leave anything unmeasured
and every final is measured; the spread is taken again with each measured final, so a film whose first
segments held an odd one out goes back to measuring 1 in 4 once its errors settle.

Before, one measured miss of over half the window switched the film to verified. With predictions spread by
about 0.5 VMAF that happened on the first segments of every film, overshoots included (which cost bytes, never
quality), so audit mode cost what verified mode did.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

#: Finals measured before any is left unmeasured: the spread of fewer errors says little.
LEARN = 6
#: Then 1 segment in EVERY is still measured (and every unsure prediction, segment_runner), so the spread keeps
#: being checked as the film goes on.
EVERY = 4
#: One unmeasured final in a hundred would land under the floor, were the errors normal.
Z = 2.33


@dataclass
class AuditPolicy:
    floor: float  # target − tolerance_below
    ceiling: float  # target + tolerance: an aim above it is no longer worth leaving a final unmeasured
    errors: list[float] = field(default_factory=list)

    def record(self, predicted: float, measured: float) -> None:
        """A measured final's first error (a retry's prediction comes from a measurement: not recorded)."""
        self.errors.append(measured - predicted)

    @property
    def learned(self) -> bool:
        return len(self.errors) >= LEARN

    def margin(self) -> float | None:
        """How far above the floor an unmeasured final must aim: Z spreads of the errors, less their mean (a
        film whose finals land above their predictions needs less)."""
        if not self.learned:
            return None
        return Z * statistics.pstdev(self.errors) - statistics.fmean(self.errors)

    def measures(self, index: int) -> bool:
        """Whether segment `index` is measured whatever its prediction."""
        return not self.learned or self.too_loose() or index % EVERY == 0

    def unmeasured_aim(self, aim: float) -> float:
        margin = self.margin()
        return aim if margin is None else max(aim, self.floor + margin)

    def too_loose(self) -> bool:
        """The aim an unmeasured final would need is past the window: measure every final for now."""
        margin = self.margin()
        return margin is not None and self.floor + margin > self.ceiling

    def spread(self) -> float:
        return statistics.pstdev(self.errors) if len(self.errors) > 1 else 0.0


__all__ = ["EVERY", "LEARN", "AuditPolicy", "Z"]
