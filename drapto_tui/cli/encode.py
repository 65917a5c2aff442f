"""The headless `encode` command: the same pipeline as the app, reported as rich progress or JSON lines.

On a terminal: a rich progress bar per running file (stage, segments n/N, fps, ETA) and a summary table at the
end.
With --json: one event per line on stdout and nothing else there (errors still go to stderr as one line).
Exit codes: 0 all done, skipped or kept (AV1 would not save enough), 1 any job failed, 130 interrupted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.table import Table

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.engine.bus import Subscription
from drapto_tui.engine.engine import ENDED, Engine
from drapto_tui.engine.eta import EtaTracker, fmt_eta
from drapto_tui.engine.fold import StateManager
from drapto_tui.errors import DraptoError
from drapto_tui.media.metrics import metric_named
from drapto_tui.model.events import (
    AnalysisStarted,
    EncodingComplete,
    EncodingStarted,
    ErrorOccurred,
    Event,
    Notice,
    ProcessingStatus,
    SegmentComplete,
    SegmentProgress,
    SegmentStarted,
    StageStarted,
)
from drapto_tui.service.client import ServiceClient, ServiceUnavailable
from drapto_tui.service.protocol import ServiceCalls

#: run_encode's code for Ctrl-C while following a service's jobs: exit 130, the work goes on (said already).
DETACHED = -130


class TerminalReport:
    """Events as rich progress: one bar per running film (stage, segments n/N, fps, ETA) over notes and errors,
    and a closing table. Progress and ETA are read from the folded job state (engine/eta.py), as the app does."""

    def __init__(self, state: StateManager) -> None:
        self.state = state
        self.console = Console(emoji=False)  # a film named "a:v:b.mkv" is not an emoji
        self.etas = EtaTracker()
        self.progress = Progress(
            TextColumn("{task.description}"),
            TextColumn("{task.fields[stage]}"),
            BarColumn(bar_width=20),
            TaskProgressColumn(),
            TextColumn("{task.fields[segments]}"),
            TextColumn("{task.fields[fps]}"),
            TextColumn("{task.fields[eta]}"),
            console=self.console,
            transient=True,
            refresh_per_second=4,
        )
        self.bars: dict[str, TaskID] = {}
        self.names: dict[str, str] = {}
        self.stages: dict[str, str] = {}
        self.fps: dict[str, dict[int, float]] = {}
        self.finished: list[tuple[str, EncodingComplete | str]] = []  # a summary, or why the film failed

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def handle(self, event: Event) -> None:
        if event.job_id is None:
            return
        job_id = event.job_id
        name = self.names.setdefault(job_id, Path(event.file or "?").name)
        data = event.data
        if isinstance(data, AnalysisStarted):
            self.stages[job_id] = "analysing"
        elif isinstance(data, StageStarted):
            self.stages[job_id] = data.step or data.stage
            if data.note:
                self.console.print(f"[dim]{name}: {escape(data.note)}[/dim]", highlight=False)
        elif isinstance(data, EncodingStarted):
            self.stages[job_id] = "encoding"
        elif isinstance(data, SegmentStarted):
            self.stages[job_id] = f"{data.phase} (attempt {data.attempt})"
        elif isinstance(data, SegmentProgress):
            self.fps.setdefault(job_id, {})[data.segment] = data.fps
        elif isinstance(data, SegmentComplete):
            self.fps.get(job_id, {}).pop(data.segment, None)
        elif isinstance(data, ErrorOccurred):
            style = "bold red" if data.fatal else "yellow"
            self.console.print(f"[{style}]{name}: {escape(data.message)}[/{style}]", highlight=False)
            if data.fatal:
                self.stages[job_id] = "failed"
                self.finished.append((name, data.message))
        elif isinstance(data, Notice):
            self.console.print(f"[dim]{name}: {escape(data.message)}[/dim]", highlight=False)
        elif isinstance(data, EncodingComplete):
            self.stages[job_id] = "skipped" if data.skipped else "done"
            self.finished.append((name, data))
            if data.skipped:
                what = "source kept" if data.kept_source else "skipped"
                self.console.print(
                    f"[yellow]{name}: {what} — {escape(data.reason or '')}[/yellow]", highlight=False
                )
            elif data.replaced is not None:
                self.console.print(
                    f"{name}: replaced in place by {escape(data.output)}; the original is kept in"
                    f" {escape(data.original_kept or '')} (drapto-tui restore puts it back)",
                    highlight=False,
                )
        self._refresh(job_id)

    def _refresh(self, job_id: str) -> None:
        job = self.state.jobs.get(job_id)
        stage = self.stages.get(job_id, "queued")
        bar = self.bars.get(job_id)
        if job is None or stage in ("done", "failed", "skipped"):
            if bar is not None:
                self.progress.remove_task(bar)
                del self.bars[job_id]
            return
        done = len(job.done_segments())
        segments = f"segments {done}/{len(job.segments)}" if job.segments else ""
        fps = f"{sum(self.fps[job_id].values()):.1f} fps" if self.fps.get(job_id) else ""
        eta = self.etas.eta(job)
        left = f"ETA {fmt_eta(eta)}" if eta is not None else ""
        if bar is None:
            bar = self.bars[job_id] = self.progress.add_task(
                self.names[job_id], total=1.0, stage="", segments="", fps="", eta=""
            )
        self.progress.update(
            bar, completed=job.shown_progress() or 0.0, stage=stage, segments=segments, fps=fps, eta=left
        )

    def print_summary(self) -> None:
        table = Table(title="drapto-tui summary", expand=False)
        for col in ("File", "Path", "Size in → out", "Time", "CRF", "Score min/film/max"):
            table.add_column(col, overflow="fold")
        for name, s in self.finished:
            if isinstance(s, str) or s.skipped:
                what = "[red]failed[/red]" if isinstance(s, str) else "kept" if s.kept_source else "skipped"
                table.add_row(name, what, "", "", "", "")
                continue
            crf = ""
            if s.crf_min is not None and s.crf_max is not None:
                crf = f"{s.crf_min:g}" if s.crf_min == s.crf_max else f"{s.crf_min:g}–{s.crf_max:g}"
            score = ""
            if s.score_min is not None and s.score_file is not None and s.score_max is not None:
                metric = metric_named(s.metric) if s.metric else None
                label, unit = (metric.label, metric.unit) if metric else ("", "")
                score = f"{label} {s.score_min:.2f} / {s.score_file:.2f} / {s.score_max:.2f}{unit}"
            path = {"dolby_vision": "DV direct", "chunked": "chunked"}.get(s.encoding_path or "", "")
            if s.hdr and s.hdr != "SDR":
                path += f", {s.hdr}"
            size = f"{human_size(s.input_bytes or 0)} → {human_size(s.output_bytes or 0)}"
            change = s.reduction_percent or 0.0
            size += f" (−{change:.0f}%)" if change >= 0 else f" (+{-change:.0f}%)"
            table.add_row(name, path, size, f"{s.wall_seconds or 0:.1f}s {s.fps or 0:.0f}fps", crf, score)
        self.console.print(table)
        for name, s in self.finished:  # what the output does not carry as the source had it: never silent
            if isinstance(s, str):
                continue
            for line in ([s.damaged] if s.damaged else []) + list(s.changes):
                self.console.print(f"[yellow]{escape(name)}: {escape(line)}[/yellow]", highlight=False)


async def _pump(sub: Subscription, handle) -> None:
    async for event in sub:
        handle(event)


async def _end_output(
    sub: Subscription, handle, pump: asyncio.Task[None], report: TerminalReport | None
) -> None:
    """Hand over the events still queued, then stop the pump and the progress bars."""
    await asyncio.sleep(0)
    for event in sub.drain():
        handle(event)
    pump.cancel()
    if report is not None:
        report.stop()


async def run_encode(
    config: DraptoConfig,
    paths: list[Path],
    *,
    as_json: bool,
    overwrite: bool,
    resume: bool = False,
    interrupt: asyncio.Event | None = None,
    replace: bool = False,
) -> int:
    interrupt = interrupt or asyncio.Event()
    try:
        client = await ServiceClient.connect(config, client="encode")
    except ServiceUnavailable:
        client = None
    if client is not None:  # a service owns the queue: add the jobs to it and follow them there
        try:
            return await _encode_on_service(
                client,
                paths,
                config.output_root(),
                as_json=as_json,
                overwrite=overwrite,
                resume=resume,
                interrupt=interrupt,
                replace=replace,
            )
        finally:
            await client.close()
    async with Engine(config) as engine:
        await engine.pipeline.ffmpeg()  # a missing encoder stops everything before any work, in one line
        if config.encoding.search_backend == "ab-av1":
            from drapto_tui.quality.ab_av1 import find_ab_av1

            find_ab_av1(config.tools.ab_av1)
        report = None if as_json else TerminalReport(engine.state)

        handle = _printer(report)
        out_sub = engine.bus.subscribe("headless-output")
        pump = asyncio.create_task(_pump(out_sub, handle))
        if report is not None:
            report.start()
        interrupted = False
        try:
            if resume:
                engine.retry_outside_failures()  # a full disk, a cluster gone: not the film's fault
            job_ids, refused = engine.encode_each(paths, _film_options(overwrite, replace))
            _say_refused([err.line() for err in refused])
            if refused and not job_ids:
                return 1
            await engine.start(only=None if resume else job_ids, preanalyse=False)
            idle = asyncio.create_task(engine.run_until_idle())
            stop = asyncio.create_task(interrupt.wait())
            await asyncio.wait({idle, stop}, return_when=asyncio.FIRST_COMPLETED)
            interrupted = stop.done()
            for task in (idle, stop):
                task.cancel()
            if not interrupted:  # a hook that fails or runs too long is a warning here, not only in the log
                await engine.wait_for_hooks()
            await engine.stop(now=interrupted)
        finally:
            await _end_output(out_sub, handle, pump, report)
        if report is not None:
            report.print_summary()
        if interrupted:
            return 130
        ran = job_ids if not resume else set(engine.scheduler.results)
        unfinished = [
            j
            for j in ran
            if engine.state.jobs.get(j) is None
            or engine.state.jobs[j].status not in (ProcessingStatus.COMPLETED, ProcessingStatus.KEPT)
        ]
        return 1 if unfinished or refused else 0


def _say_refused(lines: list[str]) -> None:
    """One line per path that could not be queued; the others are encoded (and the exit is 1)."""
    for line in lines:
        print(f"drapto-tui: {line}", file=sys.stderr, flush=True)


def _printer(report: TerminalReport | None):
    def to_stdout(event: Event) -> None:
        sys.stdout.write(event.to_json() + "\n")
        sys.stdout.flush()
        if isinstance(event.data, ErrorOccurred) and event.data.fatal:
            # A script reading only stderr (or a person watching it) still sees why a film failed.
            print(f"drapto-tui: {event.data.message}", file=sys.stderr, flush=True)

    return to_stdout if report is None else report.handle


async def _encode_on_service(
    client: ServiceClient,
    paths: list[Path],
    output_dir: Path,
    *,
    as_json: bool,
    overwrite: bool,
    resume: bool,
    interrupt: asyncio.Event,
    replace: bool = False,
) -> int:
    """The same output and exit codes as a foreground encode, for jobs the service runs. Ctrl-C (or a dropped
    terminal) detaches: the service goes on with the jobs."""
    report = None if as_json else TerminalReport(client.state)
    handle = _printer(report)
    ours: set[str] | None = None  # known once the service answers; events before that wait in `early`
    early: list[Event] = []

    def follow(event: Event) -> None:
        if ours is None:
            early.append(event)
        elif event.job_id in ours:
            handle(event)

    sub = client.bus.subscribe("encode-output")
    pump = asyncio.create_task(_pump(sub, follow))
    if report is not None:
        report.start()
    interrupted = False
    try:
        ids: set[str] = set()
        refused: list[str] = []
        if paths:
            wanted = [p.expanduser().absolute() for p in paths]
            answer = await client.call(
                ServiceCalls.encode_paths,
                paths=wanted,
                # This command's output folder (its -o or config), not the one the service was started with.
                options=_film_options(overwrite, replace) | {"output_dir": str(output_dir.resolve())},
            )
            ids, refused = set(answer["ids"]), list(answer["errors"])
            _say_refused(refused)
            if refused and not ids:
                return 1
        if resume:
            ids |= set(await client.call(ServiceCalls.retry_outside_failures))  # a full disk, a cluster gone
            waiting = (ProcessingStatus.QUEUED, ProcessingStatus.RUNNING, ProcessingStatus.PAUSED)
            ids |= {job.job_id for job in client.jobs() if job.status in waiting}
        await asyncio.sleep(0)  # let the pump hand over what arrived with the answer
        ours = ids
        for event in early:
            follow(event)
        if client.paused_all or not client.launching:
            print(
                "drapto-tui: the service is paused or finishing its running jobs; these jobs wait (P in the"
                " app resumes)",
                file=sys.stderr,
                flush=True,
            )

        def ended() -> bool:
            jobs = [client.state.jobs.get(j) for j in ours or ()]
            return all(j is not None and j.status in ENDED for j in jobs)

        while not ended() and not client.lost and not interrupt.is_set():
            await asyncio.sleep(0.1)
        # The service runs each ended job's hook: wait for ours, so that a hook's failure is shown here too.
        deadline = time.monotonic() + client.config.hooks.timeout + 5
        while not client.lost and not interrupt.is_set() and time.monotonic() < deadline:
            try:
                running = set(await client.call(ServiceCalls.hooks_running))
            except DraptoError:
                break
            if not running & (ours or set()):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.05)  # the warning's event travels ahead of the reply; let the pump hand it over
        interrupted = interrupt.is_set()
    finally:
        await _end_output(sub, follow, pump, report)
    if report is not None:
        report.print_summary()
    if interrupted:
        print(
            f"drapto-tui: detached; the service (pid {client.service_pid}) goes on with these jobs —"
            " drapto-tui queue lists them, drapto-tui opens the app",
            file=sys.stderr,
        )
        return DETACHED
    if client.lost:
        print("drapto-tui: the service went away; run the same command again to continue", file=sys.stderr)
        return 1
    done = (ProcessingStatus.COMPLETED, ProcessingStatus.KEPT)
    return 0 if all(client.state.jobs[j].status in done for j in ours or ()) and not refused else 1


def _end_children(loop: asyncio.AbstractEventLoop, timeout: float = 3.0) -> None:
    """No FFmpeg outlives the command: any child still running is killed (its process group: FFmpegs run in
    their own sessions) and reaped while the loop that watches it is still open."""
    children = psutil.Process().children()
    for child in children:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(c.is_running() for c in children) and time.monotonic() < deadline:
        loop.run_until_complete(asyncio.sleep(0.05))
    # A subprocess transport nothing refers to any more closes itself when collected; collected after the loop
    # closed, it fails noisily ("Event loop is closed"). Collect now, and let the closes run, while it is open.
    gc.collect()
    loop.run_until_complete(asyncio.sleep(0.05))


def _film_options(overwrite: bool, replace: bool) -> dict[str, Any]:
    """The options this command gives its films (--replace: in place, library mode)."""
    return {"overwrite": overwrite} | ({"replace": True} if replace else {})


def encode_command(
    config: DraptoConfig,
    paths: list[Path],
    *,
    as_json: bool,
    overwrite: bool,
    resume: bool = False,
    replace: bool = False,
) -> int:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP (the SSH link dropped) stop the encodes at once, checkpoint the
    queue and exit 130; the same command (or `encode --resume`) continues where it stopped."""
    loop = asyncio.new_event_loop()
    interrupt = asyncio.Event()
    task = loop.create_task(
        run_encode(
            config,
            paths,
            as_json=as_json,
            overwrite=overwrite,
            resume=resume,
            interrupt=interrupt,
            replace=replace,
        )
    )
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, interrupt.set)
    try:
        code = loop.run_until_complete(task)
        # An FFmpeg ended by a cancel finishes dying in a task of its own (SIGTERM, then SIGKILL after a grace):
        # let those end before the loop closes, so no process or pipe outlives it.
        leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if leftover:
            loop.run_until_complete(asyncio.wait(leftover, timeout=5))
        _end_children(loop)
    finally:
        loop.close()
    if code == DETACHED:
        return 130
    if code == 130:
        print(
            "drapto-tui: interrupted; finished segments are kept — run the same command (or encode --resume)"
            " to continue",
            file=sys.stderr,
        )
    return code


__all__ = ["encode_command"]
