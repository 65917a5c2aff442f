"""Library mode's replace in place: the validated encode takes the source's place and the original goes to the
trash, and at no moment is there no film at the path a media server reads.

The swap runs in two journalled phases (a JSON file per job in the state folder says which one was reached):

- "staging": the encode is put beside the source under a hidden name (a dot file, which media servers and our own
  discovery skip) and synced; the original gets a second name in the trash (a hard link: the same bytes, no copy)
  or, with the trash on another filesystem, a synced copy.
- "ready": the hidden file is renamed over the film's path (rename(2) is atomic: a reader opens the old film or
  the new one, never neither), and a source of another name (film.mp4 → film.mkv) is unlinked, its bytes kept
  by the trash's name for them.

A restart reads the journals before any job runs: a swap still "staging" is undone (the hidden file and the trash
entry go, the source is as it was, and the job's mux runs again), one "ready" is finished and its job reported
done from the summary the journal carries. `restore` runs the swap backwards the same way: the original is renamed
back over the path, the encode is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.output_names import SUFFIX
from drapto_tui.engine.space import existing_ancestor, writable

#: The trash folder beside each film when library.trash_dir is empty (hidden: media servers skip it).
TRASH_NAME = ".drapto-trash"
_CHUNK = 8 << 20

#: Called with each step's name as the swap reaches it: the crash tests kill the process there (kill -9).
step_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if step_hook is not None:
        step_hook(name)


def replacement_path(source: Path) -> Path:
    """Where the encode goes in replace mode: the source's folder and name, as Matroska."""
    return source.with_suffix(SUFFIX)


def trash_root(source: Path, config: DraptoConfig) -> Path:
    given = config.library.trash_dir
    return Path(given).expanduser() if given else source.parent / TRASH_NAME


def replace_problem(source: Path, target: Path, trash: Path) -> str | None:
    """Why the source cannot be replaced in place (one line with the fix), said before its encode."""
    folder = source.parent
    how = "or encode to an output folder (without --replace / library.replace)"
    if not writable(folder):
        return f"its folder {folder} is read-only for this user, so it cannot be replaced in place — give write access, {how}"
    try:
        folder_mode, owner = folder.stat().st_mode, source.stat().st_uid
    except OSError:
        return None  # a missing source is said by the job itself
    if folder_mode & stat.S_ISVTX and os.geteuid() not in (0, owner):
        return (
            f"it belongs to another user in a sticky folder ({folder}), so only its owner can move it — run as"
            f" its owner, {how}"
        )
    if target != source and target.exists():
        return (
            f"{target.name} is already beside it; replacing would overwrite that file — move one of them away"
        )
    anchor = existing_ancestor(trash)
    if not anchor.is_dir() or not writable(anchor):
        return f"the trash folder {trash} cannot be made ({anchor} is not writable) — set library.trash_dir"
    return None


def same_filesystem(a: Path, b: Path) -> bool:
    try:
        return existing_ancestor(a).stat().st_dev == existing_ancestor(b).stat().st_dev
    except OSError:
        return False


@dataclass(frozen=True)
class Swap:
    """One film's replacement: the source, the path the encode takes, its hidden staging name, the trash entry."""

    job_id: str
    source: Path
    target: Path
    staged: Path
    kept: Path

    @classmethod
    def plan(cls, job_id: str, source: Path, trash: Path) -> Swap:
        source, trash = source.absolute(), trash.absolute()  # the journal and the ledger outlive any cwd
        target = replacement_path(source)
        return cls(
            job_id=job_id,
            source=source,
            target=target,
            staged=target.with_name(f".{target.name}.drapto-{job_id[:8]}.tmp"),
            kept=trash / job_id / source.name,
        )

    def as_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Swap:
        return cls(
            job_id=str(raw["job_id"]),
            **{k: Path(raw[k]) for k in ("source", "target", "staged", "kept")},
        )


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy_synced(src: Path, dst: Path, *, mode: int | None = None) -> None:
    """A full copy that is on disk before this returns; a partial one is removed."""
    try:
        with src.open("rb") as reader, dst.open("wb") as writer:
            first = True
            while chunk := reader.read(_CHUNK):
                writer.write(chunk)
                if first:
                    _step("copying")
                    first = False
            writer.flush()
            os.fsync(writer.fileno())
        shutil.copystat(src, dst)
        if mode is not None:
            os.chmod(dst, mode)
    except BaseException:
        dst.unlink(missing_ok=True)
        raise


