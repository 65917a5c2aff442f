"""Command line: the TUI (default), `encode`, `queue`, `probe`, `config check|show`, `service`, `web`, `watch`.

Every user-facing failure is a DraptoError printed as one line on stderr with a non-zero exit; tracebacks only
with --debug (or DRAPTO_DEBUG=1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from drapto_tui import __version__
from drapto_tui.errors import ConfigError, DraptoError

COMMANDS = ("probe", "config", "encode", "queue", "service", "web", "watch", "scan", "stats", "restore")
_VALUE_OPTIONS = {"--config", "-c", "--set", "--output-dir", "-o"}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, help="TOML config file (default: the XDG config dir's)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (repeatable), e.g. --set encoding.preset=8",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parsers() -> dict[str, argparse.ArgumentParser]:
    app = argparse.ArgumentParser(
        prog="drapto-tui",
        description="Encode a film library to AV1 + Opus MKV at a chosen visual quality; watch and steer it live.",
        epilog="Commands: encode PATH... | probe PATH... | queue | service start|stop|status | web |"
        " watch DIR... | scan DIR... | stats | restore PATH|JOB |"
        " config check FILE | config show."
        " Run 'drapto-tui COMMAND -h' for more.",
    )
    app.add_argument("paths", nargs="*", type=Path, help="files or folders to queue")
    app.add_argument("-o", "--output-dir", type=Path, help="where finished files go (output.dir)")
    app.add_argument("--paused", action="store_true", help="open with work paused")
    app.add_argument(
        "--demo",
        action="store_true",
        help="the demo's own queue, output and quick settings for the films given (python3 dev.py demo makes"
        " them in a source checkout and opens it)",
    )
    app.add_argument(
        "--foreground",
        action="store_true",
        help="run the engine inside the app, not in the background service (encoding stops when it quits)",
    )
    app.add_argument("--version", action="version", version=f"drapto-tui {__version__}")
    _common(app)

    probe = argparse.ArgumentParser(
        prog="drapto-tui probe", description="Describe media files as drapto-tui sees them."
    )
    probe.add_argument("files", nargs="+", type=Path, metavar="PATH", help="files, or folders to search")
    probe.add_argument("--json", action="store_true", help="one JSON object per file (a list when several)")
    _common(probe)

    encode = argparse.ArgumentParser(
        prog="drapto-tui encode", description="Encode files or folders without the UI (same pipeline)."
    )
    encode.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files, or folders to search")
    encode.add_argument(
        "--resume",
        action="store_true",
        help="also run every queued or interrupted job of the persisted queue",
    )
    encode.add_argument("-o", "--output-dir", type=Path, help="where finished files go (output.dir)")
    encode.add_argument("--json", action="store_true", help="one JSON event per line on stdout, nothing else")
    encode.add_argument("--overwrite", action="store_true", help="replace existing output files")
    encode.add_argument(
        "--replace",
        action="store_true",
        help="library mode: each validated encode takes its source's place (same folder and name, .mkv); the"
        " source goes to library.trash_dir, and `drapto-tui restore` puts it back",
    )
    encode.add_argument("--keep-temp", action="store_true", help="keep each finished job's temporary files")
    _common(encode)

    queue = argparse.ArgumentParser(
        prog="drapto-tui queue", description="List the persisted queue, or take jobs off it."
    )
    queue.add_argument("--json", action="store_true", help="one JSON object per job")
    queue.add_argument(
        "--remove",
        action="append",
        default=[],
        metavar="ID",
        help="take this job off the queue (its id, or the start of it, as listed); repeatable",
    )
    queue.add_argument(
        "--clear-finished", action="store_true", help="take every completed, kept and cancelled job off"
    )
    _common(queue)

    config = argparse.ArgumentParser(prog="drapto-tui config", description="Check or show configuration.")
    sub = config.add_subparsers(dest="action", required=True)
    check = sub.add_parser("check", help="validate a TOML file; list every bad field; exit 2 if any")
    check.add_argument("file", type=Path)
    check.add_argument("--debug", action="store_true")
    show = sub.add_parser("show", help="print the effective configuration as TOML")
    _common(show)
    service = argparse.ArgumentParser(
        prog="drapto-tui service",
        description="The background process that owns the queue, so that encoding outlives the terminal."
        " The app starts it when needed and attaches to it.",
    )
    service.add_argument(
        "action",
        choices=("start", "stop", "status", "run"),
        help="start it detached, stop it (resumable), show it, or run it in this terminal",
    )
    service.add_argument("-o", "--output-dir", type=Path, help="where finished files go (output.dir)")
    _common(service)

    web = argparse.ArgumentParser(
        prog="drapto-tui web",
        description="Serve the app to a browser (one more client of the service), with a random token in the URL.",
    )
    web.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0: any free port)")
    web.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this machine only; anything else must be asked for)",
    )
    web.add_argument("-o", "--output-dir", type=Path, help="where finished files go (output.dir)")
    _common(web)

    watch = argparse.ArgumentParser(
        prog="drapto-tui watch",
        description="Have the service watch folders: a new film there is queued once it has stopped growing"
        " (input.watch_settle seconds). input.watch_dirs does the same from the configuration.",
    )
    watch.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="folders to watch")
    watch.add_argument("-o", "--output-dir", type=Path, help="where finished files go (output.dir)")
    _common(watch)
    scan = argparse.ArgumentParser(
        prog="drapto-tui scan",
        description="Say, for every film under the folders, whether library mode would encode it or why it leaves"
        " it alone ([library] rules), and what encoding would save. Reads headers only; encodes nothing.",
    )
    scan.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="folders (or files) to look at")
    scan.add_argument("--json", action="store_true", help="one JSON object per file")
    _common(scan)
    stats = argparse.ArgumentParser(
        prog="drapto-tui stats",
        description="What encoding saved: lifetime and per-folder totals from the savings ledger.",
    )
    stats.add_argument("--json", action="store_true", help="one JSON object: lifetime and folders")
    _common(stats)
    restore = argparse.ArgumentParser(
        prog="drapto-tui restore",
        description="Put the original of a film replaced in place back at its path, byte for byte, and take the"
        " encode away (library mode); its saving leaves the ledger.",
    )
    restore.add_argument(
        "targets", nargs="*", metavar="PATH|JOB", help="the film's path (source or encode), or its job id"
    )
    restore.add_argument("--list", action="store_true", help="list the films replaced in place, and where")
    _common(restore)
    return {
        "app": app,
        "restore": restore,
        "scan": scan,
        "stats": stats,
        "probe": probe,
        "config": config,
        "encode": encode,
        "queue": queue,
        "service": service,
        "web": web,
        "watch": watch,
    }


def _split_command(argv: Sequence[str]) -> tuple[str, list[str]]:
    """The first positional word picks the command; options and their values before it are kept."""
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in _VALUE_OPTIONS:
            skip = True
            continue
        if arg.startswith("-"):
            continue
        if arg in COMMANDS:
            return arg, list(argv[:i]) + list(argv[i + 1 :])
        break
    return "app", list(argv)


def config_args(args: argparse.Namespace) -> list[str]:
    """The options that choose the configuration, for a service started on this command's behalf."""
    out: list[str] = []
    if getattr(args, "config", None):
        out += ["--config", str(Path(args.config).resolve())]
    for override in getattr(args, "overrides", []) or []:
        out += ["--set", override]
    if getattr(args, "output_dir", None):
        out += ["--set", f"output.dir={json.dumps(str(Path(args.output_dir).resolve()))}"]
    return out


