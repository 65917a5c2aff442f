"""Disk space and output checks that must come before hours of work, not after.

Temp space a job needs is estimated from the source size: the chunked path holds the stream-copied segments
(about the source's size), the encoded segments, the joined video and the muxed file (each at most about half
the source at the default quality; an AV1 encode at VMAF 93 is usually far smaller); the direct path holds the
encode and the muxed file. A job starts only when its estimate fits beside what the running jobs still need.

The output is checked when a job is queued and again right before it starts: the folder can be made and
written, the name fits the filesystem, and (when the output is on another filesystem than the temp dir, so
placing it is a copy) there is room for it.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path

from drapto_tui.config.units import human_size
from drapto_tui.errors import DiskFullError, DraptoError

#: Temp space a job needs, as a multiple of its source's size (see the module docstring).
TEMP_FACTOR = {"chunked": 2.5, "dolby_vision": 1.0}
#: The finished file, as a multiple of the source's size, for the output filesystem check.
OUTPUT_FACTOR = 0.5
#: SQLite's words for a full disk (FFmpeg's are read by FfmpegError.disk_full).
DISK_FULL_MARKERS = ("database or disk is full",)


DISK_FULL_HINT = (
    "free some space there or point processing.temp_dir at a bigger disk, then retry the job"
    " (its finished segments are kept)"
)


def temp_need(source_size: int, encoding_path: str | None) -> int:
    return int(source_size * TEMP_FACTOR.get(encoding_path or "chunked", TEMP_FACTOR["chunked"]))


def used_bytes(paths: list[Path]) -> int:
    total = 0
    for root in paths:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    continue
    return total


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(marker in str(exc) for marker in DISK_FULL_MARKERS)


#: Below this much free space a tool's failure is taken for the full disk it most likely is (libvmaf, for one,
#: exits 0 and leaves an empty log when it cannot write).
NEARLY_FULL = 1 << 20


def nearly_full(where: Path) -> bool:
    try:
        return shutil.disk_usage(where).free < NEARLY_FULL
    except OSError:
        return False


def disk_full_line(where: Path) -> str:
    return f"the disk is full (no space left on the filesystem holding {where})"


def existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def output_problem(output: Path, *, source_size: int, temp_dir: Path) -> str | None:
    """Why `output` cannot be written (one line with the fix), or None when it can, as far as is known now."""
    folder = output.parent
    anchor = existing_ancestor(folder)
    if not anchor.is_dir():
        return (
            f"cannot create the output folder {folder}: {anchor} is a file, not a folder — choose another"
            " --output-dir (output.dir)"
        )
    try:
        name_max = os.pathconf(anchor, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    for name in [output.name, *folder.relative_to(anchor).parts]:  # the name and each folder still to make
        if len(os.fsencode(name)) > name_max:
            return (
                f"the output name {name!r} is {len(os.fsencode(name))} bytes, longer than the {name_max} this"
                f' filesystem allows in {anchor} — rename the source, or choose output.layout = "flat"'
            )
    if not writable(anchor):
        return f"the output folder {anchor} is not writable — choose a writable --output-dir (output.dir)"
    try:
        same_fs = os.stat(anchor).st_dev == os.stat(existing_ancestor(temp_dir)).st_dev
        free = shutil.disk_usage(anchor).free
    except OSError:
        return None
    need = int(source_size * OUTPUT_FACTOR)
    if not same_fs and free < need:
        return (
            f"only {human_size(free)} free in {anchor}, the output needs about {human_size(need)} — free"
            " some space or choose another --output-dir (output.dir)"
        )
    return None


def writable(folder: Path) -> bool:
    """Really try: access(2) says yes to root on a folder it cannot write into (a read-only mount says no)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    probe = folder / f".drapto-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.open("xb").close()
    except OSError as exc:
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)  # writable, only full: the space check says so
    probe.unlink(missing_ok=True)
    return True


def check_output(output: Path, *, source: Path, source_size: int, temp_dir: Path) -> None:
    problem = output_problem(output, source_size=source_size, temp_dir=temp_dir)
    if problem is not None:
        raise DraptoError(problem, subject=str(source))


__all__ = [
    "DISK_FULL_HINT",
    "OUTPUT_FACTOR",
    "TEMP_FACTOR",
    "DiskFullError",
    "check_output",
    "disk_full_line",
    "existing_ancestor",
    "is_disk_full",
    "output_problem",
    "temp_need",
    "used_bytes",
    "writable",
]
