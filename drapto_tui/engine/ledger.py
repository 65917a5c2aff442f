"""The savings ledger and the failure counts, in the state database beside the queue.

Every finished job adds a line (bytes in and out, time, mean score, replaced or not, its folder), so `drapto-tui
stats` and the app's header can say what the library saved over its lifetime, after the jobs themselves are
cleared off the queue. A film that fails counts a failure until it succeeds or is retried; library.max_failures
leaves it out of folder adds and scans after that many (engine/library.py).

Its tables live in the same SQLite file as the queue (engine/store.py) so that they share its single owner, its
WAL readers (`stats` and `scan` beside a running service) and its durability.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_TABLES = """
CREATE TABLE IF NOT EXISTS ledger (
    job_id TEXT PRIMARY KEY, source TEXT NOT NULL, folder TEXT NOT NULL, output TEXT NOT NULL,
    outcome TEXT NOT NULL, codec TEXT, bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,
    seconds REAL, score REAL, metric TEXT, replaced INTEGER NOT NULL DEFAULT 0, finished TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replacements (
    job_id TEXT PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, kept TEXT NOT NULL,
    replaced_at TEXT NOT NULL, restored_at TEXT, purged_at TEXT);
CREATE TABLE IF NOT EXISTS failures (
    source TEXT PRIMARY KEY, count INTEGER NOT NULL, last_error TEXT NOT NULL, last_time TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Failures:
    """A film's failed encodes since its last success or retry, with the last error."""

    count: int
    last_error: str


@dataclass(frozen=True)
class LedgerEntry:
    job_id: str
    source: str
    folder: str
    output: str
    outcome: str  # "completed", or "kept" (AV1 would not have saved enough: nothing changed)
    codec: str | None
    bytes_in: int
    bytes_out: int
    seconds: float | None = None
    score: float | None = None
    metric: str | None = None
    replaced: bool = False
    finished: str = ""

    @property
    def saved(self) -> int:
        return self.bytes_in - self.bytes_out


@dataclass(frozen=True)
class Totals:
    films: int
    encoded: int  # of them, films with a new file (not kept)
    bytes_in: int
    bytes_out: int
    seconds: float
    mean_score: float | None
    replaced: int
    restored: int = 0  # replaced in place, then put back (`drapto-tui restore`): their saving is taken out

    @property
    def saved(self) -> int:
        return self.bytes_in - self.bytes_out


def totals(entries: list[LedgerEntry]) -> Totals:
    scored = [e.score for e in entries if e.score is not None]
    return Totals(
        films=len(entries),
        encoded=sum(1 for e in entries if e.outcome == "completed"),
        bytes_in=sum(e.bytes_in for e in entries),
        bytes_out=sum(e.bytes_out for e in entries),
        seconds=sum(e.seconds or 0.0 for e in entries),
        mean_score=sum(scored) / len(scored) if scored else None,
        replaced=sum(1 for e in entries if e.replaced),
        restored=sum(1 for e in entries if e.outcome == "restored"),
    )


@dataclass(frozen=True)
class Replacement:
    """A source replaced in place: where it was, the encode that took its place, and the original in the trash."""

    job_id: str
    source: str
    target: str
    kept: str
    replaced_at: str
    restored_at: str | None = None
    purged_at: str | None = None


class Ledger:
    """Reads and writes the two tables over a connection the caller owns (the state store's)."""

    def __init__(self, db: sqlite3.Connection, *, writable: bool) -> None:
        self.db = db
        self.writable = writable
        if writable:
            db.executescript(_TABLES)

    def _rows(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # read-only, before any writer made the tables
            return []

    # -- writing (the state owner only) ----------------------------------------------------------------------
    def record(self, entry: LedgerEntry) -> None:
        """One finished job; a job that finishes again (retried after a success) replaces its own line."""
        with contextlib.suppress(sqlite3.OperationalError):  # a full disk loses a line, never the queue
            self.db.execute(
                "INSERT OR REPLACE INTO ledger VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    entry.job_id, entry.source, entry.folder, entry.output, entry.outcome, entry.codec,
                    entry.bytes_in, entry.bytes_out, entry.seconds, entry.score, entry.metric,
                    int(entry.replaced), entry.finished or datetime.now(UTC).isoformat(),
                ),
            )  # fmt: skip
            self.db.execute("DELETE FROM failures WHERE source=?", (entry.source,))

    def failed(self, source: str, error: str) -> None:
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute(
                "INSERT INTO failures VALUES (?, 1, ?, ?) ON CONFLICT(source) DO UPDATE SET"
                " count=count+1, last_error=excluded.last_error, last_time=excluded.last_time",
                (source, error, datetime.now(UTC).isoformat()),
            )

    def replaced(self, job_id: str, source: str, target: str, kept: str, when: str) -> None:
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute(
                "INSERT OR REPLACE INTO replacements VALUES (?,?,?,?,?,NULL,NULL)",
                (job_id, source, target, kept, when),
            )

    def restored(self, job_id: str) -> None:
        """The original is back: the replacement is marked, and the ledger's line saves nothing any more."""
        now = datetime.now(UTC).isoformat()
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute("UPDATE replacements SET restored_at=? WHERE job_id=?", (now, job_id))
            self.db.execute(
                "UPDATE ledger SET outcome='restored', bytes_out=bytes_in, replaced=0 WHERE job_id=?",
                (job_id,),
            )

    def purged(self, job_id: str) -> None:
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute(
                "UPDATE replacements SET purged_at=? WHERE job_id=?", (datetime.now(UTC).isoformat(), job_id)
            )

    def clear_failures(self, source: str) -> None:
        """A retry, or the film added by its own path: the user asks for another try."""
        with contextlib.suppress(sqlite3.OperationalError):
            self.db.execute("DELETE FROM failures WHERE source=?", (source,))

    # -- reading ---------------------------------------------------------------------------------------------
    def failures(self, source: str | Path) -> Failures | None:
        rows = self._rows("SELECT count, last_error FROM failures WHERE source=?", (str(source),))
        return Failures(int(rows[0][0]), str(rows[0][1])) if rows else None

    def replacements(self) -> list[Replacement]:
        rows = self._rows(
            "SELECT job_id, source, target, kept, replaced_at, restored_at, purged_at FROM replacements"
            " ORDER BY replaced_at"
        )
        return [Replacement(*row) for row in rows]

    def replacement(self, given: str) -> Replacement | None:
        """The newest replacement of a path (the source's or the encode's) or of a job (its id or a start of it)."""
        wanted = str(Path(given).expanduser().resolve())
        found = [
            r
            for r in self.replacements()
            if wanted in (r.source, r.target) or r.job_id.startswith(given.strip())
        ]
        return found[-1] if found and given.strip() else None

    def entries(self) -> list[LedgerEntry]:
        rows = self._rows(
            "SELECT job_id, source, folder, output, outcome, codec, bytes_in, bytes_out, seconds, score, metric,"
            " replaced, finished FROM ledger ORDER BY finished"
        )
        fields = (
            "job_id",
            "source",
            "folder",
            "output",
            "outcome",
            "codec",
            "bytes_in",
            "bytes_out",
            "seconds",
        )
        return [
            LedgerEntry(
                **dict(zip(fields, row[:9], strict=True)),
                score=row[9],
                metric=row[10],
                replaced=bool(row[11]),
                finished=row[12],
            )
            for row in rows
        ]

    def learned(self) -> dict[str, tuple[int, float]]:
        """Per source video format: films encoded here, and the fraction of their size the outputs kept."""
        rows = self._rows(
            "SELECT codec, COUNT(*), SUM(bytes_out), SUM(bytes_in) FROM ledger"
            " WHERE outcome='completed' AND bytes_in > 0 AND codec IS NOT NULL GROUP BY codec"
        )
        return {str(codec): (int(n), out / total) for codec, n, out, total in rows if total}

    def by_folder(self, roots: list[str] | None = None) -> dict[str, Totals]:
        """Totals per library folder: the deepest of `roots` that holds the film, else the film's own folder."""
        grouped: dict[str, list[LedgerEntry]] = {}
        for entry in self.entries():
            holders = [r for r in roots or [] if Path(entry.source).is_relative_to(r)]
            grouped.setdefault(max(holders, key=len, default=entry.folder), []).append(entry)
        return {folder: totals(entries) for folder, entries in sorted(grouped.items())}

    def saved(self) -> int:
        """The lifetime saving alone (one SUM: the service sends it with every status)."""
        rows = self._rows("SELECT COALESCE(SUM(bytes_in - bytes_out), 0) FROM ledger")
        return int(rows[0][0]) if rows else 0

    def lifetime(self) -> Totals:
        return totals(self.entries())
