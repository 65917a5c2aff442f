"""A queue written by the previous version (state schema 1: every score VMAF, named `vmaf_*`) resumes after the
upgrade: killed after two segments, its database rewritten to the old shape, then run again by this version."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

from drapto_tui.model.events import Event, ProcessingEvents
from tests.judge import decoded_frames
from tests.test_resume import long_clip, read_until, start  # noqa: F401  (long_clip is a fixture)

E = ProcessingEvents
NEW_TO_OLD = {"score_predicted": "vmaf_predicted", "score_measured": "vmaf_measured"}


def as_schema_1(db_path: Path) -> int:
    """Rewrite the state as version 1 wrote it; returns how many done segments it holds."""
    db = sqlite3.connect(db_path)
    done = 0
    for job_id, idx, data in db.execute("SELECT job_id, idx, data FROM segments").fetchall():
        row = json.loads(data)
        row.pop("metric", None)
        row = {NEW_TO_OLD.get(k, k): v for k, v in row.items()}
        done += row["status"] == "done"
        db.execute("UPDATE segments SET data=? WHERE job_id=? AND idx=?", (json.dumps(row), job_id, idx))
    for job_id, data in db.execute("SELECT id, data FROM jobs").fetchall():
        row = json.loads(data)
        for key in ("metric", "target", "tolerance_below"):
            row.pop(key, None)
        db.execute("UPDATE jobs SET data=? WHERE id=?", (json.dumps(row), job_id))
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    db.close()
    return done


def test_a_schema_1_queue_resumes_after_the_upgrade(long_clip: Path, tmp_path: Path, ffmpeg: str) -> None:  # noqa: F811
    proc = start(long_clip, tmp_path)
    first = read_until(proc, lambda ev: sum(e.event == E.SEGMENT_COMPLETE for e in ev) >= 2)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    done_first = {e.data.segment for e in first if e.event == E.SEGMENT_COMPLETE}
    [db_path] = list((tmp_path / "work").rglob("state.sqlite3"))
    assert as_schema_1(db_path) >= 2
    assert '"vmaf_measured"' in sqlite3.connect(db_path).execute("SELECT data FROM segments").fetchone()[0]

    again = start(long_clip, tmp_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    second = [Event.from_json(line) for line in out.splitlines()]
    redone = {e.data.segment for e in second if e.event == E.SEGMENT_COMPLETE} & done_first
    assert not redone, f"segments done before the upgrade were encoded again: {sorted(redone)}"
    summary = next(e for e in second if e.event == E.ENCODING_COMPLETE).data
    assert summary.metric == "vmaf" and summary.score_file is not None and summary.score_file > 80
    # The whole film is there, judged by a full FFmpeg decode; the database is now version 2.
    assert decoded_frames(ffmpeg, tmp_path / "out" / f"{long_clip.stem}.mkv") == 12 * 24
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "2"
    rows = [json.loads(d) for (d,) in db.execute("SELECT data FROM segments")]
    assert all("vmaf_measured" not in r for r in rows) and all(r["metric"] == "vmaf" for r in rows)
