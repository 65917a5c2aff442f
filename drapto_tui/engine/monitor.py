"""Resource sampling (psutil) for the meters and for learning how much memory an encode takes.

The monitor samples about once a second: CPU per core, system memory, the RSS of our whole process tree
(FFmpeg children included), disk read/write rates, free space in the temp dir, and CPU/RSS per job (from the
processes each job has running). Samples are published as RESOURCE_SAMPLE events for the UI meters.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from drapto_tui.engine.bus import EventBus
from drapto_tui.execution.usage import ProcessUsage
from drapto_tui.model.events import JobUsage, ResourceSample


def tree_processes(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return [root]


def rss_of(procs: list[psutil.Process]) -> int:
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


class ResourceMonitor:
    def __init__(
        self,
        temp_dir: Path,
        bus: EventBus | None,
        *,
        interval: float = 1.0,
        job_pids: Callable[[], dict[str, list[int]]] | None = None,
        workers: Callable[[], dict[str, JobUsage]] | None = None,
    ) -> None:
        self.temp_dir = temp_dir
        self.bus = bus
        self.interval = interval
        self.job_pids = job_pids or (dict)
        self.workers = workers or (dict)
        self.me = psutil.Process()
        self._last_disk: tuple[float, Any] | None = None
        self.last: ResourceSample | None = None
        self._task: asyncio.Task[None] | None = None
        self._usage = ProcessUsage()  # the jobs' FFmpeg: CPU from each one's CPU time since the last sample
        self._last_sample: float | None = None
        psutil.cpu_percent(percpu=True)  # prime: the first call has nothing to compare with

    def sample(self) -> ResourceSample:
        now = time.monotonic()
        vm = psutil.virtual_memory()
        procs = tree_processes(self.me)
        disk = psutil.disk_io_counters()
        read_rate = write_rate = 0.0
        if disk is not None and self._last_disk is not None:
            then, last = self._last_disk
            dt = max(now - then, 1e-6)
            read_rate = (disk.read_bytes - last.read_bytes) / dt
            write_rate = (disk.write_bytes - last.write_bytes) / dt
        if disk is not None:
            self._last_disk = (now, disk)
        interval = now - self._last_sample if self._last_sample is not None else self.interval
        self._last_sample = now
        running = self.job_pids()
        jobs: dict[str, JobUsage] = {}
        for job_id, pids in running.items():
            used, rss = self._usage.look(pids)
            jobs[job_id] = JobUsage(cpu=round(100.0 * used / max(interval, 1e-6), 1), rss=rss)
        self._usage.forget_all_but({pid for pids in running.values() for pid in pids})
        try:
            free = shutil.disk_usage(self.temp_dir).free
        except OSError:
            free = 0
        self.last = ResourceSample(
            cpu=psutil.cpu_percent(percpu=True),
            mem_total=vm.total,
            mem_available=vm.available,
            mem_used_percent=vm.percent,
            rss_tree=rss_of(procs),
            processes=len(procs),
            disk_read_bps=round(read_rate),
            disk_write_bps=round(write_rate),
            temp_free=free,
            jobs=jobs,
            workers=self.workers(),
        )
        return self.last

    async def run(self) -> None:
        while True:
            sample = await asyncio.to_thread(self.sample)
            if self.bus is not None:
                self.bus.emit(sample)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


__all__ = ["ResourceMonitor", "rss_of", "tree_processes"]
