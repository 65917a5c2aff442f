"""A queue of three films of different lengths on two slots, killed with SIGKILL at seeded random moments and
resumed each time, as a long night's accidents would. Afterwards every output is its source's film (frames,
duration, a clean decode), no finished segment was encoded twice, no FFmpeg is left and the sources are untouched.

Run with -s to see the figures (kills, resumes, segments redone)."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from drapto_tui.model.events import Event
from tests.judge import decoded_frames, mediainfo_tracks
from tests.media_helpers import MediaFactory
from tests.reliability.harness import E, args_for, fingerprint, stray_ffmpeg

LENGTHS = {"long": 10, "mid": 6, "short": 3}  # seconds at 24 fps, a keyframe each second: 2 s segments


@pytest.fixture(scope="module")
def films(media: MediaFactory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("night")
    sources = ("testsrc2", "smptehdbars", "testsrc")
    return {
        name: media.copy_to(
            media.clip(width=160, height=90, duration=d, fps=24, audio="stereo", gop=24, source=src),
            folder,
            f"{name}.mkv",
        )
        for (name, d), src in zip(LENGTHS.items(), sources, strict=False)
    }


def run_once(tmp: Path, paths: list[Path], kill_after: int | None) -> tuple[int | None, list[Event]]:
    """One `encode` of the whole queue; SIGKILL after `kill_after` events (None: let it finish)."""
    proc = subprocess.Popen(
        args_for(tmp, *paths, extra=("processing.parallel_jobs=2",)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    events: list[Event] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(Event.from_json(line))
        if kill_after is not None and len(events) >= kill_after:
            proc.kill()
            break
    proc.stdout.close()
    code = proc.wait(timeout=300)
    return (None if kill_after is not None and code < 0 else code), events


@pytest.mark.parametrize("seed", [7, 2026])
def test_sigkill_at_random_moments_then_resume(
    tmp_path: Path, films: dict[str, Path], ffmpeg: str, seed: int
) -> None:
    rng = random.Random(seed)
    paths = list(films.values())
    before = fingerprint(paths)
    completed: Counter[tuple[str | None, int]] = Counter()
    planned: dict[str | None, int] = {}
    started_not_done: set[tuple[str | None, int]] = set()
    redone = kills = runs = 0
    started = time.monotonic()
    code: int | None = None
    for attempt in range(8):
        kill_after = rng.randint(3, 70) if attempt < 5 else None  # at most five kills, then let it finish
        code, events = run_once(tmp_path, paths, kill_after)
        runs += 1
        for e in events:
            key = (e.file, getattr(e.data, "segment", -1))
            if e.event == E.SEGMENT_STARTED and e.data.phase == "searching":
                if key in started_not_done:
                    redone += 1  # it was running when an earlier run was killed
                started_not_done.add(key)
            elif e.event == E.ENCODING_STARTED:
                planned[e.file] = len(e.data.segments)
            elif e.event == E.SEGMENT_COMPLETE:
                completed[key] += 1
                started_not_done.discard(key)
        if code is None:
            kills += 1
            continue
        break
    assert code == 0, f"the last run ended with {code}"
    twice = {k: n for k, n in completed.items() if n > 1}
    assert not twice, f"finished segments encoded again: {twice}"
    for name, src in films.items():
        out = tmp_path / "out" / f"{name}.mkv"
        frames = decoded_frames(ffmpeg, out)
        assert frames == decoded_frames(ffmpeg, src) == LENGTHS[name] * 24, name
        tracks = mediainfo_tracks(out)
        assert tracks.video_format == "AV1"
        assert (
            abs(tracks.video_seconds - LENGTHS[name]) < 0.1
            and abs(tracks.audio_seconds[0] - LENGTHS[name]) < 0.1
        )
        # A segment that finished at the very moment of a kill is saved before its event line is printed: it is
        # not encoded again, and it may be missing from what we saw, never extra.
        assert {seg for (file, seg) in completed if file == str(src)} <= set(range(planned[str(src)]))
    assert fingerprint(paths) == before
    time.sleep(0.2)
    assert not stray_ffmpeg(tmp_path)
    print(
        f"\n[seed {seed}] kills {kills}, runs {runs} (resumes {runs - 1}), segments planned"
        f" {sum(planned.values())}, finished events seen {sum(completed.values())}, segments redone after a kill {redone}, wall {time.monotonic() - started:.1f}s"
    )
