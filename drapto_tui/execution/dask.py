"""Segments on a Dask cluster: each segment is one Dask task that runs `run_segment` on a worker.

The coordinator (this process: queue, pipeline, events, state store, cache, UI) keeps everything but the
encoding. What crosses is data: the SegmentSpec as JSON and the segment's bytes go out (Dask's own transfer;
with `execution.shared_path` set, workers read the coordinator's paths instead), the SegmentOutcome and the
encoded segment's bytes come back. Nothing is assumed shared but the scheduler.

It is the local executor's queue with a remote runner: slots (the cluster's worker threads), best job first when
a slot frees, pause holding a job's next segments back, cancel ending its submissions. Around that:
- live reports: a worker logs each SegmentReport on one Dask event topic; the coordinator hands it to the
  segment's report callback, with the worker's name (the inspector shows which machine encoded what);
- pause / resume / cancel also reach the running FFmpeg on the workers (SIGSTOP / SIGCONT / kill), through
  `Client.run` on every worker, where this module keeps each running task's process control;
- a worker lost mid-segment: Dask runs the task again elsewhere; the first report from the new worker says so in
  one line, and only the one result that comes back is placed (never twice in the output);
- the scheduler unreachable at start: one line, exit 2; lost mid-run: the segment fails with one line and the
  job keeps its finished segments for a retry;
- a worker whose FFmpeg lacks the segment's encoder or metric filter refuses the task with that line, rather
  than encode differently;
- priorities: the order key maps onto Dask task priorities too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from pydantic import TypeAdapter

from drapto_tui.errors import ClusterError, DraptoError
from drapto_tui.execution.children import ChildRegistry
from drapto_tui.execution.control import JobControl
from drapto_tui.execution.local import LocalExecutor
from drapto_tui.media.ffmpeg import current_tracker
from drapto_tui.media.tools import Needs, require_ffmpeg
from drapto_tui.model.events import JobUsage
from drapto_tui.model.segment import (
    PhaseReport,
    ProblemReport,
    SegmentOutcome,
    SegmentReport,
    SegmentSpec,
)
from drapto_tui.quality.segment_runner import ENCODED_NAME, Report, run_segment

REPORTS: TypeAdapter[SegmentReport] = TypeAdapter(SegmentReport)
#: Segments read and sent to workers at once (two keep a link busy while one is read from disk).
SENDS_AT_ONCE = 2


class ClusterUnavailable(ClusterError):
    """No Dask scheduler answers at the configured address."""

    exit_code = 2


# -- on the worker ------------------------------------------------------------------------------------------
#: The running tasks' process controls in this worker process (task key → (job id, control)), and the jobs
#: paused here: a segment of a paused job that starts on this worker after the pause starts paused.
_RUNNING: dict[str, tuple[str, JobControl]] = {}
_PAUSED: set[str] = set()
#: Tasks killed by key (a cancelled job's, or the coordinator giving up on one) before they began here: Dask may
#: still start a task it had already handed to this worker, and such a task must not start any FFmpeg.
_KILLED_KEYS: set[str] = set()
_RUNNING_LOCK = threading.Lock()


def run_on_worker(spec_json: dict[str, Any], data: bytes | None, topic: str, key: str) -> dict[str, Any]:
    """One segment on a Dask worker. Returns {"outcome", "encoded", "worker"} or {"error", "worker"}: errors
    travel as their one line (an exception object of ours may not unpickle on the coordinator)."""
    from distributed import get_worker

    began_task = time.monotonic()
    worker = get_worker()
    name, address, worker_id = str(worker.name), str(worker.address), str(worker.id)
    spec = SegmentSpec.model_validate(spec_json)
    workdir = Path(tempfile.mkdtemp(prefix="drapto-segment-", dir=worker.local_directory))
    control = JobControl()
    with _RUNNING_LOCK:
        if key in _KILLED_KEYS:
            shutil.rmtree(workdir, ignore_errors=True)
            return {"error": "the segment was cancelled before it began", "worker": name}
        _RUNNING[key] = (spec.job_id, control)
        if spec.job_id in _PAUSED:
            control.pause()

    def report(item: SegmentReport) -> None:
        with contextlib.suppress(Exception):  # a report lost is not worth a failed segment
            # Not "worker": the scheduler writes the sending worker's address into a logged event's "worker" key.
            message = {
                "key": key,
                "name": name,
                "address": address,
                "worker_id": worker_id,
                "report": item.model_dump(mode="json"),
            }
            worker.log_event(topic, message)

    # Every FFmpeg this task starts is the job's, the worker's own FFmpeg check included (run on a worker's
    # first task): a paused job's check starts paused too, and a cancelled one's is killed.
    current_tracker.set(control)
    try:
        try:
            needs = Needs(encoders=(spec.video.encoder,), metrics=(spec.search.metric,))
            checking = time.monotonic()
            info = asyncio.run(require_ffmpeg(os.environ.get("DRAPTO_FFMPEG", ""), needs))
            check_seconds = time.monotonic() - checking
        except DraptoError as err:
            fix = "point DRAPTO_FFMPEG on that worker at an FFmpeg that has it, then restart the worker"
            return {
                "error": f"worker {name} refuses the segment: {err.message} — {fix}",
                "refused": True,
                "worker": name,
                "address": address,
            }
        segment = spec.segment
        if data is not None:
            local = workdir / f"source{Path(segment.path).suffix or '.mkv'}"
            local.write_bytes(data)
            segment = segment.model_copy(update={"path": str(local)})
        spec = spec.model_copy(
            update={
                "segment": segment,
                "ffmpeg": info.path,
                "one_pass_measure": info.loopback_decoders,
                "scratch": str(workdir / "run"),
            }
        )
        began = time.monotonic()
        try:
            outcome = asyncio.run(run_segment(spec, workdir / "run", report))
        except DraptoError as err:
            return {"error": err.line(), "worker": name}
        encoded = Path(outcome.encoded).read_bytes()
        return {
            "outcome": outcome.model_dump(mode="json"),
            "encoded": encoded,
            "worker": name,
            "work_seconds": time.monotonic() - began,
            "check_seconds": check_seconds,
            "task_seconds": time.monotonic() - began_task,
        }
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(key, None)
        shutil.rmtree(workdir, ignore_errors=True)


def steer_on_worker(action: str, job_id: str | None = None, key: str | None = None) -> int:
    """Run on every worker by Client.run: pause, resume or kill the FFmpeg of one job's (or one task's)
    running segments here, or kill every one (no job, no task: the coordinator is closing); returns how many
    tasks it reached. A killed task's control lets no later FFmpeg of it live (no retry after a cancel)."""
    with _RUNNING_LOCK:
        everything = job_id is None and key is None
        targets = [
            c for k, (j, c) in _RUNNING.items() if everything or k == key or (key is None and j == job_id)
        ]
        if job_id is not None and action == "pause":
            _PAUSED.add(job_id)
        elif job_id is not None:
            _PAUSED.discard(job_id)
        if action == "kill" and key is not None:
            _KILLED_KEYS.add(key)  # should it begin here later, it begins killed
    for control in targets:
        if action == "pause":
            control.pause()
        elif action == "resume":
            control.resume()
        else:
            control.cancelled = True
            control.kill_now()
    return len(targets)


