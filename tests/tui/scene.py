"""A fixed, mid-encode queue built from events, for snapshots and the UI benchmark (nothing here moves)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drapto_tui.engine.engine import Engine
from drapto_tui.model.events import ProcessingEvents, ProcessingStatus, make_event

E = ProcessingEvents
T0 = datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC)


def media(
    name: str, width: int, height: int, duration: float, *, dv: bool = False, hdr: str | None = None
) -> dict:
    cls = "sd" if width <= 1280 else ("hd" if width <= 1920 else "uhd")
    return {
        "path": f"/films/{name}",
        "size": int(duration * 1_500_000),
        "duration": duration,
        "fps": 24.0,
        "fps_fraction": "24000/1001",
        "frame_count": int(duration * 24),
        "width": width,
        "height": height,
        "video_codec": "HEVC" if dv or hdr else "AVC",
        "bit_depth": 10 if dv or hdr else 8,
        "color_primaries": "bt2020" if hdr or dv else "bt709",
        "color_transfer": "smpte2084" if hdr or dv else "bt709",
        "color_matrix": "bt2020nc" if hdr or dv else "bt709",
        "hdr": bool(hdr or dv),
        "hdr_format": hdr or ("PQ" if dv else None),
        "dolby_vision": dv,
        "dv_profile": 8 if dv else None,
        "audio": [
            {"index": 0, "codec": "E-AC-3", "channels": 6, "language": "eng", "title": None, "default": True}
        ],
        "subtitles": 2,
        "chapters": 12,
        "resolution_class": cls,
        "encoding_path": "dolby_vision" if dv else "chunked",
    }


def emit(session: Engine, kind: ProcessingEvents, job: str, file: str, **data: Any) -> None:
    session.bus.publish(make_event(kind, timestamp=T0, job_id=job, file=file, **data))


def build_scene(session: Engine, extra_jobs: int = 0) -> None:
    films = [
        ("running", "Arrival (2016).mkv", 1920, 800, 120.0, False, None),
        ("direct", "Dune Part Two (2024).mkv", 3840, 1600, 90.0, True, None),
        ("failed", "Heat (1995).mkv", 1920, 1040, 60.0, False, None),
        ("held", "Alien (1979).mkv", 1920, 1080, 60.0, False, "PQ"),
        ("done", "Brazil (1985).mkv", 1280, 720, 30.0, False, None),
        ("queued", "Stalker (1979).mkv", 1440, 1080, 80.0, False, None),
    ]
    for i, (job, name, w, h, dur, dv, hdr) in enumerate(films):
        file = f"/films/{name}"
        emit(
            session,
            E.JOB_QUEUED,
            job,
            file,
            status=ProcessingStatus.QUEUED,
            output=f"/out/{name}",
            position=i,
            size=int(dur * 1_500_000),
        )
        m = media(name, w, h, dur, dv=dv, hdr=hdr)
        emit(session, E.ANALYSIS_COMPLETE, job, file, media=m, encoding_path=m["encoding_path"])
    # A chunked job mid-encode: done, searching, encoding and queued segments, one below target.
    f = "/films/Arrival (2016).mkv"
    emit(session, E.ANALYSIS_STARTED, "running", f, status=ProcessingStatus.RUNNING)
    emit(
        session,
        E.ENCODING_STARTED,
        "running",
        f,
        path="chunked",
        metric="vmaf",
        target=93.0,
        tolerance_below=0.5,
        segments=[{"index": i, "start": i * 10.0, "end": (i + 1) * 10.0, "frames": 240} for i in range(12)],
    )
    crfs = [27.5, 28.25, 29.0, 26.75, 31.5]
    for i, crf in enumerate(crfs):
        emit(session, E.SEARCH_STEP, "running", f, segment=i, crf=crf + 3, score=91.8, bytes=900_000)
        emit(session, E.SEARCH_STEP, "running", f, segment=i, crf=crf, score=93.4, bytes=1_200_000)
        emit(
            session,
            E.SEGMENT_COMPLETE,
            "running",
            f,
            segment=i,
            crf=crf,
            metric="vmaf",
            score_predicted=93.4,
            score_measured=92.1 if i == 3 else 93.2 + i * 0.1,
            bytes=1_200_000 + i * 1000,
            frames=240,
            attempts=1,
        )
    emit(session, E.SEGMENT_STARTED, "running", f, segment=5, phase="searching", attempt=1)
    emit(session, E.SEGMENT_STARTED, "running", f, segment=6, phase="encoding", attempt=1)
    emit(session, E.SEGMENT_PROGRESS, "running", f, segment=6, progress=0.4)
    # The Dolby Vision job: one direct encode at 62 %.
    d = "/films/Dune Part Two (2024).mkv"
    emit(
        session,
        E.ENCODING_STARTED,
        "direct",
        d,
        status=ProcessingStatus.RUNNING,
        path="dolby_vision",
        crf=29,
        segments=[{"index": 0, "start": 0.0, "end": 90.0, "frames": 2160}],
    )
    emit(session, E.SEGMENT_STARTED, "direct", d, segment=0, phase="encoding", attempt=1, crf=29)
    emit(session, E.SEGMENT_PROGRESS, "direct", d, segment=0, progress=0.62)
    emit(session, E.JOB_PAUSED, "direct", d, status=ProcessingStatus.PAUSED)
    # A failed job with FFmpeg's last words, a held job and a finished one.
    h = "/films/Heat (1995).mkv"
    emit(
        session,
        E.ENCODING_STARTED,
        "failed",
        h,
        status=ProcessingStatus.RUNNING,
        path="chunked",
        segments=[{"index": i, "start": i * 10.0, "end": (i + 1) * 10.0, "frames": 240} for i in range(6)],
    )
    for i in range(2):
        emit(session, E.SEGMENT_COMPLETE, "failed", h, segment=i, crf=30.0, score_measured=93.5, attempts=1)
    emit(session, E.SEGMENT_STARTED, "failed", h, segment=2, phase="encoding", attempt=2)
    emit(
        session,
        E.ERROR_OCCURRED,
        "failed",
        h,
        segment=2,
        message="segment 2: FFmpeg exited 137; retrying",
        stderr_tail=["[matroska @ 0x1] Error writing packet", "Conversion failed!"],
    )
    emit(
        session,
        E.ERROR_OCCURRED,
        "failed",
        h,
        status=ProcessingStatus.FAILED,
        fatal=True,
        segment=2,
        message="/films/Heat (1995).mkv: segment 2: AV1 encode: FFmpeg exited 137 (Conversion failed!)",
    )
    emit(session, E.JOB_UPDATED, "held", "/films/Alien (1979).mkv", held=True)
    b = "/films/Brazil (1985).mkv"
    emit(
        session,
        E.ENCODING_COMPLETE,
        "done",
        b,
        status=ProcessingStatus.COMPLETED,
        output=f"/out/{Path(b).stem}.mkv",
        input_bytes=45_000_000,
        output_bytes=14_600_000,
        reduction_percent=67.6,
    )
    for n in range(extra_jobs):
        name = f"/films/Extra {n:04d}.mkv"
        emit(session, E.JOB_QUEUED, f"extra{n:04d}", name, status=ProcessingStatus.QUEUED, position=100 + n)


SAMPLE = {
    "cpu": [92.0, 88.0, 97.0, 75.0],
    "mem_total": 16 * 2**30,
    "mem_available": 9 * 2**30,
    "mem_used_percent": 43.8,
    "rss_tree": 2_400 * 2**20,
    "processes": 3,
    "disk_read_bps": 42 * 2**20,
    "disk_write_bps": 3 * 2**20,
    "temp_free": 120 * 2**30,
    "jobs": {"running": {"cpu": 352.0, "rss": 2_300 * 2**20}},
}


def feed_sample(session: Engine) -> None:
    session.bus.publish(make_event(E.RESOURCE_SAMPLE, timestamp=T0, **SAMPLE))
