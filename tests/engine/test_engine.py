"""One place wires the core: the Engine's parts share one executor, one bus and one state, and a second
Engine on the same state dir is refused with one line instead of interleaving writes."""

from __future__ import annotations

import pytest

from drapto_tui.config import DraptoConfig
from drapto_tui.engine.engine import Engine
from drapto_tui.errors import StateError
from drapto_tui.execution.base import Executor
from drapto_tui.execution.local import LocalExecutor
from drapto_tui.model.events import AnalysisStarted, JobUpdated, ProcessingStatus


async def test_every_part_shares_the_engine_s_executor_bus_and_state(engine: Engine) -> None:
    executor: Executor = engine.executor
    assert isinstance(executor, LocalExecutor)
    assert engine.scheduler.executor is executor and engine.pipeline.executor is executor
    assert engine.scheduler.bus is engine.bus is engine.pipeline.bus is engine.queue.bus
    assert engine.scheduler.state is engine.state is engine.pipeline.state is engine.queue.state
    assert engine.pipeline.cache is engine.store
    # The fold is a synchronous tap on the bus: a command is in the state the moment it returns.
    job_id = engine.queue.add_job(
        engine.config.output_root() / "in.mkv", engine.config.output_root() / "o.mkv"
    )
    assert engine.state.jobs[job_id].status == ProcessingStatus.QUEUED
    engine.emit(JobUpdated(priority=3), job_id=job_id)
    assert engine.state.jobs[job_id].priority == 3 and engine.queue.order_key(job_id) == (-3, 0)


async def test_a_second_engine_on_the_same_state_dir_is_refused(engine: Engine, config: DraptoConfig) -> None:
    with pytest.raises(StateError) as refused:
        Engine(config, monitor=False)
    assert "\n" not in refused.value.line()


async def test_look_reads_the_queue_beside_a_running_engine(engine: Engine, config: DraptoConfig) -> None:
    job_id = engine.queue.add_job(
        engine.config.output_root() / "in.mkv", engine.config.output_root() / "o.mkv"
    )
    engine.emit(AnalysisStarted(), job_id=job_id, status=ProcessingStatus.RUNNING)
    look = Engine.look(config)
    assert [j.job_id for j in look.jobs] == [job_id] and look.owner_pid is not None
    assert look.status(look.jobs[0]) == "running"  # the owner is alive: not "interrupted"
