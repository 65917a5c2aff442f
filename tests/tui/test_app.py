"""The app driven by keys against the real core (real FFmpeg on tiny clips): the job really pauses, moves, retries."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from drapto_tui.config import DraptoConfig, load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.model.events import (
    EncodingStarted,
    JobQueued,
    ProcessingEvents,
    ProcessingStatus,
    SegmentProgress,
)
from drapto_tui.tui.app import DraptoApp
from drapto_tui.tui.widgets.queue_table import QueueTable
from tests.media_helpers import MediaFactory
from tests.procs import encoder_pids, live_states

E = ProcessingEvents
FAST = [
    "encoding.preset=12",
    "search.n_subsample=2",
    "resources.temp_free_floor=0",
    "resources.memory_floor=0",
    'processing.segmentation="fixed"',
    "processing.chunk_size=2",
    "processing.min_segment=1",
    "search.samples=1",
    "search.sample_duration=1",
    "processing.parallel_jobs=1",
    "search.max_encoded_percent=1000",
]


def cfg(tmp: Path, *extra: str) -> DraptoConfig:
    return load_config(
        env={},
        use_default_file=False,
        overrides=[f'processing.temp_dir="{tmp / "work"}"', f'output.dir="{tmp / "out"}"', *FAST, *extra],
    )


async def until(pilot, predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting for the app"
        await pilot.pause(0.05)


def names(app: DraptoApp) -> list[str]:
    return [Path(j.current_file or "").name for j in app.core.jobs()]


@pytest.fixture(scope="module")
def films(media: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("films")
    media.copy_to(media.clip(width=320, height=180, duration=8, audio="stereo", gop=24), root, "a-long.mkv")
    media.copy_to(
        media.clip(width=320, height=180, duration=4, audio=None, gop=24, source="smptehdbars"),
        root,
        "b-bars.mkv",
    )
    media.copy_to(media.dv(".mkv", profile=8, duration=1.0), root, "c-vision.mkv")
    return root


async def test_queue_keys_against_a_real_run(films: Path, tmp_path: Path) -> None:
    config = cfg(tmp_path)
    app = DraptoApp(Engine(config), [films], start_paused=True)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(QueueTable)
        await until(
            pilot, lambda: table.row_count == 3 and all(j.media for j in app.core.state.jobs.values())
        )
        assert names(app) == ["a-long.mkv", "b-bars.mkv", "c-vision.mkv"]
        await pilot.pause(0.3)
        # Pre-analysis fills class, HDR badge and path before anything runs.
        row = table.job_row(app.core.jobs()[2].job_id)
        assert "DV" in str(row[3]) and str(row[4]) == "direct"

        # j/k/g/G move the selection; K/J/t/b reorder, and the selection stays on the moved job.
        await pilot.press("j")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == 2
        await pilot.press("g", "j")
        b_id = table.selected_job()
        await pilot.press("K")
        await pilot.pause(0.2)
        assert names(app)[0] == "b-bars.mkv" and table.selected_job() == b_id and table.cursor_row == 0
        await pilot.press("J", "J")
        await pilot.pause(0.2)
        assert names(app)[2] == "b-bars.mkv" and table.selected_job() == b_id
        await pilot.press("t")
        await pilot.pause(0.2)
        assert names(app)[0] == "b-bars.mkv"
        await pilot.press("b")
        await pilot.pause(0.2)
        assert names(app)[2] == "b-bars.mkv"
        await pilot.press("plus")
        await pilot.pause(0.2)
        assert names(app)[0] == "b-bars.mkv" and app.core.state.jobs[b_id].priority == 1
        await pilot.press("minus")
        assert app.core.state.jobs[b_id].priority == 0

        # h holds the selected job; P (all paused at launch) releases the pool; the held job waits.
        await pilot.press("g")
        held = table.selected_job()
        await pilot.press("h")
        assert app.core.state.jobs[held].status == ProcessingStatus.HELD
        await pilot.press("P")
        await until(
            pilot, lambda: any(j.status == ProcessingStatus.RUNNING for j in app.core.state.jobs.values())
        )

        # space pauses the running job: its FFmpeg is really stopped ('T'), and it resumes.
        running = next(j.job_id for j in app.core.state.jobs.values() if j.status == ProcessingStatus.RUNNING)
        table.select_job(running)
        await until(
            pilot,
            lambda: (
                running in app.core.scheduler.controls and encoder_pids(app.core.scheduler.job_pids(running))
            ),
        )
        await pilot.press("space")
        assert app.core.state.jobs[running].status == ProcessingStatus.PAUSED
        pids = app.core.scheduler.job_pids(running)
        await pilot.pause(0.3)
        assert live_states(pids) <= {psutil.STATUS_STOPPED}
        await pilot.press("space")
        # Resumed: running again, or already finished if its last step was all that was left.
        assert app.core.state.jobs[running].status in (ProcessingStatus.RUNNING, ProcessingStatus.COMPLETED)

        # Everything not held finishes; then release the held one and let it finish too.
        await until(
            pilot,
            lambda: sum(j.status == ProcessingStatus.COMPLETED for j in app.core.state.jobs.values()) == 2,
            timeout=120,
        )
        table.select_job(held)
        await pilot.press("h")
        await until(
            pilot, lambda: app.core.state.jobs[held].status == ProcessingStatus.COMPLETED, timeout=120
        )
        await pilot.press("q")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a-long.mkv",
        "b-bars.mkv",
        "c-vision.mkv",
    ]


async def test_cancel_retry_add_filter_inspect_help(films: Path, tmp_path: Path, media: MediaFactory) -> None:
    broken = tmp_path / "in" / "broken.mkv"
    broken.parent.mkdir()
    broken.write_text("not a film")
    config = cfg(tmp_path, "encoding.preset=6")
    app = DraptoApp(Engine(config), [broken.parent], start_paused=False)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.query_one(QueueTable)
        await until(
            pilot, lambda: any(j.status == ProcessingStatus.FAILED for j in app.core.state.jobs.values())
        )
        await pilot.pause(0.3)
        log_text = "".join(line.text for line in app.query_one("#log").lines)
        assert "broken.mkv: not a media file" in log_text.replace("\n", "")

        # r on a failed job queues it again (it fails again: the file is still broken).
        failed = table.selected_job()
        await pilot.press("r")
        await until(
            pilot,
            lambda: (
                app.core.state.jobs[failed].status == ProcessingStatus.FAILED
                and len(app.core.state.jobs[failed].errors) >= 2
            ),
        )

        # a: add a folder through the path input, preview, then add.
        await pilot.press("a")
        for ch in str(films):
            await pilot.press(ch if ch != "/" else "slash")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert "3 file(s) will be queued" in str(app.screen.query_one("#preview").render())
        await pilot.press("enter")
        await until(pilot, lambda: table.row_count == 4)

        # x cancels the running job after a y in the confirm dialog.
        await until(
            pilot, lambda: any(j.status == ProcessingStatus.RUNNING for j in app.core.state.jobs.values())
        )
        running = next(j.job_id for j in app.core.state.jobs.values() if j.status == ProcessingStatus.RUNNING)
        table.select_job(running)
        await pilot.press("x")
        await pilot.pause(0.1)
        await pilot.press("y")
        await until(pilot, lambda: app.core.state.jobs[running].status == ProcessingStatus.CANCELLED)

        # / filters the queue by name; Esc clears it.
        await pilot.press("slash", "b", "a", "r", "s")
        await pilot.pause(0.2)
        assert table.row_count == 1
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert table.row_count == 4

        # Enter opens the inspector; Esc goes back. ? opens help.
        await pilot.press("enter")
        assert app.screen.__class__.__name__ == "InspectorScreen"
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert app.screen.__class__.__name__ == "HelpScreen"
        await pilot.press("escape")
        # q while work runs asks how; s stops now (resumable).
        if app.core.is_running():
            await pilot.press("q")
            assert app.screen.__class__.__name__ == "QuitChoice"
            await pilot.press("s")
        else:
            await pilot.press("q")
    # Relaunch: the same queue comes back.
    app2 = DraptoApp(Engine(config), [], run_core=False)
    async with app2.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        assert app2.query_one(QueueTable).row_count == 4
        await pilot.press("q")


async def test_a_kept_film_says_why_in_the_log_and_after_a_relaunch(films: Path, tmp_path: Path) -> None:
    """A film AV1 cannot shrink enough ends as kept; the reason is in the log, live and replayed on relaunch."""
    only = tmp_path / "in"
    only.mkdir()
    (only / "b-bars.mkv").symlink_to(films / "b-bars.mkv")
    config = cfg(tmp_path, "search.max_encoded_percent=1")
    app = DraptoApp(Engine(config), [only], start_paused=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(
            pilot, lambda: any(j.status == ProcessingStatus.KEPT for j in app.core.state.jobs.values())
        )
        await pilot.pause(0.3)
        log_text = "".join(line.text for line in app.query_one("#log").lines)
        assert "b-bars.mkv: source kept — the AV1 video would be" in log_text
    again = DraptoApp(Engine(config), [], start_paused=True)
    async with again.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.3)
        replayed = "".join(line.text for line in again.query_one("#log").lines)
        assert "b-bars.mkv: source kept — the AV1 video would be" in replayed


async def test_ui_keeps_up_with_a_burst_of_progress_events(tmp_path: Path) -> None:
    config = cfg(tmp_path)
    session = Engine(config)
    for i in range(20):
        session.emit(
            JobQueued(), job_id=f"job{i:03d}", file=f"/films/{i:03d}.mkv", status=ProcessingStatus.QUEUED
        )
    app = DraptoApp(session, run_core=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        session.emit(
            EncodingStarted(
                path="chunked",
                segments=[{"index": i, "start": i, "end": i + 1, "frames": 24} for i in range(50)],
            ),
            job_id="job000",
            file="/films/000.mkv",
        )
        started = time.monotonic()
        for n in range(1000):
            session.emit(
                SegmentProgress(segment=n % 50, progress=(n // 50 + 1) / 20),
                job_id="job000",
                file="/films/000.mkv",
            )
        publish = time.monotonic() - started
        await pilot.pause(0.3)
        assert len(app._ui) == 0  # drained: the UI kept up
        assert app.core.state.jobs["job000"].progress == pytest.approx(1.0)
        assert publish < 2.0
        await pilot.press("q")


async def test_themes_load_from_files_and_cycle(tmp_path: Path) -> None:
    from drapto_tui.tui.themes import load_themes

    themes, problems = load_themes()
    assert {"drapto-dark", "drapto-light", "drapto-contrast"} <= {t.name for t in themes} and problems == []
    bad = tmp_path / "bad-themes"
    bad.mkdir()
    (bad / "oops.toml").write_text('name = "oops"\nprimary = "#fff"\ncolour = "x"\n')
    _, problems = load_themes([bad])
    assert problems and "oops.toml: theme not loaded" in problems[0]
    app = DraptoApp(Engine(cfg(tmp_path)), run_core=False)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.theme == "drapto-dark"
        await pilot.press("T")
        assert app.theme == "drapto-light" or app.theme in {t.name for t in themes} - {"drapto-dark"}
        await pilot.press("q")
