"""Run `drapto-tui encode --json` as a user would and check what every fault case must hold."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from drapto_tui.model.events import Event, ProcessingEvents

E = ProcessingEvents
FAST = [
    "encoding.preset=12",
    "search.n_subsample=2",
    "resources.temp_free_floor=0",
    "resources.memory_floor=0",
    'processing.segmentation="fixed"',
    "processing.chunk_size=2",
    "processing.min_segment=1",
    "search.samples=1",
    "search.sample_duration=1",
    "processing.parallel_jobs=1",
    "search.max_encoded_percent=1000",
]


@dataclass
class Run:
    code: int
    events: list[Event]
    stderr: str

    def fatal(self) -> list[Event]:
        return [e for e in self.events if e.event == E.ERROR_OCCURRED and e.data.fatal]

    def completed(self) -> list[Event]:
        return [e for e in self.events if e.event == E.ENCODING_COMPLETE]


def args_for(tmp: Path, *paths: Path, extra: tuple[str, ...] = (), out: Path | None = None) -> list[str]:
    args = [
        sys.executable,
        "-m",
        "drapto_tui",
        "encode",
        "--json",
        "-o",
        str(out or tmp / "out"),
        "--set",
        f'processing.temp_dir="{tmp / "work"}"',
    ]
    for kv in (*FAST, *extra):
        args += ["--set", kv]
    return [*args, *[str(p) for p in paths]]


def encode(
    tmp: Path, *paths: Path, extra: tuple[str, ...] = (), out: Path | None = None, timeout: float = 300
) -> Run:
    proc = subprocess.run(
        args_for(tmp, *paths, extra=extra, out=out), capture_output=True, text=True, timeout=timeout
    )
    events = [Event.from_json(line) for line in proc.stdout.splitlines()]  # stdout holds JSON events only
    return Run(proc.returncode, events, proc.stderr)


def one_line(stderr: str) -> str:
    """The single line a refusal must be: no traceback, nothing else."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def queue_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`drapto-tui queue ARGS` on the queue `encode` above keeps (the same temp dir)."""
    command = [
        sys.executable,
        "-m",
        "drapto_tui",
        "queue",
        "--set",
        f'processing.temp_dir="{tmp / "work"}"',
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def fingerprint(paths: list[Path]) -> dict[str, tuple[int, int, bytes]]:
    """Bytes and mtime of each source: a fault must leave them exactly as they were."""
    out = {}
    for p in paths:
        st = p.stat()
        out[str(p)] = (st.st_mtime_ns, st.st_size, p.read_bytes())
    return out


def stray_ffmpeg(tmp: Path) -> list[str]:
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = p.info["cmdline"] or []
            if "ffmpeg" in (p.info["name"] or "") and any(str(tmp) in a for a in cmd):
                found.append(" ".join(cmd))
        except psutil.Error:
            continue
    return found


def assert_fault_handled(run: Run, tmp: Path, bad: Path, good: Path, cause: str, before: dict) -> None:
    """The common contract: one clear line naming the file and cause, the other job finishes, sources untouched,
    nothing at the failed job's output path, no FFmpeg left behind."""
    fatal = [e for e in run.fatal() if e.file == str(bad)]
    assert len(fatal) == 1, [e.data for e in run.fatal()]
    line = fatal[0].data.message
    assert "\n" not in line and str(bad) in line and cause in line, line
    assert run.code == 1
    assert [e.file for e in run.completed()] == [str(good)]
    out_dir = tmp / "out"
    assert (out_dir / f"{good.stem}.mkv").exists()
    assert not (out_dir / f"{bad.stem}.mkv").exists()
    assert not [p for p in out_dir.iterdir() if "partial" in p.name]
    assert fingerprint([bad, good]) == before
    assert not stray_ffmpeg(tmp)


__all__ = ["E", "Run", "assert_fault_handled", "encode", "fingerprint", "os", "stray_ffmpeg"]
