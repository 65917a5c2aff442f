"""`drapto-tui service start|stop|status|run`: the service's life from a shell."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import psutil

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.errors import DraptoError
from drapto_tui.service.client import (
    ServiceClient,
    ServiceUnavailable,
    attach_or_start,
    service_log,
    state_dir_of,
)
from drapto_tui.service.protocol import read_info


def service_command(action: str, config: DraptoConfig, config_args: list[str]) -> int:
    if action == "run":
        from drapto_tui.engine.preflight import check_machine
        from drapto_tui.service.server import run_service

        check_machine(config)
        info = read_info(state_dir_of(config))
        if info is not None and _alive(info.get("pid")):
            raise DraptoError(
                f"a service already runs for this state dir (pid {info['pid']})",
                subject=str(state_dir_of(config)),
                hint="drapto-tui service status shows it; drapto-tui service stop stops it",
            )
        return run_service(config)
    if action == "start":
        return asyncio.run(_start(config, config_args))
    if action == "stop":
        return asyncio.run(_stop(config))
    return asyncio.run(_status(config))


def _alive(pid: object) -> bool:
    try:
        return isinstance(pid, int) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


async def _start(config: DraptoConfig, config_args: list[str]) -> int:
    client, started = await attach_or_start(config, config_args, client="service-start")
    info = read_info(state_dir_of(config)) or {}
    await client.close()
    verb = "started" if started else "already running"
    print(f"service {verb}: pid {client.service_pid}, socket {info.get('socket')}, log {service_log(config)}")
    return 0


async def _stop(config: DraptoConfig, timeout: float = 60.0) -> int:
    """Ask the service to stop (checkpoint, FFmpeg stopped, resumable) and wait until its process is gone."""
    try:
        client = await ServiceClient.connect(config, client="service-stop")
    except ServiceUnavailable:
        print(f"no service runs for {state_dir_of(config)}")
        return 0
    pid = client.service_pid
    # It may close the connection before its reply: the process check below decides.
    with contextlib.suppress(DraptoError):
        await client.call("shutdown", mode="stop")
    await client.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            print(f"service stopped (pid {pid}); its unfinished jobs resume on the next start")
            return 0
        await asyncio.sleep(0.1)
    raise DraptoError(f"the service (pid {pid}) did not stop within {timeout:g} s", hint=f"kill {pid}")


async def _status(config: DraptoConfig) -> int:
    try:
        client = await ServiceClient.connect(config, client="service-status")
    except ServiceUnavailable as err:
        print(err.line())
        return 3
    info = read_info(state_dir_of(config)) or {}
    counts = Counter(job.status.value for job in client.jobs())
    jobs = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no jobs"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    print(f"service pid {client.service_pid}, drapto-tui {info.get('version')}, since {started}")
    print(f"socket {info.get('socket')}, log {service_log(config)}")
    print(
        f"{client.clients - 1} other client(s) attached; {'all work paused; ' if client.paused_all else ''}{jobs}"
    )
    await client.close()
    return 0


__all__ = ["service_command"]
