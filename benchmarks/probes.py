"""How well one fast probe tells a segment's final quality (issue 24): probe designs against the truth.

    python3 dev.py bench probes [--film PATH] [--out FILE]

The film is the `bench quality --film` montage (built when missing), cut by drapto-tui's own scene segmentation.
Truth: every segment encoded whole at the final preset (8) and CRF 32, 37 and 42, each scored by libvmaf (every
5th frame, as the finals are); between those points ln(100 − VMAF) is interpolated in CRF. Then, per probe design
(preset, share of the segment in how many runs, bit depth), every segment is probed at CRF 39 and timed, and:

- r = the probe's loss / the final preset's true loss at the same CRF: its spread (sd of ln r) is what a file's
  one learned r cannot absorb;
- a walk through the film as the coordinator does it (r = median of what earlier segments showed, k from the
  segment's line to the pivot or a constant 0.06): the error of the final's VMAF against the aim 93.5, and how
  many segments would land below 92.5 (encoded again) or above 94.5;
- the pivot itself (where the segments' ln L lines nearly meet) and how much of k's spread it explains.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.quality import FILM_CUTS, build_film  # noqa: E402
from drapto_tui.media.encode import EncodeRequest  # noqa: E402
from drapto_tui.media.ffmpeg import RunWatch  # noqa: E402
from drapto_tui.media.measured_encode import encode_and_measure  # noqa: E402
from drapto_tui.media.metrics import METRICS, Scoring  # noqa: E402
from drapto_tui.media.segment import segment_video  # noqa: E402
from drapto_tui.media.tools import embedded_ffmpeg  # noqa: E402
from drapto_tui.model.segment import SearchSettings, Segment, VideoSettings, half_size  # noqa: E402
from drapto_tui.quality.crf_search import CrfSearch  # noqa: E402
from drapto_tui.quality.predictive import LossModel, probe_settings, snap  # noqa: E402

FF = embedded_ffmpeg()
#: SVT-AV1 judged by VMAF: the pair this study is about (`bench calibrate` measures the others).
LM = LossModel.of(VideoSettings(preset=8, crf=0), SearchSettings())
loss, crf_for, slope_at = LM.loss, LM.crf_for, LM.slope_at
PIVOT_CRF, PIVOT_LOSS = LM.cal.pivot_crf, LM.cal.pivot_loss
WIDTH, HEIGHT = 640, 360
TRUTH_CRFS = (32.0, 37.0, 42.0)
PROBE_CRF = 39.0
AIM = 93.5
#: (name, preset, share, runs, pixel format, half size)
DESIGNS = [
    ("3 runs over 30 %, 10-bit (the old default)", 12, 0.3, 3, "yuv420p10le", False),
    ("1 run over 34 %, 10-bit", 12, 0.34, 1, "yuv420p10le", False),
    ("1 run over 50 %, 10-bit", 12, 0.5, 1, "yuv420p10le", False),
    (
        "1 run over 50 %, 8-bit (the default for 8-bit sources until issue 24's half size)",
        12,
        0.5,
        1,
        "yuv420p",
        False,
    ),
    ("1 run over 50 %, 8-bit, half size, every 3rd frame scored (the default)", 12, 0.5, 1, "yuv420p", True),
    ("the whole segment, 10-bit", 12, 1.0, 1, "yuv420p10le", False),
    ("2 runs over 20 % at the final preset 8", 8, 0.2, 2, "yuv420p10le", False),
]


def true_loss(points: list[tuple[float, float]], crf: float) -> float:
    """ln L interpolated (or extrapolated from the nearest pair) between the truth points."""
    pts = sorted((c, math.log(loss(s))) for c, s in points)
    (c0, l0), (c1, l1) = (pts[0], pts[1]) if crf <= pts[1][0] else (pts[1], pts[2])
    return math.exp(l0 + (l1 - l0) * (crf - c0) / (c1 - c0))


async def truth(segments: list[Segment], work: Path) -> list[list[tuple[float, float]]]:
    out = []
    for seg in segments:
        points = []
        for crf in TRUTH_CRFS:
            settings = VideoSettings(preset=8, crf=crf)
            _, vmaf = await encode_and_measure(
                FF,
                EncodeRequest(Path(seg.path), work / "truth.mkv", settings),
                Scoring.of_encode(METRICS["vmaf"], settings, width=WIDTH, height=HEIGHT, n_subsample=5),
                log_path=work / "truth.json",
                one_pass=True,
                watch=RunWatch(duration=seg.duration),
            )
            points.append((crf, vmaf.pooled()))
        out.append(points)
    return out


async def probe_all(
    segments: list[Segment], work: Path, preset: int, share: float, runs: int, pix_fmt: str, half: bool
) -> tuple[list[float], float]:
    size = half_size(WIDTH, HEIGHT) if half else None
    settings = probe_settings(
        SearchSettings(
            probe_share=share, probe_runs=runs, n_subsample=5, full_pass_share=1e-9, probe_size=size
        )
    )
    started = time.monotonic()
    scores = []
    for seg in segments:
        search = CrfSearch(
            ffmpeg=FF,
            segment=seg,
            work_dir=work / "probe",
            settings=settings,
            video=VideoSettings(preset=preset, crf=0, pix_fmt=pix_fmt, scale=size),
            width=WIDTH,
            height=HEIGHT,
            identity="study",
            reuse_full_pass=False,
            one_pass=True,
        )
        scores.append((await search.probe(PROBE_CRF)).score)
    return scores, time.monotonic() - started


def walk(
    points: list[list[tuple[float, float]]], probes: list[float], pivot: bool, prior_r: float = 1.41
) -> list[float]:
    """The film as the coordinator goes through it: r learned as the median so far (`prior_r` before); the VMAF
    each segment's final would land at (from the truth), per segment."""
    seen_r: list[float] = []
    landed = []
    for pts, score in zip(points, probes, strict=True):
        r = statistics.median(seen_r) if seen_r else prior_r
        final_loss = loss(score) / r
        k = slope_at(PROBE_CRF, final_loss) if pivot else 0.06
        crf = snap(crf_for(AIM, PROBE_CRF, final_loss, k), SearchSettings())
        landed.append(100 - true_loss(pts, crf))
        seen_r.append(loss(score) * math.exp(k * (crf - PROBE_CRF)) / true_loss(pts, crf))
    return landed