def _load(args: argparse.Namespace):
    from drapto_tui.config import load_config

    overrides = list(getattr(args, "overrides", []) or [])
    if getattr(args, "output_dir", None):
        overrides.append(f"output.dir={json.dumps(str(args.output_dir))}")
    config = load_config(getattr(args, "config", None), overrides=overrides)
    for notice in config.notices:
        print(f"drapto-tui: {notice}", file=sys.stderr)
    return config


def cmd_config(args: argparse.Namespace) -> int:
    from drapto_tui.config import check_file, to_toml

    if args.action == "check":
        notices: list[str] = []
        issues = check_file(args.file, notices)
        for notice in notices:
            print(f"{args.file}: {notice}", file=sys.stderr)
        if issues:
            for issue in issues:
                print(f"{args.file}: {issue}", file=sys.stderr)
            print(
                f"{args.file}: {len(issues)} problem(s); fix them and run 'drapto-tui config check' again",
                file=sys.stderr,
            )
            return 2
        print(f"{args.file}: ok")
        return 0
    config = _load(args)
    # The folders as they will be used: '' means "the default", which `show` resolves so a user sees where.
    resolved = config.model_copy(
        update={
            "processing": config.processing.model_copy(update={"temp_dir": str(config.temp_root())}),
            "output": config.output.model_copy(update={"dir": str(config.output_root())}),
        }
    )
    sys.stdout.write(to_toml(resolved))
    return 0


