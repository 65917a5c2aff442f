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


def _film(ffmpeg: str, out: Path, seconds: float, *, audio: bool = True, size: str = "160x96") -> None:
    picture = ["-f", "lavfi", "-i", f"testsrc2=s={size}:d={seconds}:r=24"]
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if audio else []
    codecs = ["-c:v", "libx264", "-g", "24", *(["-c:a", "aac"] if audio else [])]
    faststart = (
        ["-movflags", "+faststart"] if out.suffix == ".mp4" else []
    )  # the index first, as downloads are
    subprocess.run([ffmpeg, "-v", "error", "-y", *picture, *sound, *codecs, *faststart, str(out)], check=True)


def _cut(source: Path, out: Path, *, keep: float | None = None, drop_bytes: int | None = None) -> None:
    data = source.read_bytes()
    end = int(len(data) * keep) if keep is not None else len(data) - (drop_bytes or 0)
    out.write_bytes(data[:end])


@pytest.mark.parametrize("container", ["mkv", "mp4"])
def test_a_truncated_file_is_refused_before_any_encode(
    tmp_path: Path, media: MediaFactory, container: str
) -> None:
    """The header says 10 s; the copy stopped at 44 % of its bytes. One line naming it truncated and where its data
    ends, before any segment is encoded; a retry gives the same line at the same cost; input.damaged = "encode"
    encodes what is there and says so in the summary."""
    whole = tmp_path / f"whole.{container}"
    _film(media.ffmpeg, whole, 10)
    films = tmp_path / "films"
    films.mkdir()
    source = films / f"copy.{container}"
    _cut(whole, source, keep=0.44)
    run = encode(tmp_path, source)
    assert run.code == 1
    (fatal,) = run.fatal()
    line = fatal.data.message
    assert "truncated: the file says its picture lasts 10.0 s, its data ends at" in line, line
    assert 'input.damaged = "encode"' in line and "copy it again" in line
    assert not [e for e in run.events if e.event in (E.ENCODING_STARTED, E.SEGMENT_COMPLETE)]
    again = encode(tmp_path, source)  # `encode` again (what a retry does): the same line, still no encode
    assert again.code == 1 and again.fatal()[0].data.message == line
    assert not [e for e in again.events if e.event == E.SEGMENT_COMPLETE]
    kept = encode(tmp_path, source, extra=('input.damaged="encode"',), out=tmp_path / "out2")
    assert kept.code == 0, kept.stderr
    (done,) = kept.completed()
    assert done.data.damaged and "truncated" in done.data.damaged
    out = tmp_path / "out2" / f"copy.{container}".replace(".mp4", ".mkv")
    frames = decoded_frames(media.ffmpeg, out)
    assert 90 <= frames <= 110 and frames == decoded_frames(media.ffmpeg, source)


def test_a_damaged_end_is_said_as_damage_not_a_tool_fault(tmp_path: Path, media: MediaFactory) -> None:
    """The last packet cut short: 'damaged at its end', before any encode, instead of a frame-count failure after
    it that blames the tool."""
    whole = tmp_path / "whole.mkv"
    _film(media.ffmpeg, whole, 4.5, audio=False, size="320x192")
    films = tmp_path / "films"
    films.mkdir()
    source = films / "cut.mkv"
    _cut(whole, source, drop_bytes=300)
    assert decoded_frames(media.ffmpeg, source) == decoded_frames(media.ffmpeg, whole) - 1
    run = encode(tmp_path, source)
    assert run.code == 1
    line = run.fatal()[0].data.message
    assert "damaged at its end: FFmpeg: File ended prematurely" in line and "report it" not in line, line
    assert not [e for e in run.events if e.event == E.SEGMENT_COMPLETE]


def test_whole_files_pass_the_end_check(tmp_path: Path, media: MediaFactory) -> None:
    """The check must not cry wolf: whole MKV and MP4, and audio longer than the picture, are not damaged."""
    films = tmp_path / "films"
    films.mkdir()
    for name in ("a.mkv", "b.mp4"):
        _film(media.ffmpeg, films / name, 6)
    run = encode(tmp_path, films)
    assert run.code == 0 and len(run.completed()) == 2, run.stderr
    # A segment encoded again for its quality is a notice of its own (stage "encoding"), not about the source.
    about_the_source = [e for e in run.events if e.event == E.NOTICE and e.data.stage != "encoding"]
    assert not about_the_source, about_the_source


