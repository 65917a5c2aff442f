"""Sources as libraries hold them, judged against the source by tools other than our probe (an independent FFmpeg
decode, mkvmerge's timestamps): audio longer than the picture, and audio layouts libopus has no place for, with
one tone per speaker so that a channel in the wrong place is heard, not guessed from a name."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from drapto_tui.model.events import ProcessingEvents
from tests.judge import decoded_frames
from tests.media_helpers import MediaFactory
from tests.reliability.harness import encode

E = ProcessingEvents
RATE = 48000


def tone_source(
    ffmpeg: str, out: Path, layout: str, speakers: list[str], codec: str, seconds: float = 3
) -> dict:
    """A film whose audio has one sine per speaker (the LFE's low, as an LFE is band-limited); {speaker: Hz}."""
    freqs = {s: (50 if s == "LFE" else 220 * (i + 2)) for i, s in enumerate(speakers)}
    args = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s=160x96:d={seconds}:r=24"]
    for s in speakers:
        args += ["-f", "lavfi", "-i", f"sine=frequency={freqs[s]}:duration={seconds}:sample_rate={RATE}"]
    merge = "".join(f"[{i + 1}:a]" for i in range(len(speakers)))
    merge += f"amerge=inputs={len(speakers)},channelmap=channel_layout={layout}[a]"
    args += ["-filter_complex", merge, "-map", "0:v", "-map", "[a]", "-c:v", "libx264", "-g", "24"]
    args += ["-c:a", codec, str(out)]
    subprocess.run(args, check=True, capture_output=True)
    return freqs


def tones_heard(ffmpeg: str, path: Path, layout: str, speakers: list[str]) -> dict[str, int]:
    """Decode the first audio track into `layout` (FFmpeg places each channel by its speaker) and name the
    loudest frequency of each speaker's channel (0 for silence)."""
    decode = [
        ffmpeg,
        "-v",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-af",
        f"aformat=channel_layouts={layout}",
    ]
    raw = subprocess.run([*decode, "-f", "f32le", "-"], capture_output=True, check=True).stdout
    samples = np.frombuffer(raw, dtype="<f4").reshape(-1, len(speakers))[RATE // 2 : RATE * 2]
    heard = {}
    for i, speaker in enumerate(speakers):
        channel = samples[:, i]
        if np.abs(channel).max() < 0.02:
            heard[speaker] = 0
            continue
        spectrum = np.abs(np.fft.rfft(channel))
        heard[speaker] = round(float(np.argmax(spectrum)) * RATE / len(channel))
    return heard


@pytest.mark.parametrize(
    ("layout", "speakers", "codec", "carried"),
    [
        ("2.1", ["FL", "FR", "LFE"], "ac3", "2.1 carried as 5.1"),
        ("6.1", ["FL", "FR", "FC", "LFE", "BC", "SL", "SR"], "flac", "6.1 carried as 7.1"),
        ("5.1(side)", ["FL", "FR", "FC", "LFE", "SL", "SR"], "ac3", None),
        ("7.1", ["FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"], "flac", None),
    ],
    ids=["2.1", "6.1", "5.1-side", "7.1"],
)
def test_every_speaker_stays_where_it_was(
    tmp_path: Path, media: MediaFactory, layout: str, speakers: list[str], codec: str, carried: str | None
) -> None:
    ffmpeg = media.ffmpeg
    source = tmp_path / "films" / f"tones-{layout}.mkv"
    source.parent.mkdir()
    freqs = tone_source(ffmpeg, source, layout, speakers, codec)
    assert tones_heard(ffmpeg, source, layout, speakers) == freqs  # the fixture is what it claims
    run = encode(tmp_path, source)
    assert run.code == 0, (run.stderr, [e.data for e in run.fatal()])
    out = tmp_path / "out" / source.name
    assert tones_heard(ffmpeg, out, layout, speakers) == freqs  # each tone at its own speaker, the LFE's too
    notices = [e.data.message for e in run.events if e.event == E.NOTICE]
    if carried:
        assert any(carried in n for n in notices), notices
    else:
        assert not notices, notices


def test_audio_longer_than_the_picture(tmp_path: Path, media: MediaFactory) -> None:
    """8 s of picture, 12 s of sound (common in rips): segments and their probes follow the picture, and the
    output keeps every frame and the whole sound."""
    ffmpeg = media.ffmpeg
    source = tmp_path / "films" / "long-audio.mkv"
    source.parent.mkdir()
    picture = ["-f", "lavfi", "-i", "testsrc2=s=160x96:d=8:r=24"]
    sound = ["-f", "lavfi", "-i", "sine=frequency=440:duration=12"]
    codecs = ["-c:v", "libx264", "-g", "24", "-c:a", "aac"]
    subprocess.run([ffmpeg, "-v", "error", "-y", *picture, *sound, *codecs, str(source)], check=True)
    scenes = ('processing.segmentation="scene"', "processing.min_segment=5", "processing.max_segment=15")
    run = encode(tmp_path, source, extra=(*scenes, "search.probe_runs=3", "search.probe_share=0.3"))
    assert run.code == 0, (run.stderr, [e.data for e in run.fatal()])
    out = tmp_path / "out" / source.name
    assert decoded_frames(ffmpeg, out) == decoded_frames(ffmpeg, source) == 192
    if shutil.which("mkvextract"):
        stamps = tmp_path / "a.txt"
        subprocess.run(
            ["mkvextract", str(out), "timestamps_v2", f"1:{stamps}"], check=True, capture_output=True
        )
        last_audio_ms = float(stamps.read_text().split()[-1])
        assert 11_900 <= last_audio_ms <= 12_100, last_audio_ms
