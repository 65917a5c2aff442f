"""The configuration as pydantic models.

Sections and keys follow the seed (input, processing, encoding.crf) plus what the two encoding paths, the
scheduler and the UI need. Every value is TOML-representable (no None: "" or 0 means "not set / automatic"),
so `config show` can print the effective configuration and it reads back unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    field_validator,
    model_validator,
)

from drapto_tui.config.units import format_size, parse_size, parse_window

ByteSize = Annotated[int, BeforeValidator(parse_size), PlainSerializer(format_size, return_type=str)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InputConfig(Section):
    source_dir: str = Field("", description="Folder searched when no paths are given ('' = none).")
    file_pattern: str = Field(
        "*.mkv,*.mp4,*.m4v,*.mov,*.m2ts,*.ts,*.avi,*.webm",
        description="Glob(s), comma-separated, matched case-insensitively against file names.",
    )
    min_size: ByteSize = Field(0, description="Skip files smaller than this (e.g. 700MB).")
    max_size: ByteSize = Field(0, description="Skip files larger than this; 0 = no limit.")
    damaged: Literal["refuse", "encode"] = Field(
        "refuse",
        description="A source whose picture stops before its declared end (truncated) or whose end is cut"
        " short (damaged): refuse it before encoding, or encode what is there (said in the summary).",
    )
    hdr10_plus: Literal["encode", "refuse"] = Field(
        "encode",
        description="A source with HDR10+ dynamic metadata, which the AV1 encode does not carry: encode it with"
        " its HDR10 metadata (said in the summary), or refuse it.",
    )
    watch_dirs: list[str] = Field(
        default_factory=list,
        description="Folders the service watches: a new film there is queued once it has stopped growing.",
    )
    watch_settle: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="Seconds a new file's size and modification time must stay unchanged before it is queued.",
    )

    @model_validator(mode="after")
    def _sizes_ordered(self) -> InputConfig:
        if self.max_size and self.max_size < self.min_size:
            raise ValueError("max_size must be 0 (no limit) or at least min_size")
        return self

    def patterns(self) -> list[str]:
        return [p.strip() for p in self.file_pattern.split(",") if p.strip()]


class ProcessingConfig(Section):
    chunk_size: int = Field(
        10, ge=1, le=600, description="Segment length in seconds for segmentation='fixed'."
    )
    parallel_jobs: int = Field(
        0,
        ge=0,
        le=256,
        description="Concurrent encodes; 0 = automatic (cores / 2, and 2 on a 2- or 3-core machine).",
    )
    temp_dir: str = Field("", description="Working/segment/state folders; '' = the user cache dir.")
    job_log_max: ByteSize = Field(
        2 * 1024 * 1024,
        ge=16 * 1024,
        description="Size cap of each job's FFmpeg log (logs/jobs/<job>/ffmpeg.log); past it the older half goes.",
    )
    segmentation: Literal["scene", "fixed"] = "scene"
    min_segment: float = Field(5.0, gt=0, description="Scene cuts closer than this (s) are merged.")
    max_segment: float = Field(15.0, gt=0, description="Scenes longer than this (s) are split evenly.")
    cut_tolerance: float = Field(
        0.5,
        ge=0,
        le=60,
        description="A cut moves to a keyframe this close (s); further away the source is cut exactly by"
        " decoding (lossless pieces in temp space, only for the GOPs concerned).",
    )
    scene_range: float = Field(
        60.0,
        ge=1,
        le=3600,
        description="A film longer than two of these (s) is scene-scored in ranges split at keyframes, a core"
        " each at once.",
    )
    cut_in_ranges: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Also plan and cut such a film range by range, so its first segments encode while the rest"
        " is read: each range's edge is then a cut, which may split a shot. auto = on a Dask cluster (where the"
        " scene pass would hold every machine back), not on this machine alone.",
    )
    scene_threshold: float = Field(0.30, gt=0, le=1, description="FFmpeg scene score for SDR sources.")
    scene_threshold_hdr: float = Field(0.20, gt=0, le=1, description="Lower threshold for HDR sources.")
    hwaccel: str = Field("none", description="Hardware decode on the direct path: none, auto, or a method.")
    keep_temp: bool = Field(False, description="Keep a finished job's temporary files.")

    @model_validator(mode="after")
    def _segments_ordered(self) -> ProcessingConfig:
        if self.max_segment < self.min_segment:
            raise ValueError("max_segment must be at least min_segment")
        return self


class CrfConfig(Section):
    sd: int = Field(25, ge=0, le=63)
    hd: int = Field(25, ge=0, le=63)
    uhd: int = Field(29, ge=0, le=63)


#: SVT-AV1 keys drapto-tui sets itself, and what to set instead.
SVT_OWNED_KEYS = {
    "crf": "set quality.target (the quality path searches the CRF) or encoding.crf.sd/hd/uhd (Dolby Vision)",
    "qp": "set quality.target (the quality path searches the CRF)",
    "rc": "the quality path encodes at a constant rate factor; set quality.target",
    "tbr": "the quality path encodes at a constant rate factor; set quality.target",
    "mbr": "the quality path encodes at a constant rate factor; set quality.target",
    "pass": "the quality path encodes in one pass; set quality.target",
    "passes": "the quality path encodes in one pass; set quality.target",
    "preset": "set encoding.preset",
    "lp": "set resources.encoder_threads",
    "keyint": "set encoding.keyframe_interval",
    "input-depth": "set encoding.pixel_format",
    "mastering-display": "it is taken from the source's HDR metadata",
    "content-light": "it is taken from the source's HDR metadata",
    "color-primaries": "it is taken from the source",
    "transfer-characteristics": "it is taken from the source",
    "matrix-coefficients": "it is taken from the source",
    "color-range": "it is taken from the source",
}


class EncodingConfig(Section):
    encoder: Literal["svt-av1", "aom-av1"] = Field(
        "svt-av1",
        description="The quality path's encoder: svt-av1 (SVT-AV1) or aom-av1 (libaom, slower; some prefer it for"
        " grain). The Dolby Vision path always uses SVT-AV1, the one that carries RPUs.",
    )
    preset: int = Field(
        6,
        ge=-1,
        le=13,
        description="The encoder's speed, lower = slower and better: SVT-AV1's preset (-1 to 13) or libaom's"
        " cpu-used (0 to 8).",
    )
    crf: CrfConfig = Field(default_factory=CrfConfig, description="Fixed CRF of the Dolby Vision path.")
    min_crf: float = Field(10.0, ge=0, le=63)
    max_crf: float = Field(55.0, ge=0, le=63)
    pixel_format: Literal["yuv420p10le", "yuv420p"] = "yuv420p10le"
    keyframe_interval: float = Field(
        10.0,
        ge=0,
        le=600,
        description="The longest gap between keyframes, in seconds (seeking lands within it). Each segment starts"
        " on one; a longer segment gets more, evenly spaced. 0: the encoder's own default (SVT-AV1: 161"
        " frames at 24 or 25 fps, which puts a second keyframe near the end of any longer segment).",
    )
    svt_params: str = Field("", description="Extra SVT-AV1 parameters, key=value:key=value.")
    aom_params: str = Field(
        "", description="Extra libaom parameters (FFmpeg's -aom-params), key=value:key=value."
    )
    crop: bool = Field(True, description="Detect and remove letterbox bars.")
    deinterlace: Literal["auto", "off", "on"] = Field(
        "auto",
        description="auto: bwdif when the film is interlaced (signalled, or found by idet); on: always; off: never.",
    )
    search_backend: Literal["builtin", "ab-av1"] = "builtin"

    @model_validator(mode="after")
    def _crf_range(self) -> EncodingConfig:
        if self.max_crf <= self.min_crf:
            raise ValueError("max_crf must be greater than min_crf")
        return self

    #: Which key holds each encoder's own parameters.
    PARAMS_KEYS: ClassVar[dict[str, str]] = {"svt-av1": "svt_params", "aom-av1": "aom_params"}

    def params_of(self, encoder: str) -> str:
        """The user's own parameters for this encoder."""
        key = self.PARAMS_KEYS.get(encoder)
        return str(getattr(self, key)) if key else ""

    @field_validator("svt_params")
    @classmethod
    def _svt_params_ours(cls, value: str) -> str:
        """key=value pairs, none of them a key this tool sets itself (a later one would silently win over it,
        or break the quality search). Whether SVT-AV1 takes the rest is asked of it at start (preflight)."""
        for item in (part.strip() for part in value.split(":")):
            if not item:
                continue
            key, eq, val = item.partition("=")
            if not eq or not key.strip() or not val.strip():
                raise ValueError(f"{item!r} is not key=value; write e.g. 'tune=0:film-grain=8'")
            owner = SVT_OWNED_KEYS.get(key.strip().lower())
            if owner is not None:
                raise ValueError(f"{key.strip()} is set by drapto-tui; {owner}")
        return value


