"""What crosses the execution seam: a segment to encode (`SegmentSpec`), what came back (`SegmentOutcome`), and
the reports in between.

Plain, picklable pydantic models with no live objects in them (no bus, no database, no process handles): the
local executor, a process pool or a Dask worker on another machine receives the same spec and returns the same
outcome, and the coordinator alone turns them into events, cache rows and placed files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Segment(BaseModel):
    """One cut of the source's video: its place in the film and the file holding it (a stream copy, or lossless
    FFV1 where it was cut between keyframes)."""

    index: int
    start: float
    end: float
    frames: int
    path: str
    source_bytes: int | None = None  # the source's video packets in this span (None in plans written before)

    @property
    def duration(self) -> float:
        return self.end - self.start


def source_filters(crop: str | None, deinterlace: str | None, scale: str | None = None) -> str | None:
    """bwdif (frame rate kept: one progressive frame per interlaced frame) before the crop; a probe's
    downscale ("w:h", quality/predictive.py) after it."""
    chain = []
    if deinterlace:
        chain.append(f"bwdif=mode=send_frame:parity={deinterlace}:deint=all")
    if crop:
        chain.append(f"crop={crop}")
    if scale:
        chain.append(f"scale={scale}")
    return ",".join(chain) or None


def half_size(width: int, height: int) -> str:
    """Half the picture, each side even (4:2:0): what a half-size probe encodes and scores, as "w:h"."""
    return f"{width // 4 * 2}:{height // 4 * 2}"


def scale_size(scale: str) -> tuple[int, int]:
    """The width and height a "w:h" scale gives."""
    width, height = scale.split(":")
    return int(width), int(height)


class VideoSettings(BaseModel):
    """A video encode's settings (the CRF is filled in per probe and per final encode); `encoder` names one in
    media/encoders/."""

    model_config = ConfigDict(frozen=True)

    encoder: str = "svt-av1"
    preset: int
    crf: float
    pix_fmt: str = "yuv420p10le"
    threads: int = 0  # the encoder's threads per encode; 0 = let it decide
    params: str = ""  # the user's own encoder parameters, key=value:key=value
    crop: str | None = None  # "w:h:x:y"
    extra_params: tuple[str, ...] = ()  # the encoder's HDR10 parameters (mastering display, content light)
    deinterlace: Literal["tff", "bff"] | None = None  # bwdif with this field first, one frame per frame
    scale: str | None = None  # "w:h": a half-size probe's pictures (never a final's)
    keyint: int = 0  # the most frames from one keyframe to the next; 0 = the encoder's default

    def source_filters(self) -> str | None:
        """What is done to the source's pictures before encoding, and to the scoring reference alike."""
        return source_filters(self.crop, self.deinterlace, self.scale)

    def with_crf(self, crf: float) -> VideoSettings:
        return self.model_copy(update={"crf": crf})

    def cache_identity(self) -> dict[str, object]:
        """What changes the encoded bits (threads do not)."""
        return {
            "encoder": self.encoder,
            "preset": self.preset,
            "pix_fmt": self.pix_fmt,
            "params": self.params,
            "crop": self.crop,
            "extra": list(self.extra_params),
            **({"deinterlace": self.deinterlace} if self.deinterlace else {}),
            **({"scale": self.scale} if self.scale else {}),
            **({"keyint": self.keyint} if self.keyint else {}),
        }


