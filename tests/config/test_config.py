from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from drapto_tui.config import DraptoConfig, load_config, to_toml
from drapto_tui.config.units import format_size, parse_size
from drapto_tui.errors import ConfigError


def test_defaults_follow_the_seed() -> None:
    cfg = load_config(env={}, use_default_file=False)
    assert (cfg.encoding.crf.sd, cfg.encoding.crf.hd, cfg.encoding.crf.uhd) == (25, 25, 29)
    assert cfg.quality.metric == "auto" and cfg.quality.target is None  # the metric's own: VMAF 93
    assert cfg.processing.segmentation == "scene"
    assert cfg.search.samples == 3 and cfg.search.sample_duration == 2.0
    assert cfg.processing.hwaccel == "none"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("700MB", 700_000_000),
        ("4GiB", 4 * 2**30),
        ("1.5G", int(1.5 * 2**30)),
        ("1024", 1024),
        (2048, 2048),
        ("10 KiB", 10240),
        ("0", 0),
    ],
)
def test_sizes(text: object, expected: int) -> None:
    assert parse_size(text) == expected
    assert parse_size(format_size(expected)) == expected


@pytest.mark.parametrize("bad", ["7XB", "-1", "lots", True, "1.2.3MB"])
def test_bad_sizes(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_size(bad)


def test_layers_in_order(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('[encoding]\npreset = 4\n[input]\nmin_size = "700MB"\nfile_pattern = "*.mkv"\n')
    env = {"DRAPTO_ENCODING__PRESET": "5", "DRAPTO_ENCODING__CRF__UHD": "30"}
    cfg = load_config(file, env=env, overrides=["encoding.preset=7"])
    assert cfg.encoding.preset == 7  # --set beats env beats file
    assert cfg.encoding.crf.uhd == 30  # env beats default
    assert cfg.input.min_size == 700_000_000  # file beats default
    assert cfg.input.file_pattern == "*.mkv"
    cfg = load_config(file, env=env)
    assert cfg.encoding.preset == 5
    cfg = load_config(file, env={})
    assert cfg.encoding.preset == 4


def test_default_file_is_read_from_xdg_config_dir(tmp_path: Path) -> None:
    from drapto_tui.config.default import default_config_file

    path = default_config_file()
    assert str(path).startswith(str(tmp_path))  # the autouse fixture isolates XDG_CONFIG_HOME
    path.parent.mkdir(parents=True)
    path.write_text("[processing]\nparallel_jobs = 3\n")
    assert load_config(env={}).processing.parallel_jobs == 3
    assert load_config(env={}, use_default_file=False).processing.parallel_jobs == 0


def test_every_bad_field_is_reported_with_path_value_and_source(tmp_path: Path) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(
        '[encoding]\npreset = 99\nprest = 3\n[encoding.crf]\nsd = "high"\n[input]\nmax_size = "1XB"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(file, env={"DRAPTO_SEARCH__SAMPLES": "0"}, overrides=["ui.theme=1.5.x"])
    issues = "\n".join(info.value.issues)
    assert f"encoding.preset = 99 (from {file}): Input should be less than or equal to 13" in issues
    assert "encoding.prest" in issues and "did you mean 'encoding.preset'" in issues
    assert "encoding.crf.sd = 'high'" in issues
    assert "input.max_size = '1XB'" in issues and "unknown size unit" in issues
    assert "search.samples = 0 (from environment DRAPTO_SEARCH__SAMPLES)" in issues
    assert len(info.value.issues) == 5


def test_unknown_section_and_malformed_set() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={}, use_default_file=False, overrides=["nosuch.key=1", "novalue"])
    issues = info.value.issues
    assert any(i.startswith("--set 'novalue'") for i in issues)
    assert any(i.startswith("nosuch (from --set): unknown key") for i in issues)


def test_env_variable_without_section_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env={"DRAPTO_PRESET": "8"}, use_default_file=False)
    assert "DRAPTO_PRESET: not a config variable" in info.value.issues[0]


def test_cross_field_rules() -> None:
    with pytest.raises(ConfigError, match="max_crf must be greater than min_crf"):
        load_config(env={}, use_default_file=False, overrides=["encoding.min_crf=40", "encoding.max_crf=30"])
    with pytest.raises(ConfigError, match="max_size must be 0"):
        load_config(env={}, use_default_file=False, overrides=["input.min_size=2GB", "input.max_size=1GB"])


def test_show_output_round_trips() -> None:
    cfg = load_config(env={}, use_default_file=False, overrides=["input.min_size=700MB", "encoding.preset=9"])
    text = to_toml(cfg)
    again = DraptoConfig.model_validate(tomllib.loads(text))
    assert again == cfg
    assert 'min_size = "700MB"' in text


def _cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drapto_tui", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def test_config_check_cli(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text("[encoding]\npreset = 8\n")
    result = _cli("config", "check", str(good))
    assert result.returncode == 0 and "ok" in result.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text('[encoding]\npreset = "fast"\n[processing]\nparallel_jobs = -1\nwhat = 1\n')
    result = _cli("config", "check", str(bad))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert f"{bad}: encoding.preset = 'fast'" in lines[0] or any(
        "encoding.preset = 'fast'" in line for line in lines
    )
    assert any("processing.parallel_jobs = -1" in line for line in lines)
    assert any("processing.what" in line and "unknown key" in line for line in lines)
    assert "Traceback" not in result.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text("[encoding\npreset = 1\n")
    result = _cli("config", "check", str(broken))
    assert result.returncode == 2 and "not valid TOML" in result.stderr and "Traceback" not in result.stderr


def test_config_show_cli_uses_every_layer(tmp_path: Path) -> None:
    import os

    file = tmp_path / "c.toml"
    file.write_text("[search]\nsamples = 4\n")
    env = dict(os.environ, DRAPTO_ENCODING__PRESET="11")
    result = _cli("config", "show", "--config", str(file), "--set", "audio.bitrate_stereo=160", env=env)
    assert result.returncode == 0, result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["search"]["samples"] == 4
    assert shown["encoding"]["preset"] == 11
    assert shown["audio"]["bitrate_stereo"] == 160


def test_old_key_names_keep_working_with_one_line_naming_the_new(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text('[encoding]\nvmaf_target = 95.0\n[search]\npooling = "perc5"\n')
    cfg = load_config(old, env={})
    assert cfg.quality.target == 95.0 and cfg.quality.pooling == "perc5"
    assert cfg.notices == [
        f"encoding.vmaf_target (from {old}) is now quality.target; rename it there (the value was used)",
        f"search.pooling (from {old}) is now quality.pooling; rename it there (the value was used)",
    ]
    # The new name wins where both are set, and the old one is called out.
    both = load_config(old, env={}, overrides=["quality.target=94"])
    assert (
        both.quality.target == 94.0
        and "is ignored: quality.target (from --set) replaces it" in both.notices[0]
    )
    # What a user sees: the line on stderr, the value in effect, and `config check` passing the file.
    shown = _cli("config", "show", "--config", str(old))
    assert shown.returncode == 0, shown.stderr
    assert "encoding.vmaf_target" in shown.stderr and "is now quality.target" in shown.stderr
    assert tomllib.loads(shown.stdout)["quality"]["target"] == 95.0
    checked = _cli("config", "check", str(old))
    assert checked.returncode == 0 and "is now quality.target" in checked.stderr


def test_a_target_outside_its_metric_s_range_is_refused_naming_the_key() -> None:
    from drapto_tui.quality.aim import quality_aim

    cfg = load_config(
        env={}, use_default_file=False, overrides=['quality.metric="xpsnr"', "quality.target=93"]
    )
    with pytest.raises(ConfigError, match=r"quality.target = 93.0 .*outside the range of XPSNR"):
        quality_aim(cfg, "bt709")
    auto = load_config(env={}, use_default_file=False, overrides=["quality.target=95"])
    assert quality_aim(auto, "bt709").describe() == "VMAF 95"
    pq = quality_aim(auto, "smpte2084")  # HDR: its own metric, and its default target for PQ pictures
    assert pq.describe() == "XPSNR 38.5 dB" and quality_aim(auto, "arib-std-b67").target == 35.0


def test_bad_config_value_on_command_line_is_one_clear_line(tmp_path: Path) -> None:
    result = _cli("config", "show", "--set", "encoding.preset=99", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "drapto-tui: config: encoding.preset = 99 (from --set): Input should be less than or equal to 13"
    )
    assert list(tmp_path.iterdir()) == []


def test_automatic_slots_are_two_on_a_two_core_machine(monkeypatch) -> None:
    """Two one-thread encodes beat one two-thread encode on two cores (issue 24); one core keeps one slot."""
    import os

    from drapto_tui.config.schema import DraptoConfig

    for cores, slots in ((1, 1), (2, 2), (3, 2), (4, 2), (16, 8)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert DraptoConfig().parallel_jobs() == slots, cores


def test_a_target_in_the_wrong_unit_stops_encode_before_any_work(tmp_path: Path, media) -> None:
    from tests.reliability.harness import encode

    clip = media.clip(width=160, height=96, duration=1, fps=24, source="testsrc2", audio=None)
    run = encode(tmp_path, clip, extra=('quality.metric="xpsnr"', "quality.target=93"))
    assert run.code == 2 and not run.events, run.stderr
    assert "quality.target = 93.0 (from --set): outside the range of XPSNR (20–80 dB)" in run.stderr
