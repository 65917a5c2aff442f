"""`drapto-tui scan` (what library mode would do to each film, and why not) and `drapto-tui stats` (what it saved).

Both only read: the films' headers (scan) and the state database beside a running service (SQLite WAL), so they
are safe to run at any time, as often as a user likes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.engine.engine import Engine
from drapto_tui.engine.eta import fmt_eta
from drapto_tui.engine.ledger import Ledger, Totals
from drapto_tui.engine.library import Verdict, scan
from drapto_tui.engine.store import StateStore
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.media.tools import find_ffmpeg


@contextlib.contextmanager
def read_ledger(config: DraptoConfig) -> Iterator[Ledger | None]:
    """The ledger of this configuration's state dir, read-only; None before any queue was kept there."""
    Engine.look(config)  # the same checks (another user's private state dir is one line)
    state_dir = WorkDirs.area_of(config, "state")
    if not (state_dir / "state.sqlite3").exists():
        yield None
        return
    store = StateStore(state_dir, read_only=True)
    try:
        yield store.ledger
    finally:
        store.close()


def cmd_scan(config: DraptoConfig, paths: list[Path], as_json: bool) -> int:
    ffmpeg = find_ffmpeg(config.tools.ffmpeg)
    with read_ledger(config) as ledger:
        verdicts = asyncio.run(
            scan(
                paths,
                config,
                ffmpeg,
                failures=ledger.failures if ledger is not None else lambda _: None,
                learned=ledger.learned() if ledger is not None else {},
            )
        )
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


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def totals_json(t: Totals) -> dict[str, object]:
    return asdict(t) | {"saved": t.saved}


def totals_line(label: str, t: Totals) -> str:
    share = f" ({t.saved / t.bytes_in:.0%})" if t.bytes_in else ""
    score = f", mean score {t.mean_score:.2f}" if t.mean_score is not None else ""
    return (
        f"{label}: {count(t.films, 'film')}, {t.encoded} encoded, {human_size(t.bytes_in)} in,"
        f" {human_size(t.bytes_out)} out, saved {human_size(t.saved)}{share}, {fmt_eta(t.seconds)} encoding{score}"
        + (f", {t.replaced} replaced in place" if t.replaced else "")
    )


def library_roots(config: DraptoConfig) -> list[str]:
    """The folders a user thinks of as their libraries: [[library.folders]], the watched ones, input.source_dir."""
    roots = [f.path for f in config.library.folders] + list(config.input.watch_dirs)
    return [str(Path(r).expanduser().resolve()) for r in [*roots, config.input.source_dir] if r]


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
