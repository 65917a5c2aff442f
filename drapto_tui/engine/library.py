"""Library verdicts: for each film of a collection, whether it would be encoded, or why it is left alone, and what
encoding it would save.

`drapto-tui scan` prints them before anything runs, and folder adds and watch folders follow the same rules, so a
film a user was told is skipped is never queued behind their back. The rules are [library] and its per-folder
tables (config/schema.py: LibraryRules); the facts are a probe's (no decode) and the state database's failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig, LibraryRules
from drapto_tui.config.units import human_size
from drapto_tui.engine.discovery import named_like_films
from drapto_tui.engine.eta import fmt_eta
from drapto_tui.engine.ledger import Failures, Ledger, Totals
from drapto_tui.engine.store import StateStore
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.errors import DraptoError, MediaError, unusable
from drapto_tui.media.probe import probe
from drapto_tui.media.tools import find_ffmpeg
from drapto_tui.model.media import MediaProbe

#: What AV1 at the default target typically keeps of a source's size, by the source's video format: the scan's
#: projection when this library has too few finished films of that format to learn from (LEARN_AFTER).
TYPICAL_KEPT = {
    "MPEG Video": 0.30,
    "VC-1": 0.35,
    "AVC": 0.45,
    "MPEG-4 Visual": 0.50,
    "HEVC": 0.70,
    "VP9": 0.75,
}
TYPICAL_OTHER = 0.50
LEARN_AFTER = 3


@dataclass(frozen=True)
class Verdict:
    path: str
    eligible: bool
    reason: str  # why it is left alone; for an eligible film, what would be done
    size: int = 0
    codec: str | None = None
    kbps: int | None = None
    projected_bytes: int | None = None  # the output's projected size (eligible films)
    basis: str = ""  # where the projection comes from

    @property
    def projected_saving(self) -> int:
        return self.size - self.projected_bytes if self.projected_bytes is not None else 0

    def line(self) -> str:
        facts = ", ".join(
            part
            for part in (
                self.codec or "",
                human_size(self.size) if self.size else "",
                f"{self.kbps / 1000:.1f} Mb/s" if self.kbps else "",
            )
            if part
        )
        head = f"{'encode' if self.eligible else 'skip  '}  {self.path}" + (f"  ({facts})" if facts else "")
        if self.eligible and self.projected_bytes is not None:
            return f"{head}\n        saves about {human_size(self.projected_saving)} ({self.basis})"
        return f"{head}\n        {self.reason}"


@contextlib.contextmanager
def read_ledger(config: DraptoConfig) -> Iterator[Ledger | None]:
    """The ledger of this configuration's state dir, read-only; None before any queue was kept there."""
    state_dir = WorkDirs.area_of(config, "state")
    if not (state_dir / "state.sqlite3").exists():
        yield None
        return
    try:  # another user's private state dir is one line, as for `queue`
        if not os.access(state_dir, os.R_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", str(state_dir))
        store = StateStore(state_dir, read_only=True)
    except PermissionError as exc:
        raise unusable(exc, "state database") from None
    try:
        yield store.ledger
    finally:
        store.close()


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def totals_line(label: str, t: Totals) -> str:
    share = f" ({t.saved / t.bytes_in:.0%})" if t.bytes_in else ""
    score = f", mean score {t.mean_score:.2f}" if t.mean_score is not None else ""
    return (
        f"{label}: {count(t.films, 'film')}, {t.encoded} encoded, {human_size(t.bytes_in)} in,"
        f" {human_size(t.bytes_out)} out, saved {human_size(t.saved)}{share}, {fmt_eta(t.seconds)} encoding{score}"
        + (f", {t.replaced} replaced in place" if t.replaced else "")
        + (f", {t.restored} restored" if t.restored else "")
    )


def library_roots(config: DraptoConfig) -> list[str]:
    """The folders a user thinks of as their libraries: [[library.folders]], the watched ones, input.source_dir."""
    roots = [f.path for f in config.library.folders] + list(config.input.watch_dirs)
    return [str(Path(r).expanduser().resolve()) for r in [*roots, config.input.source_dir] if r]


def overall_kbps(media: MediaProbe) -> int | None:
    return round(media.size * 8 / media.duration / 1000) if media.duration else None


def left_out(file: Path, failures: Failures | None, rules: LibraryRules) -> str | None:
    """Why a film that failed library.max_failures times is left out of folder adds and scans, else None."""
    if failures is None or not rules.max_failures or failures.count < rules.max_failures:
        return None
    last = failures.last_error.removeprefix(f"{file}: ")
    times = "once" if failures.count == 1 else f"{failures.count} times"
    return f"left out: failed {times} (library.max_failures = {rules.max_failures}), last: {last}"


def rule_verdict(media: MediaProbe, rules: LibraryRules) -> str | None:
    """Why the rules leave this film alone, or None when it is to be encoded. The first rule that applies is
    said, in the order a user checks them: made here, format, size, bitrate."""
    if rules.skip_own and media.made_by is not None:
        return f"made by drapto-tui {media.made_by} (library.skip_own)"
    codec = media.video_codec or ""
    if codec.lower() in {c.lower() for c in rules.skip_codecs}:
        return f"already {codec} (library.skip_codecs)"
    kbps = overall_kbps(media)
    if (
        codec == "HEVC"
        and rules.skip_hevc_below_kbps
        and kbps is not None
        and kbps < rules.skip_hevc_below_kbps
    ):
        return f"HEVC at {kbps} kb/s, under library.skip_hevc_below_kbps ({rules.skip_hevc_below_kbps})"
    if rules.min_size and media.size < rules.min_size:
        return f"{human_size(media.size)}, under library.min_size ({human_size(rules.min_size)})"
    if rules.min_kbps and kbps is not None and kbps < rules.min_kbps:
        return f"{kbps} kb/s, under library.min_kbps ({rules.min_kbps})"
    return None


def projection(media: MediaProbe, learned: dict[str, tuple[int, float]]) -> tuple[int, str]:
    """The output's projected size and its basis: what this library's finished films of the same format kept
    (`learned`: format → (films, kept fraction)), else what AV1 typically keeps of that format."""
    codec = media.video_codec or "?"
    films, kept = learned.get(codec, (0, 0.0))
    if films >= LEARN_AFTER:
        return round(media.size * kept), f"as {films} {codec} films encoded here kept {kept:.0%}"
    typical = TYPICAL_KEPT.get(codec, TYPICAL_OTHER)
    return round(media.size * typical), f"rough: AV1 typically keeps {typical:.0%} of {codec}"


def candidates(paths: Iterable[Path], config: DraptoConfig) -> list[tuple[Path, str | None]]:
    """Every file under `paths` whose name matches input.file_pattern, with discovery's reason when it is not a
    film to queue (a partial download, a hidden copy, a size outside input's limits); sorted by path."""
    found: dict[str, tuple[Path, str | None]] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for file, why in named_like_films(path, config.input):
                found.setdefault(str(file.resolve()), (file, why))
        elif path.exists():
            found.setdefault(str(path.resolve()), (path, None))
        else:
            raise MediaError("no such file or directory", subject=str(path), hint="check the path")
    return sorted(found.values(), key=lambda item: str(item[0]))


async def scan(
    paths: Iterable[Path],
    config: DraptoConfig,
    ffmpeg: str,
    *,
    failures: Callable[[Path], Failures | None] = lambda _: None,
    learned: dict[str, tuple[int, float]] | None = None,
    jobs: int = 4,
) -> list[Verdict]:
    """A verdict for every film under `paths`: probes only (MediaInfo and FFmpeg's reading of the header), a few
    at a time; nothing is decoded or written."""
    gate = asyncio.Semaphore(jobs)

    async def one(file: Path, not_film: str | None) -> Verdict:
        if not_film is not None:
            return Verdict(str(file), False, not_film)
        rules = config.library.rules_for(file)
        if (excluded := left_out(file, failures(file), rules)) is not None:
            hint = "; retry it in the app, or add it by its own path, to try again"
            return Verdict(str(file), False, excluded + hint, file.stat().st_size)
        async with gate:
            try:
                media = await probe(file, ffmpeg)
            except DraptoError as err:
                return Verdict(str(file), False, f"cannot be read: {err.message}")
        kbps = overall_kbps(media)
        why = rule_verdict(media, rules)
        if why is not None:
            return Verdict(str(file), False, why, media.size, media.video_codec, kbps)
        size, basis = projection(media, learned or {})
        return Verdict(str(file), True, "encode", media.size, media.video_codec, kbps, size, basis)

    return list(await asyncio.gather(*(one(file, why) for file, why in candidates(paths, config))))


async def library_scan(paths: Iterable[Path], config: DraptoConfig) -> list[Verdict]:
    """`scan` with this configuration's FFmpeg and its state dir's failures and learned ratios (read-only):
    what `drapto-tui scan` prints and the app's add dialog shows for a folder."""
    ffmpeg = find_ffmpeg(config.tools.ffmpeg)
    with read_ledger(config) as ledger:
        return await scan(
            paths,
            config,
            ffmpeg,
            failures=ledger.failures if ledger is not None else lambda _: None,
            learned=ledger.learned() if ledger is not None else {},
        )