#: The worker tree's CPU seconds and when usage_on_worker last looked (per worker process).
_LAST_LOOK: list[float] = []


def usage_on_worker(dask_worker: Any = None) -> dict[str, Any]:
    """Run on every worker by Client.run (which hands it the worker): its name, and its process and everything it
    started (its FFmpeg) since the last look: CPU percent and resident memory. Dask's own metrics count the
    worker process alone, not the FFmpeg that does the work. The tree's CPU is the worker's own, its ended
    children's (counted once they are reaped) and its live children's: a segment's FFmpeg that starts and ends
    between two looks is counted too."""
    me = psutil.Process()
    now = time.monotonic()
    mine = me.cpu_times()
    total = mine.user + mine.system + mine.children_user + mine.children_system
    rss = me.memory_info().rss
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            times = child.cpu_times()
            total += times.user + times.system
            rss += child.memory_info().rss
    first = not _LAST_LOOK
    used = 0.0 if first else max(total - _LAST_LOOK[1], 0.0)
    interval = 0.0 if first else now - _LAST_LOOK[0]
    _LAST_LOOK[:] = [now, total]
    name = getattr(dask_worker, "name", None)
    name = str(name if name is not None else getattr(dask_worker, "address", "worker"))
    return {"name": name, "cpu": 0.0 if first else 100.0 * used / max(interval, 1e-6), "rss": rss}


