"""logs/jobs/<job>/ffmpeg.log: every FFmpeg run of one job (when, exit status, time, command, stderr tail), so a
failure can be read after the fact, in the inspector or with any pager. Capped: past the cap, the older half goes.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from pathlib import Path

from drapto_tui.media.ffmpeg import FfmpegProcess

#: How many stderr lines of each run are kept (FFmpeg's own tail, which holds the error when there is one).
TAIL_LINES = 20


class JobLog:
    def __init__(self, path: Path, cap: int) -> None:
        self.path = path
        self.cap = cap

    @staticmethod
    def path_for(logs_dir: Path, job_id: str) -> Path:
        return logs_dir / "jobs" / job_id / "ffmpeg.log"

    def record(self, proc: FfmpegProcess) -> None:
        """Append one finished run; a log that cannot be written never stops the job."""
        returncode = proc.proc.returncode if proc.proc is not None else None
        if proc.cancelled:
            status = "cancelled"
        elif proc.stopped_at is not None:  # its exit status would read as a failure
            status = f"stopped by drapto-tui at: {proc.stopped_at.strip()}"
        else:
            status = f"exit {returncode}"
        lines = [
            f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {status} after {proc.elapsed():.1f} s",
            f"$ {shlex.join(proc.args)}",
            *(f"  {line}" for line in proc.stderr_tail()[-TAIL_LINES:]),
        ]
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8", opener=_owner_only) as fh:  # names the film
                fh.write("\n".join(lines) + "\n")
            if self.path.stat().st_size > self.cap:
                self._trim()

    def _trim(self) -> None:
        """Keep the newest half, starting at a run's first line, written aside and renamed into place."""
        text = self.path.read_text(encoding="utf-8", errors="replace")
        keep = text[len(text) - self.cap // 2 :]
        start = keep.find("\n== ")
        keep = keep[start + 1 :] if start >= 0 else keep
        partial = self.path.with_suffix(".log.partial")
        with open(partial, "w", encoding="utf-8", opener=_owner_only) as fh:
            fh.write(keep)
        os.replace(partial, self.path)

    @staticmethod
    def tail(path: Path, lines: int = 300, window: int = 256 * 1024) -> list[str]:
        """The newest `lines` lines, read from at most the last `window` bytes (a screen asks twice a second)."""
        try:
            with path.open("rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                fh.seek(max(size - window, 0))
                text = fh.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        found = text.splitlines()
        if size > window and found:
            found = found[1:]  # the first line was cut by the window
        return found[-lines:]


def _owner_only(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


__all__ = ["JobLog"]
