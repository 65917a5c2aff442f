"""Configuration: schema (pydantic), defaults (XDG paths), and layered loading with validation."""

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.config.validator import check_file, load_config, to_toml

__all__ = ["DraptoConfig", "check_file", "load_config", "to_toml"]