class SearchSettings(BaseModel):
    """How a segment's CRF is searched, and by which metric (a name in media/metrics/) its quality is scored and
    pooled; `target` and `tolerance` are in that metric's unit."""

    model_config = ConfigDict(frozen=True)

    metric: str = "vmaf"
    target: float = 93.0
    tolerance: float = 1.0
    min_crf: float = 10.0
    max_crf: float = 55.0
    step: float = 0.25
    samples: int = 3
    sample_duration: float = 2.0
    full_pass_share: float = 0.85
    max_encoded_percent: float = 80.0
    n_subsample: int = 5
    pooling: str = "mean"
    #: predict: one fast probe mapped to the final preset (quality/predictive.py); bisect: the ab-av1-style
    #: search over probes at the final preset (quality/crf_search.py).
    strategy: Literal["predict", "bisect"] = "predict"
    probe_preset: int = 12
    #: predict's probe encodes this share of the segment's duration in `probe_runs` evenly spaced runs (1: the
    #: whole segment); the file's learned r absorbs the runs' bias, their spread is what remains.
    probe_share: float = 1.0
    probe_runs: int = 1
    #: The source has no more than 8 bits: predict's probes are encoded in 8 bits, and every score is taken in
    #: 8 bits (a 10-bit encode of it loses nothing the metric sees there; quality/predictive.py).
    eight_bit_source: bool = False
    #: predict's probes encode and score the picture at half size ("w:h", half_size), where the encoder and
    #: metric were measured that way (quality/calibration.py) and the picture is large enough; None: full size.
    probe_size: str | None = None

    @property
    def score_pix_fmt(self) -> str | None:
        """The format pictures are scored in: 8 bits for an 8-bit source, else None (the encode's own)."""
        return "yuv420p" if self.eight_bit_source else None

    @property
    def middle(self) -> float:
        """The middle of the acceptance window [target, target + tolerance]: where a segment aims by default."""
        return self.target + self.tolerance / 2

    def identity(self) -> dict[str, object]:
        return {
            "metric": self.metric,
            "samples": self.samples,
            "d": self.sample_duration,
            "full": self.full_pass_share,
            "n_subsample": self.n_subsample,
            "pooling": self.pooling,
            **({"probe_share": self.probe_share, "runs": self.probe_runs} if self.probe_share < 1 else {}),
            **({"eight_bit": True} if self.eight_bit_source else {}),
            **({"probe_size": self.probe_size} if self.probe_size else {}),
        }


class Probe(BaseModel):
    """One CRF tried: its pooled score and the encoded size against the source's."""

    crf: float
    score: float
    encoded_bytes: int
    source_bytes: int
    frame_scores_count: int = 0
    cached: bool = False
    full_pass: bool = False

    @property
    def percent(self) -> float:
        return 100.0 * self.encoded_bytes / max(self.source_bytes, 1)

    def to_event(self) -> dict[str, object]:
        return {
            "crf": self.crf,
            "score": round(self.score, 3),
            "bytes": self.encoded_bytes,
            "predicted_percent": round(self.percent, 2),
            "cached": self.cached,
            "full_pass": self.full_pass,
        }


class QualityModel(BaseModel):
    """What the file taught the coordinator so far, handed to every segment's search.

    The prior r is the encoder's and metric's (quality/calibration.py); the coordinator replaces it with the
    median of what this file's measured segments showed. The slope k is not the file's but each segment's own
    (quality/predictive.py, LossModel.slope_at)."""

    loss_ratio: float = 1.4  # r: the metric's loss at the probe preset / its loss at the final preset
    crf: float | None = None  # the file's typical CRF so far (median of finished segments)
    learned_from: int = 0  # measured segments behind r (0: the priors)


class CachedProbe(BaseModel):
    """A probe result as the search cache keeps it (keyed by segment identity, settings and CRF)."""

    score: float
    encoded_bytes: int
    source_bytes: int
    full_pass: bool = False


