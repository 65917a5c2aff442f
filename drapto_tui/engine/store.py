"""The embedded SQLite store of job state and the search cache.

Why SQLite (WAL mode) rather than a JSON file: a night's queue can hold thousands of jobs and tens of
thousands of segments, and a SEGMENT_COMPLETE must be durable the moment it happens. SQLite commits one
segment's row in a small transaction instead of rewriting the whole state; a crash (even mid-commit) leaves
the last committed checkpoint readable because WAL commits are atomic; and the same file holds the CRF-search
cache. One process owns a state dir at a time (an advisory lock), so two instances never interleave writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from drapto_tui.engine.ledger import Ledger
from drapto_tui.errors import StateError, unusable
from drapto_tui.model.events import OLD_METRIC, renamed_scores
from drapto_tui.model.state import (
    SCHEMA_VERSION,
    ProcessingState,
    SegmentState,
)


def lock_holder(state_dir: Path) -> int | None:
    """The pid of the process that holds this state dir's lock, or None when no process holds it.

    Decided by the lock itself, never by a pid alone: after a crash the pid written in `lock` (or in a stale
    service.json) may belong to an unrelated process, but only a live owner holds the flock. The probe takes a
    shared lock for an instant and lets it go; it never blocks and never writes.
    """
    path = state_dir / "lock"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1  # held, by a pid not yet written
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class StateStore:
    """The SQLite file under state/: jobs, segments and the search cache; one owner process at a time.

    `read_only=True` opens it beside a running owner (SQLite WAL lets readers in): no lock, no writes, for
    `drapto-tui queue` in a second terminal.
    """

    def __init__(self, state_dir: Path, *, read_only: bool = False) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "state.sqlite3"
        self.read_only = read_only
        self._lock_fh = None
        try:
            if not read_only:
                state_dir.mkdir(parents=True, exist_ok=True)
                self._lock_fh = self._acquire_lock(state_dir / "lock")
            self._refuse_empty_file()
            if self.path.exists() and not os.access(self.path, os.R_OK | (0 if read_only else os.W_OK)):
                raise PermissionError(13, "Permission denied", str(self.path))
            if read_only:
                self._open_read_only()
                return
        except PermissionError as exc:
            self._release_lock()
            raise unusable(
                exc, "state database" if exc.filename == str(self.path) else "state folder"
            ) from None
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            for name in (
                self.path.name,
                f"{self.path.name}-wal",
                f"{self.path.name}-shm",
            ):  # names every film
                with contextlib.suppress(OSError):
                    os.chmod(state_dir / name, 0o600)
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._check_integrity()
            self._create()
            self.ledger = Ledger(self.db, writable=True)
        except sqlite3.DatabaseError as exc:
            self._release_lock()
            raise StateError(
                f"state database is unreadable ({exc})",
                subject=str(self.path),
                hint=f"move it aside (mv {self.path} {self.path}.broken) and relaunch to start a new queue",
            ) from None

    def _open_read_only(self) -> None:
        try:
            self.db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            self._check_integrity()
            self.ledger = Ledger(self.db, writable=False)
        except sqlite3.OperationalError as exc:
            # A WAL reader must write the shared-memory index beside the database: another user's queue cannot
            # be read, only its owner's.
            raise unusable(PermissionError(13, str(exc), str(self.path)), "state database") from None
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"state database is unreadable ({exc})",
                subject=str(self.path),
                hint=f"move it aside (mv {self.path} {self.path}.broken) and relaunch to start a new queue",
            ) from None

    def _refuse_empty_file(self) -> None:
        """Our first open writes 4 KiB (the WAL switch), so a 0-byte database is a queue that was lost (a full
        disk, a truncation), never a new one: say so instead of showing an empty queue."""
        try:
            empty = self.path.stat().st_size == 0
        except FileNotFoundError:
            return
        if empty:
            raise StateError(
                "state database is empty (0 bytes): the queue it held is lost",
                subject=str(self.path),
                hint=f"put a backup back, or move it aside (mv {self.path} {self.path}.empty) and relaunch to start"
                " a new queue",
            )

    def owner_pid(self) -> int | None:
        """The live process that owns this state dir, or None (see lock_holder)."""
        return lock_holder(self.state_dir)

    @staticmethod
    def _acquire_lock(path: Path) -> Any:
        fh = open(path, "a+", opener=lambda p, f: os.open(p, f, 0o600))  # noqa: SIM115 - held while owned
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            owner = fh.read().strip() or "another process"
            fh.close()
            raise StateError(
                f"state dir is in use by drapto-tui pid {owner}",
                subject=str(path.parent),
                hint="stop that instance first, or give this one another processing.temp_dir",
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        return fh

    def set_meta(self, key: str, value: str) -> None:
        """A small fact a second process reads beside the owner (the schedule's wait for `queue`)."""
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return str(row[0]) if row else None

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh.fileno(), fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _check_integrity(self) -> None:
        row = self.db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row[0] if row else 'no answer'}")

    def _create(self) -> None:
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, position INTEGER NOT NULL, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS segments (
                job_id TEXT NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (job_id, idx));
            CREATE TABLE IF NOT EXISTS search_cache (key TEXT PRIMARY KEY, data TEXT NOT NULL);
            """
        )
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StateError(
                f"state was written by a newer drapto-tui (schema {row[0]})",
                subject=str(self.path),
                hint="upgrade drapto-tui, or use another processing.temp_dir",
            )
        elif int(row[0]) < SCHEMA_VERSION:
            self._migrate(int(row[0]))

    def _migrate(self, version: int) -> None:
        """Bring a database written by an earlier version up to this one, in one transaction, so that its queue
        resumes after an upgrade. 1 → 2: every score was VMAF and named `vmaf_*`; it is `score_*` with its
        metric now (the segments', the job's and its summary's)."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            if version < 2:
                for job_id, idx, data in cur.execute("SELECT job_id, idx, data FROM segments").fetchall():
                    cur.execute(
                        "UPDATE segments SET data=? WHERE job_id=? AND idx=?",
                        (json.dumps(renamed_scores(json.loads(data))), job_id, idx),
                    )
                for job_id, data in cur.execute("SELECT id, data FROM jobs").fetchall():
                    job = json.loads(data)
                    if isinstance(job.get("stats"), dict):
                        job["stats"] = renamed_scores(job["stats"])
                    if job.get("encoding_path") == "chunked":
                        job.setdefault("metric", OLD_METRIC)
                    cur.execute("UPDATE jobs SET data=? WHERE id=?", (json.dumps(job), job_id))
            cur.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def load(self) -> dict[str, ProcessingState]:
        """Every job; a row that is valid SQLite but not a valid job (bad JSON, an unknown status) stops the
        start with one line naming it: nothing is dropped or rewritten silently."""
        jobs: dict[str, ProcessingState] = {}
        try:
            for job_id, data in self.db.execute("SELECT id, data FROM jobs ORDER BY position, id"):
                jobs[job_id] = self._row(ProcessingState, data, f"job {job_id}")
            for job_id, idx, data in self.db.execute("SELECT job_id, idx, data FROM segments"):
                if job_id in jobs:
                    jobs[job_id].segments[idx] = self._row(
                        SegmentState, data, f"segment {idx} of job {job_id}"
                    )
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"state database is unreadable ({exc})",
                subject=str(self.path),
                hint=f"move it aside (mv {self.path} {self.path}.broken) and relaunch to start a new queue",
            ) from None
        return jobs

    def _row(self, model: type[BaseModel], data: str, what: str) -> Any:
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "row"
            raise StateError(
                f"the saved {what} is not valid ({where}: {first['msg']})",
                subject=str(self.path),
                hint=f"the queue was written by another program or version; move it aside (mv {self.path}"
                f" {self.path}.broken) and relaunch to start a new queue",
            ) from None

    def write(
        self,
        jobs: list[ProcessingState],
        segments: list[tuple[str, SegmentState]],
        removed: list[str],
        drop_segments: list[str] = (),  # type: ignore[assignment]
    ) -> None:
        """One atomic transaction: all of it lands, or none of it."""
        cur = self.db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for job_id in drop_segments:
                cur.execute("DELETE FROM segments WHERE job_id=?", (job_id,))
            for job_id in removed:
                cur.execute("DELETE FROM jobs WHERE id=?", (job_id,))
                cur.execute("DELETE FROM segments WHERE job_id=?", (job_id,))
            cur.executemany(
                "INSERT OR REPLACE INTO jobs (id, position, data) VALUES (?, ?, ?)",
                [(j.job_id, j.position, j.model_dump_json(exclude={"segments"})) for j in jobs],
            )
            cur.executemany(
                "INSERT OR REPLACE INTO segments (job_id, idx, data) VALUES (?, ?, ?)",
                [(job_id, s.index, s.model_dump_json()) for job_id, s in segments],
            )
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def cache_get(self, key: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM search_cache WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def cache_items(self, prefix: str) -> dict[str, dict[str, Any]]:
        """Every cache row whose key starts with `prefix` (one segment's probes under one set of settings)."""
        rows = self.db.execute(
            "SELECT key, data FROM search_cache WHERE key >= ? AND key < ?", (prefix, prefix + "\U0010ffff")
        ).fetchall()
        return {key: json.loads(data) for key, data in rows}

    def cache_put(self, key: str, value: dict[str, Any]) -> None:
        """Best effort: a cache that cannot be written (a full disk) only costs a probe later."""
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute(
                "INSERT OR REPLACE INTO search_cache (key, data) VALUES (?, ?)", (key, json.dumps(value))
            )

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            self._release_lock()
