"""Looking at a job's FFmpeg processes from tests, without racing ones that finish on their own."""

from __future__ import annotations

import psutil


def encoder_pids(pids: list[int]) -> list[int]:
    """The live SVT-AV1 encodes among `pids` (long enough to be caught paused, unlike a sample cut)."""
    found = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE and "libsvtav1" in proc.cmdline():
                found.append(pid)
        except psutil.Error:
            continue
    return found


def live_states(pids: list[int]) -> set[str]:
    """Status of every process still alive (a zombie has already finished: it has no state to pause)."""
    states = set()
    for pid in pids:
        try:
            status = psutil.Process(pid).status()
        except psutil.Error:
            continue
        if status != psutil.STATUS_ZOMBIE:
            states.add(status)
    return states
