"""The direct (Dolby Vision) path's overhead: `drapto-tui encode` against the bare FFmpeg command it wraps.

    python3 dev.py bench direct [--repeat 2] [--preset 8] [--seconds 20]

Source: a long-GOP film made here (x265, a keyframe every 250 frames, 1280x720, 24 fps, an HDR10 base layer
with a profile 8.1 Dolby Vision RPU on every frame, stereo AAC). Bare: the video encode drapto-tui runs for it
(SVT-AV1 at the class's CRF, its keyframe spacing and `-dolbyvision 1`) plus the Opus audio encode, one
FFmpeg command, nothing else. drapto-tui: the whole job with default settings (probe, crop detection, encode,
audio, mux, validation).
Medians of --repeat runs; the fixed cost is drapto-tui's wall time less the bare command's, and the event log
says where it goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.run import FF, drapto, fresh, timed  # noqa: E402
from drapto_tui.config.schema import EncodingConfig  # noqa: E402
from drapto_tui.media.encode import keyframe_spacing  # noqa: E402
from samples.rpu import make_dv_rpu_fixture  # noqa: E402


def profile(events: list[dict]) -> str:
    """Where drapto-tui's time went, from its events: before the encode, the encode, after it."""

    def t(e: dict) -> float:
        return datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()

    start, end = t(events[0]), t(events[-1])
    encoding = next(t(e) for e in events if e["event"] == "encoding_started")
    after = next(
        t(e)
        for e in events
        if e["event"] == "stage_started" and e["data"].get("stage") in ("audio", "muxing")
    )
    return (
        f"probe and crop detection {encoding - start:.2f} s, video encode {after - encoding:.2f} s,"
        f" audio + mux + validation {end - after:.2f} s (from its event log; process start-up and imports"
        " come before the first event)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--preset", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        src = make_dv_rpu_fixture(FF, tmp / "dv-long-gop.mkv", width=1280, height=720, duration=args.seconds)
        # The keyframes drapto-tui asks for on the whole film (24 fps), so that the bare encode is the same one.
        gop = keyframe_spacing(args.seconds * 24, args.seconds, EncodingConfig().keyframe_interval)
        bare_cmd = [
            *(FF, "-v", "error", "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0"),
            *("-c:v", "libsvtav1", "-preset", str(args.preset), "-pix_fmt", "yuv420p10le"),
            *("-svtav1-params", "crf=25", "-g", str(gop), "-dolbyvision", "1"),
            *("-c:a", "libopus", "-b:a", "128k", str(tmp / "bare.mkv")),
        ]
        bare, ours, last = [], [], []
        for _ in range(args.repeat):
            bare.append(timed(bare_cmd))
            wall, last = drapto(src, fresh(tmp / "run"), f"encoding.preset={args.preset}")
            ours.append(wall)
        b, o = statistics.median(bare), statistics.median(ours)
        text = "\n".join(
            [
                f"Command: python3 dev.py bench direct {' '.join(sys.argv[1:])}".rstrip(),
                "",
                "| Source | Bare FFmpeg s | drapto-tui s | Ratio | Fixed cost s |",
                "| --- | --- | --- | --- | --- |",
                f"| DV 8.1 with RPUs, long GOP (250), 1280x720, {args.seconds} s, preset {args.preset} | {b:.2f} |"
                f" {o:.2f} | **{o / b:.3f}** | {o - b:.2f} |",
                "",
                f"Last drapto-tui run: {profile(last)}.",
            ]
        )
        print(text)


if __name__ == "__main__":
    main()