class SearchConfig(Section):
    samples: int = Field(3, ge=1, le=20)
    sample_duration: float = Field(2.0, gt=0, le=60, description="Seconds per sample.")
    full_pass_share: float = Field(
        0.85, gt=0, le=1, description="Encode whole segment when samples cover this."
    )
    tolerance: float | None = Field(
        None,
        ge=0,
        le=10,
        description="Accept a score in [target, target + tolerance], in the metric's unit (unset: the metric's"
        " own, 1 VMAF or 0.5 dB XPSNR).",
    )
    tolerance_below: float | None = Field(
        None,
        ge=0,
        le=10,
        description="Encode a segment again when its measured score < target - this (unset: the metric's own,"
        " 0.5 VMAF or 0.25 dB XPSNR).",
    )
    strategy: Literal["predict", "bisect"] = Field(
        "predict",
        description="predict: one fast probe mapped to the final preset (a second when far off); bisect: the"
        " ab-av1-style search with probes at the final preset.",
    )
    probe_preset: int | None = Field(
        None,
        ge=-1,
        le=13,
        description="The preset of predict's probes (unset: the encoder's fastest useful: 12, 8).",
    )
    probe_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of a segment that predict's probe encodes, in probe_runs evenly spaced runs (1: all"
        " of it). Below 1 needs an FFmpeg with loopback decoders (7.0 or later) and runs of 12 frames or more;"
        " otherwise the whole segment is probed.",
    )
    probe_runs: int = Field(
        1, ge=1, le=10, description="How many runs a partial probe (probe_share < 1) takes."
    )
    probe_size: Literal["auto", "full", "half"] = Field(
        "auto",
        description="Picture size of predict's probes: half costs a probe about a third less (every 3rd frame"
        " scored); auto: half where the encoder and metric were measured that way (SVT-AV1 with VMAF) and the"
        " picture is at least 640x360, else full.",
    )
    mode: Literal["verified", "audit"] = Field(
        "verified",
        description="verified: every encoded segment's score is measured; audit (predict only): the first 6,"
        " then 1 segment in 4 and every unsure prediction are measured, the rest reported as predicted and aimed"
        " clear of the floor by the film's own prediction errors (all measured while those are too loose).",
    )
    max_retries: int = Field(2, ge=0, le=10)
    max_encoded_percent: float = Field(
        80.0,
        gt=0,
        le=1000,
        description="The whole film's AV1 video must come out at most this share of the source's video.",
    )
    if_too_big: Literal["keep_source", "encode"] = Field(
        "keep_source",
        description="A film over max_encoded_percent: keep_source ends it as 'kept' (no output, the source is"
        " what you keep), encode places the output anyway with a warning.",
    )
    n_subsample: int = Field(
        5, ge=1, le=100, description="Score every n-th frame, where the metric can (VMAF; XPSNR scores all)."
    )
    cache: bool = Field(True, description="Remember probe results in the state dir.")


