"""schedule.windows and schedule.pause_when, with a clock the tests set: outside a window no job starts and a
running one pauses (its FFmpeg stopped, as the app's pause does), it goes on when the window opens, a pause by hand
holds on top, and a command that exits 0 makes the queue yield until it says otherwise. Real encodes on real
files; the service and `queue` say what the queue waits for."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest

from drapto_tui.config import load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.engine.schedule import ScheduleGate, wait_label
from drapto_tui.errors import ConfigError
from drapto_tui.model.events import ProcessingStatus
from drapto_tui.service.client import ServiceClient
from tests.fast_config import fast_config
from tests.media_helpers import MediaFactory
from tests.service.conftest import Service


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 6, hour, minute)


def test_windows_cross_midnight_and_name_the_next_opening() -> None:
    gate = ScheduleGate(load_config(env={}, use_default_file=False, overrides=[
        'schedule.windows=["22:00-06:00", "13:00-14:00"]']).schedule)  # fmt: skip
    assert gate.window_wait(at(23, 30)) is None and gate.window_wait(at(5, 59)) is None
    assert gate.window_wait(at(13, 0)) is None
    assert gate.window_wait(at(6, 0)) == "waiting for the 13:00 window (schedule.windows)"
    assert gate.window_wait(at(14, 0)) == "waiting for the 22:00 window (schedule.windows)"
    assert wait_label("waiting for the 22:00 window (schedule.windows)", wide=False) == "WAIT 22:00"
    assert wait_label("waiting for the 22:00 window (schedule.windows)", wide=True) == (
        "waiting for the 22:00 window"
    )
    with pytest.raises(ConfigError, match="25:00-01:00"):
        load_config(env={}, use_default_file=False, overrides=['schedule.windows=["25:00-01:00"]'])
    with pytest.raises(ConfigError, match="nightly"):
        load_config(env={}, use_default_file=False, overrides=['schedule.windows=["nightly"]'])


async def wait_for(check, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_outside_its_window_nothing_starts_and_a_running_encode_pauses_until_it_opens(
    media: MediaFactory, tmp_path: Path
) -> None:
    film = media.copy_to(media.clip(duration=6.0, width=320, height=184), tmp_path / "films", "Night.mkv")
    config = fast_config(tmp_path, 'schedule.windows=["01:00-07:00"]', "schedule.check_every=3600")
    now = at(12)
    lines: list[str] = []
    async with Engine(config, monitor=False) as engine:
        engine.gate.clock = lambda: now
        engine.bus.add_listener(
            lambda e: lines.append(getattr(e.data, "message", "")) if e.job_id is None else None
        )
        (job_id,) = engine.encode_paths([film], {})
        await engine.start(only={job_id}, preanalyse=False)
        assert engine.waiting == "waiting for the 01:00 window (schedule.windows)"
        assert Engine.look(config).waiting == engine.waiting  # what `queue` reads beside the owner
        await asyncio.sleep(1.5)
        assert engine.state.jobs[job_id].status == ProcessingStatus.QUEUED and not engine.is_running()

        now = at(1, 30)
        assert await engine.check_schedule() is None
        await wait_for(lambda: bool(engine.state.jobs[job_id].segments))  # it runs: its scenes are cut

        now = at(7)  # the window closes under a running encode: it pauses, FFmpeg with it
        assert await engine.check_schedule() == "waiting for the 01:00 window (schedule.windows)"
        assert engine.state.jobs[job_id].status == ProcessingStatus.PAUSED
        engine.toggle_pause_all()  # a pause by hand on top of the schedule's
        now = at(1)
        await engine.check_schedule()
        assert engine.state.jobs[job_id].status == ProcessingStatus.PAUSED  # the hand's pause still holds
        engine.toggle_pause_all()
        assert engine.state.jobs[job_id].status == ProcessingStatus.RUNNING
        results = await asyncio.wait_for(engine.run_until_idle(), 300)
    assert results[job_id] is True
    job = Engine.look(config).jobs[0]
    assert job.status == ProcessingStatus.COMPLETED and Path(job.output_file or "").exists()
    said = [line for line in lines if line]
    waits = (
        "waiting for the 01:00 window (schedule.windows): running jobs are paused and none starts until then"
    )
    assert said == [
        waits,
        "the schedule lets the queue run again",
        waits,
        "the schedule lets the queue run again",
    ]


async def test_pause_when_yields_while_the_command_says_so(media: MediaFactory, tmp_path: Path) -> None:
    streaming = tmp_path / "someone-is-streaming"
    streaming.touch()
    probe = tmp_path / "is_streaming.py"
    probe.write_text(f"import os, sys\nsys.exit(0 if os.path.exists({str(streaming)!r}) else 1)\n")
    film = media.copy_to(media.clip(duration=1.0), tmp_path / "films", "Film.mkv")
    config = fast_config(
        tmp_path, f'schedule.pause_when=["{sys.executable}", "{probe}"]', "schedule.check_every=0.2"
    )
    async with Engine(config, monitor=False) as engine:
        (job_id,) = engine.encode_paths([film], {})
        await engine.start(only={job_id}, preanalyse=False)
        assert engine.waiting is not None and engine.waiting.startswith("yielding:")
        await asyncio.sleep(1.0)  # several looks, each says "yield"
        assert engine.state.jobs[job_id].status == ProcessingStatus.QUEUED
        streaming.unlink()
        await wait_for(lambda: engine.waiting is None, timeout=10)
        results = await asyncio.wait_for(engine.run_until_idle(), 300)
    assert results[job_id] is True


async def test_a_pause_when_that_cannot_run_is_said_and_holds_nothing(
    media: MediaFactory, tmp_path: Path
) -> None:
    film = media.copy_to(media.clip(duration=1.0), tmp_path / "films", "Film.mkv")
    config = fast_config(tmp_path, 'schedule.pause_when=["/nonexistent/plex-check"]')
    async with Engine(config, monitor=False) as engine:
        lines: list[str] = []
        engine.bus.add_listener(lambda e: lines.append(getattr(e.data, "message", "")))
        (job_id,) = engine.encode_paths([film], {})
        await engine.start(only={job_id}, preanalyse=False)
        assert engine.waiting is None
        results = await asyncio.wait_for(engine.run_until_idle(), 300)
    assert results[job_id] is True
    assert any("schedule.pause_when '/nonexistent/plex-check' cannot be run" in line for line in lines)


async def test_the_service_and_queue_say_what_the_queue_waits_for(
    media: MediaFactory, tmp_path: Path
) -> None:
    """A real service on the real clock, with a window that opens in about two hours: the film waits for it, and
    the service's viewers and `queue` say so."""
    opens = datetime.now() + timedelta(hours=2)
    expected = f"waiting for the {opens:%H}:00 window (schedule.windows)"
    film = media.copy_to(media.clip(duration=1.0), tmp_path / "films", "Film.mkv")
    service = Service(tmp_path)
    service.sets.append(f'schedule.windows=["{opens:%H}:00-{opens + timedelta(hours=1):%H}:00"]')
    try:
        assert service.cli("service", "start").returncode == 0
        client = await ServiceClient.connect(service.config(), client="test")
        try:
            assert client.waiting == expected
            client.add_paths([film])
            await wait_for(lambda: len(client.jobs()) == 1)
            await asyncio.sleep(1.5)
            assert client.jobs()[0].status == ProcessingStatus.QUEUED
        finally:
            await client.close()
        look = service.cli("queue")
        assert expected in look.stdout.splitlines()[1], look.stdout
    finally:
        pid = service.pid
        service.cli("service", "stop")
        if pid and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
