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
    t = _when
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


def _when(e: dict) -> float:
    return datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()


def film_parts(events: list[dict]) -> dict[str, float]:
    """A local encode's wall time in the parts the model needs, from its event log: what runs before the first
    segment (analysis, the keyframe index and cutting; the scene pass apart, with how many ranges it ran in),
    the segments' own time summed (slot-seconds: each from its first report to its completion), what runs after
    the last (join, mux, validation) and the slots they ran on. Audio is encoded while the segments are, so it
    is in no serial part."""
    start = _when(next((e for e in events if e["event"] == "analysis_started"), events[0]))
    steps = [
        (_when(e), e["data"].get("step") or "")
        for e in events
        if e["event"] == "stage_started" and e["data"].get("stage") == "segmenting"
    ]
    scene_at = next((t for t, step in steps if step.startswith("scene detection")), None)
    scene_step = next((step for _, step in steps if step.startswith("scene detection")), "")
    cut_at = next((t for t, step in steps if step.startswith("cutting")), None)
    encoding = next(e for e in events if e["event"] == "encoding_started")
    joined = next(
        _when(e)
        for e in events
        if e["event"] == "stage_started" and (e["data"].get("step") or "").startswith("joining")
    )
    scene = (cut_at - scene_at) if scene_at is not None and cut_at is not None else 0.0
    parts = int(scene_step.split("(")[1].split()[0]) if "parts at once" in scene_step else 1
    return {
        "before": _when(encoding) - start - scene,
        "scene": scene,
        "scene_parts": float(parts),
        "segments": sum(s for s, _, _ in segment_times(events)),
        "longest": max(s for s, _, _ in segment_times(events)),
        "segment_count": float(len(segment_times(events))),
        "slots": float(encoding["data"].get("parallel") or 1),
        "after": _when(events[-1]) - joined,
        "wall": _when(events[-1]) - start,
    }


def film_model(events_file: Path, hours: float) -> list[str]:
    """The N-machine model of a film from a local encode of it on this machine, and the same film scaled to
    `hours` (every part grows with the film's length; the segments stay the same size, so there are more).

    wall(N) = before + scene pass / (its ranges at once) + segments / (N × slots) + after: each machine like
    this one runs `slots` segments at once; the coordinator alone does what comes before and after. The
    serial fraction is what no added machine shortens."""
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.startswith("{")]
    p = film_parts(events)
    length = next(e["data"]["media"]["duration"] for e in events if e["event"] == "analysis_complete")
    scale = hours * 3600 / length

    durations = sorted((d for d, _, _ in segment_times(events)), reverse=True)

    def wall(n: int, k: float) -> float:
        """This film (k = 1): its own segments, longest first to the first free slot; k times as long: as
        many more segments, so the slots finish together."""
        slots = int(n * p["slots"])
        if k == 1:
            loads = [0.0] * slots
            for d in durations:
                loads[loads.index(min(loads))] += d
            share = max(loads)
        else:
            share = k * p["segments"] / slots
        return k * (p["before"] + p["scene"] + p["after"]) + share

    serial = p["before"] + p["scene"] + p["after"]
    lines = [
        f"Film: {length:.0f} s, {p['segment_count']:.0f} segments, encoded locally on {p['slots']:.0f} slots in"
        f" {p['wall']:.1f} s: before the segments {p['before']:.2f} s (analysis, keyframes, cutting) and the scene pass"
        f" {p['scene']:.2f} s ({p['scene_parts']:.0f} range{'s' if p['scene_parts'] > 1 else ''} at once);"
        f" the segments {p['segments']:.1f} slot-seconds (longest {p['longest']:.1f} s); after them {p['after']:.2f} s"
        " (join, mux, validation; audio was encoded while the segments were).",
        "",
        f"Serial part: {serial:.2f} s, {100 * serial / (serial + p['segments'] / p['slots']):.1f} % of the film's"
        " work on one machine.",
        "",
        "| N machines | " + " | ".join(str(n) for n in MODEL_N) + " |",
        "| --- | " + " | ".join("---" for _ in MODEL_N) + " |",
        "| this film: wall s | " + " | ".join(f"{wall(n, 1):.1f}" for n in MODEL_N) + " |",
        "| speed-up | " + " | ".join(f"{wall(1, 1) / wall(n, 1):.2f}" for n in MODEL_N) + " |",
        "| speed-up / N | " + " | ".join(f"{wall(1, 1) / wall(n, 1) / n:.2f}" for n in MODEL_N) + " |",
        f"| {hours:g} h of the same: wall s | " + " | ".join(f"{wall(n, scale):.0f}" for n in MODEL_N) + " |",
        "| speed-up | " + " | ".join(f"{wall(1, scale) / wall(n, scale):.2f}" for n in MODEL_N) + " |",
        "| speed-up / N | "
        + " | ".join(f"{wall(1, scale) / wall(n, scale) / n:.2f}" for n in MODEL_N)
        + " |",
    ]
    return lines


MODEL_N = (1, 2, 4, 8, 16)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--preset", type=int, default=8)
    parser.add_argument(
        "--film-events",
        type=Path,
        default=None,
        help="only the film model, from this local encode's `encode --json` event log",
    )
    parser.add_argument("--hours", type=float, default=2.0, help="the film model scaled to this length")
    args = parser.parse_args()
    if args.film_events is not None:
        print("\n".join(film_model(args.film_events, args.hours)))
        return
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
