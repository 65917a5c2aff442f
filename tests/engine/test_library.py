"""Library mode's verdicts and ledger, as a user meets them through the real CLI on real files: `scan` says for each
film whether it would be encoded or why not (per-folder rules included), folder encodes follow the same rules,
outputs carry drapto-tui's tag (read back by FFmpeg, not by our probe), `stats` sums what finished, and a film
that keeps failing is left out of folder adds until it is given by its own path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fast_config import fast_sets
from tests.media_helpers import MediaFactory


def cli(tmp: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    sets = [arg for kv in fast_sets(tmp) for arg in ("--set", kv)]
    return subprocess.run(
        [sys.executable, "-m", "drapto_tui", *args, *sets, *(["-c", str(config)] if config else [])],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )


def verdicts(result: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    assert result.returncode == 0, result.stderr
    return {Path(v["path"]).name: v for v in map(json.loads, result.stdout.splitlines())}


def av1_clip(ffmpeg: str, media: MediaFactory, dest: Path) -> Path:
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(media.clip(duration=1.0)), "-c:v", "libsvtav1", "-preset", "12",
         "-c:a", "copy", str(dest)],
        check=True,
    )  # fmt: skip
    return dest


def test_scan_says_what_it_would_encode_and_why_it_leaves_the_rest(
    ffmpeg: str, media: MediaFactory, tmp_path: Path
) -> None:
    lib = tmp_path / "library"
    h264 = media.clip(duration=1.0)
    hevc = media.clip(duration=1.0, codec="libx265")
    media.copy_to(h264, lib / "a", "Film.mkv")
    media.copy_to(hevc, lib / "a", "Lean HEVC.mkv")
    media.copy_to(hevc, lib / "b", "Lean HEVC.mkv")
    av1_clip(ffmpeg, media, lib / "a" / "Already AV1.mkv")
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(h264), "-map", "0", "-c", "copy", "-metadata", "DRAPTO_TUI=0.0.9",
         str(lib / "a" / "Ours.mkv")],
        check=True,
    )  # fmt: skip
    media.copy_to(h264, lib / "a", "Coming.mkv")
    (lib / "a" / "Coming.mkv.part").write_bytes(b"")
    rules = tmp_path / "rules.toml"
    rules.write_text(f'[[library.folders]]\npath = "{lib / "b"}"\nskip_hevc_below_kbps = 100000\n')

    found = verdicts(cli(tmp_path, "scan", "--json", str(lib), config=rules))
    by_path = {Path(v["path"]).relative_to(lib).as_posix(): v for v in map(json.loads, cli(
        tmp_path, "scan", "--json", str(lib), config=rules).stdout.splitlines())}  # fmt: skip
    assert set(by_path) == {
        "a/Already AV1.mkv", "a/Coming.mkv", "a/Film.mkv", "a/Lean HEVC.mkv", "a/Ours.mkv", "b/Lean HEVC.mkv",
    }  # fmt: skip
    assert by_path["a/Film.mkv"]["eligible"] and by_path["a/Film.mkv"]["codec"] == "AVC"
    assert 0 < by_path["a/Film.mkv"]["projected_saving"] < h264.stat().st_size
    assert by_path["a/Lean HEVC.mkv"]["eligible"]  # [library] leaves HEVC to be encoded
    assert not by_path["b/Lean HEVC.mkv"]["eligible"]  # its folder's own rule leaves it
    assert "library.skip_hevc_below_kbps" in by_path["b/Lean HEVC.mkv"]["reason"]
    assert found["Already AV1.mkv"]["reason"] == "already AV1 (library.skip_codecs)"
    assert found["Ours.mkv"]["reason"] == "made by drapto-tui 0.0.9 (library.skip_own)"
    assert found["Coming.mkv"]["reason"].startswith("still downloading (Coming.mkv.part is beside it)")

    text = cli(tmp_path, "scan", str(lib), config=rules)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[-1].startswith("6 files: 2 to encode (")
    # config show prints a folder's rules as set, so they read back as the same rules
    shown = cli(tmp_path, "config", "show", config=rules).stdout
    assert "skip_hevc_below_kbps = 100000\n" in shown.split("[[library.folders]]")[1]


def test_folder_encode_follows_the_rules_tags_its_outputs_and_fills_the_ledger(
    ffmpeg: str, media: MediaFactory, tmp_path: Path
) -> None:
    lib = tmp_path / "library"
    film = media.copy_to(media.clip(duration=2.0, width=640, height=360), lib, "Film.mkv")
    av1_clip(ffmpeg, media, lib / "Already AV1.mkv")
    run = cli(tmp_path, "encode", str(lib))
    assert run.returncode == 0, run.stderr
    out = tmp_path / "out" / "Film.mkv"
    assert out.exists() and not (tmp_path / "out" / "Already AV1.mkv").exists()
    assert "Already AV1.mkv: source kept — already AV1 (library.skip_codecs)" in run.stdout + run.stderr
    # The tag, as FFmpeg (not our MediaInfo-based probe) reads the output's container
    said = subprocess.run([ffmpeg, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "DRAPTO_TUI" in said

    stats = cli(tmp_path, "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    lifetime = json.loads(stats.stdout)["lifetime"]
    assert lifetime["films"] == 1 and lifetime["encoded"] == 1  # the AV1 film was never tried: not a line
    assert lifetime["bytes_in"] == film.stat().st_size and lifetime["bytes_out"] == out.stat().st_size
    assert lifetime["saved"] == film.stat().st_size - out.stat().st_size
    assert lifetime["mean_score"] is not None
    assert set(json.loads(stats.stdout)["folders"]) == {str(lib)}
    assert "lifetime: 1 film, 1 encoded" in cli(tmp_path, "stats").stdout

    again = verdicts(cli(tmp_path, "scan", "--json", str(tmp_path / "out")))
    assert again["Film.mkv"]["reason"].startswith("made by drapto-tui ")


def test_a_film_that_keeps_failing_is_left_out_until_given_by_its_own_path(
    media: MediaFactory, tmp_path: Path
) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    broken = lib / "Broken.mkv"
    broken.write_bytes(
        b"\x1a\x45\xdf\xa3" + os.urandom(20_000)
    )  # an EBML magic, then nothing a demuxer reads
    media.copy_to(media.clip(duration=1.0), lib, "Good.mkv")
    first = cli(tmp_path, "encode", str(lib), "--set", "library.max_failures=1")
    assert first.returncode != 0 and "Broken.mkv" in first.stdout + first.stderr
    scanned = verdicts(cli(tmp_path, "scan", "--json", str(lib), "--set", "library.max_failures=1"))
    assert scanned["Broken.mkv"]["reason"].startswith(
        "left out: failed once (library.max_failures = 1), last: "
    )

    second = cli(tmp_path, "encode", str(lib), "--set", "library.max_failures=1")
    line = next(x for x in (second.stdout + second.stderr).splitlines() if "left out" in x)
    assert "Broken.mkv" in line
    assert "left out: failed once (library.max_failures = 1)" in line and "add it by its own path" in line
    assert (tmp_path / "out" / "Good.mkv").exists()

    by_path = cli(tmp_path, "encode", str(broken), "--set", "library.max_failures=1")
    said = by_path.stdout + by_path.stderr
    assert by_path.returncode != 0 and "left out" not in said  # tried again: it fails for its own reason
    assert "Broken.mkv" in said
    shutil.rmtree(tmp_path / "work", ignore_errors=True)


async def test_the_apps_header_adds_the_all_time_saving_from_the_ledger(tmp_path: Path) -> None:
    """Films cleared off the queue still count in the header's all-time saving (the ledger outlives the rows)."""
    from drapto_tui.engine.engine import Engine
    from drapto_tui.engine.ledger import LedgerEntry
    from drapto_tui.tui.app import DraptoApp
    from tests.fast_config import fast_config

    engine = Engine(fast_config(tmp_path), monitor=False)
    engine.store.ledger.record(
        LedgerEntry("gone", "/films/Old.mkv", "/films", "/out/Old.mkv", "completed", "AVC", 3 * 2**30, 2**30)
    )
    assert engine.lifetime_saved() == 2 * 2**30
    app = DraptoApp(engine, run_core=False, frozen=True)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.2)
        assert "saved 0 B (2.0 GiB all time)" in str(app.query_one("#summary").render())