class QualityConfig(Section):
    """What the chunked path aims at, and how it judges a segment."""

    metric: Literal["auto", "vmaf", "xpsnr"] = Field(
        "auto",
        description="auto: VMAF, except for HDR (PQ, HLG) films, where VMAF is not valid and XPSNR is used.",
    )
    target: float | None = Field(
        None,
        gt=0,
        le=100,
        description="The score each segment aims at, in the metric's unit (VMAF points, XPSNR dB of luma);"
        " with metric auto, the SDR films' (VMAF) target. Unset: the metric's default (VMAF 93, XPSNR 40 dB).",
    )
    hdr_target: float | None = Field(
        None,
        gt=0,
        le=100,
        description="With metric auto: the target of HDR films, in the HDR metric's unit (XPSNR dB)."
        " Unset: its default for the picture (38.5 dB on PQ, 35 on HLG).",
    )
    pooling: Literal["mean", "perc5", "harmonic"] = Field(
        "mean",
        description="How frame scores make a segment's: mean (the metric's own whole-file figure), perc5 (the"
        " 5th percentile: the worst frames decide), harmonic.",
    )


#: Keys that moved: old dotted name → new. An old name still works, with one line saying the new one.
RENAMED_KEYS = {
    "encoding.vmaf_target": "quality.target",
    "search.pooling": "quality.pooling",
}


