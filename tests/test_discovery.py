from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.config import load_config
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.discovery import discover_files
from drapto_tui.errors import MediaError
from drapto_tui.model.events import ProcessingEvents


def _tree(root: Path) -> None:
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a.mkv").write_bytes(b"x" * 2000)
    (root / "b" / "Film.MP4").write_bytes(b"x" * 3000)
    (root / "b" / "deep" / "c.mkv").write_bytes(b"x" * 10)
    (root / "b" / "notes.txt").write_text("no")
    (root / ".hidden.mkv").write_bytes(b"x" * 2000)


def test_recursive_pattern_size_and_order(tmp_path: Path) -> None:
    _tree(tmp_path)
    cfg = load_config(env={}, use_default_file=False, overrides=["input.min_size=1KB"]).input
    bus = EventBus()
    sub = bus.subscribe()
    files = [f for f, _ in discover_files([tmp_path], cfg, bus)]
    assert files == [tmp_path / "a.mkv", tmp_path / "b" / "Film.MP4"]
    events = sub.drain()
    assert [e.event for e in events] == [ProcessingEvents.FILE_DISCOVERED] * 2
    assert [e.file for e in events] == [str(f) for f in files] and events[0].data.size == 2000

    cfg = load_config(
        env={}, use_default_file=False, overrides=["input.max_size=2500", 'input.file_pattern="*.mkv"']
    ).input
    assert [f for f, _ in discover_files([tmp_path], cfg)] == [
        tmp_path / "a.mkv",
        tmp_path / "b" / "deep" / "c.mkv",
    ]


def test_directory_without_matches_names_it(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    cfg = load_config(env={}, use_default_file=False, overrides=["input.min_size=1GB"]).input
    with pytest.raises(MediaError) as info:
        discover_files([tmp_path], cfg)
    line = info.value.line()
    assert (
        line.startswith(f"{tmp_path}: no files matching") and "input.file_pattern" in line and "1GB" in line
    )


def test_missing_path_and_duplicates(tmp_path: Path) -> None:
    cfg = load_config(env={}, use_default_file=False).input
    with pytest.raises(MediaError, match="no such file or directory"):
        discover_files([tmp_path / "nope.mkv"], cfg)
    (tmp_path / "a.mkv").write_bytes(b"x")
    assert discover_files([tmp_path, tmp_path / "a.mkv"], cfg) == [(tmp_path / "a.mkv", tmp_path)]
