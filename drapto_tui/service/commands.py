"""`drapto-tui service start|stop|status|run`: the service's life from a shell."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import psutil

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.api import Core
from drapto_tui.engine.store import lock_holder
from drapto_tui.errors import DraptoError
from drapto_tui.service.client import (
    ServiceClient,
    ServiceUnavailable,
    attach_or_start,
    service_log,
    state_dir_of,
)
from drapto_tui.service.protocol import live_info


def service_command(action: str, config: DraptoConfig, config_args: list[str]) -> int:
    if action == "run":
        from drapto_tui.engine.preflight import check_machine
        from drapto_tui.service.server import run_service

        check_machine(config)
        info = live_info(state_dir_of(config))
        if info is not None:
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


async def _start(config: DraptoConfig, config_args: list[str]) -> int:
    client, started = await attach_or_start(config, config_args, client="service-start")
    info = live_info(state_dir_of(config)) or {}
    await client.close()
    verb = "started" if started else "already running"
    print(f"service {verb}: pid {client.service_pid}, socket {info.get('socket')}, log {service_log(config)}")
    return 0


async def _stop(config: DraptoConfig, timeout: float = 60.0) -> int:
    """Ask the service to stop (checkpoint, FFmpeg stopped, resumable) and wait until it lets go of the state
    dir's lock (its process gone or going: a pid alone could since name another process)."""
    state_dir = state_dir_of(config)
    try:
        client = await ServiceClient.connect(config, client="service-stop")
    except ServiceUnavailable:
        info = live_info(state_dir)
        if info is None:
            print(f"no service runs for {state_dir}")
            return 0
        raise DraptoError(
            f"the service (pid {info['pid']}) holds the state dir but does not answer",
            subject=str(state_dir),
            hint=f"kill {info['pid']} (its jobs resume on the next start)",
        ) from None
    pid = client.service_pid
    # It may close the connection before its reply: the lock check below decides.
    with contextlib.suppress(DraptoError):
        await client.call(Core.shutdown, mode="stop")
    await client.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lock_holder(state_dir) != pid:
            await _exited(pid, deadline=time.monotonic() + 5)  # the lock goes a moment before the process
            print(f"service stopped (pid {pid}); its unfinished jobs resume on the next start")
            return 0
        await asyncio.sleep(0.1)
    raise DraptoError(f"the service (pid {pid}) did not stop within {timeout:g} s", hint=f"kill {pid}")


async def _exited(pid: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        await asyncio.sleep(0.05)


async def _status(config: DraptoConfig) -> int:
    try:
        client = await ServiceClient.connect(config, client="service-status")
    except ServiceUnavailable as err:
        print(err.line())
        return 3
    info = live_info(state_dir_of(config)) or {}
    counts = Counter(job.status.value for job in client.jobs())
    jobs = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no jobs"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    print(f"service pid {client.service_pid}, drapto-tui {info.get('version')}, since {started}")
    print(f"socket {info.get('socket')}, log {service_log(config)}")
    print(
        f"{client.clients - 1} other client(s) attached; {'all work paused; ' if client.paused_all else ''}{jobs}"
    )
    idle_exit = float(info.get("idle_exit") or 0)
    print(
        f"exits after {idle_exit:g} s with nothing queued or running, no client and no watched folder"
        " (service.idle_exit)"
        if idle_exit > 0
        else "never exits on its own (service.idle_exit = 0)"
    )
    await client.close()
    return 0


__all__ = ["service_command"]