def _probe_text(media) -> str:
    from drapto_tui.config.units import human_size

    lines = [
        f"{media.path}",
        f"  container   {media.container}   {human_size(media.size)}   {media.duration:.3f} s",
        f"  video       {media.video_codec} {media.width}x{media.height} {media.fps_fraction or media.fps} fps"
        f"  {media.frame_count if media.frame_count is not None else '?'} frames  {media.bit_depth or '?'}-bit"
        f"  {media.pix_fmt or ''}",
        f"  colour      primaries {media.color_primaries or '-'}  transfer {media.color_transfer or '-'}"
        f"  matrix {media.color_matrix or '-'}  range {media.color_range or '-'}",
        f"  HDR         {media.hdr_format or ('yes' if media.hdr else 'no')}"
        + (f"  Dolby Vision profile {media.dv_profile} level {media.dv_level}" if media.dolby_vision else ""),
    ]
    if media.mastering_display:
        md = media.mastering_display
        lines.append(
            f"  mastering   {md.primaries or 'custom'}  {md.min_luminance}-{md.max_luminance} cd/m2"
            f"  MaxCLL {media.max_cll}  MaxFALL {media.max_fall}"
        )
    for a in media.audio:
        lines.append(
            f"  audio {a.index}     {a.codec} {a.channels} ch ({a.layout or '-'}) {a.language or 'und'}"
            + (f" '{a.title}'" if a.title else "")
            + (" default" if a.default else "")
        )
    lines.append(f"  subtitles   {media.subtitles}   chapters {media.chapters}")
    lines.append(f"  class       {media.resolution_class.upper()}   path {media.encoding_path}")
    return "\n".join(lines)


async def _probe_all(paths: list[Path], ffmpeg: str, input_cfg) -> list[object]:
    """Probe each file, and each film a folder holds (discovery rules); errors stay in line with the rest."""
    from drapto_tui.engine.discovery import discover
    from drapto_tui.media.probe import probe

    results: list[object] = []
    for path in paths:
        try:
            files = discover([path], input_cfg) if path.is_dir() else [path]
        except DraptoError as err:
            results.append(err)
            continue
        for file in files:
            try:
                results.append(await probe(file, ffmpeg))
            except DraptoError as err:
                results.append(err)
    return results


def cmd_probe(args: argparse.Namespace) -> int:
    from drapto_tui.media.tools import find_ffmpeg

    config = _load(args)
    ffmpeg = find_ffmpeg(config.tools.ffmpeg)
    results = asyncio.run(_probe_all(args.files, ffmpeg, config.input))
    failed = 0
    payload = []
    for result in results:
        if isinstance(result, DraptoError):
            failed += 1
            print(f"drapto-tui: {result.line()}", file=sys.stderr)
            continue
        if args.json:
            payload.append(result.model_dump(mode="json"))  # type: ignore[attr-defined]
        else:
            print(_probe_text(result))
    if args.json and payload:
        single = len(results) == 1 and not args.files[0].is_dir()
        print(json.dumps(payload[0] if single else payload, indent=2))
    return 1 if failed else 0


def cmd_encode(args: argparse.Namespace) -> int:
    from drapto_tui.cli.encode import encode_command

    if args.keep_temp:
        args.overrides.append("processing.keep_temp=true")
    if not args.paths and not args.resume:  # a usage error: exit 2 with the usage, as argparse does
        build_parsers()["encode"].error("nothing to encode: give files or folders, or --resume")
    config = _load(args)
    from drapto_tui.engine.preflight import check_machine

    check_machine(config)  # a bad tools.ffmpeg, hwaccel, temp or output folder: exit 2 now, not 1 in a job
    return encode_command(
        config,
        args.paths,
        as_json=args.json,
        overwrite=args.overwrite,
        resume=args.resume,
        replace=args.replace,
    )


