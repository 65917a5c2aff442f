"""The small, fast settings tests that encode whole films share, and a config built from them in a temp dir."""

from __future__ import annotations

from pathlib import Path

from drapto_tui.config import DraptoConfig, load_config

#: Preset 12, 2 s segments, no free-space floors, and a film never kept for its size: seconds per film.
FAST = [
    "encoding.preset=12",
    "search.n_subsample=3",
    "resources.temp_free_floor=0",
    "resources.memory_floor=0",
    'processing.segmentation="fixed"',
    "processing.chunk_size=2",
    "processing.min_segment=1",
    "processing.parallel_jobs=1",
    "search.max_encoded_percent=1000",
    'search.if_too_big="encode"',
]


def fast_sets(tmp: Path, *extra: str) -> list[str]:
    """FAST with temp and output folders under `tmp`, then `extra` (later settings win)."""
    return [f'processing.temp_dir="{tmp / "work"}"', f'output.dir="{tmp / "out"}"', *FAST, *extra]


def fast_config(tmp: Path, *extra: str) -> DraptoConfig:
    return load_config(env={}, use_default_file=False, overrides=fast_sets(tmp, *extra))
