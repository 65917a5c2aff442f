from __future__ import annotations

from pathlib import Path

import pytest

from drapto_tui.config import DraptoConfig, load_config
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.errors import DraptoError


def test_layout_and_job_dirs(config: DraptoConfig) -> None:
    tm = WorkDirs(config)
    assert sorted(p.name for p in tm.base_dir.iterdir()) == [
        "encoded",
        "logs",
        "segments",
        "state",
        "working",
    ]
    dirs = tm.job_dirs("job1")
    assert all(p.is_dir() and p.name == "job1" for p in dirs.all())


def test_default_temp_dir_is_in_the_xdg_cache(tmp_path: Path) -> None:
    cfg = load_config(env={}, use_default_file=False)
    assert WorkDirs(cfg).base_dir == tmp_path / "xdg-cache" / "drapto-tui"


def test_finished_job_removed_failed_job_kept(config: DraptoConfig) -> None:
    tm = WorkDirs(config)
    ok, bad = tm.job_dirs("ok"), tm.job_dirs("bad")
    (ok.encoded / "0000.ivf").write_bytes(b"x")
    (bad.encoded / "0000.ivf").write_bytes(b"x")
    tm.finish_job("ok", success=True)
    tm.finish_job("bad", success=False)
    assert not ok.encoded.exists() and (bad.encoded / "0000.ivf").exists()


def test_keep_temp_keeps_finished_jobs(tmp_path: Path) -> None:
    cfg = load_config(
        env={},
        use_default_file=False,
        overrides=[f'processing.temp_dir="{tmp_path}"', "processing.keep_temp=true"],
    )
    tm = WorkDirs(cfg)
    dirs = tm.job_dirs("ok")
    tm.finish_job("ok", success=True)
    assert dirs.working.exists()


def test_refuses_below_free_space_floor(config: DraptoConfig) -> None:
    tm = WorkDirs(config)
    tm.ensure_free_space("a.mkv", floor=0)
    with pytest.raises(DraptoError) as info:
        tm.ensure_free_space("a.mkv", floor=tm.free_bytes() + 2**40)
    assert info.value.line().startswith("a.mkv: only ") and "temp_free_floor" in info.value.line()


def test_unwritable_temp_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = load_config(env={}, use_default_file=False, overrides=[f'processing.temp_dir="{blocker / "sub"}"'])
    with pytest.raises(DraptoError, match="cannot create the working folders"):
        WorkDirs(cfg)
