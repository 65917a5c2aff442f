"""The predictive search's constants for one encoder and one metric, measured on the film (issue 25).

    python3 dev.py bench calibrate [--metrics vmaf,xpsnr] [--encoder svt-av1|aom-av1] [--crfs 32,37,42]
                                   [--film PATH] [--out FILE]

The film is the `bench quality --film` montage (built when missing), cut by drapto-tui's own scene segmentation.
Truth: every segment encoded whole at the final preset (SVT-AV1 8, libaom 6) and three CRFs, each scored by
every metric asked for and by VMAF; then each segment's default probe (the encoder's probe preset, the middle
half, 8 bits for this 8-bit film) two CRF above the middle one. From these, per metric:

- each segment's line ln(loss) = a + k·CRF (least squares over the three points), k's spread, and the pivot:
  the point where the lines come closest (the CRF where their spread in ln loss is least), and how much of k's
  spread the line to the pivot leaves;
- r: the probe's loss over the final preset's at the probe's CRF, its median (the prior) and spread;
- where the segments land for the metric's default target (the first probe's CRF), and the metric's figure at
  the CRF where each segment scores VMAF 93 (what a target "like VMAF 93" is in this metric).

Its figures are what a quality/calibration.py row is made of.
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
from drapto_tui.media.encoders import ENCODERS  # noqa: E402
from drapto_tui.media.ffmpeg import RunWatch  # noqa: E402
from drapto_tui.media.measured_encode import encode_and_measure  # noqa: E402
from drapto_tui.media.metrics import METRICS, Metric, Scoring, measure_score  # noqa: E402
from drapto_tui.media.segment import segment_video  # noqa: E402
from drapto_tui.media.tools import embedded_ffmpeg  # noqa: E402
from drapto_tui.model.segment import SearchSettings, Segment, VideoSettings  # noqa: E402
from drapto_tui.quality.crf_search import CrfSearch  # noqa: E402
from drapto_tui.quality.predictive import probe_settings, probe_video  # noqa: E402

FF = embedded_ffmpeg()
WIDTH, HEIGHT = 640, 360
VMAF = METRICS["vmaf"]


def line(metric: Metric, points: list[tuple[float, float]]) -> tuple[float, float]:
    """(a, k) of the least-squares line ln loss = a + k·CRF through the points."""
    xs = [c for c, _ in points]
    ys = [math.log(metric.loss(s)) for _, s in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - k * mx, k


def crf_at(metric: Metric, a: float, k: float, score: float) -> float:
    return (math.log(metric.loss(score)) - a) / k


def pivot(lines: list[tuple[float, float]], lowest: float) -> tuple[float, float, float]:
    """The CRF (searched from `lowest` to 90) where the lines' ln loss spreads least, the loss there, and that
    spread."""
    best = (math.inf, 0.0, 0.0)
    crf = lowest
    while crf <= 90:
        values = [a + k * crf for a, k in lines]
        spread = statistics.pstdev(values)
        if spread < best[0]:
            best = (spread, crf, math.exp(statistics.fmean(values)))
        crf += 0.25
    return best[1], best[2], best[0]


def calibrate(metric: Metric, truth: list[list[tuple[float, float]]], vmaf_truth: list[list[tuple[float, float]]],
              ratios: list[float], lowest: float) -> list[str]:  # fmt: skip
    """One metric's figures from the truth, as lines of the report."""
    lines = [line(metric, p) for p in truth]
    ks = sorted(k for _, k in lines)
    p_crf, p_loss, p_spread = pivot(lines, lowest)
    left = []
    for (a, k), points in zip(lines, truth, strict=True):
        mid_crf = points[len(points) // 2][0]
        left.append(k - (math.log(p_loss) - math.log(math.exp(a + k * mid_crf))) / (p_crf - mid_crf))
    like_vmaf93 = []
    for (a, k), vp in zip(lines, vmaf_truth, strict=True):
        va, vk = line(VMAF, vp)
        like_vmaf93.append(metric.score_at(math.exp(a + k * crf_at(VMAF, va, vk, 93.0))))
    landing = [crf_at(metric, a, k, metric.default_target) for a, k in lines]
    k_lo, k_hi = ks[max(int(len(ks) * 0.05), 0)], ks[min(int(len(ks) * 0.95), len(ks) - 1)]
    return [
        f"## {metric.label}",
        f"k (d ln loss / d CRF): median {statistics.median(ks):.4f}, sd {statistics.pstdev(ks):.4f},"
        f" 5th–95th percentile {k_lo:.4f}–{k_hi:.4f}",
        f"pivot: CRF {p_crf:g}, loss {p_loss:.3f} (spread of ln loss there {p_spread:.3f});"
        f" k's spread left once taken from the line to the pivot: sd {statistics.pstdev(left):.4f}",
        f"r (probe over final): median {statistics.median(ratios):.3f},"
        f" sd of ln r {statistics.pstdev(math.log(r) for r in ratios):.3f}",
        f"{metric.label} where each segment scores VMAF 93: median {statistics.median(like_vmaf93):.2f}"
        f"{metric.unit}, range {min(like_vmaf93):.2f}–{max(like_vmaf93):.2f}",
        f"CRF landing at the default target {metric.default_target:g}{metric.unit}: median"
        f" {statistics.median(landing):.2f}, range {min(landing):.1f}–{max(landing):.1f}",
        "",
    ]


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--metrics", default="vmaf,xpsnr", help="the metrics to calibrate, each scored on the truth"
    )
    parser.add_argument("--encoder", default="svt-av1", choices=sorted(ENCODERS))
    parser.add_argument("--final-preset", type=int, default=None, help="default: 8 (SVT-AV1), 6 (libaom)")
    parser.add_argument("--crfs", default="32,37,42", help="the truth's CRFs")
    parser.add_argument("--every", type=int, default=1, help="every n-th segment only (a slow encoder)")
    parser.add_argument("--film", type=Path, default=None, help="the montage (default: build it)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    metrics = [METRICS[name] for name in args.metrics.split(",")]
    encoder = ENCODERS[args.encoder]
    final_preset = args.final_preset if args.final_preset is not None else {"svt-av1": 8}.get(encoder.name, 6)
    crfs = [float(c) for c in args.crfs.split(",")]
    probe_crf = crfs[len(crfs) // 2] + 2
    work = Path(tempfile.mkdtemp(prefix="drapto-bench-calibrate-"))
    film = args.film or build_film(work / "real-film.mkv")
    segments: list[Segment] = await segment_video(FF, film, work / "segments", FILM_CUTS, duration=0.0)
    segments = segments[:: args.every]
    started = time.monotonic()
    scorers = metrics if VMAF in metrics else [*metrics, VMAF]
    truth: dict[str, list[list[tuple[float, float]]]] = {m.name: [] for m in scorers}
    final = VideoSettings(encoder=encoder.name, preset=final_preset, crf=0)
    for seg in segments:
        points: dict[str, list[tuple[float, float]]] = {m.name: [] for m in scorers}
        for crf in crfs:
            out = work / "truth.mkv"
            at_crf = final.with_crf(crf)
            _, scored = await encode_and_measure(
                FF,
                EncodeRequest(Path(seg.path), out, at_crf),
                Scoring.of_encode(
                    scorers[0], at_crf, width=WIDTH, height=HEIGHT, n_subsample=5, pix_fmt="yuv420p"
                ),
                log_path=work / "truth.log",
                one_pass=True,
                watch=RunWatch(duration=seg.duration),
            )
            points[scorers[0].name].append((crf, scored.pooled("mean")))
            for other in scorers[1:]:
                again = await measure_score(
                    FF,
                    Scoring(other, WIDTH, HEIGHT, n_subsample=5, pix_fmt="yuv420p"),
                    out,
                    Path(seg.path),
                    log_path=work / f"{other.name}.log",
                )
                points[other.name].append((crf, again.pooled("mean")))
        for name, pts in points.items():
            truth[name].append(pts)
    truth_s = time.monotonic() - started

    report = [
        f"Calibration of {encoder.label} on {film.name}: {len(segments)} segments at {WIDTH}x{HEIGHT}; truth at"
        f" preset {final_preset}, CRF {args.crfs} ({truth_s:.0f} s); probes at preset {encoder.probe_preset},"
        f" CRF {probe_crf:g}, over the middle half, in 8 bits.",
        "Command: python3 dev.py bench calibrate " + " ".join(sys.argv[1:]),
        "",
    ]
    for metric in metrics:
        search = SearchSettings(
            metric=metric.name, eight_bit_source=True, probe_share=0.5, probe_preset=encoder.probe_preset,
            step=encoder.crf_step,
        )  # fmt: skip
        ratios = []
        for seg, points in zip(segments, truth[metric.name], strict=True):
            probe = await CrfSearch(
                ffmpeg=FF, segment=seg, work_dir=work / "probe", settings=probe_settings(search),
                video=probe_video(final, search), width=WIDTH, height=HEIGHT, identity="calibrate",
                reuse_full_pass=False, one_pass=True,
            ).probe(probe_crf)  # fmt: skip
            a, k = line(metric, points)
            ratios.append(metric.loss(probe.score) / math.exp(a + k * probe_crf))
        report += calibrate(metric, truth[metric.name], truth[VMAF.name], ratios, max(crfs) + 1)
    text = "\n".join(report)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
