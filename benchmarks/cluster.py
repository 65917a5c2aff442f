"""The Dask executor against the local one, on this machine, and a model of the speed-up on N machines.

    python3 dev.py bench cluster [--seconds 60] [--preset 8]

One clip (benchmarks/run.py's: real footage between synthetic scenes, 1280x720), encoded at the default
quality settings three ways, each timed whole: the local executor; Dask with 1 worker process; Dask with 2 (a
LocalCluster started by drapto-tui, one thread each: segments travel as bytes, nothing shared). From the Dask
runs' events: each segment's work on its worker, its transfer bytes and the round trip's time beyond the work.

The model: wall(N) = F + makespan(N), with F the coordinator's own time (analysis, segmenting, the join, audio,
mux, validation, and here the local cluster's start: the 1-worker run's wall less its segments' time) and
makespan(N) the time N workers, each a machine like this one running one segment at a time, take for the
measured segment times (work + transfer), given out longest first to whichever worker is free first: so the
film's last segments leaving machines idle is counted. It assumes the network moves data at this machine's
local transfer rate, stated beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import build_real_footage_clip, sh  # noqa: E402


def run(clip: Path, work: Path, preset: int, *extra: str) -> tuple[float, list[dict]]:
    shutil.rmtree(work, ignore_errors=True)
    args = [
        *(sys.executable, "-m", "drapto_tui", "encode", "--json", str(clip), "-o", str(work / "out")),
        *(
            "--set",
            f"processing.temp_dir={json.dumps(str(work / 'tmp'))}",
            "--set",
            f"encoding.preset={preset}",
        ),
        *("--set", 'search.if_too_big="encode"'),
    ]
    for kv in extra:
        args += ["--set", kv]
    started = time.perf_counter()
    proc = sh(args, cwd=ROOT)
    return time.perf_counter() - started, [json.loads(line) for line in proc.stdout.splitlines()]


def segment_times(events: list[dict]) -> list[tuple[float, int, float]]:
    """(seconds from the segment's first report to its completion, transfer bytes, seconds around the work:
    sending its bytes, the worker's FFmpeg check, waiting in Dask, tries lost)."""

    def t(e: dict) -> float:
        return datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()

    first: dict[int, float] = {}
    out = []
    for e in events:
        seg = e["data"].get("segment") if isinstance(e.get("data"), dict) else None
        if e["event"] == "segment_started" and seg is not None:
            first.setdefault(seg, t(e))
        if e["event"] == "segment_complete":
            d = e["data"]
            around = sum(
                d.get(k) or 0.0
                for k in ("transfer_seconds", "check_seconds", "queued_seconds", "lost_seconds")
            )
            out.append((t(e) - first[seg], d.get("transfer_bytes") or 0, around))
    return out


def overheads(events: list[dict]) -> dict[str, float]:
    """Each part of the time around the segments' work, summed over the film (SegmentComplete's fields)."""
    parts = ("transfer_seconds", "check_seconds", "queued_seconds", "lost_seconds")
    done = [e["data"] for e in events if e["event"] == "segment_complete"]
    return {p.removesuffix("_seconds"): sum(d.get(p) or 0.0 for d in done) for p in parts}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--preset", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drapto-bench-cluster-") as tmpdir:
        tmp = Path(tmpdir)
        clip = build_real_footage_clip(tmp / "clip.mkv", args.seconds)
        local, _ = run(clip, tmp / "local", args.preset)
        one, one_events = run(
            clip, tmp / "dask1", args.preset, 'execution.backend="dask-local"', "execution.workers=1"
        )
        two, _ = run(
            clip, tmp / "dask2", args.preset, 'execution.backend="dask-local"', "execution.workers=2"
        )
    segs = segment_times(one_events)
    busy = sum(s for s, _, _ in segs)
    work = busy - sum(x for _, _, x in segs)
    moved = sum(b for _, b, _ in segs)
    transfer = sum(x for _, _, x in segs)
    fixed = one - busy
    durations = sorted((s for s, _, _ in segs), reverse=True)

    def makespan(n: int) -> float:
        loads = [0.0] * n
        for d in durations:
            loads[loads.index(min(loads))] += d
        return max(loads)

    lines = [
        f"Machine: {os.cpu_count()} cores. Clip: {args.seconds} s, 1280x720, preset {args.preset}, target VMAF 93.",
        f"Command: python3 dev.py bench cluster {' '.join(sys.argv[1:])}".rstrip(),
        "",
        "| Executor | Wall s | vs local |",
        "| --- | --- | --- |",
        f"| local (this machine's slots) | {local:.1f} | 1.00 |",
        f"| Dask, 1 worker process (LocalCluster) | {one:.1f} | {one / local:.2f} |",
        f"| Dask, 2 worker processes, one thread each | {two:.1f} | {two / local:.2f} |",
        "",
        f"Per segment, from the 1-worker run ({len(segs)} segments): work {work / len(segs):.2f} s, transfer"
        f" {moved / len(segs) / 2**20:.2f} MiB ({moved / 2**20:.1f} MiB in all) in {transfer / len(segs):.3f} s beyond"
        f" the work; the coordinator's own time F = {fixed:.1f} s.",
        "",
        "Around the work, summed over the segments (s): "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in overheads(one_events).items())
        + " (sending the bytes, the worker's FFmpeg check, waiting in Dask with the answer's way back, tries lost).",
        "",
        "Segment times (work + transfer, s): " + ", ".join(f"{d:.1f}" for d in durations) + ".",
        "",
        "Model, N machines like this one, one worker each: wall(N) = F + makespan(N) (longest segment first)",
        "",
        "| N | 1 | 2 | 4 | 8 | 16 |",
        "| --- | --- | --- | --- | --- | --- |",
        "| predicted wall s | " + " | ".join(f"{fixed + busy / n:.1f}" for n in (1, 2, 4, 8, 16)) + " |",
        "| speed-up vs 1 | "
        + " | ".join(f"{(fixed + busy) / (fixed + makespan(n)):.2f}" for n in (1, 2, 4, 8, 16))
        + " |",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
