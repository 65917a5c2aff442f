"""From parsed CLI arguments to a running app (the demo's own queue included; samples/demo.py makes its films)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig

DEMO_SETTINGS = [
    # Quick to watch on a laptop: a fast preset and short segments.
    "encoding.preset=10",
    'processing.segmentation="fixed"',
    "processing.chunk_size=4",
    "processing.min_segment=2",
    # The demo runs again each time it is opened: its own outputs, in its own folder, are replaced.
    "output.overwrite=true",
]


def demo_overrides() -> tuple[list[str], list[str]]:
    """The demo's settings, and what a later command needs to reach its queue: it keeps its own queue and
    output, so that it never mixes with a real library's."""
    from drapto_tui.config.default import default_temp_dir

    demo_root = default_temp_dir() / "demo"
    where = f"processing.temp_dir={json.dumps(str(demo_root))}"
    return [where, f"output.dir={json.dumps(str(demo_root / 'output'))}", *DEMO_SETTINGS], ["--set", where]


def launch(
    args: argparse.Namespace, load: Callable[[argparse.Namespace], DraptoConfig], config_args: list[str]
) -> int:
    state_args: list[str] = []  # what a later command needs to reach this queue (the demo's is its own)
    if args.demo:
        demo, state_args = demo_overrides()
        args.overrides = [*demo, *args.overrides]
        config_args = [arg for kv in demo for arg in ("--set", kv)] + config_args
    config = load(args)
    # Textual reads the escape delay once, when it is imported (below): the user's ESCDELAY, else ours.
    os.environ.setdefault("ESCDELAY", str(config.ui.escape_delay_ms))
    from drapto_tui.engine.preflight import check_machine
    from drapto_tui.errors import ConfigError
    from drapto_tui.service.client import state_dir_of
    from drapto_tui.service.protocol import live_info
    from drapto_tui.tui.themes import load_themes

    # One clear line (exit 2) before the screen opens, not after, for what a service started now would run
    # with. A service already running made its own checks (and runs its own FFmpeg): attaching skips them.
    if args.foreground or live_info(state_dir_of(config)) is None:
        check_machine(config)
    from drapto_tui.tui.actions import keymap_problems

    if problems := keymap_problems(config.ui.keys):
        raise ConfigError([config.describe("ui.keys", problem) for problem in problems])
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
    prog = command_name()
    hints = Hints(prog, state_args)

    from drapto_tui.tui.app import DraptoApp

    if args.foreground:
        from drapto_tui.engine.engine import Engine

        engine = Engine(config)  # fails fast (one line) if the state dir is locked or corrupt
        if args.demo:
            engine.clear_finished()  # the demo runs again rather than showing the last run's rows
        app = DraptoApp(engine, paths, start_paused=args.paused)
        app.run()
        print(parting_line(engine.jobs(), app.quit_mode or "stop", str(config.output_root()), hints=hints))
        return app.return_code or 0

    from drapto_tui.engine.api import Core
    from drapto_tui.service.client import attach_or_start

    async def attached() -> tuple[int, str | None]:
        client, _ = await attach_or_start(config, config_args)
        if args.demo:
            await client.call(
                Core.clear_finished
            )  # the demo runs again rather than showing the last run's rows
        app = DraptoApp(client, paths, start_paused=args.paused)
        await app.run_async()
        if client.lost and app.quit_mode == "detach":
            return app.return_code or 0, None  # the service went away: the app said so
        mode = app.quit_mode or "detach"
        return app.return_code or 0, parting_line(
            client.jobs(), mode, str(config.output_root()), service_pid=client.service_pid, hints=hints
        )

    code, note = asyncio.run(attached())
    if note:
        print(note)
    return code


class Hints:
    """Commands as the user can type them here: the program as it was reached (`drapto-tui` when that is on
    PATH, else its path, e.g. `.venv/bin/drapto-tui`), with what reaches this queue (the demo's own state dir)."""

    def __init__(self, prog: str, state_args: list[str]) -> None:
        self.prog = prog
        self.state = " ".join(shlex.quote(a) for a in state_args)

    def command(self, *words: str) -> str:
        return " ".join([self.prog, *words, *([self.state] if self.state else [])])


def command_name() -> str:
    """How the user reached this program, as they can type it again."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "drapto-tui":
        found = shutil.which("drapto-tui")
        if found and Path(found).resolve() == argv0.resolve():
            return "drapto-tui"
        relative = os.path.relpath(argv0)
        return shlex.quote(relative if not relative.startswith("..") else str(argv0.absolute()))
    return f"{shlex.quote(sys.executable)} -m drapto_tui"


def parting_line(
    jobs: list, mode: str, outputs: str, *, service_pid: int | None = None, hints: Hints | None = None
) -> str:
    """What the user leaves behind, in one line: what goes on or will resume, and where the outputs are; every
    command in it works when typed as printed."""
    hints = hints or Hints("drapto-tui", [])
    active = sum(1 for j in jobs if j.status.value in ("running", "paused"))
    waiting = sum(1 for j in jobs if j.status.value == "queued")
    done = sum(1 for j in jobs if j.status.value in ("completed", "kept"))
    where = f"outputs in {outputs} ({done} done)"
    if mode == "detach":
        return (
            f"drapto-tui: detached; the service (pid {service_pid}) goes on with {active} running and {waiting}"
            f" queued job(s); {where} — {hints.command()} looks in again, {hints.command('service', 'stop')}"
            " stops it"
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
            f"drapto-tui: stopped; {pending} job(s) resume on the next start ({hints.command()}, or"
            f" {hints.command('encode', '--resume')}), finished segments kept; {where}"
        )
    return f"drapto-tui: nothing left to do; {where}"