class AudioConfig(Section):
    bitrate_mono: int = Field(64, ge=6, le=512, description="Opus kbit/s for 1 channel.")
    bitrate_stereo: int = Field(128, ge=6, le=512)
    bitrate_5_1: int = Field(256, ge=6, le=1024)
    bitrate_7_1: int = Field(384, ge=6, le=1024)
    bitrate_per_channel: int = Field(48, ge=6, le=256, description="Other layouts: kbit/s per channel.")

    def bitrate_for(self, channels: int) -> int:
        return {1: self.bitrate_mono, 2: self.bitrate_stereo, 6: self.bitrate_5_1, 8: self.bitrate_7_1}.get(
            channels, self.bitrate_per_channel * max(channels, 1)
        )


class ResourcesConfig(Section):
    memory_floor: ByteSize = Field(parse_size("1GiB"), description="Keep this much memory available.")
    temp_free_floor: ByteSize = Field(parse_size("2GiB"), description="Refuse work below this free space.")
    encoder_threads: int = Field(0, ge=0, le=256, description="SVT-AV1 lp per encode; 0 = automatic.")
    nice: int = Field(0, ge=0, le=19, description="Niceness added to encodes.")
    sample_interval: float = Field(1.0, gt=0, le=60, description="Seconds between resource samples.")


class ToolsConfig(Section):
    ffmpeg: str = Field("", description="FFmpeg to run; '' = the embedded imageio-ffmpeg build.")
    ab_av1: str = Field("ab-av1", description="ab-av1 binary for encoding.search_backend = 'ab-av1'.")


class OutputConfig(Section):
    dir: str = Field("", description="Where finished files go; '' = <user videos dir>/drapto-tui.")
    overwrite: bool = Field(False, description="Replace an existing output file.")
    layout: Literal["flat", "mirror"] = Field(
        "flat",
        description="flat: <dir>/<name>.mkv; mirror: repeat the source's folders below the folder given."
        " Two films with one name get 'name (2).mkv'.",
    )
    report: bool = Field(
        False,
        description="Also write '<name>.segments.svg' beside each output: every segment's VMAF against the"
        " target and its CRF, over film time.",
    )


class UIConfig(Section):
    theme: str = Field(
        "drapto-dark",
        description="Theme name: a shipped theme or a TOML file in the user themes folder (T cycles in the app).",
    )
    refresh_hz: float = Field(10.0, gt=0, le=60, description="Most redraws per second per widget.")
    escape_delay_ms: int = Field(
        25,
        ge=1,
        le=1000,
        description="How long a lone Esc waits for the rest of an escape sequence (an arrow key, an Alt chord)"
        " before it counts as Esc. Raise it if arrow keys act as Esc over a slow link; the environment's"
        " ESCDELAY, when set, wins.",
    )
    keys: dict[str, str] = Field(
        default_factory=dict,
        description="Your keys for the app's actions, by action id (README: The app), as Textual names keys,"
        ' comma-separated: e.g. { pause = "p", quit = "ctrl+q,q" }.',
    )


