"""Working directories under processing.temp_dir: working/, segments/, encoded/, logs/, state/.

Each job gets its own subfolder in working/, segments/ and encoded/. A failed job's files stay (they are
the evidence, and a retry reuses finished segments); a finished job's go unless processing.keep_temp.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.units import human_size
from drapto_tui.errors import DraptoError, unusable

AREAS = ("working", "segments", "encoded", "logs", "state")
#: The areas that name every film and path (the queue's database, the event log, the service's log): only
#: their owner may enter them, and their files are 0600, kept so on every start (an older version made them
#: readable by every local user).
PRIVATE_AREAS = ("logs", "state")


def make_private(folder: Path) -> None:
    """folder 0700 and everything in it owner-only (files lose group/other bits), if this user owns them."""
    with contextlib.suppress(OSError):
        if folder.stat().st_uid == os.getuid():
            os.chmod(folder, 0o700)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), 0o700)
        for name in files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                mode = os.lstat(path).st_mode
                if stat.S_ISREG(mode) and mode & 0o077:
                    os.chmod(path, stat.S_IMODE(mode) & 0o700)


@dataclass(frozen=True)
class JobDirs:
    working: Path
    segments: Path
    encoded: Path

    def all(self) -> tuple[Path, Path, Path]:
        return (self.working, self.segments, self.encoded)


class WorkDirs:
    @staticmethod
    def area_of(config: DraptoConfig, area: str) -> Path:
        """Where one of the AREAS is for this configuration, without creating anything (readers, clients)."""
        return config.temp_root() / area

    def __init__(self, config: DraptoConfig) -> None:
        self.config = config
        self.base_dir = config.temp_root()
        self.paths = self._initialize_paths()

    def _initialize_paths(self) -> dict[str, Path]:
        paths = {area: self.area_of(self.config, area) for area in AREAS}
        try:
            for path in paths.values():
                path.mkdir(parents=True, exist_ok=True)
                if not os.access(path, os.W_OK | os.X_OK):
                    raise PermissionError(13, "Permission denied", str(path))
            for area in PRIVATE_AREAS:
                make_private(paths[area])
        except PermissionError as exc:
            raise unusable(exc, "working folder") from None
        except OSError as exc:
            raise DraptoError(
                f"cannot create the working folders ({exc.strerror})",
                subject=str(self.base_dir),
                hint="set processing.temp_dir to a writable folder",
            ) from None
        return paths

    @property
    def logs(self) -> Path:
        return self.paths["logs"]

    @property
    def state(self) -> Path:
        return self.paths["state"]

    def job_dirs(self, job_id: str, *, create: bool = True) -> JobDirs:
        dirs = JobDirs(
            working=self.paths["working"] / job_id,
            segments=self.paths["segments"] / job_id,
            encoded=self.paths["encoded"] / job_id,
        )
        if create:
            for path in dirs.all():
                path.mkdir(parents=True, exist_ok=True)
        return dirs

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.base_dir).free

    def ensure_free_space(self, job_label: str, floor: int | None = None) -> None:
        """Refuse to start work when the temp filesystem is below the configured floor."""
        floor = self.config.resources.temp_free_floor if floor is None else floor
        free = self.free_bytes()
        if free < floor:
            raise DraptoError(
                f"only {human_size(free)} free in {self.base_dir}, below the floor of {human_size(floor)}",
                subject=job_label,
                hint="free some space, point processing.temp_dir elsewhere, or lower resources.temp_free_floor",
            )

    def finish_job(self, job_id: str, *, success: bool) -> None:
        """Remove a finished job's files unless keep_temp; a failed job keeps them for inspection/retry."""
        if success and not self.config.processing.keep_temp:
            self.remove_job(job_id)

    def remove_job(self, job_id: str) -> None:
        for path in self.job_dirs(job_id, create=False).all():
            shutil.rmtree(path, ignore_errors=True)