class SwapJournal:
    """The swaps in progress, one JSON file each, written atomically (the phase, the plan, the job's summary)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def write(self, swap: Swap, phase: str, summary: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(swap.job_id)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump({"phase": phase, "swap": swap.as_json(), "summary": summary}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.folder)

    def remove(self, job_id: str) -> None:
        self._path(job_id).unlink(missing_ok=True)

    def pending(self) -> list[tuple[Swap, str, dict[str, Any]]]:
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
                found.append((Swap.from_json(raw["swap"]), str(raw["phase"]), dict(raw["summary"])))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return found


def keep_original(swap: Swap) -> None:
    """The source's second name in the trash: a hard link (same filesystem), else a synced copy."""
    swap.kept.parent.mkdir(parents=True, exist_ok=True)
    swap.kept.unlink(missing_ok=True)  # a half-made entry of an earlier try of this same job
    try:
        os.link(swap.source, swap.kept)
    except OSError:
        _copy_synced(swap.source, swap.kept)
    _fsync_dir(swap.kept.parent)


def stage(swap: Swap, built: Path) -> None:
    """The encode beside the source under its hidden name, with the source's permissions, on disk."""
    mode = stat.S_IMODE(swap.source.stat().st_mode)
    if same_filesystem(built, swap.staged):
        os.replace(built, swap.staged)
        os.chmod(swap.staged, mode)
    else:
        _copy_synced(built, swap.staged, mode=mode)
    if os.geteuid() == 0:  # root can give the new file the original's owner, as the library expects
        with contextlib.suppress(OSError):
            info = swap.source.stat()
            os.chown(swap.staged, info.st_uid, info.st_gid)
    _fsync_dir(swap.staged.parent)


def swap_in(swap: Swap, built: Path, journal: SwapJournal, summary: dict[str, Any]) -> None:
    """Replace the source with the validated encode (the module docstring's phases)."""
    journal.write(swap, "staging", summary)
    _step("journal")
    stage(swap, built)
    _step("staged")
    keep_original(swap)
    _step("kept")
    journal.write(swap, "ready", summary)
    _step("ready")
    finish(swap)


def finish(swap: Swap) -> None:
    """Phase "ready" onwards: the rename over the path, then the old name of a source with another suffix."""
    if swap.staged.exists():
        os.replace(swap.staged, swap.target)
        _fsync_dir(swap.target.parent)
    _step("renamed")
    if swap.source != swap.target and swap.source.exists() and swap.kept.exists():
        swap.source.unlink()
        _fsync_dir(swap.source.parent)
    _step("done")


def undo(swap: Swap) -> None:
    """Phase "staging": the source was never touched; the hidden file and the trash entry go."""
    swap.staged.unlink(missing_ok=True)
    if swap.source.exists():
        swap.kept.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            swap.kept.parent.rmdir()


def recover(journal: SwapJournal) -> list[tuple[Swap, str, dict[str, Any]]]:
    """Every half-done swap finished ("finished") or undone ("undone"), with its journalled summary."""
    settled = []
    for swap, phase, summary in journal.pending():
        if phase == "ready":
            finish(swap)
            settled.append((swap, "finished", summary))
        else:
            undo(swap)
            settled.append((swap, "undone", summary))
    return settled


def restore(source: Path, target: Path, kept: Path) -> None:
    """The original back at its path, byte for byte, and the encode gone; at every moment one film is there."""
    if not kept.exists():
        raise FileNotFoundError(kept)
    if same_filesystem(kept, source):
        os.replace(kept, source)  # over the encode itself when the names are the same
    else:
        back = source.with_name(f".{source.name}.drapto-restore.tmp")
        _copy_synced(kept, back)
        os.replace(back, source)
        kept.unlink()
    _fsync_dir(source.parent)
    if target != source:
        target.unlink(missing_ok=True)
        _fsync_dir(target.parent)
    for folder in (kept.parent, kept.parent.parent):  # the job's entry, then an emptied .drapto-trash
        with contextlib.suppress(OSError):
            folder.rmdir()


def purge(kept: Path) -> None:
    """A trash entry past library.trash_days: the original and its job's folder in the trash go."""
    kept.unlink(missing_ok=True)
    shutil.rmtree(kept.parent, ignore_errors=True)
    with contextlib.suppress(OSError):
        kept.parent.parent.rmdir()  # an empty .drapto-trash beside the films goes too


__all__ = [
    "TRASH_NAME",
    "Swap",
    "SwapJournal",
    "purge",
    "recover",
    "replace_problem",
    "replacement_path",
    "restore",
    "swap_in",
    "trash_root",
]
