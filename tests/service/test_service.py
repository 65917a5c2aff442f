"""The service as users meet it: started detached by the CLI, clients that attach, detach and reattach, a
dropped terminal that stops nothing, two viewers at once, a second service refused, a socket only the owner can
open, a client of another protocol version told so in one line. Real processes, real FFmpeg on tiny clips."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from drapto_tui.engine.api import Core
from drapto_tui.model.events import ProcessingEvents, ProcessingStatus
from drapto_tui.service.client import ServiceClient
from drapto_tui.service.protocol import read_info
from tests.media_helpers import MediaFactory
from tests.service.conftest import Service, clip, wait_for


def app_processes(film: Path) -> list[psutil.Process]:
    """The app processes started on this film (the command line names it; the service's does not)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if str(film) in cmdline and "drapto_tui" in cmdline and proc.status() != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


def assert_each_segment_once(service: Service, job_id: str) -> None:
    """From the service's event log: each segment completed exactly once and the job never stopped."""
    events = [json.loads(line) for line in (service.root / "work" / "logs" / "events.jsonl").open()]
    mine = [e for e in events if e.get("job_id") == job_id]
    done = [e["data"]["segment"] for e in mine if e["event"] == ProcessingEvents.SEGMENT_COMPLETE.value]
    assert done and sorted(done) == sorted(set(done)), done
    stops = {ProcessingEvents.JOB_PAUSED.value, ProcessingEvents.JOB_CANCELLED.value}
    assert not [e for e in mine if e["event"] in stops]


async def test_start_status_stop_and_a_private_socket(service: Service) -> None:
    started = service.cli("service", "start")
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("service started: pid ")
    pid = service.pid
    assert pid and psutil.pid_exists(pid)
    proc = psutil.Process(pid)
    # Detached: its own session, no controlling terminal, stdio to the log file.
    assert os.getsid(pid) == pid and proc.terminal() is None
    sock = Path(read_info(service.state)["socket"])  # type: ignore[index]
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    again = service.cli("service", "start")
    assert again.returncode == 0 and again.stdout.startswith(f"service already running: pid {pid}")
    status = service.cli("service", "status")
    assert status.returncode == 0 and f"service pid {pid}" in status.stdout
    # A second service for the same state dir, in the foreground: one line, no traceback.
    second = service.cli("service", "run", timeout=30)
    assert second.returncode != 0 and len(second.stderr.strip().splitlines()) == 1
    assert f"a service already runs for this state dir (pid {pid})" in second.stderr
    stopped = service.cli("service", "stop")
    assert stopped.returncode == 0 and "service stopped" in stopped.stdout
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not sock.exists() and read_info(service.state) is None
    gone = service.cli("service", "status")
    assert gone.returncode == 3 and "no service runs" in gone.stdout


async def test_encoding_goes_on_without_clients_and_a_reattach_sees_it(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    film = media.copy_to(clip(media), tmp_path / "films", "film.mkv")
    assert service.cli("service", "start").returncode == 0
    config = service.config()
    first = await ServiceClient.connect(config)
    seen: list[str] = []
    first.listen(on_error=seen.append, on_added=lambda new, errors: seen.extend(errors), on_lost=lambda: None)
    first.add_paths([film])
    await wait_for(lambda: any(j.status == ProcessingStatus.RUNNING for j in first.jobs()), what="the job")
    await first.shutdown("detach")  # the viewer leaves mid-encode
    out = tmp_path / "out" / "film.mkv"
    await wait_for(lambda: out.exists(), what="the output while no client is attached")
    started = time.monotonic()
    again = await ServiceClient.connect(config)
    reattach = time.monotonic() - started
    assert reattach < 1.0, reattach
    (job,) = again.jobs()
    await wait_for(lambda: again.jobs()[0].status == ProcessingStatus.COMPLETED)
    job = again.jobs()[0]
    # The snapshot carries the whole job; no segment was encoded twice (no work lost to the detach).
    assert job.segments and all(s.status.value == "done" for s in job.segments.values())
    assert_each_segment_once(service, job.job_id)
    assert seen == []
    # `queue` reads the service's live state (its pid as the owner).
    listed = service.cli("queue", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert row["status"] == "completed" and row["owner_pid"] == service.pid
    await again.close()


async def test_two_viewers_see_the_same_state(service: Service, media: MediaFactory, tmp_path: Path) -> None:
    films = tmp_path / "films"
    for name in ("a.mkv", "b.mkv"):
        media.copy_to(clip(media, 2), films, name)
    assert service.cli("service", "start").returncode == 0
    config = service.config()
    one = await ServiceClient.connect(config)
    await one.call(Core.toggle_pause_all)  # nothing starts: the queue stays as the viewers set it
    two = await ServiceClient.connect(config)
    one.add_paths([films])
    await wait_for(lambda: len(two.jobs()) == 2, what="the second viewer to see both jobs")
    b = next(j for j in two.jobs() if j.current_file and j.current_file.endswith("b.mkv"))
    two.toggle_hold(b.job_id)
    await wait_for(lambda: one.state.jobs[b.job_id].status == ProcessingStatus.HELD, what="the hold")
    assert two.paused_all and one.paused_all
    # A late viewer's snapshot equals what the early ones folded from events.
    three = await ServiceClient.connect(config)
    assert [(j.job_id, j.status) for j in three.jobs()] == [(j.job_id, j.status) for j in one.jobs()]
    assert three.clients == 3
    # `queue --remove` from a shell goes through the service: every viewer sees the row leave.
    removed = await asyncio.to_thread(service.cli, "queue", "--remove", b.job_id)
    assert removed.returncode == 0 and f"removed {b.job_id}" in removed.stdout, removed.stderr
    await wait_for(
        lambda: b.job_id not in one.state.jobs and b.job_id not in three.state.jobs, what="the removal"
    )
    for client in (one, two, three):
        await client.close()


async def test_a_client_of_another_version_gets_one_line(service: Service) -> None:
    assert service.cli("service", "start").returncode == 0
    path = read_info(service.state)["socket"]  # type: ignore[index]
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(path)
        raw.sendall(json.dumps({"type": "hello", "version": 999, "client": "old", "pid": 1}).encode() + b"\n")
        answer = json.loads(raw.makefile().readline())
    assert answer["type"] == "refused"
    assert "protocol 1" in answer["reason"] and "999" in answer["reason"]
    assert psutil.pid_exists(service.pid or 0)  # the service goes on


async def test_a_call_is_checked_against_its_typed_signature(service: Service) -> None:
    """Any peer on the socket (not only our client) gets a call with wrong arguments, or a method that is not a
    command, refused in one line before the engine sees it; the service goes on."""
    assert service.cli("service", "start").returncode == 0
    path = read_info(service.state)["socket"]  # type: ignore[index]
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(path)
        lines = raw.makefile()
        raw.sendall(json.dumps({"type": "hello", "version": 1, "client": "script"}).encode() + b"\n")
        assert json.loads(lines.readline())["type"] == "welcome"
        calls = {
            1: ("move", {"job_id": "x", "offset": "far"}),
            2: ("move", {"job_id": "x"}),
            3: ("listen", {}),  # a Core member, but each client's own business
            4: ("__init__", {}),
            5: ("toggle_hold", {"job_id": "x", "extra": 1}),
        }
        for call_id, (method, args) in calls.items():
            call = {"type": "call", "id": call_id, "method": method, "args": args}
            raw.sendall(json.dumps(call).encode() + b"\n")
        replies = {}
        while len(replies) < len(calls):
            message = json.loads(lines.readline())
            if message["type"] == "reply":
                replies[message["id"]] = message["error"]
    assert (
        replies[1]
        == "bad call move: offset: Input should be a valid integer, unable to parse string as an integer"
    )
    assert replies[2] == "bad call move: offset: Field required"
    assert replies[3] == "bad call listen: no such command 'listen'"
    assert replies[4] == "bad call __init__: no such command '__init__'"
    assert replies[5] == "bad call toggle_hold: extra: Extra inputs are not permitted"
    client = await ServiceClient.connect(service.config(), client="test")
    try:
        paused = client.paused_all
        await client.call(Core.toggle_pause_all)  # a typed call still goes through
        await wait_for(lambda: client.paused_all != paused, 5)
    finally:
        await client.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_a_dropped_terminal_detaches_the_app(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    """The app in tmux at 80x24, the terminal killed mid-encode (SIGHUP): the service finishes the film."""
    film = media.copy_to(clip(media, 6), tmp_path / "films", "film.mkv")
    session = f"drapto-test-{os.getpid()}"
    command = [sys.executable, "-m", "drapto_tui", str(film), *service.args()]
    env = {"TMUX": "", "TERM": "xterm-256color"}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", *command],
        check=True,
        env={**os.environ, **env},
    )
    try:
        config = service.config()
        await wait_for(lambda: service.pid is not None, what="the app to start the service")
        watcher = await ServiceClient.connect(config, client="test")
        await wait_for(
            lambda: any(j.status == ProcessingStatus.RUNNING for j in watcher.jobs()), what="the encode"
        )

        def screen() -> str:
            capture = ["tmux", "capture-pane", "-p", "-t", session]
            return subprocess.run(capture, capture_output=True, text=True).stdout

        await wait_for(lambda: "film.mkv" in screen() and "running 1" in screen(), what="the app's screen")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    await wait_for(lambda: watcher.clients == 1, what="the app to leave", timeout=15)
    # The app itself is gone too: a dropped terminal leaves no process of it behind.
    await wait_for(lambda: not app_processes(film), what="the app's process to end", timeout=15)
    await wait_for(lambda: watcher.jobs()[0].status == ProcessingStatus.COMPLETED, what="the film to finish")
    assert (tmp_path / "out" / "film.mkv").exists()
    assert_each_segment_once(service, watcher.jobs()[0].job_id)
    await watcher.close()


async def test_encode_and_watch_go_through_a_running_service(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    """`encode` adds its film to the running service (no 'state dir in use') and follows it to the end with the
    same JSON lines and exit code; `watch` makes the service queue what is copied into a folder."""
    film = media.copy_to(clip(media, 2), tmp_path / "films", "via service.mkv")
    service.sets.append("input.watch_settle=0.5")
    assert service.cli("service", "start").returncode == 0
    pid = service.pid
    done = service.cli("encode", "--json", str(film), timeout=180)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events and {e["job_id"] for e in events} == {events[0]["job_id"]}
    assert events[-1]["event"] == ProcessingEvents.ENCODING_COMPLETE.value
    assert (tmp_path / "out" / "via service.mkv").exists()
    assert service.pid == pid and psutil.pid_exists(pid or 0)  # the service ran it and goes on
    # The command's own -o decides where its film goes, not the folder the service was started with.
    other = media.copy_to(clip(media, 2), tmp_path / "films", "elsewhere.mkv")
    elsewhere = tmp_path / "chosen by this command"
    placed = service.cli("encode", "--json", str(other), "-o", str(elsewhere), timeout=180)
    assert placed.returncode == 0, placed.stderr
    assert (elsewhere / "elsewhere.mkv").exists() and not (tmp_path / "out" / "elsewhere.mkv").exists()
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    watched_out = tmp_path / "from the watched folder"
    watched = service.cli("watch", str(incoming), "-o", str(watched_out))
    assert watched.returncode == 0 and str(incoming.resolve()) in watched.stdout, watched.stderr
    assert "has not grown for 0.5 s" in watched.stdout
    media.copy_to(clip(media, 2), incoming, "dropped in.mkv")
    config = service.config()
    viewer = await ServiceClient.connect(config)
    await wait_for(
        lambda: any((j.current_file or "").endswith("dropped in.mkv") for j in viewer.jobs()),
        what="the watched film to be queued",
        timeout=10,
    )
    (dropped,) = [j for j in viewer.jobs() if (j.current_file or "").endswith("dropped in.mkv")]
    assert Path(dropped.output_file or "").parent == watched_out.resolve()  # the watch command's -o
    await viewer.close()


async def test_every_viewer_reads_the_services_queue_eta(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    """The queue's ETA is measured once, in the service: a viewer that attaches late shows the same figure as one
    that watched from the start, from its first frame, and a paused queue's ETA stands still (issue 26)."""
    # Long enough to run past the rate's first 20 s (engine/eta.py MIN_WINDOW) with work still left to time, and to
    # pause: 150 s of it once took about 24 s to encode, and finished while the ETA was being read. The service is
    # stopped when the test ends, so the film's length costs only its making.
    film = media.clip(width=320, height=180, duration=600, fps=24, audio="stereo", gop=48)
    service.sets.append("encoding.preset=8")
    assert service.cli("service", "start").returncode == 0
    early = await ServiceClient.connect(service.config(), client="early")
    try:
        early.add_paths([media.copy_to(film, tmp_path / "films", "long.mkv")])
        await wait_for(lambda: early.queue_eta() is not None, timeout=120, what="a measured queue rate")
        late = await ServiceClient.connect(service.config(), client="late")
        try:
            assert late.queue_eta() is not None  # from the welcome: never a blank first frame
            seen: list[tuple[float | None, float | None]] = []
            for _ in range(6):
                await asyncio.sleep(0.5)
                seen.append((early.queue_eta(), late.queue_eta()))
            # Both read the service's status lines: the same figure, give or take the one line in flight.
            assert all(a is not None and b is not None and abs(a - b) <= 1 for a, b in seen), seen
            await late.call(Core.toggle_pause_all)
            await wait_for(lambda: early.paused_all and late.paused_all, timeout=10)
            await asyncio.sleep(1.0)  # the pause reaches the running FFmpeg
            held = early.queue_eta()
            await asyncio.sleep(3.0)
            assert early.queue_eta() == held == late.queue_eta(), (held, early.queue_eta(), late.queue_eta())
            await late.call(Core.toggle_pause_all)
        finally:
            await late.close()
    finally:
        await early.close()


async def test_the_meters_measure_the_service_and_its_ffmpeg(
    service: Service, media: MediaFactory, tmp_path: Path
) -> None:
    """A viewer's meters show the service's work, not the viewer's: the resource samples come from the service,
    counting its FFmpeg processes and the running job's CPU and memory (issue 26)."""
    film = media.clip(width=320, height=180, duration=40, fps=24, audio="stereo", gop=48)
    service.sets.append("encoding.preset=8")
    assert service.cli("service", "start").returncode == 0
    viewer = await ServiceClient.connect(service.config(), client="viewer")
    samples = viewer.bus.subscribe("meters", kinds=[ProcessingEvents.RESOURCE_SAMPLE])
    try:
        viewer.add_paths([media.copy_to(film, tmp_path / "films", "film.mkv")])
        await wait_for(lambda: bool(viewer.jobs()), what="the job")
        job_id = viewer.jobs()[0].job_id
        busy = None
        seen: list[tuple[int, dict[str, object], str]] = []
        end = time.monotonic() + 90
        while busy is None and time.monotonic() < end:
            for event in samples.drain():
                seen.append((event.data.processes, dict(event.data.jobs), viewer.jobs()[0].status.value))
                usage = event.data.jobs.get(job_id)
                if usage is not None and usage.cpu > 0 and usage.rss > 0 and event.data.processes >= 2:
                    busy = event.data
            await asyncio.sleep(0.2)
        assert busy is not None, f"no sample showed the service's FFmpeg at work: {seen[:12]}"
        # The service's tree: itself and the job's FFmpeg (this viewer runs no FFmpeg and is not in it).
        assert busy.rss_tree >= busy.jobs[job_id].rss
    finally:
        samples.close()
        await viewer.close()