def pivot_fit(points: list[list[tuple[float, float]]]) -> tuple[float, float, float]:
    """k's spread across segments, and what remains once each k is taken from its line to the pivot."""
    ks, left = [], []
    for pts in points:
        (c0, s0), (c2, s2) = pts[0], pts[-1]
        k = (math.log(loss(s2)) - math.log(loss(s0))) / (c2 - c0)
        ks.append(k)
        left.append(k - slope_at(pts[1][0], loss(pts[1][1])))
    return statistics.pstdev(ks), statistics.pstdev(left), statistics.median(ks)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--film", type=Path, default=None, help="the montage (default: build it)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "probes.txt")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="drapto-bench-probes-"))
    film = args.film or build_film(work / "real-film.mkv")
    segments = await segment_video(
        FF,
        film,
        work / "segments",
        FILM_CUTS,
        duration=0.0,
    )
    started = time.monotonic()
    points = await truth(segments, work)
    truth_s = time.monotonic() - started
    k_sd, k_left, k_median = pivot_fit(points)
    lines = [
        f"Film: {film.name}, {len(segments)} segments at {WIDTH}x{HEIGHT}; truth: each whole at preset 8, CRF"
        f" {', '.join(f'{c:g}' for c in TRUTH_CRFS)} ({truth_s:.0f} s). Probes at CRF {PROBE_CRF:g}, aim {AIM}.",
        "Command: python3 dev.py bench probes " + " ".join(sys.argv[1:]),
        "",
        f"k across segments: median {k_median:.3f}, sd {k_sd:.3f}; left once taken from the line to the pivot"
        f" (CRF {PIVOT_CRF:g}, loss {PIVOT_LOSS:g}): sd {k_left:.3f}.",
        "",
        "| Probe | s per segment | sd ln r | k | landed: mean − aim | sd | min | max | < 92.5 | > 94.5 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, preset, share, runs, pix_fmt, half in DESIGNS:
        scores, seconds = await probe_all(segments, work, preset, share, runs, pix_fmt, half)
        rs = [math.log(loss(s) / true_loss(p, PROBE_CRF)) for s, p in zip(scores, points, strict=True)]
        for pivot in (False, True):
            landed = walk(
                points, scores, pivot, 1.41 * (LM.cal.half_size_factor(WIDTH // 2) if half else 1.0)
            )
            err = [v - AIM for v in landed]
            lines.append(
                f"| {name} | {seconds / len(segments):.2f} | {statistics.pstdev(rs):.3f} |"
                f" {'pivot' if pivot else '0.06'} | {statistics.mean(err):+.2f} | {statistics.pstdev(err):.2f} |"
                f" {min(err):+.2f} | {max(err):+.2f} | {sum(v < 92.5 for v in landed)} |"
                f" {sum(v > 94.5 for v in landed)} |"
            )
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
