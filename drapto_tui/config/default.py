"""Where things live by default (XDG via platformdirs) and the default configuration."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "drapto-tui"


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_temp_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_output_dir() -> Path:
    return Path(platformdirs.user_videos_dir()) / APP_NAME
