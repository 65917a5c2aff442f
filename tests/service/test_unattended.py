"""The service left alone for a week, tried as a user and a hostile neighbour would: a pid reused after a crash,
a client that stops reading, other users on the machine, a socket folder someone else made first, a service
with nothing to do. Real processes throughout (the CLI, the service, a raw socket client, `sleep` as the
process that inherited a pid)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from drapto_tui.engine.api import Core
from drapto_tui.service.client import ServiceClient
from drapto_tui.service.protocol import Hello, encode, info_path, read_info
from tests.media_helpers import MediaFactory
from tests.service.conftest import Service, clip, wait_for


def _kill_outright(pid: int) -> None:
    os.kill(pid, 9)
    end = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < end
        time.sleep(0.05)


def test_a_reused_pid_does_not_block_the_service(service: Service) -> None:
    """A service killed outright leaves service.json and lock naming its pid; that pid now belongs to another
    process. start, status and stop must see no service, and start must start one."""
    assert service.cli("service", "start").returncode == 0
    old = service.pid
    assert old
    _kill_outright(old)
    stranger = subprocess.Popen(["sleep", "60"])  # the process that got the pid, as far as the files say
    try:
        info = read_info(service.state)
        assert info is not None
        info["pid"] = stranger.pid
        info_path(service.state).write_text(json.dumps(info))
        (service.state / "lock").write_text(str(stranger.pid))
        status = service.cli("service", "status")
        assert status.returncode == 3 and "no service runs" in status.stdout, status
        stop = service.cli("service", "stop")
        assert stop.returncode == 0 and "no service runs" in stop.stdout, stop
        assert stranger.poll() is None  # nobody killed the innocent process
        start = service.cli("service", "start")
        assert start.returncode == 0 and start.stdout.startswith("service started: pid "), start
        new = service.pid
        assert new and new != stranger.pid and psutil.pid_exists(new)
        status = service.cli("service", "status")
        assert status.returncode == 0 and f"service pid {new}" in status.stdout
        stop = service.cli("service", "stop")
        assert stop.returncode == 0 and "service stopped" in stop.stdout, stop
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


async def test_a_client_that_never_reads_delays_nobody(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    """A raw client says hello and never reads while events flow (thousands of queue changes): another client
    attaching then is welcomed and answered at once, and the stuck one costs itself its connection."""
    service.sets.append("service.client_timeout=3")
    assert service.cli("service", "start").returncode == 0
    film = media.copy_to(clip(media, 2), tmp_path / "films", "film.mkv")
    busy = await ServiceClient.connect(service.config(), client="busy")
    await busy.call(Core.toggle_pause_all)  # the job waits: only queue changes flow
    busy.add_paths([film])
    await wait_for(lambda: len(busy.jobs()) == 1, what="the job")
    job_id = busy.jobs()[0].job_id

    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.connect(read_info(service.state)["socket"])  # type: ignore[index]
    stuck.sendall(encode(Hello(client="stuck-script")))  # and never a recv
    try:
        # Enough events to fill the stuck client's socket many times over (each change is broadcast to it).
        for _ in range(6):
            await asyncio.gather(*(busy.call(Core.bump_priority, job_id=job_id, delta=1) for _ in range(400)))
        started = time.monotonic()
        late = await asyncio.wait_for(ServiceClient.connect(service.config(), client="late"), 5)
        assert await asyncio.wait_for(late.call(Core.commands, job_id=job_id), 5) is not None
        assert time.monotonic() - started < 2.0
        await late.close()
        # The stuck client is let go after service.client_timeout; the service and the others go on.
        log = service.root / "work" / "logs" / "service.log"
        await wait_for(
            lambda: "disconnected client stuck-script" in log.read_text(errors="replace"),
            timeout=30,
            what="the stuck client's disconnection",
        )
        assert (await busy.call(Core.job_log, job_id=job_id)) is not None
    finally:
        stuck.close()
        await busy.close()


async def test_state_folder_is_private_and_kept_so(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    """Database, event log and service log name every film: 0700 folders, 0600 files, also for a state dir an
    older version left readable by everyone."""
    logs, state = service.root / "work" / "logs", service.state
    for folder in (logs, state):  # as an older version left them
        folder.mkdir(parents=True)
        folder.chmod(0o755)
    (logs / "events.jsonl").write_text("")
    (logs / "events.jsonl").chmod(0o644)
    assert service.cli("service", "start").returncode == 0
    client = await ServiceClient.connect(service.config(), client="test")
    client.add_paths([media.copy_to(clip(media, 2), tmp_path / "films", "film.mkv")])
    await wait_for(lambda: len(client.jobs()) == 1, what="the job")
    await client.close()
    for folder in (logs, state):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [p for folder in (logs, state) for p in folder.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"events.jsonl", "service.log", "state.sqlite3", "service.json", "lock"} <= names, names
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_a_socket_folder_another_user_made_first(tmp_path: Path) -> None:
    """A state dir path too long for a socket puts it under the temp dir; a folder of that name made first by
    another user (who could swap the socket) is not used: one line, a private folder instead, and clients
    still find the service."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a folder as another user")
    temp = Path(tempfile.mkdtemp(prefix="drapto-tmp-"))
    temp.chmod(0o1777)
    trap = temp / f"drapto-tui-{os.getuid()}"
    trap.mkdir(mode=0o777)
    trap.chmod(0o777)
    shutil.chown(trap, "nobody")
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    service = Service(deep)
    env = {**os.environ, "TMPDIR": str(temp)}
    try:
        started = service.cli("service", "start", env=env)
        assert started.returncode == 0, started.stderr
        sock = Path(read_info(service.state)["socket"])  # type: ignore[index]
        assert sock.parent != trap and sock.parent.parent == temp
        folder = sock.parent.stat()
        assert folder.st_uid == os.getuid() and stat.S_IMODE(folder.st_mode) == 0o700
        assert list(trap.iterdir()) == []
        log = (deep / "work" / "logs" / "service.log").read_text()
        assert f"not using {trap} for the socket (it belongs to nobody)" in log
        status = service.cli("service", "status", env=env)
        assert status.returncode == 0 and str(sock) in status.stdout
    finally:
        service.cli("service", "stop", env=env)
        shutil.rmtree(temp, ignore_errors=True)