class ExecutionConfig(Section):
    backend: Literal["local", "dask", "dask-local"] = Field(
        "local",
        description="Where segments encode: local (this machine), dask (the Dask scheduler at"
        " execution.scheduler), dask-local (a Dask cluster of execution.workers processes started here).",
    )
    scheduler: str = Field(
        "", description="The Dask scheduler's address for backend 'dask', e.g. tcp://host:8786."
    )
    workers: int = Field(
        2, ge=1, le=256, description="Worker processes of backend 'dask-local' (one thread each)."
    )
    shared_path: str = Field(
        "",
        description="Set when every worker mounts the coordinator's temp and source folders at the same paths:"
        " paths are passed instead of the segments' bytes.",
    )

    @model_validator(mode="after")
    def _scheduler_given(self) -> ExecutionConfig:
        if self.backend == "dask" and not self.scheduler:
            raise ValueError("backend 'dask' needs execution.scheduler (e.g. tcp://host:8786)")
        return self


class HooksConfig(Section):
    on_job_end: list[str] = Field(
        default_factory=list,
        description="A command run when a job ends, as an argument list (no shell), e.g. ['notify-send',"
        " 'drapto-tui']; the job's facts are in DRAPTO_* environment variables (README).",
    )
    timeout: float = Field(60.0, gt=0, le=86400, description="Seconds a hook may run before it is killed.")


class ServiceConfig(Section):
    idle_exit: float = Field(
        600.0,
        ge=0,
        description="Seconds the service stays with nothing queued or running, no client and no watched folder"
        " before it exits; 0 = never.",
    )
    client_timeout: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds a client may leave the service's messages unread before it is disconnected (the"
        " others are never kept waiting).",
    )


class WebConfig(Section):
    max_sessions: int = Field(
        4, ge=1, le=64, description="Browser tabs served at once (each runs an app process); more get a page."
    )


class LibraryRules(Section):
    """Which films of a library are left alone, and why (`drapto-tui scan` says it for each)."""

    skip_codecs: list[str] = Field(
        default_factory=lambda: ["AV1"],
        description="Video formats left as they are, as MediaInfo names them (AV1, HEVC, AVC, VC-1, MPEG Video).",
    )
    skip_hevc_below_kbps: int = Field(
        0,
        ge=0,
        description="Leave HEVC films whose overall bitrate is under this many kbit/s (already efficient);"
        " 0 = encode HEVC like any other.",
    )
    min_size: ByteSize = Field(0, description="Leave films smaller than this (e.g. 500MB); 0 = any size.")
    min_kbps: int = Field(
        0, ge=0, description="Leave films whose overall bitrate is under this many kbit/s; 0 = any bitrate."
    )
    skip_own: bool = Field(
        True, description="Leave files drapto-tui made (it tags its outputs with DRAPTO_TUI=version)."
    )
    max_failures: int = Field(
        3,
        ge=0,
        description="After this many failed encodes a film is left out of folder adds, scans and watch folders,"
        " with its last error, until it is retried (r in the app, or given by its own path); 0 = never.",
    )
    replace: bool = Field(
        False,
        description="Replace in place: once an encode passes validation it takes the source's place (same folder,"
        " same name, .mkv) and the source moves to library.trash_dir; `drapto-tui restore` puts it back.",
    )


class LibraryFolder(LibraryRules):
    """Rules for the films under one folder: the keys given here replace the [library] ones there."""

    path: str = Field(description="The folder these rules are for (the films below it, at any depth).")


