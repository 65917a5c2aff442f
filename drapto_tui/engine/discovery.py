"""Finding input files: recursive glob over directories, size filters, sorted by path; FILE_DISCOVERED for each."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from drapto_tui.config.schema import InputConfig
from drapto_tui.config.units import format_size
from drapto_tui.engine.bus import EventBus
from drapto_tui.errors import MediaError
from drapto_tui.model.events import FileDiscovered


def _matches(name: str, patterns: list[str]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)


def _size_ok(size: int, cfg: InputConfig) -> bool:
    return size >= cfg.min_size and (not cfg.max_size or size <= cfg.max_size)


#: Names that download tools and copiers give a file while it is incomplete (browsers, torrent clients, FTP and
#: download managers, office tools). Such a file is never a film, whatever its extension says, and a film with
#: one of these beside it (Firefox keeps an empty final name beside its .part; aria2 its .aria2) is still coming.
PARTIAL_SUFFIXES = (
    ".part",
    ".partial",
    ".crdownload",
    ".download",
    ".opdownload",
    ".tmp",
    ".temp",
    ".!qb",
    ".!ut",
    ".!bt",
    ".aria2",
    ".filepart",
    ".dtapart",
    ".unfinished",
    ".incomplete",
)


def not_a_film(file: Path, cfg: InputConfig, root: Path | None = None) -> str | None:
    """Why a file found in a folder (`root`: the folder searched or watched) is not queued, or None when it is
    a film by discovery's rules: hidden names (rsync and editors write their temporary copies as dot files),
    partial downloads, names outside input.file_pattern, sizes outside input.min_size/max_size."""
    parts = file.relative_to(root).parts if root is not None and file.is_relative_to(root) else (file.name,)
    if any(part.startswith(".") for part in parts):
        return "a hidden name (dot files are temporary copies: rsync, editors)"
    lowered = file.name.lower()
    suffix = next((s for s in PARTIAL_SUFFIXES if lowered.endswith(s)), None)
    if suffix is not None:
        return f"a partial download or temporary file ({suffix}); it is queued under its final name when complete"
    for sibling_suffix in PARTIAL_SUFFIXES:
        sibling = file.with_name(file.name + sibling_suffix)
        if sibling.exists():
            return f"still downloading ({sibling.name} is beside it)"
    if not _matches(file.name, cfg.patterns()):
        return f"not matching input.file_pattern ({cfg.file_pattern})"
    try:
        st = file.stat()
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file"
    if not _size_ok(st.st_size, cfg):
        return f"{format_size(st.st_size)}, outside input.min_size..input.max_size"
    return None


def named_like_films(
    folder: Path, cfg: InputConfig, unreadable: list[OSError] | None = None
) -> Iterator[tuple[Path, str | None]]:
    """Every file under `folder` (hidden folders left out) whose name matches input.file_pattern, each with
    not_a_film's reason, None for a film: partial downloads, pipes and sizes are told apart here, for discovery
    (which queues the films) and `scan` (which also says why the rest are not). Folders that cannot be read are
    added to `unreadable`."""
    patterns = cfg.patterns()
    for root, dirs, files in os.walk(folder, onerror=unreadable.append if unreadable is not None else None):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if _matches(name, patterns):  # the cheap test first: most files of a big folder end here
                file = Path(root) / name
                yield file, not_a_film(file, cfg, folder)


def discover(paths: Iterable[Path], cfg: InputConfig) -> list[Path]:
    """Files to encode: explicit files as given (they must exist), directories searched recursively.

    Raises MediaError naming the path when a given path is missing, or a directory yields nothing.
    """
    return [file for file, _ in discover_with_roots(paths, cfg)]


def discover_with_roots(paths: Iterable[Path], cfg: InputConfig) -> list[tuple[Path, Path | None]]:
    """Like discover(), with the folder each file was found under (None for a file given directly): the
    output layout 'mirror' repeats the folders below it."""
    found: list[tuple[Path, Path | None]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            unreadable: list[OSError] = []
            matches = [file for file, why in named_like_films(path, cfg, unreadable) if why is None]
            if not matches and unreadable:
                err = unreadable[0]
                raise MediaError(
                    f"cannot read this folder ({err.strerror})",
                    subject=str(err.filename or path),
                    hint="make it readable (chmod u+rx) or run as its owner",
                )
            if not matches:
                limits = ""
                if cfg.min_size or cfg.max_size:
                    limits = f", size {format_size(cfg.min_size)}..{format_size(cfg.max_size) if cfg.max_size else 'any'}"
                raise MediaError(
                    f"no files matching {cfg.file_pattern!r}{limits}",
                    subject=str(path),
                    hint="check the folder, input.file_pattern and input.min_size/max_size",
                )
            found.extend((match, path) for match in sorted(matches))
        elif path.exists():
            found.append((path, None))
        elif path.is_symlink():
            raise MediaError(
                "a link that leads nowhere (its target is missing, or it loops)",
                subject=str(path),
                hint="point it at the film, or give the film's own path",
            )
        else:
            raise MediaError("no such file or directory", subject=str(path), hint="check the path")
    # Same file given twice (or via a folder and directly) is queued once.
    unique: dict[str, tuple[Path, Path | None]] = {}
    for file, found_under in found:
        unique.setdefault(str(file.resolve()), (file, found_under))
    return list(unique.values())


class Preview(NamedTuple):
    """What adding these paths would do: the films it would queue, and those the queue already has."""

    new: list[Path]
    queued: list[Path]


def preview_files(paths: Iterable[Path], cfg: InputConfig, is_queued: Callable[[Path], bool]) -> Preview:
    """The add dialog's preview: the same discovery as adding, split as add_paths will split it (a film with a
    job in the queue is not queued twice). Raises MediaError (one line) for a bad path."""
    files = [file for file, _ in discover_with_roots(paths, cfg)]
    return Preview([f for f in files if not is_queued(f)], [f for f in files if is_queued(f)])


def discover_files(
    paths: Iterable[Path], cfg: InputConfig, bus: EventBus | None = None
) -> list[tuple[Path, Path | None]]:
    """Films under `paths`, each with the folder it was found under (for output.layout = "mirror")."""
    files = discover_with_roots(paths, cfg)
    if bus is not None:
        for file, _ in files:
            bus.emit(FileDiscovered(size=file.stat().st_size), file=file)
    return files
