"""`drapto-tui scan` (what library mode would do to each film, and why not) and `drapto-tui stats` (what it saved).

Both only read: the films' headers (scan) and the state database beside a running service (SQLite WAL), so they
are safe to run at any time, as often as a user likes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.engine.engine import Engine
from drapto_tui.engine.ledger import Totals
from drapto_tui.engine.library import Verdict, count, library_roots, library_scan, read_ledger, totals_line


def cmd_scan(config: DraptoConfig, paths: list[Path], as_json: bool) -> int:
    verdicts = asyncio.run(library_scan(paths, config))
    if as_json:
        for verdict in verdicts:
            print(json.dumps(asdict(verdict) | {"projected_saving": verdict.projected_saving}))
        return 0
    for verdict in verdicts:
        print(verdict.line())
    print(scan_summary(verdicts))
    return 0


def scan_summary(verdicts: list[Verdict]) -> str:
    eligible = [v for v in verdicts if v.eligible]
    size = sum(v.size for v in eligible)
    saving = sum(v.projected_saving for v in eligible)
    left = len(verdicts) - len(eligible)
    return (
        f"{count(len(verdicts), 'file')}: {len(eligible)} to encode ({human_size(size)}, saving about"
        f" {human_size(saving)}), {left} left as {'it is' if left == 1 else 'they are'}"
    )


def totals_json(t: Totals) -> dict[str, object]:
    return asdict(t) | {"saved": t.saved}


def cmd_stats(config: DraptoConfig, as_json: bool) -> int:
    with read_ledger(config) as ledger:
        lifetime = ledger.lifetime() if ledger is not None else None
        folders = ledger.by_folder(library_roots(config)) if ledger is not None else {}
    if as_json:
        print(
            json.dumps(
                {
                    "lifetime": totals_json(lifetime) if lifetime else None,
                    "folders": {folder: totals_json(t) for folder, t in folders.items()},
                }
            )
        )
        return 0
    if lifetime is None or not lifetime.films:
        print(
            "No film finished yet: the ledger fills as jobs end (drapto-tui encode, the app, watch folders)."
        )
        return 0
    print(totals_line("lifetime", lifetime))
    for folder, t in folders.items():
        print(totals_line(f"  {folder}", t))
    return 0


def cmd_restore(config: DraptoConfig, targets: list[str], *, list_them: bool) -> int:
    """Through the service when one runs (it owns the queue and the ledger), else in this process."""
    from drapto_tui.errors import DraptoError

    if not targets and not list_them:
        print("drapto-tui restore: give a film's path or job id, or --list", file=sys.stderr)
        return 2

    async def each(
        listed: Callable[[], Awaitable[list[dict[str, Any]]]], restore: Callable[[str], Awaitable[str]]
    ) -> tuple[list[str], list[str]]:
        lines = [replacement_line(r) for r in await listed()] if list_them else []
        errors: list[str] = []
        for target in targets:
            try:
                lines.append(await restore(_absolute(target)))
            except DraptoError as err:
                errors.append(err.line())
        return lines, errors

    async def run() -> tuple[list[str], list[str]]:
        from drapto_tui.service.client import ServiceClient, ServiceUnavailable
        from drapto_tui.service.protocol import ServiceCalls

        try:
            client = await ServiceClient.connect(config, client="restore")
        except ServiceUnavailable:
            client = None
        if client is not None:  # the service owns the queue and the ledger: it restores
            try:
                return await each(
                    lambda: client.call(ServiceCalls.replacements),
                    lambda target: client.call(ServiceCalls.restore, target=target),
                )
            finally:
                await client.close()
        engine = Engine.open_idle(config, hint="let it finish, or start the service and restore through it")

        async def listed() -> list[dict[str, Any]]:
            return engine.replacements()

        async def restore(target: str) -> str:
            return engine.restore(target)

        try:
            return await each(listed, restore)
        finally:
            await engine.close()

    lines, errors = asyncio.run(run())
    for line in lines:
        print(line)
    for line in errors:
        print(f"drapto-tui: {line}", file=sys.stderr)
    return 1 if errors else 0


def _absolute(target: str) -> str:
    """A path as the ledger keeps it (absolute, resolved); a job id as given."""
    path = Path(target).expanduser()
    return str(path.resolve()) if path.exists() or "/" in target else target


def replacement_line(found: dict[str, str | None]) -> str:
    state = (
        f"restored {str(found['restored_at'])[:10]}"
        if found["restored_at"]
        else f"original deleted {str(found['purged_at'])[:10]}"
        if found["purged_at"]
        else f"original in {found['kept']}"
    )
    return f"{found['job_id'][:8] if found['job_id'] else ''}  {str(found['replaced_at'])[:10]}  {found['target']}  ({state})"
