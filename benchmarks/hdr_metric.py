"""Which metric to judge an HDR (PQ) film by, and at what target (issue 25).

    python3 dev.py bench hdr-metric [--every 2] [--film PATH] [--out FILE]

No HDR footage ships here, so the film of issue 24 (real SDR footage) is placed in a PQ signal the way HDR
masters hold most of their picture: SDR white at 100 cd/m² (zscale, BT.709 → BT.2020 PQ, 10 bits). Each segment
(every n-th) is encoded in PQ by SVT-AV1 at preset 8 and three CRFs, and judged three ways in one FFmpeg run:

- XPSNR on the PQ code values (what drapto-tui uses for HDR by default);
- VMAF on the PQ code values (what a VMAF-only tool does: its model never saw such pictures);
- VMAF on both pictures mapped back to SDR (exact here: nothing is brighter than 100 cd/m²): the reference
  judgement, what a viewer of this picture on an SDR display would rate;
- XPSNR on those SDR pictures, to tell how far two metrics disagree where both are valid.

XPSNR is scored as drapto-tui scores it: in 8 bits without dither (media/metrics/xpsnr.py says why).

It reports how closely each PQ-domain metric follows the reference across segments (Spearman's rank correlation
at one CRF, and the spread of each metric where the reference says VMAF 93), and the XPSNR on PQ that matches
VMAF 93: the default `quality.hdr_target`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import re
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.quality import FILM_CUTS, build_film  # noqa: E402
from drapto_tui.media.ffmpeg import run_ffmpeg  # noqa: E402
from drapto_tui.media.segment import segment_video  # noqa: E402
from drapto_tui.media.tools import embedded_ffmpeg  # noqa: E402

FF = embedded_ffmpeg()
CRFS = (30.0, 36.0, 42.0)
TO_PQ = "zscale=tin=bt709:min=bt709:pin=bt709:rin=tv:t=smpte2084:m=bt2020nc:p=bt2020:r=tv:npl=100,format=yuv420p10le"
#: As media/metrics/xpsnr.py scores: 8 bits, no dither (the filter's high-bit-depth path is wrong at most widths).
XPSNR_IN = "scale=sws_dither=none,format=yuv420p"
TO_SDR = "zscale=tin=smpte2084:min=bt2020nc:pin=bt2020:rin=tv:t=bt709:m=bt709:p=bt709:r=tv:npl=100,format=yuv420p10le"


def ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    for rank, i in enumerate(order):
        out[i] = float(rank)
    return out


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    num = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    return num / math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))


async def judge(segment: Path, crf: float, work: Path) -> dict[str, float]:
    encoded = work / "pq.mkv"
    await run_ffmpeg(
        [FF, "-y", "-i", str(segment), "-an", "-vf", TO_PQ, "-c:v", "libsvtav1", "-preset", "8",
         "-svtav1-params", f"crf={crf:g}", "-pix_fmt", "yuv420p10le", str(encoded)],
        what="PQ encode",
    )  # fmt: skip
    pick = "setpts=PTS-STARTPTS"
    graph = (
        f"[1:v]{pick},{TO_PQ},split=3[r1][r2][r3];[0:v]{pick},format=yuv420p10le,split=3[d1][d2][d3];"
        f"[r1]{XPSNR_IN}[rx];[d1]{XPSNR_IN}[dx];[rx][dx]xpsnr=stats_file=pq.log[o1];"
        "[d2][r2]libvmaf=log_fmt=json:log_path=pq.json:n_subsample=5[o2];"
        f"[r3]{TO_SDR},split[rs][rs2];[d3]{TO_SDR},split[ds][ds2];"
        "[ds][rs]libvmaf=log_fmt=json:log_path=sdr.json:n_subsample=5[o3];"
        f"[rs2]{XPSNR_IN}[rsx];[ds2]{XPSNR_IN}[dsx];[rsx][dsx]xpsnr=stats_file=sdr.log[o4]"
    )
    await run_ffmpeg(
        [FF, "-i", str(encoded.resolve()), "-i", str(segment.resolve()), "-filter_complex", graph,
         *("-map", "[o1]", "-f", "null", "-", "-map", "[o2]", "-f", "null", "-", "-map", "[o3]", "-f", "null", "-"),
         *("-map", "[o4]", "-f", "null", "-")],
        what="judging", cwd=work,
    )  # fmt: skip

    def xpsnr(name: str) -> float:  # the filter's own whole-file figure, from its stats file's last line
        return float(re.findall(r"y:\s*([\d.]+)", (work / name).read_text())[-1])

    xpsnr_pq, xpsnr_sdr = xpsnr("pq.log"), xpsnr("sdr.log")

    def vmaf(name: str) -> float:
        return float(json.loads((work / name).read_text())["pooled_metrics"]["vmaf"]["mean"])

    return {
        "crf": crf, "xpsnr_pq": xpsnr_pq, "vmaf_pq": vmaf("pq.json"), "vmaf_sdr": vmaf("sdr.json"),
        "xpsnr_sdr": xpsnr_sdr,
    }  # fmt: skip


def at_reference(points: list[dict[str, float]], key: str, wanted: float = 93.0) -> float:
    """The value of `key` where the reference (VMAF on SDR) reads `wanted`, interpolated between CRFs."""
    pts = sorted(points, key=lambda p: p["crf"])
    for a, b in itertools.pairwise(pts):
        if (a["vmaf_sdr"] - wanted) * (b["vmaf_sdr"] - wanted) <= 0 and a["vmaf_sdr"] != b["vmaf_sdr"]:
            t = (a["vmaf_sdr"] - wanted) / (a["vmaf_sdr"] - b["vmaf_sdr"])
            return a[key] + t * (b[key] - a[key])
    a, b = (pts[0], pts[1]) if wanted > pts[0]["vmaf_sdr"] else (pts[-2], pts[-1])
    t = (a["vmaf_sdr"] - wanted) / ((a["vmaf_sdr"] - b["vmaf_sdr"]) or 1e-9)
    return a[key] + t * (b[key] - a[key])


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--film", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="drapto-bench-hdr-"))
    film = args.film or build_film(work / "real-film.mkv")
    segments = await segment_video(FF, film, work / "segments", FILM_CUTS, duration=0.0)
    segments = segments[:: args.every]
    judged = [[await judge(Path(s.path), crf, work) for crf in CRFS] for s in segments]
    mid = [pts[1] for pts in judged]
    reference = [p["vmaf_sdr"] for p in mid]
    xp93 = [at_reference(pts, "xpsnr_pq") for pts in judged]
    vp93 = [at_reference(pts, "vmaf_pq") for pts in judged]
    lines = [
        f"{len(segments)} segments of {film.name} in PQ (SDR white at 100 cd/m²), SVT-AV1 preset 8, CRF"
        f" {', '.join(f'{c:g}' for c in CRFS)}.",
        "Command: python3 dev.py bench hdr-metric " + " ".join(sys.argv[1:]),
        "",
        f"Rank correlation with the reference (VMAF on the SDR pictures) across segments at CRF {CRFS[1]:g}:"
        f" XPSNR on PQ {spearman([p['xpsnr_pq'] for p in mid], reference):.2f},"
        f" VMAF on PQ {spearman([p['vmaf_pq'] for p in mid], reference):.2f};"
        f" for comparison, XPSNR on the SDR pictures {spearman([p['xpsnr_sdr'] for p in mid], reference):.2f}"
        " (two metrics disagree on SDR too).",
        f"Where the reference reads VMAF 93: XPSNR on PQ median {statistics.median(xp93):.2f} dB"
        f" (range {min(xp93):.2f}–{max(xp93):.2f}, sd {statistics.pstdev(xp93):.2f});"
        f" VMAF on PQ median {statistics.median(vp93):.2f} (range {min(vp93):.2f}–{max(vp93):.2f},"
        f" sd {statistics.pstdev(vp93):.2f}).",
        "",
        "| segment | CRF | XPSNR on PQ | VMAF on PQ | VMAF on SDR (reference) | XPSNR on SDR |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for seg, pts in zip(segments, judged, strict=True):
        for p in pts:
            lines.append(
                f"| {seg.index} | {p['crf']:g} | {p['xpsnr_pq']:.2f} | {p['vmaf_pq']:.2f} | {p['vmaf_sdr']:.2f} |"
                f" {p['xpsnr_sdr']:.2f} |"
            )
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    asyncio.run(main())
