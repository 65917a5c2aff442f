"""Which file a job's finished work came from, so a resume never splices stale segments onto a changed source.

A job records its source's identity when it starts; every later start (a resume, a retry) and the last steps
before audio and placement compare the file on disk with it. What counts as "changed":

- the size, or a content fingerprint (BLAKE2b of 1 MiB at the start, middle and end, and of the size):
  catches a different film copied over the old one even when the copy kept the old modification time
  (`cp -p`, rsync -a);
- the modification time (ns): catches an edit in place in a region the fingerprint does not read.

The inode and device are recorded and shown, but a file that only moved (restored from a backup, the library
copied to another disk with its times) keeps its finished work: same size, same time, same bytes where read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import BaseModel

from drapto_tui.config.units import human_size

CHUNK = 1 << 20


def fingerprint(path: Path, size: int) -> str:
    """A fast content hash: three 1 MiB reads wherever the file is, whatever its length."""
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    offsets = sorted({0, max(0, size // 2 - CHUNK // 2), max(0, size - CHUNK)})
    with path.open("rb") as fh:
        for offset in offsets:
            fh.seek(offset)
            digest.update(fh.read(CHUNK))
    return digest.hexdigest()


class SourceIdentity(BaseModel):
    size: int
    mtime_ns: int
    inode: int
    device: int
    fingerprint: str

    @classmethod
    def of(cls, path: Path) -> SourceIdentity:
        """Raises OSError (FileNotFoundError when the file is gone)."""
        st = os.stat(path)
        return cls(
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            inode=st.st_ino,
            device=st.st_dev,
            fingerprint=fingerprint(path, st.st_size),
        )

    def changes_from(self, recorded: SourceIdentity) -> list[str]:
        """What differs from the recorded identity, in words ([] when it is the same film)."""
        changes = []
        if self.size != recorded.size:
            changes.append(f"size {human_size(recorded.size)} → {human_size(self.size)}")
        if self.fingerprint != recorded.fingerprint:
            changes.append("content differs")
        if self.mtime_ns != recorded.mtime_ns:
            changes.append("modified since")
        return changes

    @property
    def key(self) -> str:
        """A short string for cache keys: results measured on this exact content."""
        return f"{self.size}-{self.mtime_ns}-{self.fingerprint}"


__all__ = ["SourceIdentity", "fingerprint"]
