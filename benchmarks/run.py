"""Side-by-side benchmarks, each both sides in the same run on the same input; results to benchmarks/RESULTS.md.

    python3 dev.py bench [--repeat 3] [--preset 8] [--quick]

1. Direct-path overhead: `drapto-tui encode` of a Dolby Vision fixture vs the bare FFmpeg encode it wraps.
2. Quality-path cost: the chunked path at VMAF 93 (analysis + search + encode + audio + mux + validation) vs
   one fixed-CRF encode of the same file at the same preset, on a 60 s clip built from real footage.
3. Accuracy: the output's whole-file VMAF by a separate libvmaf run, and every segment's measured VMAF.
4. Size: bytes at target 93 vs a fixed CRF 25 encode, with both VMAFs.
5. Parallel scaling: the chunked path with parallel_jobs 1 vs 2 (and more where the machine has the cores).
Medians over --repeat runs. The UI figures come from benchmarks/ui_latency.py, the bus's from benchmarks/bus.py.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drapto_tui.media.tools import embedded_ffmpeg  # noqa: E402
from samples.clips import find_bbb, make_dv_fixture  # noqa: E402

FF = embedded_ffmpeg()


def sh(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def timed(args: list[str], **kw) -> float:
    start = time.perf_counter()
    sh(args, **kw)
    return time.perf_counter() - start


def build_real_footage_clip(out: Path, seconds: int = 60) -> Path:
    """BBB's 5.3 s shot several times (flipped, graded, cropped-and-scaled so no two are alike) between lavfi
    scenes, 1280x720, 25 fps, keyframes every 2 s, stereo audio: a minute of mixed real and synthetic content."""
    bbb = str(find_bbb())
    parts = []
    for i, vf in enumerate(
        [
            "null",
            "hflip",
            "eq=brightness=0.06:saturation=1.3",
            "crop=960:540,scale=1280:720",
            "vflip,hflip",
            "eq=contrast=1.2",
        ]
    ):
        parts.append(("bbb", vf))
        parts.append(
            (
                "lavfi",
                [
                    "testsrc2",
                    "mandelbrot",
                    "smptehdbars",
                    "cellauto=s=1280x720:rule=110",
                    "life=s=1280x720:mold=10:r=25:ratio=0.1",
                    "gradients=s=1280x720:speed=0.05",
                ][i],
            )
        )
    inputs: list[str] = []
    chains: list[str] = []
    n = 0
    for kind, spec in parts:
        if kind == "bbb":
            inputs += ["-i", bbb]
            chains.append(f"[{n}:v]{spec},scale=1280:720,fps=25,format=yuv420p,setsar=1[v{n}]")
        else:
            src = spec if "=" in spec else f"{spec}=size=1280x720"
            inputs += [
                "-f",
                "lavfi",
                "-t",
                "5",
                "-i",
                src if "rate" in src or "r=" in src else f"{src}:rate=25",
            ]
            chains.append(f"[{n}:v]scale=1280:720,fps=25,format=yuv420p,setsar=1[v{n}]")
        n += 1
    concat = (
        "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[cat];[cat]trim=duration={seconds}[v]"
    )
    sh(
        [
            FF,
            "-v",
            "error",
            "-y",
            *inputs,
            "-f",
            "lavfi",
            "-t",
            str(seconds),
            "-i",
            "sine=f=220:sample_rate=48000",
            "-filter_complex",
            ";".join(chains) + ";" + concat,
            "-map",
            "[v]",
            "-map",
            f"{n}:a",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "16",
            "-g",
            "50",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-shortest",
            str(out),
        ]
    )
    return out


def vmaf_of(distorted: Path, reference: Path, workdir: Path) -> float:
    log = workdir / "vmaf-check.json"
    sh(
        [
            FF,
            "-v",
            "error",
            "-i",
            str(distorted),
            "-i",
            str(reference),
            "-lavfi",
            "[0:v]setpts=PTS-STARTPTS,format=yuv420p10le[d];[1:v]setpts=PTS-STARTPTS,format=yuv420p10le[r];"
            f"[d][r]libvmaf=n_threads={os.cpu_count()}:log_fmt=json:log_path={log.name}",
            "-f",
            "null",
            "-",
        ],
        cwd=workdir,
    )
    return json.loads(log.read_text())["pooled_metrics"]["vmaf"]["mean"]


def drapto(src: Path, work: Path, *settings: str) -> tuple[float, list[dict]]:
    args = [
        sys.executable,
        "-m",
        "drapto_tui",
        "encode",
        "--json",
        str(src),
        "-o",
        str(work / "out"),
        "--set",
        f"processing.temp_dir={json.dumps(str(work / 'tmp'))}",
        "--overwrite",
    ]
    for kv in settings:
        args += ["--set", kv]
    start = time.perf_counter()
    proc = sh(args, cwd=ROOT)
    elapsed = time.perf_counter() - start
    return elapsed, [json.loads(line) for line in proc.stdout.splitlines()]


def phase_profile(events: list[dict]) -> str:
    """Seconds per phase from the event stream of a parallel_jobs=1 run (segments run one after another)."""
    from datetime import datetime

    def t(e: dict) -> float:
        return datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()

    def first(pred) -> float:
        return next(t(e) for e in events if pred(e))

    start = t(events[0])
    analysed = first(lambda e: e["event"] == "analysis_complete")
    segmenting = first(lambda e: e["event"] == "stage_started" and e["data"].get("stage") == "segmenting")
    encoding = first(lambda e: e["event"] == "encoding_started")
    audio = first(lambda e: e["event"] == "stage_started" and e["data"].get("stage") == "audio")
    end = first(lambda e: e["event"] == "encoding_complete")
    search = final = 0.0
    for seg in {e["data"]["segment"] for e in events if e["event"] == "segment_complete"}:
        starts = [
            (t(e), e["data"]["phase"])
            for e in events
            if e["event"] == "segment_started" and e["data"].get("segment") == seg
        ]
        done = first(lambda e, seg=seg: e["event"] == "segment_complete" and e["data"]["segment"] == seg)
        began = min(ts for ts, phase in starts if phase == "searching")
        encode = max(ts for ts, phase in starts if phase == "encoding")
        search += encode - began
        final += done - encode
    total = end - start
    return (
        f"analysis {analysed - start:.1f} s, crop detection {segmenting - analysed:.1f} s, segmenting "
        f"{encoding - segmenting:.1f} s, CRF search {search:.1f} s ({100 * search / total:.0f} %: probe encodes and "
        f"their libvmaf runs, predicted encodes included), final encodes + measured VMAF {final:.1f} s, audio + "
        f"mux + validation {end - audio:.1f} s; total {total:.1f} s."
    )


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--preset", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    preset = args.preset
    rows: list[str] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        # 1. Direct-path overhead -------------------------------------------------------------------------------
        dv = make_dv_fixture(
            FF, tmp / "dv.mkv", profile=8, width=1280, height=720, duration=20, audio="stereo"
        )
        bare_cmd = [
            FF,
            "-v",
            "error",
            "-y",
            "-i",
            str(dv),
            "-map",
            "0:v:0",
            "-an",
            "-sn",
            "-c:v",
            "libsvtav1",
            "-preset",
            str(preset),
            "-pix_fmt",
            "yuv420p10le",
            "-svtav1-params",
            "crf=25",
            str(tmp / "bare-dv.mkv"),
        ]
        bare, ours = [], []
        for _ in range(args.repeat):
            bare.append(timed(bare_cmd))
            t, _ = drapto(dv, fresh(tmp / "dvrun"), f"encoding.preset={preset}", "encoding.crop=false")
            ours.append(t)
        b, o = statistics.median(bare), statistics.median(ours)
        rows.append(
            f"| 1 | Direct-path overhead (DV 720p 20 s, preset {preset}) | bare FFmpeg {b:.1f} s | "
            f"drapto-tui {o:.1f} s | **{o / b:.2f}** | ≤ 1.03 | {'met' if o / b <= 1.03 else 'missed'} |"
        )
        if o / b > 1.03:
            notes.append(
                f"Direct path: drapto-tui adds {o - b:.1f} s to a {b:.1f} s encode: probing (MediaInfo + "
                "FFmpeg), Opus audio, the MKV mux and validation (a second probe and a frame count) are "
                "fixed costs that a 20 s clip cannot hide; on a feature film they are a few seconds in hours."
            )

        # 2-5. Quality path ------------------------------------------------------------------------------------
        clip = build_real_footage_clip(tmp / "mixed-60s.mkv", args.seconds)
        fixed_cmd = [
            FF,
            "-v",
            "error",
            "-y",
            "-i",
            str(clip),
            "-map",
            "0:v:0",
            "-an",
            "-c:v",
            "libsvtav1",
            "-preset",
            str(preset),
            "-pix_fmt",
            "yuv420p10le",
            "-svtav1-params",
            "crf=25",
            str(tmp / "fixed25.mkv"),
        ]
        fixed, chunked, last_events = [], [], []
        for _ in range(args.repeat):
            fixed.append(timed(fixed_cmd))
            t, events = drapto(
                clip, fresh(tmp / "q"), f"encoding.preset={preset}", "processing.parallel_jobs=1"
            )
            chunked.append(t)
            last_events = events
        f, c = statistics.median(fixed), statistics.median(chunked)
        done = [e["data"] for e in last_events if e["event"] == "segment_complete"]
        probes = [e for e in last_events if e["event"] == "search_step"]
        summary = next(e["data"] for e in last_events if e["event"] == "encoding_complete")
        rows.append(
            f"| 2 | Quality-path cost ({args.seconds} s 720p mixed real/synthetic, preset {preset}, VMAF 93) | "
            f"fixed CRF 25 {f:.1f} s | chunked {c:.1f} s | **{c / f:.2f}** | ≤ 1.25 | "
            f"{'met' if c / f <= 1.25 else 'missed'} |"
        )
        out = tmp / "q" / "out" / "mixed-60s.mkv"
        whole = vmaf_of(out, clip, tmp)
        seg_vmaf = [d["score_measured"] for d in done]
        rows.append(
            f"| 3 | Accuracy: whole-file VMAF (separate libvmaf, every frame) | target 93 | {whole:.2f} | "
            f"{whole - 93:+.2f} | [93, 94] | {'met' if 93 <= whole <= 94 else 'missed'} |"
        )
        rows.append(
            f"| 3 | Accuracy: segment measured VMAF min / mean / max ({len(done)} segments) | target 93 | "
            f"{min(seg_vmaf):.2f} / {statistics.fmean(seg_vmaf):.2f} / {max(seg_vmaf):.2f} | | ≥ 92 each | "
            f"{'met' if min(seg_vmaf) >= 92 else 'missed'} |"
        )
        fixed_bytes = (tmp / "fixed25.mkv").stat().st_size
        fixed_vmaf = vmaf_of(tmp / "fixed25.mkv", clip, tmp)
        ours_video = summary.get("video_bytes") or out.stat().st_size
        rows.append(
            f"| 4 | Size: video bytes at VMAF 93 vs fixed CRF 25 | CRF 25: {fixed_bytes / 2**20:.2f} MiB, "
            f"VMAF {fixed_vmaf:.2f} | target 93: {ours_video / 2**20:.2f} MiB, VMAF {whole:.2f} | "
            f"**{ours_video / fixed_bytes:.2f}** | | |"
        )
        notes.append(
            f"Quality path: {len(done)} segments, {len(probes) / max(len(done), 1):.1f} probes per segment, "
            f"CRF {summary.get('crf_min')}–{summary.get('crf_max')}."
        )
        profile = phase_profile(last_events)
        notes.append("Where the quality path's time goes (last run, from event timestamps): " + profile)
        cores = os.cpu_count() or 1
        scale = []
        for jobs in sorted({1, 2, *([4] if cores >= 8 else []), *([8] if cores >= 16 else [])}):
            times = []
            for _ in range(max(1, args.repeat - 1)):
                t, _ = drapto(
                    clip, fresh(tmp / "p"), f"encoding.preset={preset}", f"processing.parallel_jobs={jobs}"
                )
                times.append(t)
            scale.append((jobs, statistics.median(times)))
        base = scale[0][1]
        rows.append(
            "| 5 | Parallel scaling (chunked path, wall s) | "
            + " · ".join(f"{j} job{'s' if j > 1 else ''}: {t:.1f} s ({base / t:.2f}×)" for j, t in scale)
            + f" | {cores} cores | | | |"
        )
    header = (
        f"# Benchmark results\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, FFmpeg {Path(FF).name}. Command: `python3 dev.py bench --repeat "
        f"{args.repeat} --preset {preset}` (medians of {args.repeat} runs; scaling of {max(1, args.repeat - 1)}).\n\n"
        "| # | Measure | Baseline | drapto-tui | Ratio | Goal | |\n| --- | --- | --- | --- | --- | --- | --- |\n"
    )
    text = header + "\n".join(rows) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    ui = ROOT / "benchmarks" / "ui-latency.txt"
    if ui.exists():
        text += "\n## UI\n\n```\n" + ui.read_text() + "```\n"
    bus = ROOT / "benchmarks" / "bus.txt"
    if bus.exists():
        text += "\n## Event bus\n\n```\n" + bus.read_text() + "```\n"
    (ROOT / "benchmarks" / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
