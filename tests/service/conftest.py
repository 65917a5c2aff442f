"""What the service tests share: a state dir driven through the CLI, a film, and a patient wait."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from drapto_tui.config import DraptoConfig, load_config
from drapto_tui.service.protocol import read_info
from tests.fast_config import fast_sets
from tests.media_helpers import MediaFactory


class Service:
    """One state dir and the CLI's view of it: `drapto-tui ... --set` with the test's folders."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sets = fast_sets(root)
        self.state = root / "work" / "state"

    def args(self) -> list[str]:
        return [arg for kv in self.sets for arg in ("--set", kv)]

    def config(self) -> DraptoConfig:
        return load_config(env={}, use_default_file=False, overrides=self.sets)

    def cli(
        self, *words: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "drapto_tui", *words, *self.args()],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )

    @property
    def pid(self) -> int | None:
        info = read_info(self.state)
        return int(info["pid"]) if info else None


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    svc = Service(tmp_path)
    yield svc
    pid = svc.pid
    svc.cli("service", "stop")
    if pid and psutil.pid_exists(pid):
        os.kill(pid, signal.SIGKILL)


def clip(media: MediaFactory, seconds: float = 4) -> Path:
    return media.clip(width=160, height=96, duration=seconds, fps=24, audio="stereo", gop=24)


async def wait_for(predicate, timeout: float = 90.0, what: str = "the service") -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)
