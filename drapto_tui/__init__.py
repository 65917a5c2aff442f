"""drapto-tui: AV1 + Opus encodes of a film library at a chosen visual quality, steered from a terminal."""

__version__ = "0.1.0"