# -- on the coordinator -------------------------------------------------------------------------------------
class DaskExecutor(LocalExecutor):
    def __init__(
        self,
        *,
        scheduler: str = "",
        workers: int = 2,
        shared_path: str = "",
        order: Callable[[str], tuple[Any, ...]] = lambda job_id: (0,),
        on_wait: Callable[[str, str], None] | None = None,
        registry: ChildRegistry | None = None,
        on_cluster: Callable[[str, bool], None] | None = None,
    ) -> None:
        """`scheduler` "" starts a LocalCluster of `workers` processes (one thread each) for this process.
        `on_cluster(line, waiting)` hears each change of the cluster in one line (a worker joined or left;
        `waiting`: none is left and segments wait for one)."""
        super().__init__(
            max(workers, 1), order=order, on_wait=on_wait, registry=registry, runner=self._run_remote
        )
        self.scheduler_address = scheduler
        self.local_workers = workers
        self.shared = bool(shared_path)
        self.client: Any = None
        self.cluster: Any = None
        self.topic = f"drapto-reports-{uuid.uuid4().hex[:12]}"
        self._reports: dict[str, Report] = {}
        self._worker_of: dict[str, tuple[str, str, str]] = {}
        self._opening: asyncio.Lock | None = None
        self._usage: dict[str, JobUsage] = {}
        self._sampling: asyncio.Task[None] | None = None
        self.on_cluster = on_cluster
        #: The workers connected now, by address: (name, threads); None until the first look.
        self.workers: dict[str, tuple[str, int]] | None = None
        #: "waiting for workers (0 connected)" while the cluster has none, else None.
        self.waiting_for: str | None = None
        self._reconnecting: asyncio.Future[None] | None = None
        #: Workers whose FFmpeg refused a segment (address → the line said), left out of the slots and tasks.
        self._unable: dict[str, str] = {}
        #: Segments being read and sent at once: the coordinator holds at most this many segments' bytes,
        #: whatever the number of slots (16 slots of 300 MiB lossless pieces held at once were 4.8 GiB).
        self._sending = asyncio.Semaphore(SENDS_AT_ONCE)

    # -- connecting -------------------------------------------------------------------------------------
    async def open(self) -> None:
        """Connect to the scheduler (or start the local cluster); one line, exit 2, when none answers."""
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self.client is not None:
                return
            from distributed import Client, LocalCluster

            try:
                if self.scheduler_address:
                    self.client = await Client(self.scheduler_address, asynchronous=True, timeout="5s")
                else:
                    self.cluster = await LocalCluster(
                        n_workers=self.local_workers,
                        threads_per_worker=1,
                        processes=True,
                        asynchronous=True,
                        dashboard_address=None,
                    )
                    self.client = await Client(self.cluster, asynchronous=True)
            except (OSError, TimeoutError) as exc:
                raise ClusterUnavailable(
                    f"no Dask scheduler answers ({exc})",
                    subject=f"execution.scheduler = {self.scheduler_address or 'dask-local'}",
                    hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, or set"
                    " execution.backend = 'local'",
                ) from None
            self.client.subscribe_topic(self.topic, self._on_report)
            await self._look_at_workers()
            self._sampling = asyncio.get_running_loop().create_task(self._sample_workers())

    def worker_usage(self) -> dict[str, JobUsage]:
        return dict(self._usage)

    async def _look_at_workers(self) -> None:
        """Slots follow the workers that are there (a worker that joins mid-run adds its threads, one lost takes
        them away); each change is one line, and none left is said as a wait until one joins."""
        identity = await self.client.scheduler.identity()
        now = {
            str(address): (str(info.get("name", address)), int(info.get("nthreads", 1)))
            for address, info in identity.get("workers", {}).items()
        }
        before, self.workers = self.workers, now
        for address in [a for a in self._unable if a not in now]:
            del self._unable[address]  # gone: one started again on that address is looked at afresh
        slots = self._slots_now()
        if before is not None and now != before:
            joined = [name for address, (name, _) in now.items() if address not in before]
            left = [name for address, (name, _) in before.items() if address not in now]
            counts = f"{len(now)} connected, {slots} segment{'s' if slots != 1 else ''} at once"
            for name in joined:
                self._say_cluster(f"worker {name} joined ({counts})", waiting=False)
            for name in left:
                self._say_cluster(f"worker {name} left ({counts})", waiting=False)
        waiting = None if now else "waiting for workers (0 connected)"
        if waiting != self.waiting_for:
            self.waiting_for = waiting
            if waiting is not None:
                self._say_cluster(f"{waiting}: segments wait for a worker to join the cluster", waiting=True)
        if slots != self.slots:
            self.slots = slots
            self.poke()

    def _say_cluster(self, line: str, *, waiting: bool) -> None:
        if self.on_cluster is not None:
            self.on_cluster(line, waiting)

    async def _sample_workers(self, every: float = 1.0) -> None:
        """Every second while connected: who the workers are (slots follow them), and their own usage (their
        FFmpeg included), by name."""
        while self.client is not None:
            with contextlib.suppress(Exception):  # a scheduler away: the next look tells
                await self._look_at_workers()
            with contextlib.suppress(Exception):  # a worker gone or a scheduler away: the next look tells
                looks = await self.client.run(usage_on_worker)
                self._usage = {
                    u["name"]: JobUsage(cpu=round(u["cpu"], 1), rss=int(u["rss"])) for u in looks.values()
                }
            await asyncio.sleep(every)

    async def aclose(self) -> None:
        if self._sampling is not None:
            self._sampling.cancel()
            self._sampling = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.run(steer_on_worker, "kill")  # no FFmpeg of ours outlives the coordinator
            with contextlib.suppress(Exception):
                await self.client.close()
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                await self.cluster.close()
        self.client = self.cluster = None

    # -- one segment ------------------------------------------------------------------------------------
    def _on_report(self, event: tuple[float, dict[str, Any]]) -> None:
        _, msg = event
        key, worker, address = msg.get("key", ""), str(msg.get("name", "?")), str(msg.get("address", ""))
        worker_id = str(msg.get("worker_id", address))
        report = self._reports.get(key)
        if report is None:
            return
        item = REPORTS.validate_python(msg["report"])
        if isinstance(item, PhaseReport):
            item = item.model_copy(update={"worker": f"{worker} ({address})"})
        if isinstance(item, PhaseReport) and item.phase == "searching" and item.attempt == 1:
            # A task that begins a second time was lost with its worker. Workers are told apart by Dask's id of
            # the worker process: one restarted on the same address (a fixed port) and name is another process.
            before = self._worker_of.get(key)  # (name, address, id)
            if before is not None and before[2] != worker_id:
                again = (
                    "the same worker, restarted" if before[:2] == (worker, address) else f"worker {worker}"
                )
                report(
                    ProblemReport(
                        stage="encoding",
                        attempt=1,
                        message=f"worker {before[0]} ({before[1]}) was lost mid-segment; the segment runs again"
                        f" on {again} ({address})",
                    )
                )
            self._worker_of[key] = (worker, address, worker_id)
        report(item)

    async def _run_remote(self, spec: SegmentSpec, workdir: Path, report: Report) -> SegmentOutcome:
        await self.open()
        piece = None if self.shared else Path(spec.segment.path)
        sent_at = time.monotonic()
        sends = 0
        while True:
            this_try = time.monotonic()
            answer = await self._submit(spec, piece, report)
            if answer is None:
                await self._reconnect()  # the scheduler was lost: the segment waits for it, then runs again
            elif answer.get("refused") and await self._leave_out(
                str(answer["address"]), str(answer["error"])
            ):
                continue  # that worker cannot do it: the segment goes to one that can
            elif "again" in answer and (sends := sends + 1) <= 3:
                report(
                    ProblemReport(
                        stage="encoding",
                        attempt=1,
                        message=f"{answer['again']} was lost mid-segment; the segment is sent again and runs"
                        " on the next worker free",
                    )
                )
            else:
                break
        if "again" in answer:
            raise ClusterError(
                f"segment {spec.segment.index}: the workers that took it were lost three times",
                subject=spec.source,
                hint="its finished segments are kept; retry the job when the cluster is steady",
            )
        if "error" in answer:
            raise DraptoError(answer["error"], subject=spec.source)
        workdir.mkdir(parents=True, exist_ok=True)
        encoded = workdir / ENCODED_NAME
        await asyncio.to_thread(encoded.write_bytes, answer["encoded"])
        outcome = SegmentOutcome.model_validate(answer["outcome"])
        return outcome.model_copy(
            update={
                "encoded": str(encoded),
                "worker": answer["worker"],
                "transfer_bytes": (piece.stat().st_size if piece else 0) + len(answer["encoded"]),
                "transfer_seconds": round(float(answer.get("send_seconds", 0.0)), 3),
                "check_seconds": round(float(answer.get("check_seconds", 0.0)), 3),
                "queued_seconds": round(float(answer.get("queued_seconds", 0.0)), 3),
                "lost_seconds": round(this_try - sent_at, 3),
            }
        )

    async def _submit(
        self, spec: SegmentSpec, piece_path: Path | None, report: Report
    ) -> dict[str, Any] | None:
        """One try of the segment as a Dask task: the worker's answer; None when the scheduler was lost before
        it came (Dask cancels every task of a client that loses its scheduler); {"again": ...} when the worker
        that held the segment's bytes was lost (they cannot be made again there: they are sent again).

        The bytes go to a worker directly (scattered), not inside the task, and the answer comes straight back:
        the scheduler never holds them, and Dask has no large graph to warn about on the user's terminal. They
        are read from the segment file only now and let go once sent (`_send`): a resend reads them again."""
        from distributed import Future

        key = f"drapto-{spec.job_id}-{spec.segment.index:05d}-{uuid.uuid4().hex[:8]}"
        client = self.client
        self._reports[key] = report
        rank = self.order(spec.job_id)
        priority = -int(rank[0]) * 1_000_000 - int(rank[1] if len(rank) > 1 else 0)
        capable = self._capable() if self._unable else None
        future: Future[Any] | None = None
        piece: Future[Any] | None = None
        try:
            sending = time.monotonic()
            waited = 0.0
            if piece_path is not None:
                piece, waited = await self._send(client, piece_path, capable)
            submitted = time.monotonic()
            future = client.submit(
                run_on_worker,
                spec.model_dump(mode="json"),
                piece,
                self.topic,
                key,
                key=key,
                priority=priority,
                pure=False,
                **({"workers": capable, "allow_other_workers": False} if capable is not None else {}),
            )
            answer: dict[str, Any] = await self._gather(client, future)
            answered = time.monotonic()
            answer["send_seconds"] = submitted - sending - waited
            answer["queued_seconds"] = (
                max(answered - submitted - float(answer.get("task_seconds", 0.0)), 0.0) + waited
            )
            return answer
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                if future is not None:
                    await future.cancel()
                await client.run(steer_on_worker, "kill", None, key)
            raise
        except (
            Exception
        ) as exc:  # the scheduler went away, a worker with the bytes, or Dask gave up on the task
            if self._scheduler_lost(client, exc):
                return None
            if piece is not None and piece.status != "finished":
                where = self._worker_of.get(key)
                return {
                    "again": f"worker {where[0]} ({where[1]})" if where else "the worker that held its bytes"
                }
            raise ClusterError(
                f"segment {spec.segment.index}: the Dask cluster did not return it ({type(exc).__name__}: {exc})",
                subject=spec.source,
                hint="its finished segments are kept; retry the job when the cluster is back",
            ) from None
        finally:
            self._reports.pop(key, None)
            self._worker_of.pop(key, None)
            if piece is not None:
                with contextlib.suppress(Exception):
                    piece.release()

    @staticmethod
    async def _gather(client: Any, future: Any) -> Any:
        """The task's answer (the encoded segment with it) straight from its worker when it can be reached, so
        the scheduler does not pass those bytes on either."""
        try:
            return await client.gather(future, direct=True)
        except OSError:
            return await client.gather(future, direct=False)

    async def _send(self, client: Any, path: Path, workers: list[str] | None) -> tuple[Any, float]:
        """The segment file onto a worker, and how long it waited for its turn (SENDS_AT_ONCE): read only now,
        its bytes let go as soon as they are sent."""
        asked = time.monotonic()
        async with self._sending:
            waited = time.monotonic() - asked
            data = await asyncio.to_thread(path.read_bytes)
            try:
                return await self._scatter(client, data, workers), waited
            finally:
                del data

    @staticmethod
    async def _scatter(client: Any, data: bytes, workers: list[str] | None) -> Any:
        """The segment's bytes onto a worker, straight from here when the workers can be reached (else through
        the scheduler, which then passes them on)."""
        try:
            return await client.scatter(data, direct=True, hash=False, workers=workers)
        except OSError:
            return await client.scatter(data, direct=False, hash=False, workers=workers)

    def _capable(self) -> list[str]:
        """The workers' addresses that have not refused a segment for want of an encoder or a filter."""
        return [address for address in self.workers or {} if address not in self._unable]

    async def _leave_out(self, address: str, line: str) -> bool:
        """A worker whose FFmpeg cannot do the work is left out, said once; True when another worker can take
        the segment (else its refusal fails it, as no worker here can encode it). Before it fails, the workers
        are looked at afresh: they are otherwise looked at once a second, and one that joined since (a cluster
        whose workers start together, the first of them unable) takes the segment."""
        if address not in self._unable:
            self._unable[address] = line
            self._say_cluster(f"{line}; its segments go to the other workers", waiting=False)
            self.slots = self._slots_now()
        if not self._capable():
            with contextlib.suppress(Exception):  # a scheduler away: the refusal stands
                await self._look_at_workers()
        return bool(self._capable())

    def _slots_now(self) -> int:
        """The capable workers' threads; when none is capable, every worker's: their refusals fail the segments
        in one line each rather than leave them waiting for a worker that may never come."""
        workers = self.workers or {}
        capable = [threads for address, (_, threads) in workers.items() if address not in self._unable]
        return sum(capable) if capable else sum(threads for _, threads in workers.values())

    def _scheduler_lost(self, client: Any, exc: Exception) -> bool:
        return (
            client is None
            or client is not self.client
            or client.status != "running"
            or "connection to the scheduler" in str(exc)
        )

    async def _reconnect(self) -> None:
        """Wait for the lost scheduler. The first segment to see the loss says it and reconnects; the others
        wait on the same reconnection."""
        if self._reconnecting is None or self._reconnecting.done():
            self._reconnecting = asyncio.ensure_future(self._reconnect_with_backoff())
        await asyncio.shield(self._reconnecting)

    async def _reconnect_with_backoff(self) -> None:
        where = self.scheduler_address or "the local cluster"
        self.waiting_for = f"waiting for the Dask scheduler at {where} (reconnecting)"
        self._say_cluster(
            f"the Dask scheduler at {where} was lost; the running segments wait and run again when it is back"
            " (reconnecting)",
            waiting=True,
        )
        delay, lost_at = 1.0, time.monotonic()
        while not self.closed:
            client = self.client
            for _ in range(20):  # Dask's own client tries to reconnect for a few seconds first
                if client is None or client.status != "connecting":
                    break
                await asyncio.sleep(0.5)
            if client is not None and client.status == "running":
                break
            await self._drop_client()
            try:
                await self.open()
                break
            except ClusterUnavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self.waiting_for = None
        self._say_cluster(
            f"the Dask scheduler at {where} is back after {time.monotonic() - lost_at:.0f} s; the waiting"
            " segments run again",
            waiting=False,
        )
        with contextlib.suppress(Exception):
            await self._look_at_workers()

    async def _drop_client(self) -> None:
        """Let go of a client whose scheduler is gone (its sampling too), so that open() makes a new one."""
        if self._sampling is not None:
            self._sampling.cancel()
            self._sampling = None
        client, self.client = self.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close(timeout=2)

    # -- steering the workers too ------------------------------------------------------------------------
    def _steer(self, action: str, job_id: str) -> None:
        if self.client is None:
            return
        task = asyncio.get_running_loop().create_task(self.client.run(steer_on_worker, action, job_id))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def pause_job(self, job_id: str) -> None:
        super().pause_job(job_id)
        self._steer("pause", job_id)

    def resume_job(self, job_id: str) -> None:
        super().resume_job(job_id)
        self._steer("resume", job_id)

    async def cancel_job(self, job_id: str) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.run(steer_on_worker, "kill", job_id)
        await super().cancel_job(job_id)


__all__ = ["ClusterUnavailable", "DaskExecutor", "run_on_worker", "steer_on_worker"]
