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
    """A local encode's wall time in the parts the model needs, from its event log: `before`, what runs before
    the first segment can start (analysis, keyframes, and the scene pass and cutting of the whole film, or of
    its first range when it is cut range by range); `cut_done`, when the last segment was cut; the segments'
    own time summed (slot-seconds: each from its first report to its completion); `after`, what runs after the
    last (join, mux, validation), and the slots they ran on. Audio is encoded while the segments are, so it is
    in no serial part."""
    start = _when(next((e for e in events if e["event"] == "analysis_started"), events[0]))
    scene_step = next(
        (
            e["data"].get("step") or ""
            for e in events
            if e["event"] == "stage_started" and (e["data"].get("step") or "").startswith("scene detection")
        ),
        "",
    )
    batches = [e for e in events if e["event"] == "encoding_started"]
    joined = next(
        _when(e)
        for e in events
        if e["event"] == "stage_started" and (e["data"].get("step") or "").startswith("joining")
    )
    times = segment_times(events)
    steps = {
        (e["data"].get("step") or ""): _when(e)
        for e in events
        if e["event"] == "stage_started" and e["data"].get("stage") == "segmenting"
    }
    keyframes_at = steps.get("reading keyframes", start)
    scene_at = steps.get(scene_step, keyframes_at)
    return {
        "before": _when(batches[0]) - start,
        # The parts of `before`: analysis (probe, crop samples: the same for any length), the keyframe index (a
        # read of the whole film) and the rest (the scene pass and cutting: of the first range only, when the
        # film is cut range by range).
        "analysis": keyframes_at - start,
        "keyframes": scene_at - keyframes_at,
        "cut_done": _when(batches[-1]) - start,
        "batches": float(len(batches)),
        "scene_step": scene_step,  # type: ignore[dict-item]
        "segments": sum(s for s, _, _ in times),
        "longest": max(s for s, _, _ in times),
        "segment_count": float(len(times)),
        "slots": float(batches[0]["data"].get("parallel") or 1),
        "after": _when(events[-1]) - joined,
        "wall": _when(events[-1]) - start,
    }


def film_model(events_file: Path, hours: float) -> list[str]:
    """The N-machine model of a film from a local encode of it on this machine, and the same film scaled to
    `hours` (every part grows with the film's length; the segments stay the same size, so there are more).

    wall(N) = max(before + segments / (N × slots), cut_done + the last batch's share) + after: each machine
    like this one runs `slots` segments at once; the coordinator alone does what comes before the first segment
    and after the last, and the encoders can never finish before the film is all cut (here the cutting, on the
    coordinator's cores, is taken to go at the pace it went on this machine). The serial part is what no added
    machine shortens."""
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.startswith("{")]
    p = film_parts(events)
    length = next(e["data"]["media"]["duration"] for e in events if e["event"] == "analysis_complete")
    scale = hours * 3600 / length
    durations = sorted((d for d, _, _ in segment_times(events)), reverse=True)
    last_batch = p["segments"] / p["batches"]  # a batch's segments, on average (slot-seconds)

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
        cut_bound = k * p["cut_done"] + max(last_batch / slots, p["longest"])
        return max(before(k) + share, cut_bound) + k * p["after"]

    def before(k: float) -> float:
        """What comes before the first segment, for a film k times as long: the analysis stays, the keyframe
        index grows with it, and so does the scene pass unless the film is cut range by range (then only its
        first range is waited for)."""
        rest = p["before"] - p["analysis"] - p["keyframes"]
        return p["analysis"] + k * p["keyframes"] + (rest if p["batches"] > 1 else k * rest)

    serial = p["before"] + p["after"]
    lines = [
        f"Film: {length:.0f} s, {p['segment_count']:.0f} segments, encoded locally on {p['slots']:.0f} slots in"
        f" {p['wall']:.1f} s ({p['scene_step'] or 'fixed segments'}). The first segment could start at"
        f" {p['before']:.2f} s, the last was cut at {p['cut_done']:.2f} s ({p['batches']:.0f}"
        f" batch{'es' if p['batches'] > 1 else ''}); the segments took {p['segments']:.1f} slot-seconds"
        f" (longest {p['longest']:.1f} s); after them {p['after']:.2f} s (join, mux, validation; audio was"
        " encoded while the segments were).",
        "",
        f"Serial part: {serial:.2f} s, {100 * serial / (serial + p['segments'] / p['slots']):.1f} % of the film's"
        f" work on one machine (analysis {p['analysis']:.2f} s, keyframes {p['keyframes']:.2f} s, then"
        f" {p['before'] - p['analysis'] - p['keyframes']:.2f} s of scene pass and cutting before the first segment);"
        f" {hours:g} h of the same: {before(scale) + scale * p['after']:.0f} s,"
        f" {100 * (before(scale) + scale * p['after']) / (before(scale) + scale * (p['after'] + p['segments'] / p['slots'])):.1f} %.",
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
