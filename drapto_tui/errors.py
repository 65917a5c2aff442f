"""Errors a user can act on.

Every one renders as a single line that names the thing at fault (file, key, tool) and what to do about it;
the CLI prints that line and exits non-zero, with a traceback only under --debug.
"""

from __future__ import annotations

import os


class DraptoError(Exception):
    """A problem the user can fix; `str(err)` is the one line shown."""

    exit_code = 1
    #: The failure came from outside the film (a full disk, a cluster that went away): the film itself is fine,
    #: so `encode --resume` runs its job again, and it does not count towards library.max_failures.
    outside_the_film = False

    def __init__(self, message: str, *, subject: str | None = None, hint: str | None = None) -> None:
        self.message = message
        self.subject = subject
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        head = f"{self.subject}: {self.message}" if self.subject else self.message
        return f"{head} — {self.hint}" if self.hint else head


class ConfigError(DraptoError):
    """One or more bad configuration fields; `issues` holds every one of them."""

    exit_code = 2

    def __init__(self, issues: list[str], *, source: str | None = None) -> None:
        self.issues = issues
        first = issues[0] if issues else "invalid configuration"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(first + more, subject=source)


class MediaError(DraptoError):
    """An input file that cannot be used as it is."""


class ToolError(DraptoError):
    """FFmpeg (or another external tool) is missing or lacks what we need."""


class DiskFullError(DraptoError):
    """A filesystem filled up, or will not hold what a job needs."""

    outside_the_film = True


class ClusterError(DraptoError):
    """A Dask cluster did not return a segment (its workers kept going away, or it gave up on the task)."""

    outside_the_film = True


class StateError(DraptoError):
    """The state directory cannot be used (locked by another instance, corrupt, unwritable)."""


def owner_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def unusable(exc: OSError, what: str) -> StateError:
    """One line for a state file or folder this process cannot use (another user's, read-only, missing)."""
    from pathlib import Path

    path = Path(exc.filename) if exc.filename else None
    owner = ""
    hint = "run as the user who owns it, give it back to you (chown), or set processing.temp_dir to a folder of yours"
    if path is not None:
        try:
            st = path.stat()
            if st.st_uid != os.geteuid():
                owner = f"; it belongs to {owner_name(st.st_uid)}"
            else:  # ours, but its mode shuts us out: its permissions are the fix, not a new queue
                import stat

                mode = "u+rwx" if stat.S_ISDIR(st.st_mode) else "u+rw"
                hint = f"it is yours but its permissions ({stat.filemode(st.st_mode)}) shut you out: chmod {mode} {path}"
        except OSError:
            pass
    return StateError(f"cannot use the {what} ({exc.strerror}{owner})", subject=str(path or "?"), hint=hint)


class NotWorthEncoding(Exception):
    """The film's AV1 video would be over search.max_encoded_percent of the source's: the source is kept.

    Not a DraptoError: it is an outcome the user asked for, not a failure."""

    def __init__(self, reason: str, *, by_rule: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.by_rule = (
            by_rule  # left alone by a [library] rule, before any encode (not a try: no ledger line)
        )