async def test_an_idle_service_exits_and_says_when(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    service.sets.append("service.idle_exit=2")
    assert service.cli("service", "start").returncode == 0
    pid = service.pid
    assert pid
    status = service.cli("service", "status")
    assert "exits after 2 s with nothing queued or running" in status.stdout, status.stdout
    # A client attached and a job to do keep it; once the job is done and the client gone, it goes.
    client = await ServiceClient.connect(service.config(), client="test")
    client.add_paths([media.copy_to(clip(media, 2), tmp_path / "films", "film.mkv")])
    await wait_for(
        lambda: bool(client.jobs()) and client.jobs()[0].status.value == "completed", what="the job"
    )
    await asyncio.sleep(3)
    assert psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # a client is here
    await client.close()
    await wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
        timeout=20,
        what="the idle service to exit",
    )
    assert read_info(service.state) is None
    log = (service.root / "work" / "logs" / "service.log").read_text()
    assert "idle for 2 s (service.idle_exit): exiting" in log


async def test_a_failing_hook_is_a_warning_for_encode_through_the_service(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    hook = tmp_path / "hook.sh"
    hook.write_text('#!/bin/sh\necho "no notifier here" >&2\nexit 1\n')
    hook.chmod(0o755)
    service.sets += [f'hooks.on_job_end=["{hook}"]', "hooks.timeout=5"]
    assert service.cli("service", "start").returncode == 0
    film = media.copy_to(clip(media, 2), tmp_path / "films", "film.mkv")
    done = service.cli("encode", "--json", str(film), timeout=120)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    warnings = [e["data"]["message"] for e in events if e["event"] == "error_occurred"]
    assert any("hook.sh exited 1: no notifier here" in w for w in warnings), (warnings, done.stderr)
