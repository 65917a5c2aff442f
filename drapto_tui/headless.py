"""The headless `encode` command: the same pipeline as the app, reported as rich progress or JSON lines.

On a terminal: one live line per running file (stage, segments n/N, fps, ETA) and a summary table at the end.
With --json: one event per line on stdout and nothing else there (errors still go to stderr as one line).
Exit codes: 0 all done or skipped, 1 any job failed, 130 interrupted.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from drapto_tui.analysis import discover_files
from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.events import Event, ProcessingEvents, ProcessingStatus, Subscription
from drapto_tui.session import Session


class TerminalReport:
    """Turns events into a live status line per file and a closing table (rich, stderr-safe)."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=False)
        self.lines: dict[str, dict[str, Any]] = {}
        self.summaries: list[dict[str, Any]] = []
        self.live = None

    def start(self) -> None:
        from rich.live import Live

        self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()

    def handle(self, event: Event) -> None:
        if event.job_id is None:
            return
        line = self.lines.setdefault(event.job_id, {"file": Path(event.file or "?").name, "stage": "queued",
                                                    "done": 0, "total": 0, "fps": 0.0, "frames": {},
                                                    "partial": {}, "started": None})
        kind = event.event
        data = event.data
        if kind == ProcessingEvents.ANALYSIS_STARTED:
            line["stage"] = "analysing"
        elif kind == ProcessingEvents.STAGE_STARTED:
            line["stage"] = data.get("step") or data.get("stage", line["stage"])
            if data.get("note"):
                self.console.print(f"[dim]{line['file']}: {data['note']}[/dim]")
        elif kind == ProcessingEvents.ENCODING_STARTED:
            line["stage"] = "encoding"
            line["total"] = len(data.get("segments", []))
            line["frames"] = {s["index"]: s.get("frames") or 0 for s in data.get("segments", [])}
            line["started"] = event.timestamp
        elif kind == ProcessingEvents.SEGMENT_STARTED:
            line["stage"] = f"{data.get('phase', 'encoding')} (attempt {data.get('attempt', 1)})"
        elif kind == ProcessingEvents.SEGMENT_PROGRESS:
            line["partial"][data.get("segment")] = data.get("progress") or 0.0
        elif kind == ProcessingEvents.SEGMENT_COMPLETE:
            line["done"] += 1
            line["partial"][data.get("segment")] = 1.0
        elif kind == ProcessingEvents.ERROR_OCCURRED:
            style = "bold red" if data.get("fatal") else "yellow"
            self.console.print(f"[{style}]{line['file']}: {data.get('message', 'error')}[/{style}]", markup=True,
                               highlight=False)
            if data.get("fatal"):
                line["stage"] = "failed"
                self.summaries.append({"file": line["file"], "failed": data.get("message")})
        elif kind == ProcessingEvents.ENCODING_COMPLETE:
            line["stage"] = "skipped" if data.get("skipped") else "done"
            self.summaries.append({"file": line["file"], **data})
            if data.get("skipped"):
                self.console.print(f"[yellow]{line['file']}: skipped — {data.get('reason')}[/yellow]")
        if self.live is not None:
            self.live.update(self._render())

    def _render(self):  # noqa: ANN202
        from rich.table import Table

        from datetime import UTC, datetime

        table = Table.grid(padding=(0, 2))
        for line in self.lines.values():
            if line["stage"] in ("done", "failed", "skipped"):
                continue
            segs = f"segments {line['done']}/{line['total']}" if line["total"] else ""
            total = sum(line["frames"].values())
            done = sum(n * line["partial"].get(i, 0.0) for i, n in line["frames"].items())
            pct = fps = eta = ""
            if total and line["started"] is not None:
                elapsed = (datetime.now(UTC) - line["started"]).total_seconds()
                pct = f"{100 * done / total:.0f}%"
                if done and elapsed > 0:
                    rate = done / elapsed
                    fps = f"{rate:.1f} fps"
                    left = (total - done) / rate
                    eta = f"ETA {int(left // 60)}:{int(left % 60):02d}"
            table.add_row(line["file"], line["stage"], segs, pct, fps, eta)
        return table

    def print_summary(self) -> None:
        from rich.table import Table

        table = Table(title="drapto-tui summary", expand=False)
        for col in ("File", "Path", "Size in → out", "Time", "CRF", "VMAF min/mean/max"):
            table.add_column(col, overflow="fold")
        for s in self.summaries:
            if "failed" in s or s.get("skipped"):
                table.add_row(s["file"], "[red]failed[/red]" if "failed" in s else "skipped", "", "", "", "")
                continue
            crf = ""
            if s.get("crf_min") is not None:
                crf = f"{s['crf_min']:g}" if s["crf_min"] == s["crf_max"] else f"{s['crf_min']:g}–{s['crf_max']:g}"
            vmaf = ""
            if s.get("vmaf_min") is not None:
                vmaf = f"{s['vmaf_min']:.2f} / {s['vmaf_file']:.2f} / {s['vmaf_max']:.2f}"
            path = {"dolby_vision": "DV direct", "chunked": "chunked"}.get(s.get("encoding_path", ""), "")
            table.add_row(
                s["file"], path,
                f"{human_size(s['input_bytes'])} → {human_size(s['output_bytes'])} (−{s['reduction_percent']:.0f}%)"
                if s["reduction_percent"] >= 0 else
                f"{human_size(s['input_bytes'])} → {human_size(s['output_bytes'])} (+{-s['reduction_percent']:.0f}%)",
                f"{s['wall_seconds']:.1f}s {s['fps']:.0f}fps", crf, vmaf,
            )
        self.console.print(table)


