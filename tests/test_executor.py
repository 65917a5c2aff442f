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

from drapto_tui.execution.control import JobCancelled
from drapto_tui.execution.local import LocalExecutor
from drapto_tui.model.segment import SearchSettings, Segment, SegmentOutcome, SegmentSpec, VideoSettings


def spec(job_id: str, index: int, frames: int = 48) -> SegmentSpec:
    return SegmentSpec(
        job_id=job_id,
        source=f"/films/{job_id}.mkv",
        resolution_class="sd",
        ffmpeg="ffmpeg",
        segment=Segment(index=index, start=index * 2.0, end=index * 2.0 + 2, frames=frames, path="-"),
        video=VideoSettings(preset=12, crf=0),
        search=SearchSettings(),
        out_width=64,
        out_height=64,
        probe_identity=f"{job_id}|{index}",
        scratch="/nonexistent",
    )


def runner(work):
    async def run(spec: SegmentSpec, workdir, report) -> SegmentOutcome:
        await work(spec.job_id, spec.segment.index)
        return SegmentOutcome(
            job_id=spec.job_id,
            segment=spec.segment.index,
            crf=30,
            score_predicted=93,
            score_measured=93,
            bytes=1,
            encode_seconds=0,
            fps=0,
            attempts=1,
            encoded="-",
        )

    return run


class World:
    """The queue's order, steered by the test."""

    def __init__(self, jobs: int) -> None:
        self.rank = {f"job{j}": j for j in range(jobs)}

    def order(self, job_id: str) -> tuple[int]:
        return (self.rank[job_id],)


async def scenario(
    jobs: int, segments: list[int], slots: int, ops: list[tuple[str, int, int]], seed: int
) -> None:
    rng = random.Random(seed)
    world = World(jobs)
    executor = LocalExecutor(slots, order=world.order, runner=runner(lambda job_id, seg: work(job_id, seg)))
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
        tasks[job_id] = [
            asyncio.create_task(executor.submit(spec(job_id, s), lambda r: None)) for s in range(segments[j])
        ]

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
            executor.poke()
        elif op == "pause":
            executor.pause_job(job_id)
        elif op == "resume":
            executor.resume_job(job_id)
        elif op == "cancel" and job_id not in cancelled:  # the coordinator gives up on the job's segments
            cancelled.add(job_id)
            for task in tasks[job_id]:
                task.cancel()
        elif op == "cancel_job" and job_id not in cancelled:  # the user cancels the job
            cancelled.add(job_id)
            await executor.cancel_job(job_id)
        for _ in range(b % 4):
            await asyncio.sleep(0)
    for j in range(jobs):
        executor.resume_job(f"job{j}")
    everything = [t for ts in tasks.values() for t in ts]
    _done, pending = await asyncio.wait(everything, timeout=5)
    assert not pending, f"{len(pending)} segment(s) never started: the executor hangs"
    for job_id, job_tasks in tasks.items():
        for task in job_tasks:
            if job_id not in cancelled:
                assert task.result().job_id == job_id
            elif not task.cancelled():
                assert task.exception() is None or isinstance(task.exception(), JobCancelled)
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


OPS = st.lists(
    st.tuples(
        st.sampled_from(["reorder", "pause", "resume", "cancel", "cancel_job", "wait"]),
        st.integers(0, 7),
        st.integers(-3, 9),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=st.integers(1, 6), data=st.data(), slots=st.integers(1, 4), ops=OPS, seed=st.integers(0, 2**16))
def test_every_segment_runs_exactly_once(
    jobs: int, data: st.DataObject, slots: int, ops: list[tuple[str, int, int]], seed: int
) -> None:
    segments = data.draw(st.lists(st.integers(1, 12), min_size=jobs, max_size=jobs))
    asyncio.run(scenario(jobs, segments, slots, ops, seed))


def test_two_jobs_with_the_same_segment_indexes_both_finish() -> None:
    """The reported hang: a later job queues segment 0 before an earlier job's segment 0 is started; removing
    'the' waiter for segment 0 must not remove the other job's."""

    async def run() -> None:
        rank = {"long": 0, "short": 1}
        ran: list[tuple[str, int]] = []

        async def work(job: str, seg: int) -> None:
            ran.append((job, seg))
            await asyncio.sleep(0.001)

        executor = LocalExecutor(2, order=lambda j: (rank[j],), runner=runner(work))
        short = [asyncio.create_task(executor.submit(spec("short", s), lambda r: None)) for s in range(2)]
        long = [asyncio.create_task(executor.submit(spec("long", s), lambda r: None)) for s in range(4)]
        await asyncio.wait_for(asyncio.gather(*short, *long), 2)
        assert sorted(ran) == sorted([("short", 0), ("short", 1), *[("long", s) for s in range(4)]])

    asyncio.run(run())


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_best_job_first_when_a_slot_frees(slots: int) -> None:
    async def run() -> None:
        rank = {"a": 1, "b": 0}
        started: list[str] = []

        async def work(job: str, seg: int) -> None:
            started.append(job)
            await asyncio.sleep(0.001)

        executor = LocalExecutor(slots, order=lambda j: (rank[j],), runner=runner(work))
        tasks = [asyncio.create_task(executor.submit(spec("a", s), lambda r: None)) for s in range(4)]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(executor.submit(spec("b", s), lambda r: None)) for s in range(4)]
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        # The first `slots` went to a (nothing else waited); every later slot went to b until b was drained.
        assert started[:slots] == ["a"] * slots
        assert started[slots : slots + 4] == ["b"] * 4

    asyncio.run(run())


@pytest.mark.parametrize("slots", [2, 3])
def test_film_order_until_the_last_segments_then_the_longest_of_them_first(slots: int) -> None:
    """The film's early segments go in film order (they teach the later ones); the last `slots` of them go
    longest first, so that a long one does not run alone at the end while the other slots stand idle."""

    async def run() -> None:
        frames = [125, 350, 125, 225, 163, 125, 163, 350]
        started: list[int] = []

        async def work(job: str, seg: int) -> None:
            started.append(seg)
            await asyncio.sleep(0.001 * frames[seg] / 125)

        executor = LocalExecutor(slots, runner=runner(work))
        tasks = [
            asyncio.create_task(executor.submit(spec("film", i, frames=n), lambda r: None))
            for i, n in enumerate(frames)
        ]
        await asyncio.wait_for(asyncio.gather(*tasks), 2)
        head = len(frames) - slots
        assert started[:head] == list(range(head))
        # The last ones by length, ties in film order: here not their film order.
        last = sorted(range(head, len(frames)), key=lambda i: (-frames[i], i))
        assert last != list(range(head, len(frames)))
        assert started[head:] == last

    asyncio.run(run())