def _hdr10_plus_film(ffmpeg: str, out: Path, frames: int = 48) -> None:
    """HDR10 HEVC with HDR10+ (SMPTE ST 2094-40) metadata on every frame, written by x265 from a metadata file in
    the JSON layout HDR10+ tools exchange (profile A: luminance distributions, no Bezier curve)."""
    import json

    scenes = [
        {
            "LuminanceParameters": {
                "AverageRGB": 1000 + i,
                "LuminanceDistributions": {
                    "DistributionIndex": [1, 5, 10, 25, 50, 75, 90, 95, 99],
                    "DistributionValues": [10, 20, 30, 100, 400, 1000, 2000, 3000, 4000],
                },
                "MaxScl": [4000, 4000, 4000],
            },
            "NumberOfWindows": 1,
            "TargetedSystemDisplayMaximumLuminance": 400,
            "SceneFrameIndex": i,
            "SceneId": 0,
            "SequenceFrameIndex": i,
        }
        for i in range(frames)
    ]
    meta = out.with_suffix(".json")
    meta.write_text(
        json.dumps(
            {
                "JSONInfo": {"HDR10plusProfile": "A", "Version": "1.0"},
                "SceneInfo": scenes,
                "SceneInfoSummary": {"SceneFirstFrameIndex": [0], "SceneFrameNumbers": [frames]},
                "ToolInfo": {"Tool": "drapto-tui tests", "Version": "1"},
            }
        )
    )
    x265 = (
        "log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:max-cll=1000,400"
        ":master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
        f":dhdr10-info={meta}"
    )
    picture = ["-f", "lavfi", "-i", f"testsrc2=s=320x180:d={frames / 24}:r=24", "-pix_fmt", "yuv420p10le"]
    colour = ["-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc"]
    args = [ffmpeg, "-v", "error", "-y", *picture, "-c:v", "libx265", "-x265-params", x265, *colour, str(out)]
    subprocess.run(args, check=True)


def _frames_with_hdr10_plus(ffmpeg: str, path: Path) -> int:
    """Frames FFmpeg's decoder hands out with HDR10+ side data (its showinfo filter names it)."""
    shown = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(path), "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    return shown.count("SMPTE2094-40")


def test_hdr10_plus_is_said_not_dropped_in_silence(tmp_path: Path, media: MediaFactory) -> None:
    films = tmp_path / "films"
    films.mkdir()
    source = films / "hdr10plus.mkv"
    _hdr10_plus_film(media.ffmpeg, source)
    assert _frames_with_hdr10_plus(media.ffmpeg, source) == 48  # the fixture carries it on every frame
    run = encode(tmp_path, source)
    assert run.code == 0, run.stderr
    (done,) = run.completed()
    # VMAF is not valid on PQ pictures: an HDR10 film is judged by XPSNR by default, and its summary says so.
    assert done.data.metric == "xpsnr" and done.data.score_file is not None
    said = [c for c in done.data.changes if "HDR10+" in c]
    assert said and any("HDR10+" in e.data.message for e in run.events if e.event == E.NOTICE)
    out = tmp_path / "out" / "hdr10plus.mkv"
    assert _frames_with_hdr10_plus(media.ffmpeg, out) == 0  # what the summary says: not carried
    from pymediainfo import MediaInfo

    (video,) = [t for t in MediaInfo.parse(str(out)).tracks if t.track_type == "Video"]
    assert "2086" in str(video.hdr_format) and str(video.transfer_characteristics) == "PQ"  # HDR10 kept
    refused = encode(tmp_path, source, extra=('input.hdr10_plus="refuse"',), out=tmp_path / "out2")
    assert refused.code == 1 and "HDR10+ dynamic metadata" in refused.fatal()[0].data.message
    assert not [e for e in refused.events if e.event == E.ENCODING_STARTED]


def test_dolby_vision_profile_5_is_refused_before_encoding(tmp_path: Path, media: MediaFactory) -> None:
    from samples.clips import make_dv_fixture

    source = make_dv_fixture(media.ffmpeg, tmp_path / "films" / "p5.mkv", profile=5, compatibility_id=0)
    run = encode(tmp_path, source)
    assert run.code == 1
    (fatal,) = run.fatal()
    assert "Dolby Vision profile 5: its picture has no HDR10 base layer" in fatal.data.message
    assert not [e for e in run.events if e.event == E.ENCODING_STARTED]


def test_chroma_depth_and_other_pictures_are_said(tmp_path: Path, media: MediaFactory) -> None:
    films = tmp_path / "films"
    films.mkdir()
    ffmpeg = media.ffmpeg
    picture = ["-f", "lavfi", "-i", "testsrc2=s=160x96:d=2:r=24"]
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-y",
            *picture,
            "-pix_fmt",
            "yuv422p10le",
            "-c:v",
            "libx264",
            str(films / "422.mkv"),
        ],
        check=True,
    )
    angle = ["-f", "lavfi", "-i", "mandelbrot=s=96x64:r=24", "-t", "2", "-map", "0", "-map", "1"]
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", *picture, *angle, "-c:v", "libx264", str(films / "two.mkv")], check=True
    )
    run = encode(tmp_path, films)
    assert run.code == 0, run.stderr
    changes = {Path(e.file or "").name: e.data.changes for e in run.completed()}
    assert changes["422.mkv"] == [
        "4:2:2 10-bit picture encoded as 4:2:0 10-bit (SVT-AV1 encodes 4:2:0, what players decode)"
    ]
    assert (
        changes["two.mkv"] and "1 other video stream(s) left out (video stream #1)" in changes["two.mkv"][0]
    )
    one_frame = ["-vf", "showinfo", "-frames:v", "1", "-f", "null", "-"]
    shown = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(tmp_path / "out" / "422.mkv"), *one_frame],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    assert "fmt:yuv420p10le" in shown  # what the summary says it made, by an independent decode
    if shutil.which("mkvmerge"):
        import json

        tracks = json.loads(
            subprocess.run(
                ["mkvmerge", "-J", str(tmp_path / "out" / "two.mkv")], capture_output=True, check=True
            ).stdout
        )["tracks"]
        assert [t["type"] for t in tracks] == ["video"]  # what it says: the angle is not there
