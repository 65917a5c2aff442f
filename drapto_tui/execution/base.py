"""The execution seam: what the coordinator asks of any executor.

The coordinator (the engine's pipeline and scheduler) submits a `SegmentSpec` and gets a `SegmentOutcome` back,
with `SegmentReport`s on the way; it keeps events, the search cache and output placement to itself. An executor
decides where and when a segment runs: `execution/local.py` runs them here in priority order behind admission
control; another executor (Dask, a process pool) is one more module implementing this protocol.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from drapto_tui.model.events import JobUsage
from drapto_tui.model.segment import SegmentOutcome, SegmentReport, SegmentSpec

T = TypeVar("T")

Report = Callable[[SegmentReport], None]
#: Called with the spec on the coordinator when a slot is granted; returns the spec to run (the local
#: coordinator fills in the CRF a neighbouring segment settled on while this one waited).
Refresh = Callable[[SegmentSpec], SegmentSpec]


class Executor(Protocol):
    slots: int  # encodes that may run at once

    @property
    def busy(self) -> int:
        """Encodes running now."""
        ...

    def running_for(self, job_id: str) -> int:
        """Encodes of this job running now."""
        ...

    async def submit(
        self, spec: SegmentSpec, report: Report, *, refresh: Refresh | None = None
    ) -> SegmentOutcome:
        """Run one segment when a slot frees (best job first); raises what the segment failed with, or
        JobCancelled when its job was cancelled."""
        ...

    async def run_local(self, job_id: str, resolution_class: str, work: Callable[[], Awaitable[T]]) -> T:
        """Work that must run on the coordinator's machine (the Dolby Vision whole-file encode), counted in the
        same slots and order as segments."""
        ...

    def pause_job(self, job_id: str) -> None:
        """Stop the job's running encodes where they are and start none of its segments."""
        ...

    def resume_job(self, job_id: str) -> None: ...

    async def cancel_job(self, job_id: str) -> None:
        """End the job's running encodes; its waiting and running submissions raise JobCancelled."""
        ...

    def job_pids(self, job_id: str) -> list[int]:
        """The job's encoder processes on this machine (for the meters; empty for remote workers)."""
        ...

    def worker_usage(self) -> dict[str, JobUsage]:
        """Each remote worker's CPU and memory, by name, as last measured there (for the meters; empty when
        the encodes run on this machine)."""
        ...

    def job_commands(self, job_id: str) -> list[str]:
        """The command lines the job's encodes ran (for the inspector)."""
        ...

    def forget_job(self, job_id: str) -> None:
        """The job's run is over (done, failed, cancelled or stopped): a retry starts with a clean slate."""
        ...

    def kill_now(self) -> None:
        """End every encode at once (shutdown): no process outlives the coordinator."""
        ...

    def poke(self) -> None:
        """Queue order, pauses or resources changed: look for a slot to fill again."""
        ...

    def close(self) -> None:
        """Start nothing more; what runs goes on until cancelled or done."""
        ...

    async def open(self) -> None:
        """Before the first submission: reach whatever runs the segments (raises one line if it cannot)."""
        ...

    async def aclose(self) -> None:
        """After the last: let go of it (a cluster connection, a cluster started for this process)."""
        ...


__all__ = ["Executor", "Refresh", "Report"]
