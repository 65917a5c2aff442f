"""Crash-safe resume with real processes: kill the headless encoder, relaunch, check nothing is done twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from drapto_tui.media.probe import probe
from drapto_tui.model.events import Event, ProcessingEvents
from tests.media_helpers import MediaFactory

E = ProcessingEvents
SETTINGS = [
    "encoding.preset=12",
    "search.n_subsample=2",
    "resources.temp_free_floor=0",
    'processing.segmentation="fixed"',
    "processing.chunk_size=2",
    "processing.min_segment=1",
    "processing.parallel_jobs=1",
    "resources.memory_floor=0",
    "search.samples=1",
    "search.sample_duration=1",
]


@pytest.fixture(scope="module")
def long_clip(media: MediaFactory) -> Path:
    """12 s, keyframe every second: six 2-second segments."""
    return media.clip(width=320, height=180, duration=12, fps=24, audio="stereo", gop=24)


def start(clip: Path, tmp: Path) -> subprocess.Popen[str]:
    args = [
        sys.executable,
        "-m",
        "drapto_tui",
        "encode",
        str(clip),
        "--json",
        "-o",
        str(tmp / "out"),
        "--set",
        f'processing.temp_dir="{tmp / "work"}"',
    ]
    for kv in SETTINGS:
        args += ["--set", kv]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_until(proc: subprocess.Popen[str], predicate, timeout: float = 120) -> list[Event]:
    events: list[Event] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(Event.from_json(line))
        if predicate(events):
            return events
        assert time.monotonic() < deadline, "timed out"
    return events


def ffmpeg_children(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True) if "ffmpeg" in p.name()]
    except psutil.Error:
        return []


def our_ffmpegs(tmp: Path) -> list[psutil.Process]:
    """FFmpeg processes working on this test's files, wherever they were reparented."""
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if "ffmpeg" in (p.info["name"] or "") and any(str(tmp) in a for a in p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize(
    "sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP], ids=["kill-9", "term", "hup"]
)
def test_interrupt_after_second_segment_then_resume(
    long_clip: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    proc = start(long_clip, tmp_path)
    first = read_until(proc, lambda ev: sum(e.event == E.SEGMENT_COMPLETE for e in ev) >= 2)
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=60)
    first += [Event.from_json(line) for line in rest.splitlines() if line.startswith("{")]
    if sig != signal.SIGKILL:
        assert proc.returncode == 130, err
        assert "interrupted" in err
        assert not our_ffmpegs(tmp_path)  # a clean stop leaves no FFmpeg behind
    assert not (
        tmp_path / "out" / f"{long_clip.stem}.mkv"
    ).exists()  # nothing at the output before validation

    done_first = [e.data.segment for e in first if e.event == E.SEGMENT_COMPLETE]
    assert len(done_first) >= 2

    started = time.monotonic()
    again = start(long_clip, tmp_path)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    second = [Event.from_json(line) for line in out.splitlines()]
    done_second = [e.data.segment for e in second if e.event == E.SEGMENT_COMPLETE]
    # No completed segment was encoded twice; together they cover every segment exactly once.
    assert not set(done_first) & set(done_second), (done_first, done_second)
    planned = next(e for e in first if e.event == E.ENCODING_STARTED).data.segments
    assert len(planned) >= 5
    assert sorted(done_first + done_second) == list(range(len(planned)))
    encodes_started = [
        e.data.segment for e in second if e.event == E.SEGMENT_STARTED and e.data.phase == "searching"
    ]
    assert not set(encodes_started) & set(done_first)
    assert any(e.event == E.ENCODING_COMPLETE for e in second)

    # The film's time counts both runs' work (not the last run alone, not the gap between them).
    def work(events: list[Event]) -> float:
        stamps = [e.timestamp for e in events if e.job_id and e.event != E.JOB_UPDATED]
        begun = next(e.timestamp for e in events if e.event == E.ANALYSIS_STARTED)
        return (max(stamps) - begun).total_seconds()

    summary = next(e for e in second if e.event == E.ENCODING_COMPLETE).data
    assert summary.wall_seconds == pytest.approx(work(first) + work(second), rel=0.1, abs=0.5)
    final = tmp_path / "out" / f"{long_clip.stem}.mkv"
    assert final.exists()
    redone = len(done_first) + len(done_second) - len(planned)
    assert redone == 0
    print(
        f"[{sig.name}] done before: {len(done_first)}, after relaunch: {len(done_second)}, "
        f"relaunch to finish {time.monotonic() - started:.1f}s"
    )


async def test_output_of_resumed_job_validates(long_clip: Path, tmp_path: Path, ffmpeg: str) -> None:
    proc = start(long_clip, tmp_path)
    read_until(proc, lambda ev: sum(e.event == E.SEGMENT_COMPLETE for e in ev) >= 3)
    proc.kill()
    proc.communicate()
    # Whatever FFmpeg the killed app left is ended by the next start (it records their PIDs).
    again = start(long_clip, tmp_path)
    _out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    info = await probe(tmp_path / "out" / f"{long_clip.stem}.mkv", ffmpeg)
    assert info.frame_count == 288 and info.video_codec == "AV1" and len(info.audio) == 1
    assert not our_ffmpegs(tmp_path)


def test_queue_command_lists_the_persisted_queue(long_clip: Path, tmp_path: Path) -> None:
    proc = start(long_clip, tmp_path)
    read_until(proc, lambda ev: any(e.event == E.SEGMENT_COMPLETE for e in ev))
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "drapto_tui",
            "queue",
            "--json",
            "--set",
            f'processing.temp_dir="{tmp_path / "work"}"',
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    jobs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(jobs) == 1 and jobs[0]["status"] == "queued" and jobs[0]["current_file"] == str(long_clip)
    assert os.path.exists(jobs[0]["current_file"])
