"""The local executor's scheduling, without FFmpeg: many jobs x many segments, several slots, reorders, pauses
and cancels in random order. Every submitted segment must run exactly once (a cancelled job's at most once), no
more than `slots` at a time, and nothing may hang. Each example runs in milliseconds."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drapto_tui.worker import LocalExecutor


class World:
    """The executor's view of the queue (order and pause flags), steered by the test."""

    def __init__(self, jobs: int) -> None:
        self.rank = {f"job{j}": j for j in range(jobs)}
        self.paused: set[str] = set()

    def order(self, job_id: str) -> tuple[int]:
        return (self.rank[job_id],)


async def scenario(jobs: int, segments: list[int], slots: int, ops: list[tuple[str, int, int]], seed: int) -> None:
    rng = random.Random(seed)
    world = World(jobs)
    executor = LocalExecutor(slots, order=world.order, paused=lambda j: j in world.paused)
    ran: Counter[tuple[str, int]] = Counter()
    in_flight = 0
    peak = 0

    async def work(job_id: str, seg: int) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        ran[(job_id, seg)] += 1
        try:
            for _ in range(rng.randint(0, 3)):
                await asyncio.sleep(0)
        finally:
            in_flight -= 1

    tasks: dict[str, list[asyncio.Task[None]]] = {}

    async def submit_job(j: int) -> None:
        job_id = f"job{j}"
        # Jobs queue their segments in any order relative to each other (a shorter later job, a resume).
        tasks[job_id] = [asyncio.create_task(executor.submit(job_id, s, "sd", lambda job_id=job_id, s=s: work(job_id, s)))
                         for s in range(segments[j])]

    order = list(range(jobs))
    rng.shuffle(order)
    cancelled: set[str] = set()
    for j in order:
        await submit_job(j)
        await asyncio.sleep(0)
    for op, a, b in ops:
        job_id = f"job{a % jobs}"
        if op == "reorder":
            world.rank[job_id] = b
            executor.dispatch()
        elif op == "pause":
            world.paused.add(job_id)
        elif op == "resume":
            world.paused.discard(job_id)
            executor.dispatch()
        elif op == "cancel" and job_id not in cancelled:
            cancelled.add(job_id)
            for task in tasks[job_id]:
                task.cancel()
        for _ in range(b % 4):
            await asyncio.sleep(0)
    world.paused.clear()
    executor.dispatch()
    everything = [t for ts in tasks.values() for t in ts]
    done, pending = await asyncio.wait(everything, timeout=5)
    assert not pending, f"{len(pending)} segment(s) never started: the executor hangs"
    assert peak <= slots
    assert executor.busy == 0 and not executor.running
    for j in range(jobs):
        job_id = f"job{j}"
        for s in range(segments[j]):
            count = ran[(job_id, s)]
            if job_id in cancelled:
                assert count <= 1
            else:
                assert count == 1, (job_id, s, count)


OPS = st.lists(st.tuples(st.sampled_from(["reorder", "pause", "resume", "cancel", "wait"]),
                         st.integers(0, 7), st.integers(-3, 9)), max_size=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=st.integers(1, 6), data=st.data(), slots=st.integers(1, 4), ops=OPS, seed=st.integers(0, 2**16))
def test_every_segment_runs_exactly_once(jobs: int, data: st.DataObject, slots: int,
                                         ops: list[tuple[str, int, int]], seed: int) -> None:
    segments = data.draw(st.lists(st.integers(1, 12), min_size=jobs, max_size=jobs))
    asyncio.run(scenario(jobs, segments, slots, ops, seed))


def test_two_jobs_with_the_same_segment_indexes_both_finish() -> None:
    """The reported hang: a later job queues segment 0 before an earlier job's segment 0 is started; removing
    'the' waiter for segment 0 must not remove the other job's."""

    async def run() -> None:
        rank = {"long": 0, "short": 1}
        executor = LocalExecutor(2, order=lambda j: (rank[j],))
        ran: list[tuple[str, int]] = []

        async def work(job: str, seg: int) -> None:
            ran.append((job, seg))
            await asyncio.sleep(0.001)

        short = [asyncio.create_task(executor.submit("short", s, "sd", lambda s=s: work("short", s))) for s in range(2)]
        long = [asyncio.create_task(executor.submit("long", s, "sd", lambda s=s: work("long", s))) for s in range(4)]
        await asyncio.wait_for(asyncio.gather(*short, *long), 2)
        assert sorted(ran) == sorted([("short", 0), ("short", 1), *[("long", s) for s in range(4)]])

    asyncio.run(run())


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_best_job_first_when_a_slot_frees(slots: int) -> None:
    async def run() -> None:
        rank = {"a": 1, "b": 0}
        executor = LocalExecutor(slots, order=lambda j: (rank[j],))
        started: list[str] = []

        async def work(job: str) -> None:
            started.append(job)
            await asyncio.sleep(0.001)

        tasks = [asyncio.create_task(executor.submit("a", s, "sd", lambda: work("a"))) for s in range(4)]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(executor.submit("b", s, "sd", lambda: work("b"))) for s in range(4)]
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        # The first `slots` went to a (nothing else waited); every later slot went to b until b was drained.
        assert started[:slots] == ["a"] * slots
        assert started[slots:slots + 4] == ["b"] * 4

    asyncio.run(run())
