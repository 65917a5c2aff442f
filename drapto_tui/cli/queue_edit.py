"""`drapto-tui queue --remove ID / --clear-finished`: the queue's removals from a script.

The queue has one owner at a time. With a service running, the command goes to it (the app attached to it sees
the rows leave); with nobody holding the queue, this process opens it, removes, and closes; with another process
holding it in-process (`--foreground`, or an encode run before services), it says which one and changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.errors import DraptoError
from drapto_tui.model.state import ProcessingState


def resolve_ids(wanted: list[str], jobs: list[ProcessingState]) -> list[str]:
    """Each given id (or an unambiguous start of one, as `queue` prints them) as the job's full id."""
    resolved = []
    for given in wanted:
        matches = [job.job_id for job in jobs if job.job_id.startswith(given.strip())]
        if not given.strip() or not matches:
            raise DraptoError(
                "no such job in the queue", subject=given, hint="`drapto-tui queue` lists the ids"
            )
        if len(matches) > 1:
            raise DraptoError(f"matches {len(matches)} jobs", subject=given, hint="give more of the id")
        resolved.append(matches[0])
    return resolved


async def _apply(
    jobs: list[ProcessingState],
    remove: list[str],
    clear: bool,
    remove_one: Callable[[str], Awaitable[object]],
    clear_all: Callable[[], Awaitable[list[str]]],
) -> list[str]:
    """The removals asked for, through whichever owner holds the queue; a line for each."""
    ids = resolve_ids(remove, jobs)
    names = {job.job_id: job.current_file or job.job_id for job in jobs}
    lines = []
    for job_id in ids:
        await remove_one(job_id)
        lines.append(f"removed {job_id}  {names[job_id]}")
    if clear:
        lines.append(f"cleared {len(await clear_all())} finished job(s)")
    return lines


async def _through_service(config: DraptoConfig, remove: list[str], clear: bool) -> list[str] | None:
    from drapto_tui.engine.api import Core
    from drapto_tui.service.client import ServiceClient, ServiceUnavailable

    try:
        client = await ServiceClient.connect(config, client="queue")
    except ServiceUnavailable:
        return None

    async def remove_one(job_id: str) -> None:
        await client.call(Core.remove, job_id=job_id)

    async def clear_all() -> list[str]:
        return list(await client.call(Core.clear_finished))

    try:
        return await _apply(client.jobs(), remove, clear, remove_one, clear_all)
    finally:
        await client.close()


async def _in_process(config: DraptoConfig, remove: list[str], clear: bool) -> list[str]:
    from drapto_tui.engine.engine import Engine

    engine = Engine.open_idle(config, hint="remove jobs there (d in the app), or let it finish first")

    async def remove_one(job_id: str) -> None:
        engine.remove(job_id)

    async def clear_all() -> list[str]:
        return engine.clear_finished()

    try:
        return await _apply(engine.jobs(), remove, clear, remove_one, clear_all)
    finally:
        await engine.close()


def edit_queue(config: DraptoConfig, remove: list[str], clear: bool) -> int:
    async def edit() -> list[str]:
        lines = await _through_service(config, remove, clear)
        return lines if lines is not None else await _in_process(config, remove, clear)

    for line in asyncio.run(edit()):
        print(line)
    return 0
