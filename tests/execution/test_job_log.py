"""Each job's FFmpeg log: every run (command, exit status, stderr tail) appended as it ends, reachable through
the engine, and capped: past the cap the older half goes, cut at a run's first line."""

from __future__ import annotations

from pathlib import Path

from drapto_tui.execution.control import JobControl
from drapto_tui.execution.job_log import JobLog
from drapto_tui.media.ffmpeg import FfmpegProcess, current_tracker


async def _run(ffmpeg: str, control: JobControl, *args: str) -> int:
    token = current_tracker.set(control)
    try:
        result = await FfmpegProcess([ffmpeg, *args]).run()
    finally:
        current_tracker.reset(token)
    return result.returncode


async def test_every_run_is_written_and_the_log_stays_under_its_cap(tmp_path: Path, ffmpeg: str) -> None:
    control = JobControl()
    path = JobLog.path_for(tmp_path / "logs", "job1")
    control.log = JobLog(path, cap=4096)
    ok = ("-f", "lavfi", "-i", "nullsrc=size=16x16", "-frames:v", "1", "-f", "null", "-")
    assert await _run(ffmpeg, control, *ok) == 0
    assert await _run(ffmpeg, control, "-i", str(tmp_path / "no such file.mkv")) != 0
    text = path.read_text()
    assert "exit 0 after" in text and "$ " in text and "nullsrc=size=16x16" in text
    # The failed run's reason is in the log, with the file name quoted as the shell would need it.
    assert "'" + str(tmp_path / "no such file.mkv") + "'" in text and "No such file or directory" in text
    for _ in range(30):
        await _run(ffmpeg, control, *ok)
    assert path.stat().st_size <= 4096 + 2048  # trimmed back to half the cap whenever it passed the cap
    assert path.read_text().startswith("== ")  # cut at a run's first line
    tail = JobLog.tail(path, lines=5)
    assert len(tail) == 5 and tail == path.read_text().splitlines()[-5:]


async def test_a_run_we_stopped_is_logged_as_stopped_not_as_failed(tmp_path: Path, ffmpeg: str) -> None:
    """A scene pass without B-frames that is ended at its first doubtful line exits 255; the log says why."""
    control = JobControl()
    path = JobLog.path_for(tmp_path / "logs", "job1")
    control.log = JobLog(path, cap=1 << 20)
    token = current_tracker.set(control)
    try:
        process = FfmpegProcess(
            [ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=24:duration=600",
             "-vf", "select='gt(scene,0)',metadata=print:key=lavfi.scene_score", "-f", "null", "-"],
            stop_when=lambda line: "lavfi.scene_score=" in line,
        )  # fmt: skip
        result = await process.run()
    finally:
        current_tracker.reset(token)
    assert result.returncode != 0
    first = path.read_text().splitlines()[0]
    assert "stopped by drapto-tui at:" in first and "lavfi.scene_score=" in first and "exit" not in first
