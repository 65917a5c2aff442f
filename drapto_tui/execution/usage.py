"""CPU and memory of a changing set of processes, for the meters: each job's FFmpeg on this machine (a Dask worker
measures its own tree in execution/dask.py's usage_on_worker).

CPU comes from each process' CPU time since it was last seen, all of it for one seen for the first time. An
encode's FFmpeg often lives a second or two; psutil's per-process percent needs two looks at the same process and
read 0 for most of them."""

from __future__ import annotations

from collections.abc import Iterable

import psutil


class ProcessUsage:
    def __init__(self) -> None:
        self._seen: dict[int, float] = {}  # each process' CPU seconds when last looked at
        self._procs: dict[int, psutil.Process] = {}

    def look(self, pids: Iterable[int]) -> tuple[float, int]:
        """(CPU seconds these processes used since the last look, their resident bytes now)."""
        used = 0.0
        rss = 0
        for pid in pids:
            try:
                proc = self._procs.get(pid) or self._procs.setdefault(pid, psutil.Process(pid))
                times = proc.cpu_times()
                total = times.user + times.system
                rss += proc.memory_info().rss
            except psutil.Error:
                continue
            used += max(total - self._seen.get(pid, 0.0), 0.0)
            self._seen[pid] = total
        return used, rss

    def forget_all_but(self, alive: set[int]) -> None:
        """Drop processes that ended: a pid may come back as another process."""
        for pid in (set(self._seen) | set(self._procs)) - alive:
            self._seen.pop(pid, None)
            self._procs.pop(pid, None)


__all__ = ["ProcessUsage"]