def cmd_queue(args: argparse.Namespace) -> int:
    """Read the queue at any time, beside a running encode or app (a read-only look at the WAL database, no
    lock). Rows a killed process left "running" or "paused" show as "interrupted": they resume on the next start."""
    from drapto_tui.engine.engine import Engine
    from drapto_tui.service.client import live_look

    config = _load(args)
    if args.remove or args.clear_finished:
        from drapto_tui.cli.queue_edit import edit_queue

        return edit_queue(config, args.remove, args.clear_finished)
    look = live_look(config) or Engine.look(config)
    jobs, owner, status = look.jobs, look.owner_pid, look.status

    if args.json:
        for job in jobs:
            row = job.model_dump(mode="json", exclude={"segments", "media"})
            print(json.dumps({**row, "status": status(job), "owner_pid": owner}))
        return 0
    if owner is not None:
        print(f"live: drapto-tui pid {owner} is working on this queue")
    if look.waiting:
        print(look.waiting)
    if not jobs:
        print("queue is empty")
    for i, job in enumerate(jobs, 1):
        done = len(job.done_segments())
        segs = f"{done}/{len(job.segments)} seg" if job.segments else ""
        prio = f" prio {job.priority:+d}" if job.priority else ""
        print(
            f"{i:>3}  {job.job_id}  {status(job):<11} {job.stage.value:<10} {(job.shown_progress() or 0) * 100:5.1f}%  {segs:<10}"
            f" {job.current_file}{prio}"
        )
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    from drapto_tui.service.commands import service_command

    return service_command(args.action, _load(args), config_args(args))


def cmd_web(args: argparse.Namespace) -> int:
    import asyncio

    from drapto_tui.cli.web import web_command
    from drapto_tui.engine.preflight import check_machine
    from drapto_tui.service.client import attach_or_start

    config = _load(args)
    check_machine(config)
    given = config_args(args)

    async def ensure() -> None:  # the service first: a bad config is one line here, not in every tab
        client, _ = await attach_or_start(config, given, client="web")
        await client.close()

    asyncio.run(ensure())
    return web_command(given, host=args.host, port=args.port, max_sessions=config.web.max_sessions)


def cmd_watch(args: argparse.Namespace) -> int:
    import asyncio

    from drapto_tui.engine.preflight import check_machine
    from drapto_tui.service.client import attach_or_start
    from drapto_tui.service.protocol import ServiceCalls

    config = _load(args)
    check_machine(config)

    async def watch() -> tuple[dict, int]:
        client, _ = await attach_or_start(config, config_args(args), client="watch")
        try:
            dirs = [Path(d).expanduser().resolve() for d in args.dirs]
            where = (
                config.output_root().resolve()
            )  # this command's -o or config, not the service's own folder
            return dict(
                await client.call(ServiceCalls.watch, dirs=dirs, output_dir=where)
            ), client.service_pid
        finally:
            await client.close()

    answer, pid = asyncio.run(watch())
    print(
        f"the service (pid {pid}) watches {', '.join(answer['dirs'])}; a new film is queued once it has not"
        f" grown for {answer['settle']:g} s"
    )
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from drapto_tui.tui.launch import launch

    if args.demo and not args.paths:  # a usage error: exit 2 with the usage, as argparse does
        build_parsers()["app"].error(
            "--demo needs the demo's films: python3 dev.py demo makes them and opens it"
        )

    return launch(args, _load, config_args(args))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command, rest = _split_command(argv)
    parser = build_parsers()[command]
    args = parser.parse_args(rest)
    debug = getattr(args, "debug", False) or os.environ.get("DRAPTO_DEBUG") == "1"
    try:
        if command == "probe":
            return cmd_probe(args)
        if command == "config":
            return cmd_config(args)
        if command == "encode":
            return cmd_encode(args)
        if command == "queue":
            return cmd_queue(args)
        if command == "service":
            return cmd_service(args)
        if command == "web":
            return cmd_web(args)
        if command == "watch":
            return cmd_watch(args)
        if command in ("scan", "stats", "restore"):
            from drapto_tui.cli import library

            if command == "scan":
                return library.cmd_scan(_load(args), args.paths, args.json)
            if command == "restore":
                return library.cmd_restore(_load(args), args.targets, list_them=args.list)
            return library.cmd_stats(_load(args), args.json)
        return cmd_app(args)
    except ConfigError as err:
        if debug:
            raise
        prefix = f"{err.subject}: " if err.subject else ""
        for issue in err.issues:
            print(f"drapto-tui: config: {prefix}{issue}", file=sys.stderr)
        return err.exit_code
    except DraptoError as err:
        if debug:
            raise
        print(f"drapto-tui: {err.line()}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