class LibraryConfig(LibraryRules):
    folders: list[LibraryFolder] = Field(
        default_factory=list,
        description="Per-folder rules, as [[library.folders]] tables with a path; the deepest matching folder wins.",
    )
    trash_dir: str = Field(
        "",
        description="Where replaced originals go; empty = a hidden .drapto-trash folder beside each film (the same"
        " filesystem, so the move is a rename). A folder on another filesystem means a copy.",
    )
    trash_days: int = Field(
        30,
        ge=0,
        description="Days a replaced original stays in the trash before it is deleted (never sooner); 0 = keep"
        " them until you delete them.",
    )

    def rules_for(self, file: Path) -> LibraryRules:
        """The rules that apply to this film: [library]'s, with the keys its deepest [[library.folders]] sets."""
        best: LibraryFolder | None = None
        resolved = file.expanduser().resolve()
        for folder in self.folders:
            root = Path(folder.path).expanduser().resolve()
            if resolved.is_relative_to(root) and (
                best is None or len(root.parts) > len(Path(best.path).expanduser().resolve().parts)
            ):
                best = folder
        own = {name: getattr(self, name) for name in LibraryRules.model_fields}
        if best is not None:
            own |= {
                name: getattr(best, name)
                for name in best.model_fields_set
                if name in LibraryRules.model_fields
            }
        return LibraryRules(**own)


class ScheduleConfig(Section):
    """When the queue may run: time windows, and a command that says "yield now" (someone is streaming)."""

    windows: list[str] = Field(
        default_factory=list,
        description='Local-time windows in which jobs run, e.g. ["01:00-07:00", "13:00-14:00"] (a window may'
        " cross midnight); outside them no job starts and running ones pause. Empty = any time.",
    )
    pause_when: list[str] = Field(
        default_factory=list,
        description='A command and its arguments, run every schedule.check_every seconds; exit 0 means "yield'
        ' now": running jobs pause and none starts until it exits non-zero. Empty = never.',
    )
    check_every: float = Field(
        30.0, gt=0, description="Seconds between looks at the windows and the pause_when command."
    )

    @field_validator("windows")
    @classmethod
    def _windows_parse(cls, value: list[str]) -> list[str]:
        for window in value:
            parse_window(window)  # a ValueError names the bad window
        return value


class DraptoConfig(Section):
    """The whole configuration; unknown keys anywhere are errors."""

    input: InputConfig = Field(default_factory=InputConfig)
    processing: ProcessingConfig = Field(default_factory=ProcessingConfig)
    encoding: EncodingConfig = Field(default_factory=EncodingConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    tools: ToolsConfig = Field(default_factory=ToolsConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)
    ui: UIConfig = Field(default_factory=UIConfig)
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    library: LibraryConfig = Field(default_factory=LibraryConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    #: Which layer set each dotted key (a file, an environment variable, --set); unset keys are defaults.
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    #: Lines for the user about how the configuration was read (an old key's new name), said once at start.
    _notices: list[str] = PrivateAttr(default_factory=list)

    def __eq__(self, other: object) -> bool:
        """Equal when the values are: where they came from does not make two configurations differ."""
        return isinstance(other, DraptoConfig) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]

    @property
    def notices(self) -> list[str]:
        return list(self._notices)

    def source_of(self, dotted: str) -> str:
        return self._sources.get(dotted, "default")

    def describe(self, dotted: str, message: str) -> str:
        """One config problem the way the loader reports them: key = value (from layer): why."""
        value: object = self
        for part in dotted.split("."):
            value = getattr(value, part)
        return f"{dotted} = {value!r} (from {self.source_of(dotted)}): {message}"

    def temp_root(self) -> Path:
        from drapto_tui.config.default import default_temp_dir

        return Path(self.processing.temp_dir).expanduser() if self.processing.temp_dir else default_temp_dir()

    def output_root(self) -> Path:
        from drapto_tui.config.default import default_output_dir

        return Path(self.output.dir).expanduser() if self.output.dir else default_output_dir()

    def parallel_jobs(self) -> int:
        import os

        if self.processing.parallel_jobs:
            return self.processing.parallel_jobs
        # Two one-thread encodes beat one two-thread encode on two cores: SVT-AV1's threads wait on each other
        # on short segments and small frames (issue 24: 37 segments of a 360p film, 38.9 s against 47.9 s).
        cores = os.cpu_count() or 2
        return max(2, cores // 2) if cores >= 2 else 1
