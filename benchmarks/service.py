"""The service with a big queue: its memory and the time a client takes to attach (snapshot included).

    python3 dev.py bench service [--jobs 1000]

A state dir of its own; the service is started through the CLI, all work paused, and --jobs films queued (hard
links of one small clip under distinct names, so discovery and probing see real files). Once every job is
queued and probed, it reports the service's resident memory and the median time of 10 attaches (connect, hello,
welcome with the whole queue), then stops the service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from drapto_tui.config import DraptoConfig, load_config  # noqa: E402
from drapto_tui.engine.api import Core  # noqa: E402
from drapto_tui.media.tools import embedded_ffmpeg  # noqa: E402
from drapto_tui.service.client import ServiceClient, state_dir_of  # noqa: E402
from drapto_tui.service.protocol import read_info  # noqa: E402
from samples.clips import make_clip  # noqa: E402


def settings(root: Path) -> list[str]:
    return [f'processing.temp_dir="{root / "work"}"', f'output.dir="{root / "out"}"']


async def fill_queue(root: Path, jobs: int, name: str = "film {:05d}.mkv") -> tuple[DraptoConfig, float]:
    """`jobs` films (hard links of one small clip, named by `name`) queued in the running service with all work
    paused, once every one is probed: the config that reaches that service, and the seconds queueing took."""
    config = load_config(env={}, use_default_file=False, overrides=settings(root))
    films = root / "films"
    films.mkdir()
    clip = make_clip(embedded_ffmpeg(), root / "clip.mkv", width=160, height=96, duration=1, audio=None)
    for i in range(jobs):
        os.link(clip, films / name.format(i))
    client = await ServiceClient.connect(config, client="bench")
    await client.call(Core.toggle_pause_all)
    started = time.monotonic()
    await client.call(Core.add_paths, paths=[films])
    while sum(1 for j in client.jobs() if j.media is not None) < jobs:
        await asyncio.sleep(0.5)
    queued = time.monotonic() - started
    await client.close()
    return config, queued


async def measure(root: Path, jobs: int) -> str:
    config, queued = await fill_queue(root, jobs)
    pid = int(read_info(state_dir_of(config))["pid"])  # type: ignore[index]
    rss = psutil.Process(pid).memory_info().rss
    times = []
    for _ in range(10):
        t = time.perf_counter()
        again = await ServiceClient.connect(config, client="bench")
        times.append(time.perf_counter() - t)
        assert len(again.jobs()) == jobs
        await again.close()
    return (
        f"{jobs} jobs queued and probed in {queued:.1f} s; service RSS {rss / 2**20:.1f} MiB; attach with the"
        f" whole queue in its snapshot: median {statistics.median(times) * 1000:.0f} ms, max"
        f" {max(times) * 1000:.0f} ms (10 attaches)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="drapto-bench-service-") as tmp:
        root = Path(tmp)
        cli = [sys.executable, "-m", "drapto_tui"]
        flags = [arg for kv in settings(root) for arg in ("--set", kv)]
        subprocess.run([*cli, "service", "start", *flags], check=True, capture_output=True)
        try:
            print(asyncio.run(measure(root, args.jobs)))
        finally:
            subprocess.run([*cli, "service", "stop", *flags], check=False, capture_output=True)


if __name__ == "__main__":
    main()