async def _pump(sub: Subscription, handle) -> None:  # noqa: ANN001
    async for event in sub:
        handle(event)


async def run_encode(config: DraptoConfig, paths: list[Path], *, as_json: bool, overwrite: bool,
                     resume: bool = False, interrupt: asyncio.Event | None = None) -> int:
    from drapto_tui.queue import JobQueue
    from drapto_tui.worker import WorkerPool

    interrupt = interrupt or asyncio.Event()
    async with Session(config) as session:
        queue = JobQueue(config, session.state, session.bus, session.temp)
        pool = WorkerPool(config, session.state, session.bus, queue=queue, temp=session.temp)
        await pool.pipeline.ffmpeg()  # a missing encoder stops everything before any work, in one line
        if config.encoding.search_backend == "ab-av1":
            from drapto_tui.strategies.ab_av1 import find_ab_av1

            find_ab_av1(config.tools.ab_av1)
        report = None if as_json else TerminalReport()

        def to_stdout(event: Event) -> None:
            sys.stdout.write(event.to_json() + "\n")
            sys.stdout.flush()
            if event.event == ProcessingEvents.ERROR_OCCURRED and event.data.get("fatal"):
                # A script reading only stderr (or a person watching it) still sees why a film failed.
                print(f"drapto-tui: {event.data.get('message', 'error')}", file=sys.stderr, flush=True)

        handle = to_stdout if as_json else report.handle  # type: ignore[union-attr]
        out_sub = session.bus.subscribe("headless-output")
        pump = asyncio.create_task(_pump(out_sub, handle))
        if report is not None:
            report.start()
        interrupted = False
        try:
            files = discover_files(paths, config.input, session.bus) if paths else []
            job_ids = {queue.find_or_add(f, {"overwrite": overwrite}, root) for f, root in files}
            pool.only = None if resume else job_ids
            pool.start()
            idle = asyncio.create_task(pool.run_until_idle())
            stop = asyncio.create_task(interrupt.wait())
            await asyncio.wait({idle, stop}, return_when=asyncio.FIRST_COMPLETED)
            interrupted = stop.done()
            for task in (idle, stop):
                task.cancel()
            await pool.stop(now=interrupted)
        finally:
            await asyncio.sleep(0)
            for event in out_sub.drain():
                handle(event)
            pump.cancel()
            if report is not None:
                report.stop()
        if report is not None:
            report.print_summary()
        if interrupted:
            return 130
        ran = job_ids if not resume else set(pool.results)
        unfinished = [j for j in ran if session.state.jobs.get(j) is None
                      or session.state.jobs[j].status != ProcessingStatus.COMPLETED]
        return 1 if unfinished else 0


def encode_command(config: DraptoConfig, paths: list[Path], *, as_json: bool, overwrite: bool,
                   resume: bool = False) -> int:
    """SIGINT (Ctrl-C), SIGTERM and SIGHUP (the SSH link dropped) stop the encodes at once, checkpoint the
    queue and exit 130; the same command (or `encode --resume`) continues where it stopped."""
    loop = asyncio.new_event_loop()
    interrupt = asyncio.Event()
    task = loop.create_task(run_encode(config, paths, as_json=as_json, overwrite=overwrite, resume=resume,
                                       interrupt=interrupt))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, interrupt.set)
    try:
        code = loop.run_until_complete(task)
    finally:
        loop.close()
    if code == 130:
        print("drapto-tui: interrupted; finished segments are kept — run the same command (or encode --resume)"
              " to continue", file=sys.stderr)
    return code


__all__ = ["encode_command"]
