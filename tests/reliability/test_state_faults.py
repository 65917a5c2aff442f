"""A state dir that cannot be used is one line naming the file and the fix, never a traceback or an empty queue;
and the queue can be read from a second terminal while an encode runs, with live status."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from drapto_tui.model.events import Event
from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, args_for, encode, one_line


@pytest.fixture
def film(media: MediaFactory, tmp_path: Path) -> Path:
    return media.copy_to(
        media.clip(width=160, height=90, duration=6, fps=24, audio="stereo", gop=24),
        tmp_path / "films",
        "film.mkv",
    )


def cli(tmp: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if user is not None:  # another user's own (empty) config and cache dirs
        home = Path("/tmp") / f"drapto-test-home-{os.getpid()}"
        home.mkdir(mode=0o777, exist_ok=True)
        home.chmod(0o777)
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    return subprocess.run(
        [sys.executable, "-m", "drapto_tui", *args, "--set", f'processing.temp_dir="{tmp / "work"}"'],
        capture_output=True,
        text=True,
        timeout=120,
        user=user,
        cwd="/",
        env=env,
    )


def db_of(tmp: Path) -> Path:
    return tmp / "work" / "state" / "state.sqlite3"


def test_zero_byte_database_is_not_an_empty_queue(tmp_path: Path, film: Path) -> None:
    assert encode(tmp_path, film).code == 0
    db = db_of(tmp_path)
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    db.write_bytes(b"")
    for args in (["queue"], ["encode", str(film), "-o", str(tmp_path / "out")]):
        result = cli(tmp_path, *args)
        assert result.returncode == 1
        assert one_line(result.stderr) == (
            f"drapto-tui: {db}: state database is empty (0 bytes): the queue it held is lost — put a backup back,"
            f" or move it aside (mv {db} {db}.empty) and relaunch to start a new queue"
        )
    assert db.stat().st_size == 0  # left for the user to decide


@pytest.mark.parametrize(
    "row", ["{not json", '{"job_id": "abc", "status": "weird"}'], ids=["bad-json", "bad-status"]
)
def test_invalid_row_is_one_line_and_nothing_is_lost(tmp_path: Path, film: Path, row: str) -> None:
    assert encode(tmp_path, film).code == 0
    db = db_of(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO jobs VALUES ('abc', 9, ?)", (row,))
    conn.close()
    before = sqlite3.connect(db).execute("SELECT id, data FROM jobs ORDER BY id").fetchall()
    for args in (["queue", "--json"], ["encode", "--resume"]):
        result = cli(tmp_path, *args)
        assert result.returncode == 1 and result.stdout == ""
        line = one_line(result.stderr)
        assert (
            line.startswith(f"drapto-tui: {db}: the saved job abc is not valid (") and "move it aside" in line
        )
        assert ("status" in line) == (row != "{not json")
    assert sqlite3.connect(db).execute("SELECT id, data FROM jobs ORDER BY id").fetchall() == before


@pytest.fixture
def shared(film: Path) -> Iterator[tuple[Path, Path]]:
    """A folder another user can reach (pytest's own are 0700), with a copy of the film: (folder, film)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run a command as another user")
    folder = Path(tempfile.mkdtemp(prefix="drapto-shared-"))
    folder.chmod(0o755)
    copy = folder / "film.mkv"
    shutil.copyfile(film, copy)
    copy.chmod(0o644)
    yield folder, copy
    shutil.rmtree(folder, ignore_errors=True)


def test_state_dir_of_another_user(shared: tuple[Path, Path]) -> None:
    tmp_path, film = shared
    user = "nobody"
    assert encode(tmp_path, film).code == 0  # root's queue
    for args in (["queue"], ["encode", "--resume"], ["encode", str(film), "-o", str(tmp_path / "o2")]):
        result = cli(tmp_path, *args, user=user)
        # queue: the state store says so (1); encode: found by the start-time check of processing.temp_dir (2)
        assert result.returncode == (1 if args[0] == "queue" else 2), result.stderr
        lines = result.stderr.strip().splitlines()  # every problem at once, one line each
        assert "Traceback" not in result.stderr and all("it belongs to root" in line for line in lines), lines
        assert str(tmp_path / "work") in lines[0] and "processing.temp_dir" in lines[0]


def test_event_log_of_another_user(shared: tuple[Path, Path]) -> None:
    tmp_path, film = shared
    user = "nobody"
    assert encode(tmp_path, film).code == 0
    shutil.chown(tmp_path / "work", user)
    for path in (tmp_path / "work").rglob("*"):
        shutil.chown(path, user)
    shutil.chown(tmp_path / "work" / "logs" / "events.jsonl", "root")  # only the log is someone else's
    os.chmod(tmp_path / "work" / "logs" / "events.jsonl", 0o644)
    result = cli(tmp_path, "encode", "--resume", user=user)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(
        f"drapto-tui: {tmp_path / 'work' / 'logs' / 'events.jsonl'}: cannot use the event log"
    )
    assert "it belongs to root" in line


def test_queue_is_readable_while_an_encode_runs_and_shows_live_status(tmp_path: Path, film: Path) -> None:
    proc = subprocess.Popen(
        [*args_for(tmp_path, film)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if Event.from_json(line).event == E.SEGMENT_COMPLETE:
            break
    # Hold the encode where it is (it would otherwise finish this small film while `queue` starts up).
    encoder = psutil.Process(proc.pid)
    family = [encoder, *encoder.children(recursive=True)]
    for member in family:
        member.suspend()
    live = cli(tmp_path, "queue", "--json")
    text = cli(tmp_path, "queue")
    for member in family:
        with contextlib.suppress(psutil.Error):
            member.kill()
    proc.communicate()
    assert live.returncode == 0, live.stderr
    rows = [json.loads(x) for x in live.stdout.splitlines()]
    assert [(r["current_file"], r["status"], r["owner_pid"]) for r in rows] == [
        (str(film), "running", proc.pid)
    ]
    assert text.returncode == 0 and f"live: drapto-tui pid {proc.pid}" in text.stdout
    # The encoder was killed: its "running" row is stale, and says so.
    after = cli(tmp_path, "queue", "--json")
    rows = [json.loads(x) for x in after.stdout.splitlines()]
    assert [(r["status"], r["owner_pid"]) for r in rows] == [("interrupted", None)]
    assert "interrupted" in cli(tmp_path, "queue").stdout


def test_a_database_whose_mode_shuts_its_owner_out(shared: tuple[Path, Path]) -> None:
    """The owner's own database at mode 000: the fix is its permissions, not moving it aside (which would leave
    an empty queue)."""
    tmp_path, film = shared
    user = "nobody"
    assert encode(tmp_path, film).code == 0
    for path in [tmp_path / "work", *(tmp_path / "work").rglob("*")]:
        shutil.chown(path, user)
    db = db_of(tmp_path)
    db.chmod(0o000)
    for args in (["queue"], ["encode", "--resume"]):
        result = cli(tmp_path, *args, user=user)
        assert result.returncode == 1, result
        line = one_line(result.stderr)
        assert line == (
            f"drapto-tui: {db}: cannot use the state database (Permission denied) — it is yours but its"
            f" permissions (----------) shut you out: chmod u+rw {db}"
        ), line
        assert "move it aside" not in line
