"""One file through analysis, path choice, video encode, audio, mux, validation and placement.

Every stage is announced by an event; failures become one ERROR_OCCURRED line (fatal for the job) and the
method returns False, so the caller's queue goes on. Nothing is written to the output path until the file
validated; a failed job keeps its temp files for inspection and retry.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from drapto_tui.config.schema import DraptoConfig
from drapto_tui.engine.bus import EventBus
from drapto_tui.engine.fold import StateManager
from drapto_tui.engine.library import rule_verdict
from drapto_tui.engine.output_names import exists_reason
from drapto_tui.engine.preflight import ffmpeg_needs
from drapto_tui.engine.replace import Swap, SwapJournal, replace_problem, swap_in, trash_root
from drapto_tui.engine.source_notes import refusal, source_changes
from drapto_tui.engine.space import DISK_FULL_HINT, check_output, disk_full_line, is_disk_full, nearly_full
from drapto_tui.engine.store import StateStore
from drapto_tui.engine.strategies.base import JobContext
from drapto_tui.engine.strategies.chunked import ChunkedStrategy
from drapto_tui.engine.strategies.dolby_vision import DolbyVisionStrategy
from drapto_tui.engine.workdirs import WorkDirs
from drapto_tui.errors import DiskFullError, DraptoError, MediaError, NotWorthEncoding
from drapto_tui.execution.base import Executor
from drapto_tui.execution.control import JobCancelled, JobControl
from drapto_tui.media.audio import encode_audio, opus_layout
from drapto_tui.media.crop import CropResult, detect_crop
from drapto_tui.media.ffmpeg import FfmpegError, current_tracker, fraction_listener
from drapto_tui.media.integrity import Damage, find_damage
from drapto_tui.media.interlace import detect_interlace
from drapto_tui.media.mux import mux, place_output
from drapto_tui.media.probe import not_a_file_error, probe
from drapto_tui.media.segment import count_packets
from drapto_tui.media.tools import FfmpegInfo, require_ffmpeg
from drapto_tui.media.validate import ValidationReport, hdr_label, validate_output
from drapto_tui.model.events import (
    AnalysisComplete,
    AnalysisStarted,
    EncodingComplete,
    ErrorOccurred,
    JobUpdated,
    Notice,
    Payload,
    ProcessingStatus,
    StageStarted,
)
from drapto_tui.model.events import (
    JobCancelled as CancelledPayload,
)
from drapto_tui.model.media import MediaProbe
from drapto_tui.model.source_identity import SourceIdentity
from drapto_tui.model.state import ProcessingStage, ProcessingState
from drapto_tui.quality.report import write_report


class EncodingOptions(BaseModel):
    job_id: str
    overwrite: bool = False
    #: Found by searching a folder (or a watched one): the library's rules decide whether it is encoded at all.
    from_folder: bool = False
    #: Library mode: the validated output takes the source's place, the original goes to the trash.
    replace: bool = False


@dataclass
class FilmRun:
    """One run of one film through the stages: each stage reads what the earlier ones set here. A field with no
    default is set by the stage that makes it (reading it sooner is a bug, and raises AttributeError)."""

    source: Path
    output: Path
    options: EncodingOptions
    control: JobControl
    started: float = field(default_factory=time.monotonic)
    identity: SourceIdentity = field(init=False)
    ffmpeg: FfmpegInfo = field(init=False)
    media: MediaProbe = field(init=False)
    damage: Damage | None = None
    changes: list[str] = field(default_factory=list)
    crop: CropResult = field(init=False)
    deinterlace: Literal["tff", "bff"] | None = None
    ctx: JobContext = field(init=False)
    strategy: ChunkedStrategy | DolbyVisionStrategy = field(init=False)
    video: Path = field(init=False)
    audio: Path | None = None
    audio_task: asyncio.Task[Path | None] = field(init=False)
    built: Path = field(init=False)
    output_frames: int | None = None
    validation: ValidationReport = field(init=False)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        return self.options.job_id


class ProcessingPipeline:
    def __init__(
        self,
        config: DraptoConfig,
        state: StateManager,
        bus: EventBus,
        *,
        workdirs: WorkDirs,
        executor: Executor,
        cache: StateStore | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.bus = bus
        self.workdirs = workdirs
        self.executor = executor  # where segment encodes run
        self.cache = cache  # the search cache
        self.swaps = SwapJournal(workdirs.state / "swaps")  # replace-in-place swaps under way
        self._ffmpeg: FfmpegInfo | None = None

    async def ffmpeg(self) -> FfmpegInfo:
        if self._ffmpeg is None:
            self._ffmpeg = await require_ffmpeg(self.config.tools.ffmpeg, ffmpeg_needs(self.config))
        return self._ffmpeg

    def _emit(
        self, payload: Payload, job_id: str, source: Path, status: ProcessingStatus | None = None
    ) -> None:
        self.bus.emit(payload, job_id=job_id, file=source, status=status)

    async def process(
        self,
        input_file: Path,
        output_file: Path,
        options: EncodingOptions,
        *,
        control: JobControl | None = None,
    ) -> bool:
        """One film from source to placed output; `control` is how the scheduler pauses and cancels it."""
        job_id = options.job_id
        control = control or JobControl()
        token = current_tracker.set(control)
        try:
            return await self._process(Path(input_file), Path(output_file), options, control)
        except JobCancelled:
            self._cancelled(job_id, input_file)
            return False
        except NotWorthEncoding as kept:
            self._emit(
                EncodingComplete(
                    output=str(output_file),
                    skipped=True,
                    kept_source=True,
                    reason=kept.reason,
                    max_encoded_percent=None if kept.by_rule else self.config.search.max_encoded_percent,
                    by_rule=kept.by_rule,
                ),
                job_id,
                input_file,
                status=ProcessingStatus.KEPT,
            )
            self.workdirs.finish_job(job_id, success=True)
            return True
        except DraptoError as err:
            if control.cancelled:  # an FFmpeg ended by the cancel, not a real failure
                self._cancelled(job_id, input_file)
                return False
            stderr_tail = err.result.stderr_tail[-12:] if isinstance(err, FfmpegError) else []
            full = (isinstance(err, FfmpegError) and err.disk_full) or nearly_full(self.workdirs.base_dir)
            if full and not isinstance(err, DiskFullError):
                err = DiskFullError(
                    disk_full_line(self.workdirs.base_dir), subject=str(input_file), hint=DISK_FULL_HINT
                )
            if isinstance(err, DiskFullError):
                self._free_after_disk_full(job_id)
            line = err.line()
            if str(input_file) not in line:
                line = f"{input_file}: {line}"
            self._emit(
                ErrorOccurred(
                    message=line, fatal=True, stderr_tail=stderr_tail, outside=err.outside_the_film
                ),
                job_id,
                input_file,
                status=ProcessingStatus.FAILED,
            )
            return False
        except Exception as exc:
            if is_disk_full(exc):
                self._free_after_disk_full(job_id)
                self._emit(
                    ErrorOccurred(
                        message=f"{input_file}: {disk_full_line(self.workdirs.base_dir)} — {DISK_FULL_HINT}",
                        fatal=True,
                        outside=True,
                    ),
                    job_id,
                    input_file,
                    status=ProcessingStatus.FAILED,
                )
                return False
            import traceback

            try:
                with (self.workdirs.logs / "crashes.log").open("a", encoding="utf-8") as log:
                    log.write(f"--- {input_file}\n{traceback.format_exc()}\n")
            except OSError:
                pass
            self._emit(
                ErrorOccurred(
                    message=f"{input_file}: unexpected {type(exc).__name__}: {exc} — the traceback is in"
                    f" {self.workdirs.logs / 'crashes.log'}; please report it",
                    fatal=True,
                ),
                job_id,
                input_file,
                status=ProcessingStatus.FAILED,
            )
            return False
        finally:
            current_tracker.reset(token)

    def _free_after_disk_full(self, job_id: str) -> None:
        """A job stopped by a full disk gives back what a retry can make again (its stream-copied segments and
        working files) and keeps its encoded segments, so the queue and the state store can go on."""
        dirs = self.workdirs.job_dirs(job_id, create=False)
        for path in (dirs.segments, dirs.working):
            shutil.rmtree(path, ignore_errors=True)

    def _write_report(self, job: ProcessingState, source: Path, output: Path) -> str | None:
        """The segments chart beside the output (output.report). A report that cannot be written is a warning:
        the film itself is done and placed."""
        try:
            return str(write_report(job, output))
        except OSError as exc:
            self._emit(
                ErrorOccurred(
                    severity="warning",
                    message=f"{output}: the segments chart was not written ({exc.strerror or exc})",
                ),
                job.job_id,
                source,
            )
            return None

    def _cancelled(self, job_id: str, source: Path) -> None:
        self._emit(CancelledPayload(), job_id, source, status=ProcessingStatus.CANCELLED)
        self.workdirs.remove_job(job_id)

    async def _process(
        self, source: Path, output: Path, options: EncodingOptions, control: JobControl
    ) -> bool:
        """Run the film through each stage in order. A stage ends the run early by returning its result (an
        output that is already there, a probe that failed); between stages a pause waits and a cancel stops."""
        film = FilmRun(source=source, output=output, options=options, control=control)
        stages = (
            self._check_start,
            self._analyse,
            self._check_picture,
            self._detect_crop,
            self._plan,
            self._encode_video,
            self._encode_audio,
            self._mux,
            self._validate,
            self._place,
        )
        try:
            for stage in stages:
                ended = await stage(film)
                if ended is not None:
                    return ended
                await control.checkpoint()
            return True
        finally:
            audio = getattr(film, "audio_task", None)
            if audio is not None and not audio.done():  # the job ended before its audio was waited for
                audio.cancel()
                await asyncio.gather(audio, return_exceptions=True)

    # -- the stages, in order (each reads what the ones before it left on the FilmRun) ----------------------
    async def _check_start(self, film: FilmRun) -> bool | None:
        """An output already there ends the run as done; else the source's identity (a changed source drops
        its finished work), the output path and the temp space are checked before any work."""
        if film.options.replace:
            problem = replace_problem(film.source, film.output, trash_root(film.source, self.config))
            if problem is not None:
                raise MediaError(problem, subject=str(film.source))
        elif film.output.exists() and not (film.options.overwrite or self.config.output.overwrite):
            self._emit(
                EncodingComplete(skipped=True, output=str(film.output), reason=exists_reason(film.output)),
                film.job_id,
                film.source,
                status=ProcessingStatus.COMPLETED,
            )
            return True
        film.identity = self._source_identity(film.job_id, film.source)
        check_output(
            film.output, source=film.source, source_size=film.identity.size, temp_dir=self.workdirs.base_dir
        )
        self.workdirs.ensure_free_space(str(film.source))
        film.ffmpeg = await self.ffmpeg()
        return None

    async def _analyse(self, film: FilmRun) -> bool | None:
        """Probe the film (a failed probe ends the run in one line) and refuse what cannot be encoded."""
        media = await self._analyze(film.job_id, film.source, film.ffmpeg.path)
        if media is None:
            return False
        refused = refusal(media, self.config)
        if refused is not None:
            raise refused
        if film.options.from_folder and (
            why := rule_verdict(media, self.config.library.rules_for(film.source))
        ):
            raise NotWorthEncoding(why, by_rule=True)
        film.media = media
        return None

    async def _check_picture(self, film: FilmRun) -> None:
        """A truncated or damaged picture is found before any encode; what the output cannot keep is said."""
        film.damage = await self._damage(film.job_id, film.source, film.media, film.ffmpeg.path)
        film.changes = source_changes(film.media, self.config.encoding.pixel_format)
        for line in film.changes:
            self._emit(Notice(stage="analysis", message=line), film.job_id, film.source)

    async def _detect_crop(self, film: FilmRun) -> None:
        media = film.media
        if not self.config.encoding.crop:
            film.crop = CropResult(None, media.width, media.height, 0, 0)
            return
        self._emit(
            StageStarted(stage=ProcessingStage.ANALYZING.value, step="crop detection"),
            film.job_id,
            film.source,
        )
        film.crop = await detect_crop(
            film.ffmpeg.path,
            str(film.source),
            width=media.width,
            height=media.height,
            duration=media.duration,
            hdr=media.hdr,
            stream=media.video_stream,
        )

    async def _plan(self, film: FilmRun) -> None:
        """Deinterlacing, then the path: Dolby Vision encodes whole, the rest in scenes."""
        film.deinterlace = await self._deinterlace(film.job_id, film.source, film.media, film.ffmpeg.path)
        ctx = film.ctx = JobContext(
            job_id=film.job_id,
            source=film.source,
            media=film.media,
            config=self.config,
            ffmpeg=film.ffmpeg,
            dirs=self.workdirs.job_dirs(film.job_id),
            bus=self.bus,
            control=film.control,
            crop=film.crop,
            identity=film.identity,
            cache=self.cache,
            previous=self.state.get_current_state(film.job_id),
            executor=self.executor,
            deinterlace=film.deinterlace,
        )
        if film.deinterlace:
            ctx.stats["deinterlaced"] = f"bwdif, {film.deinterlace}"
        if film.damage is not None:
            ctx.stats["damaged"] = film.damage.line()
        film.strategy = (
            DolbyVisionStrategy(ctx) if film.media.encoding_path == "dolby_vision" else ChunkedStrategy(ctx)
        )
        crop = film.crop
        if crop.crop:
            self._emit(
                StageStarted(
                    stage=ProcessingStage.ANALYZED.value,
                    crop=crop.crop,
                    note=f"letterbox crop {crop.crop} ({crop.votes}/{crop.samples} samples)",
                ),
                film.job_id,
                film.source,
            )

    async def _encode_video(self, film: FilmRun) -> None:
        """The video, with the audio encoded alongside it (its own FFmpeg, the job's pause and cancel reach it
        too): the audio no longer waits for the last segment. An audio that fails stops the video at once."""
        audio = film.audio_task = asyncio.create_task(self._audio(film))
        video = asyncio.create_task(film.strategy.run())
        try:
            await asyncio.wait({video, audio}, return_when=asyncio.FIRST_EXCEPTION)
            if audio.done() and not audio.cancelled() and audio.exception() is not None:
                audio.result()  # raises the audio's error; the video is stopped below
            film.video = await video
        except BaseException:
            for task in (video, audio):  # a cancel or a failure of the job: neither FFmpeg outlives it
                task.cancel()
            await asyncio.gather(video, audio, return_exceptions=True)
            raise
        await film.control.checkpoint()
        self._verify_source(film.source, film.identity)  # the audio is read from the source: the same film

    async def _audio(self, film: FilmRun) -> Path | None:
        media = film.media
        for track in media.audio:
            _, widened = opus_layout(track)
            if widened:
                self._emit(
                    Notice(stage="audio", message=f"audio track {track.index}: {widened}"),
                    film.job_id,
                    film.source,
                )
        return await encode_audio(
            film.ffmpeg.path,
            film.source,
            film.ctx.dirs.working / "audio.mka",
            media.audio,
            self.config.audio,
            duration=media.duration,
        )

    async def _encode_audio(self, film: FilmRun) -> None:
        """The audio that began with the video: waited for (said as the audio stage) when it is not done yet."""
        if not film.audio_task.done():
            self._emit(
                StageStarted(stage=ProcessingStage.AUDIO.value, tracks=len(film.media.audio)),
                film.job_id,
                film.source,
            )
        film.audio = await film.audio_task

    async def _mux(self, film: FilmRun) -> None:
        self._emit(StageStarted(stage=ProcessingStage.MUXING.value), film.job_id, film.source)
        meter = film.ctx.step_meter()  # a 2-hour film's mux copies every byte of it: tens of seconds
        film.built = await mux(
            film.ffmpeg.path,
            film.source,
            film.video,
            film.audio,
            film.ctx.dirs.working / "output.mkv",
            film.media,
            on_progress=fraction_listener(meter),
        )

    async def _validate(self, film: FilmRun) -> None:
        """The built file against the source (frames, duration, tracks, colour, DV); a failure keeps the job's
        files for inspection and nothing reaches the output path."""
        self._emit(StageStarted(stage=ProcessingStage.VALIDATING.value), film.job_id, film.source)
        source_frames = getattr(film.strategy, "source_frames", None) or film.media.frame_count
        film.output_frames = await count_packets(film.ffmpeg.path, film.built)
        film.validation = await validate_output(
            film.ffmpeg.path,
            film.built,
            film.media,
            width=film.crop.width,
            height=film.crop.height,
            source_frames=source_frames,
            output_frames=film.output_frames,
            dolby_vision=film.strategy.keeps_dolby_vision,
            progressive=film.deinterlace is not None,
            duration=None if film.damage is None else film.damage.data_end,
        )
        film.figures = await film.strategy.finalize()
        if not film.validation.ok:
            from drapto_tui.media.validate import ValidationError

            raise ValidationError(
                "; ".join(film.validation.problems),
                subject=str(film.source),
                hint=f"the job's files are kept in {film.ctx.dirs.working.parent.parent}",
            )

    async def _place(self, film: FilmRun) -> bool:
        """The validated file takes the output path (the source checked once more), or in replace mode the
        source's own place (engine/replace.py), and the summary is said."""
        self._verify_source(film.source, film.identity)
        job = self.state.jobs.get(film.job_id)
        if film.options.replace:
            swap = Swap.plan(film.job_id, film.source, trash_root(film.source, self.config))
            swap.kept.parent.mkdir(parents=True, exist_ok=True)  # the chart goes beside the original
            summary = self._summary(
                film,
                swap.target,
                film.built.stat().st_size,
                job,
                report_beside=swap.kept,
                replaced=str(swap.source),
                original_kept=str(swap.kept),
            )
            await asyncio.to_thread(swap_in, swap, film.built, self.swaps, summary.model_dump(mode="json"))
            self._emit(summary, film.job_id, film.source, status=ProcessingStatus.COMPLETED)
            self.swaps.remove(film.job_id)
        else:
            final = place_output(
                film.built, film.output, overwrite=film.options.overwrite or self.config.output.overwrite
            )
            summary = self._summary(film, final, final.stat().st_size, job, report_beside=final)
            self._emit(summary, film.job_id, film.source, status=ProcessingStatus.COMPLETED)
        self.workdirs.finish_job(film.job_id, success=True)
        return True

    def _summary(
        self,
        film: FilmRun,
        final: Path,
        out_bytes: int,
        job: ProcessingState | None,
        *,
        report_beside: Path,
        **replaced: str,
    ) -> EncodingComplete:
        """The job's summary: sizes, time, what the output is, and the strategy's figures."""
        media, crop = film.media, film.crop
        # Working time over every run of a resumed job (the fold's count), not only this run's.
        wall = job.active_time() if job is not None else time.monotonic() - film.started
        report_path = (
            self._write_report(job, film.source, report_beside)
            if self.config.output.report and job is not None
            else None
        )
        strategy_figures = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in film.figures.items()}
        return EncodingComplete(
            output=str(final),
            input_bytes=media.size,
            output_bytes=out_bytes,
            reduction_percent=round(100.0 * (1 - out_bytes / max(media.size, 1)), 2),
            wall_seconds=round(wall, 3),
            fps=round((film.output_frames or 0) / max(wall, 1e-6), 2),
            encoding_path=media.encoding_path,
            hdr=hdr_label(film.validation.output),
            crop=crop.crop,
            changes=film.changes,
            width=crop.width,
            height=crop.height,
            **({"report": report_path} if report_path is not None else {}),
            **strategy_figures,
            **replaced,
        )

    async def _damage(self, job_id: str, source: Path, media: MediaProbe, ffmpeg: str) -> Damage | None:
        """A truncated or damaged source, found before any encode: refused in one line (input.damaged =
        "refuse"), or said and encoded as far as its data goes ("encode")."""
        self._emit(
            StageStarted(stage=ProcessingStage.ANALYZING.value, step="checking the end of the picture"),
            job_id,
            source,
        )
        damage = await find_damage(ffmpeg, source, media)
        if damage is None:
            return None
        if self.config.input.damaged == "refuse":
            raise MediaError(
                damage.line(),
                subject=str(source),
                hint='copy it again from its origin, or set input.damaged = "encode" to encode what is there',
            )
        self._emit(
            Notice(
                stage="analysis",
                message=f'{damage.line()}; encoding what is there (input.damaged = "encode")',
            ),
            job_id,
            source,
        )
        return damage

    async def _deinterlace(
        self, job_id: str, source: Path, media: MediaProbe, ffmpeg: str
    ) -> Literal["tff", "bff"] | None:
        """Which field order to deinterlace with (None: leave the pictures as they are), said in one note."""
        mode = self.config.encoding.deinterlace
        if mode == "off":
            return None
        found = await detect_interlace(ffmpeg, source, media)
        if not found.interlaced and mode == "auto":
            return None
        order = found.order or "tff"
        why = f"interlaced ({order}, {found.how})" if found.interlaced else "encoding.deinterlace = on"
        self._emit(
            StageStarted(
                stage=ProcessingStage.ANALYZED.value,
                note=f"{why}: deinterlaced with bwdif, one frame per frame, tagged progressive",
            ),
            job_id,
            source,
        )
        return order

    async def _analyze(self, job_id: str, path: Path, ffmpeg: str) -> MediaProbe | None:
        """Probe the film; bad input is one ERROR_OCCURRED line (fatal for the job) and None."""
        self.bus.emit(AnalysisStarted(), job_id=job_id, file=path, status=ProcessingStatus.RUNNING)
        try:
            media = await probe(path, ffmpeg)
        except DraptoError as err:
            self.bus.emit(
                ErrorOccurred(message=err.line(), stage="analysis", fatal=True),
                job_id=job_id,
                file=path,
                status=ProcessingStatus.FAILED,
            )
            return None
        self.bus.emit(
            AnalysisComplete(media=media, encoding_path=media.encoding_path), job_id=job_id, file=path
        )
        return media

    def _source_identity(self, job_id: str, source: Path) -> SourceIdentity:
        """The source's identity now; when it differs from the one the job's finished work came from, that work
        is discarded (one line says why) and the film starts again from scratch."""
        identity = _read_identity(source)
        job = self.state.jobs.get(job_id)
        if job is None:
            return identity
        recorded = job.source
        changes = identity.changes_from(recorded) if recorded is not None else []
        unbound_work = recorded is None and (
            bool(job.segments)
            or any(
                p.is_dir() and any(p.iterdir()) for p in self.workdirs.job_dirs(job_id, create=False).all()
            )
        )
        if changes or unbound_work:
            why = ", ".join(changes) if changes else "no record of the file its finished work came from"
            self._emit(
                ErrorOccurred(
                    stage="analysis",
                    severity="warning",
                    message=f"{source}: the source changed since this job started ({why}); its finished work"
                    " is discarded and the film is encoded again from the start",
                ),
                job_id,
                source,
            )
            self.workdirs.remove_job(job_id)
            self.bus.emit(JobUpdated(restart=True), job_id=job_id, file=source)
        if changes or recorded is None:
            self.bus.emit(JobUpdated(source=identity), job_id=job_id, file=source)
        return identity

    @staticmethod
    def _verify_source(source: Path, identity: SourceIdentity) -> None:
        changes = _read_identity(source).changes_from(identity)
        if changes:
            raise MediaError(
                f"the source changed while it was being encoded ({', '.join(changes)})",
                subject=str(source),
                hint="run the job again when the file is final: it will start over from scratch",
            )


def _read_identity(source: Path) -> SourceIdentity:
    try:
        not_a_file = not_a_file_error(source, os.stat(source).st_mode)
        if not_a_file is not None:  # never open a pipe or a device to fingerprint it
            raise not_a_file
        return SourceIdentity.of(source)
    except FileNotFoundError:
        raise MediaError(
            "the source file is gone",
            subject=str(source),
            hint="put it back and retry the job, or remove the job from the queue",
        ) from None
    except OSError as exc:
        raise MediaError(
            f"cannot read the source ({exc.strerror})",
            subject=str(source),
            hint="check that the file is readable",
        ) from None


__all__ = ["EncodingOptions", "ProcessingPipeline"]