class SegmentSpec(BaseModel):
    """Everything needed to encode one segment at the target quality, and nothing live."""

    job_id: str
    source: str  # the film the segment was cut from: named in error lines
    segment: Segment
    resolution_class: str  # for admission control (memory need per encode)
    ffmpeg: str
    video: VideoSettings  # its crf is ignored: the search decides it
    search: SearchSettings
    out_width: int
    out_height: int
    max_retries: int = 2
    tolerance_below: float = 1.0
    nice: int = 0
    backend: Literal["builtin", "ab-av1"] = "builtin"
    ab_av1: str | None = None  # the ab-av1 binary, when backend is ab-av1
    start_crf: float | None = None  # the neighbouring segment's CRF, when one finished first
    model: QualityModel = Field(default_factory=QualityModel)  # the file's learned r, k and typical CRF
    aim: float | None = None  # the score this segment aims at (the file-level controller's), else mid-window
    #: always: measure the encoded segment; if_unsure (audit mode): only when the prediction was clamped to the
    #: CRF range or extrapolated more than predictive.FAR from its nearest probe.
    measure: Literal["always", "if_unsure"] = "always"
    #: The FFmpeg can decode an encode inside the same run (`-dec`): each encode and its score run as one.
    one_pass_measure: bool = False
    probe_identity: str  # the cache identity of this segment's content and bounds
    cached_probes: dict[str, CachedProbe] = Field(default_factory=dict)  # cache rows the coordinator found
    #: Where a worker that shares the coordinator's disk keeps the segment's working files (a full-pass encode
    #: there is reused after a resume); a remote worker uses scratch space of its own.
    scratch: str


class SegmentOutcome(BaseModel):
    """What one finished segment came back with; `encoded` is the encoded segment's file, for the coordinator
    to place."""

    job_id: str
    segment: int
    crf: float
    score_predicted: float
    score_measured: float | None  # None: not measured (audit mode), score_predicted is the figure
    bytes: int
    encode_seconds: float
    fps: float
    attempts: int
    history: list[dict[str, Any]] = Field(default_factory=list)
    probes: list[Probe] = Field(default_factory=list)
    new_probes: dict[str, CachedProbe] = Field(default_factory=dict)  # for the coordinator's cache
    loss_ratio_used: float | None = None  # the r this segment was planned with (predict)
    worker: str | None = None  # the machine (Dask worker) that encoded it; None: this one
    #: A remote executor's cost around the work, each part apart: bytes sent and received; seconds sending the
    #: segment's bytes to a worker; the worker's FFmpeg check (its first task); waiting in Dask for a worker
    #: thread, with the answer's way back; and earlier tries lost to a worker or a scheduler that went away.
    transfer_bytes: int | None = None
    transfer_seconds: float | None = None
    check_seconds: float | None = None
    queued_seconds: float | None = None
    lost_seconds: float | None = None
    observed_loss_ratio: float | None = None  # r seen on this segment (predicted probe loss / measured loss)
    observed_log_slope: float | None = None  # k seen between two probes or two measured encodes
    encoded: str


class PhaseReport(BaseModel):
    """The segment entered a phase (searching, encoding) of an attempt."""

    kind: Literal["phase"] = "phase"
    phase: str
    attempt: int
    samples: int | None = None
    sample_duration: float | None = None
    target: float | None = None
    crf: float | None = None
    worker: str | None = None  # filled in by a remote executor: where the segment runs


class ProbeReport(BaseModel):
    kind: Literal["probe"] = "probe"
    attempt: int
    probe: Probe


class ProgressReport(BaseModel):
    kind: Literal["progress"] = "progress"
    progress: float
    fps: float


class ProblemReport(BaseModel):
    """An attempt failed (and is retried unless `segment_failed`)."""

    kind: Literal["problem"] = "problem"
    stage: str
    attempt: int
    message: str
    stderr_tail: list[str] = Field(default_factory=list)
    segment_failed: bool = False
    #: Not a failure: a normal step worth saying (a measured score below target, encoded again).
    notice: bool = False


SegmentReport = Annotated[
    PhaseReport | ProbeReport | ProgressReport | ProblemReport, Field(discriminator="kind")
]

__all__ = [
    "CachedProbe",
    "PhaseReport",
    "Probe",
    "ProbeReport",
    "ProblemReport",
    "ProgressReport",
    "SearchSettings",
    "Segment",
    "SegmentOutcome",
    "SegmentReport",
    "SegmentSpec",
    "VideoSettings",
]
