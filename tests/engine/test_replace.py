"""Library mode's replace in place, as a media server and its owner meet it: the encode takes the film's place, the
original waits in the trash and comes back byte for byte, and at no moment is there no film at the path, through a
kill -9 at every step of the swap (real processes killed with SIGKILL; a restart finishes or undoes the swap).
Outputs are judged by checksums and an independent decode (tests/judge.py), not by our own probe."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drapto_tui.engine.engine import Engine
from drapto_tui.engine.replace import TRASH_NAME, Swap, SwapJournal, recover
from tests.engine.test_library import cli
from tests.fast_config import fast_config
from tests.judge import decoded_frames, mediainfo_tracks
from tests.media_helpers import MediaFactory

SWAP_STEPS = ("journal", "copying", "staged", "kept", "ready", "renamed", "done")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_replace_in_place_then_restore_byte_for_byte(
    ffmpeg: str, media: MediaFactory, tmp_path: Path
) -> None:
    lib = tmp_path / "library"
    film = media.copy_to(media.clip(duration=1.0, audio="stereo"), lib / "a", "Film.mp4")
    other = media.copy_to(media.clip(duration=1.0, width=200, height=112), lib / "b", "Other.mkv")
    before = {film: sha(film), other: sha(other)}
    frames = {film: decoded_frames(ffmpeg, film), other: decoded_frames(ffmpeg, other)}
    record = tmp_path / "hook.jsonl"
    hook = tmp_path / "hook.py"
    hook.write_text(
        "import json, os\n"
        f"with open({str(record)!r}, 'a') as f: f.write(json.dumps({{k: v for k, v in os.environ.items()"
        " if k.startswith('DRAPTO_')}) + '\\n')\n"
    )
    config = tmp_path / "hook.toml"
    config.write_text(f"[hooks]\non_job_end = {json.dumps([sys.executable, str(hook)])}\n")

    run = cli(tmp_path, "encode", "--replace", str(lib), config=config)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "replaced in place by" in run.stdout

    film_mkv, other_mkv = lib / "a" / "Film.mkv", other
    assert not film.exists() and film_mkv.exists()  # the .mp4's place is taken by the .mkv beside it
    for source, encode in ((film, film_mkv), (other, other_mkv)):
        kept = list((source.parent / TRASH_NAME).glob(f"*/{source.name}"))
        assert len(kept) == 1 and sha(kept[0]) == before[source]  # the original, byte for byte
        assert decoded_frames(ffmpeg, encode) == frames[source]
        assert mediainfo_tracks(encode).video_format == "AV1"
    assert not list(lib.rglob(".*.tmp"))  # no staging file left beside the films

    ended = [json.loads(line) for line in record.read_text().splitlines()]
    by_input = {Path(e["DRAPTO_INPUT"]).name: e for e in ended}
    assert by_input["Film.mp4"]["DRAPTO_REPLACED"].endswith("/a/Film.mp4")
    assert Path(by_input["Film.mp4"]["DRAPTO_ORIGINAL"]).parent.parent == lib / "a" / TRASH_NAME
    assert by_input["Film.mp4"]["DRAPTO_OUTPUT"] == str(film_mkv)

    # The same command every night: the encodes in the folder are this queue's work, not films to queue again.
    nightly = cli(tmp_path, "encode", "--replace", "--json", str(lib), config=config)
    assert nightly.returncode == 0, nightly.stderr
    assert not [e for e in map(json.loads, nightly.stdout.splitlines()) if e["event"] == "analysis_started"]
    assert len(cli(tmp_path, "queue", "--json").stdout.splitlines()) == 2

    stats = json.loads(cli(tmp_path, "stats", "--json").stdout)
    assert stats["lifetime"]["replaced"] == 2 and stats["lifetime"]["saved"] > 0
    listed = cli(tmp_path, "restore", "--list")
    assert listed.returncode == 0 and str(film_mkv) in listed.stdout and TRASH_NAME in listed.stdout

    restored = cli(tmp_path, "restore", str(film_mkv))  # no service: this process opens the queue
    assert restored.returncode == 0, restored.stderr
    assert cli(tmp_path, "service", "start").returncode == 0
    try:  # with a service, the restore goes through it (this process could not open the queue it holds)
        restored = cli(tmp_path, "restore", str(other))
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout.strip().endswith("its encode is gone")  # it had the source's own name
    finally:
        cli(tmp_path, "service", "stop")
    assert "Traceback" not in (tmp_path / "work" / "logs" / "service.log").read_text()
    assert sha(film) == before[film] and not film_mkv.exists()
    assert sha(other) == before[other]
    assert not (lib / "a" / TRASH_NAME).exists()  # nothing left in the trash, and the emptied folder gone
    again = cli(tmp_path, "restore", str(film))
    assert again.returncode == 1 and "already restored" in again.stderr
    stats = json.loads(cli(tmp_path, "stats", "--json").stdout)
    assert stats["lifetime"]["saved"] == 0 and stats["lifetime"]["restored"] == 2

    # The restored film is a source again: the same command encodes it again (not "done" by its old job).
    rerun = cli(tmp_path, "encode", "--replace", str(other))
    assert rerun.returncode == 0, rerun.stderr
    assert "replaced in place by" in rerun.stdout and sha(other) != before[other]


class PathWatcher:
    """Polls the film's paths every millisecond from another thread: each look must find a whole film (the
    original's size or the encode's) at one of them, under the names a media server lists."""

    def __init__(self, paths: tuple[Path, ...], sizes: set[int]) -> None:
        self.paths, self.sizes = paths, sizes
        self.looks = 0
        self.gaps: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            seen = []
            for path in self.paths:
                with contextlib.suppress(FileNotFoundError):
                    seen.append(path.stat().st_size)
            if not any(size in self.sizes for size in seen):
                self.gaps.append(f"look {self.looks}: sizes {seen}")
            self.looks += 1
            time.sleep(0.001)

    def __enter__(self) -> PathWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


KILLER = """
import os, signal, sys, json
from pathlib import Path
import drapto_tui.engine.replace as replace
step = sys.argv[1]
def hook(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)
replace.step_hook = hook
raw = json.loads(sys.argv[2])
swap = replace.Swap.from_json(raw)
replace.swap_in(swap, Path(sys.argv[3]), replace.SwapJournal(Path(sys.argv[4])), {"output": str(swap.target)})
"""


@pytest.mark.parametrize("source_name", ["Film.mp4", "Film.mkv"])
def test_a_film_is_at_the_path_through_a_kill_9_at_every_step_of_the_swap(
    ffmpeg: str, media: MediaFactory, tmp_path: Path, source_name: str
) -> None:
    original = media.clip(duration=1.0)
    encoded = tmp_path / "encoded.mkv"
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(original), "-c:v", "libsvtav1", "-preset", "12", "-crf", "50",
         "-c:a", "copy", str(encoded)],
        check=True,
    )  # fmt: skip
    # A built file on another filesystem is copied beside the film (the "copying" step); on the same one, renamed.
    elsewhere = Path("/dev/shm")
    for step in SWAP_STEPS:
        lib = tmp_path / step / "films"
        source = media.copy_to(original, lib, source_name)
        built_dir = elsewhere / f"drapto-test-{os.getpid()}-{step}" if step == "copying" else tmp_path / step
        if step == "copying" and not elsewhere.is_dir():
            pytest.skip("no second filesystem (/dev/shm) to copy the encode from")
        built = media.copy_to(encoded, built_dir, "output.mkv")
        swap = Swap.plan("job" + step, source, lib / ".drapto-trash")
        journal = SwapJournal(tmp_path / step / "swaps")
        sizes = {original.stat().st_size, encoded.stat().st_size}
        with PathWatcher((swap.source, swap.target), sizes) as watcher:
            killed = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    KILLER,
                    step,
                    json.dumps(swap.as_json()),
                    str(built),
                    str(journal.folder),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert killed.returncode == -signal.SIGKILL, killed.stderr
            (settled,) = recover(journal)  # what the next start does before any job runs
            (again,) = recover(journal)  # a start killed in its own recovery does the same again
            journal.remove(swap.job_id)
        assert watcher.looks > 10 and not watcher.gaps, (step, watcher.gaps[:3])
        assert again[1] == settled[1]
        assert not swap.staged.exists()
        if settled[1] == "finished":
            assert step in ("ready", "renamed", "done")
            assert sha(swap.target) == sha(encoded)
            assert sha(swap.kept) == sha(original)
            assert swap.source == swap.target or not swap.source.exists()
        else:
            assert step in ("journal", "copying", "staged", "kept")
            assert sha(swap.source) == sha(original)
            assert swap.source == swap.target or not swap.target.exists()
            assert not swap.kept.exists()
        if built_dir.is_relative_to(elsewhere):
            for leftover in built_dir.iterdir():
                leftover.unlink()
            built_dir.rmdir()


WRAPPED_ENCODE = """
import os, signal, sys
import drapto_tui.engine.replace as replace
step = os.environ.pop("KILL_AT")
replace.step_hook = lambda name: os.kill(os.getpid(), signal.SIGKILL) if name == step else None
from drapto_tui.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("step", ["kept", "renamed"])
def test_an_encode_killed_in_its_swap_is_finished_or_undone_by_the_next_start(
    ffmpeg: str, media: MediaFactory, tmp_path: Path, step: str
) -> None:
    from tests.fast_config import fast_sets

    lib = tmp_path / "films"
    film = media.copy_to(media.clip(duration=1.0, audio="stereo"), lib, "Film.mkv")
    original = sha(film)
    sets = [arg for kv in fast_sets(tmp_path) for arg in ("--set", kv)]
    killed = subprocess.run(
        [sys.executable, "-c", WRAPPED_ENCODE, "encode", "--replace", str(film), *sets],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KILL_AT": step},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert film.exists()
    resumed = cli(tmp_path, "encode", "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    look = json.loads(cli(tmp_path, "queue", "--json").stdout.splitlines()[0])
    assert look["status"] == "completed" and look["stats"]["replaced"] == str(film)
    if step == "kept":  # before the rename: undone, and the job ran its mux and the swap again
        assert any("is undone" in n for n in look["notes"]), look["notes"]
    else:
        assert any("is finished" in n for n in look["notes"]), look["notes"]
    (kept,) = (lib / TRASH_NAME).glob("*/Film.mkv")
    assert sha(kept) == original and sha(film) != original
    assert decoded_frames(ffmpeg, film) == decoded_frames(ffmpeg, kept)
    assert json.loads(cli(tmp_path, "stats", "--json").stdout)["lifetime"]["replaced"] == 1


def test_a_read_only_folder_is_said_before_the_encode(media: MediaFactory, tmp_path: Path) -> None:
    lib = tmp_path / "films"
    film = media.copy_to(media.clip(duration=1.0), lib, "Film.mp4")
    mounted = False
    if os.geteuid() == 0:  # root writes through modes: make the folder a read-only mount, as a NAS share is
        if subprocess.run(["mount", "--bind", str(lib), str(lib)], capture_output=True).returncode != 0:
            pytest.skip("cannot bind-mount here to make a read-only folder for root")
        mounted = True
        subprocess.run(["mount", "-o", "remount,bind,ro", str(lib)], check=True)
    else:
        lib.chmod(0o555)
    try:
        started = time.monotonic()
        run = cli(tmp_path, "encode", "--replace", "--json", str(film))
        took = time.monotonic() - started
    finally:
        if mounted:
            subprocess.run(["umount", str(lib)], check=True)
        else:
            lib.chmod(0o755)
    assert run.returncode == 1
    events = [json.loads(line) for line in run.stdout.splitlines()]
    said = [e["data"]["message"] for e in events if e["event"] == "error_occurred"]
    assert len(said) == 1 and said[0].startswith(f"{film}: its folder {lib} is read-only"), said
    assert "without --replace" in said[0]
    assert not any(e["event"] in ("analysis_started", "segment_started") for e in events)  # before any work
    assert not (tmp_path / "work" / "jobs").exists() or not any((tmp_path / "work" / "jobs").rglob("*.ivf"))
    assert took < 60  # said at once, not after an encode


async def test_the_trash_keeps_originals_for_trash_days_never_sooner(tmp_path: Path) -> None:
    config = fast_config(tmp_path, "library.trash_days=30")
    kept = tmp_path / "films" / TRASH_NAME / "job1" / "Film.mp4"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(b"the original")
    replaced_at = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    async with Engine(config, monitor=False) as engine:
        engine.store.ledger.replaced(
            "job1", str(tmp_path / "films/Film.mp4"), str(tmp_path / "films/Film.mkv"), str(kept),
            replaced_at.isoformat(),
        )  # fmt: skip
        assert engine.sweep_trash(now=replaced_at + timedelta(days=29, hours=23)) == []
        assert kept.exists()
        assert engine.sweep_trash(now=replaced_at + timedelta(days=30, minutes=1)) == [str(kept)]
        assert not kept.exists() and not kept.parent.parent.exists()
        (found,) = engine.store.ledger.replacements()
        assert found.purged_at is not None
        with pytest.raises(Exception, match=r"deleted from the trash after library\.trash_days"):
            engine.restore("job1")
