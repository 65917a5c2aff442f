"""Watch folders and the job-end hook, against the real engine: a film copied in slowly is queued once, only
after it stopped growing; a hook gets a hostile file name as data (never as shell text), and a failing or stuck
hook is one warning that changes nothing else."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from drapto_tui.engine.engine import Engine
from drapto_tui.engine.hooks import run_job_end_hook
from drapto_tui.model.events import ProcessingStatus
from drapto_tui.model.state import ProcessingState
from tests.fast_config import fast_config
from tests.media_helpers import MediaFactory


def config_for(tmp: Path, *extra: str):
    return fast_config(tmp, *extra)


async def test_a_film_copied_in_slowly_is_queued_once_after_it_stops_growing(
    tmp_path: Path, media: MediaFactory
) -> None:
    film = media.clip(width=160, height=96, duration=2, fps=24, audio="stereo", gop=24)
    data = film.read_bytes()
    watched = tmp_path / "incoming"
    watched.mkdir()
    (watched / "notes.txt").write_text("not a film")
    async with Engine(config_for(tmp_path, "input.watch_settle=1.0"), monitor=False) as engine:
        engine.watch([watched])
        target = watched / "slow copy.mkv"
        chunk = len(data) // 6 + 1
        with target.open("wb") as out:  # a copy that takes ~3 s, with pauses shorter than the settle time
            for i in range(0, len(data), chunk):
                out.write(data[i : i + chunk])
                out.flush()
                last_write = time.monotonic()
                await asyncio.sleep(0.5)
                assert engine.jobs() == [], "queued while still being copied"
        deadline = time.monotonic() + 20
        while not engine.jobs() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        (job,) = engine.jobs()
        assert job.current_file == str(target.resolve()) or job.current_file == str(target)
        assert time.monotonic() - last_write >= 1.0  # it waited for the file to settle
        await asyncio.sleep(2.5)  # more change notifications or checks never queue it twice
        assert len(engine.jobs()) == 1


async def test_partial_downloads_and_temp_names_are_never_queued(tmp_path: Path, media: MediaFactory) -> None:
    """What download tools leave in a watched folder while they work: a browser's .part (and Firefox's empty file
    under the final name beside it), a torrent client's .!qB, rsync's hidden temp copy, a plain .tmp. None is
    queued, each is said once with why, and the film is queued once it has its final name."""
    data = media.clip(width=160, height=96, duration=2, fps=24, audio="stereo", gop=24).read_bytes()
    watched = tmp_path / "incoming"
    (watched / "sub").mkdir(parents=True)
    async with Engine(config_for(tmp_path, "input.watch_settle=0.5"), monitor=False) as engine:
        said: list[str] = []
        sub = engine.bus.subscribe("test")
        engine.watch([watched])
        await asyncio.sleep(0.5)  # they arrive while it watches
        partial = watched / "film.mkv.part"
        partial.write_bytes(data)  # a film's bytes under a partial name: a stalled download
        (watched / "firefox.mkv").write_bytes(b"")
        (watched / "firefox.mkv.part").write_bytes(data[:1000])
        (watched / "seeding.mkv.!qB").write_bytes(data)
        (watched / "sub" / ".film.mkv.Xy12Ab").write_bytes(data)  # rsync's temp name
        (watched / "download.tmp").write_bytes(data)
        await asyncio.sleep(3)
        assert engine.jobs() == [], [j.current_file for j in engine.jobs()]
        said += [e.data.message for e in sub.drain() if e.event.value == "error_occurred"]
        partial.rename(watched / "film.mkv")  # the download completes
        deadline = time.monotonic() + 20
        while not engine.jobs() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        (job,) = engine.jobs()
        assert Path(job.current_file or "").name == "film.mkv"
        await asyncio.sleep(1.5)
        said += [e.data.message for e in sub.drain() if e.event.value == "error_occurred"]
        assert len(engine.jobs()) == 1
    for name, why in (
        ("film.mkv.part", "a partial download or temporary file (.part)"),
        ("firefox.mkv", "still downloading (firefox.mkv.part is beside it)"),
        ("seeding.mkv.!qB", "a partial download or temporary file (.!qb)"),
        (".film.mkv.Xy12Ab", "a hidden name"),
        ("download.tmp", "a partial download or temporary file (.tmp)"),
    ):
        lines = [line for line in said if f"/{name}: not queued: {why}" in line]
        assert len(lines) == 1, (name, said)


async def test_the_hook_gets_a_hostile_name_as_data(tmp_path: Path, media: MediaFactory) -> None:
    hostile = "a film; touch PWNED $(touch PWNED2) `touch PWNED3` 'q\" .mkv"
    films = tmp_path / "films"
    film = media.copy_to(
        media.clip(width=160, height=96, duration=2, fps=24, audio="stereo", gop=24), films, hostile
    )
    record = tmp_path / "hook.json"
    script = tmp_path / "hook.py"
    script.write_text(
        "import json, os, sys\n"
        f"json.dump({{k: v for k, v in os.environ.items() if k.startswith('DRAPTO_')}}, open({str(record)!r}, 'w'))\n"
    )
    hook = json.dumps([sys.executable, str(script)])
    config = config_for(tmp_path, f"hooks.on_job_end={hook}")
    async with Engine(config, monitor=False) as engine:
        ids = engine.encode_paths([film], {})
        await engine.start(only=ids, preanalyse=False)
        results = await engine.run_until_idle()
        assert all(results.values())
        (job_id,) = ids
        ran = "\n".join(engine.job_log(job_id))  # the job's FFmpeg log names the film as data too
        assert "exit 0 after" in ran and "PWNED" in ran
        deadline = time.monotonic() + 20
        while not record.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    seen = json.loads(record.read_text())
    assert seen["DRAPTO_INPUT"] == str(film.resolve()) or seen["DRAPTO_INPUT"] == str(film)
    assert seen["DRAPTO_STATUS"] == "completed"
    assert Path(seen["DRAPTO_OUTPUT"]).exists() and int(seen["DRAPTO_OUTPUT_BYTES"]) > 0
    assert float(seen["DRAPTO_VMAF"]) > 50 and seen["DRAPTO_ERROR"] == ""
    for name in ("PWNED", "PWNED2", "PWNED3"):
        assert not list(tmp_path.rglob(name)) and not Path(name).exists()


async def test_a_failing_or_stuck_hook_is_one_line(tmp_path: Path) -> None:
    job = ProcessingState(job_id="j1", current_file="/films/x.mkv", status=ProcessingStatus.FAILED)
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('no mail server\\n'); sys.exit(3)"]
    assert (
        await run_job_end_hook(failing, job, 10)
        == f"hooks.on_job_end: {Path(sys.executable).name} exited 3: no mail server"
    )
    started = time.monotonic()
    stuck = [sys.executable, "-c", "import time; time.sleep(60)"]
    line = await run_job_end_hook(stuck, job, 0.5)
    assert line is not None and "ran longer than hooks.timeout = 0.5 s" in line
    assert time.monotonic() - started < 5
    missing = await run_job_end_hook([str(tmp_path / "no-such-program")], job, 5)
    assert missing is not None and "could not start" in missing
