from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drapto_tui.config import DraptoConfig, load_config
from drapto_tui.engine.engine import Engine
from drapto_tui.media.tools import embedded_ffmpeg
from tests.media_helpers import MediaFactory


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return embedded_ffmpeg()


@pytest.fixture(scope="session")
def media(ffmpeg: str, tmp_path_factory: pytest.TempPathFactory) -> MediaFactory:
    return MediaFactory(ffmpeg, tmp_path_factory.mktemp("media"))


@pytest.fixture
def config(tmp_path: Path) -> DraptoConfig:
    """Defaults with temp and output under the test's tmp dir, and no user config file or DRAPTO_* env."""
    return load_config(
        env={},
        use_default_file=False,
        overrides=[
            f'processing.temp_dir="{tmp_path / "work"}"',
            f'output.dir="{tmp_path / "out"}"',
            "resources.temp_free_floor=0",
        ],
    )


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the real XDG config/cache dirs and DRAPTO_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    for name in list(__import__("os").environ):
        if name.startswith("DRAPTO_"):
            monkeypatch.delenv(name)


@pytest.fixture
async def engine(config: DraptoConfig) -> AsyncIterator[Engine]:
    """The core as the app and `encode` open it, on the test's temp dir (no resource sampling); closed after."""
    async with Engine(config, monitor=False) as opened:
        yield opened
