"""The quality path: segments, a quality-targeted CRF search per segment, parallel encodes, measured scores, concat.

The coordinator's half: cut the segments, submit one SegmentSpec per segment to the executor (which runs
quality/segment_runner.run_segment somewhere), turn its reports into events, keep its probes in the search
cache and move each finished segment into encoded/ (only when complete), then join them. A resumed job skips
every segment whose file is there and whose state says done.

search.max_encoded_percent judges the whole film, never one segment: after each segment the film's AV1 size
is projected from the segments done (their share of the source's video bytes scaled up), and once half the
source is encoded a projection over the limit ends the job as KEPT (no output: the source is what the user
keeps), as does the exact size when every segment is done; with search.if_too_big = "encode" the film is
finished anyway and one warning says by how much it missed.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from drapto_tui.engine.strategies.base import EncodingStrategy
from drapto_tui.errors import MediaError, NotWorthEncoding, ToolError
from drapto_tui.execution.control import JobCancelled
from drapto_tui.media.encoders import DEFAULT_ENCODER, encoder_named
from drapto_tui.media.ffmpeg import FfmpegError
from drapto_tui.media.mux import concat_segments
from drapto_tui.media.segment import CutRules, count_packets, segment_video
from drapto_tui.model.events import (
    EncodingStarted,
    ErrorOccurred,
    Notice,
    ProbeStep,
    SearchStep,
    SegmentComplete,
    SegmentPlan,
    SegmentProgress,
    SegmentStarted,
    StageStarted,
)
from drapto_tui.model.segment import (
    CachedProbe,
    PhaseReport,
    ProbeReport,
    ProgressReport,
    QualityModel,
    SearchSettings,
    Segment,
    SegmentReport,
    SegmentSpec,
    half_size,
)
from drapto_tui.model.state import ProcessingStage, SegmentStatus
from drapto_tui.quality.ab_av1 import find_ab_av1
from drapto_tui.quality.aim import quality_aim
from drapto_tui.quality.audit import AuditPolicy
from drapto_tui.quality.calibration import calibration
from drapto_tui.quality.crf_search import cache_segment_identity, escalate, probe_cache_prefix
from drapto_tui.quality.predictive import half_size_probes, probe_settings, probe_video


class ChunkedStrategy(EncodingStrategy):
    name = "chunked"

    async def initialize_encoding(self) -> None:
        cfg = self.ctx.config
        self.parallel = cfg.parallel_jobs()
        self.ab_av1 = find_ab_av1(cfg.tools.ab_av1) if cfg.encoding.search_backend == "ab-av1" else None
        # The metric this film is judged by (an HDR film's default differs: quality/aim.py) and its window.
        self.aim = quality_aim(cfg, self.ctx.media.color_transfer)
        if self.aim.metric.ffmpeg_filter not in self.ctx.ffmpeg.filters:
            raise ToolError(
                f"this FFmpeg has no {self.aim.metric.ffmpeg_filter} filter, which {self.aim.metric.label} needs",
                subject=self.ctx.ffmpeg.path,
                hint="use an FFmpeg built with it (xpsnr: FFmpeg 7.1 or later), or set quality.metric",
            )
        encoder = encoder_named(cfg.encoding.encoder)
        self.search = SearchSettings(
            metric=self.aim.metric.name,
            target=self.aim.target,
            tolerance=self.aim.tolerance,
            min_crf=cfg.encoding.min_crf,
            max_crf=cfg.encoding.max_crf,
            samples=cfg.search.samples,
            sample_duration=cfg.search.sample_duration,
            full_pass_share=cfg.search.full_pass_share,
            max_encoded_percent=cfg.search.max_encoded_percent,
            n_subsample=cfg.search.n_subsample,
            pooling=cfg.quality.pooling,
            strategy=cfg.search.strategy,
            probe_preset=encoder.probe_preset if cfg.search.probe_preset is None else cfg.search.probe_preset,
            step=encoder.crf_step,
            probe_share=cfg.search.probe_share,
            probe_runs=cfg.search.probe_runs,
            # An 8-bit source's probes are encoded and scored in 8 bits (quality/predictive.py).
            eight_bit_source=self.ctx.media.bit_depth == 8,
            probe_size=self._probe_size(encoder.name),
        )
        self._observed_r: list[float] = []
        # Audit mode leaves finals unmeasured as far as the film's own errors allow (quality/audit.py); while
        # they are too loose for it, every final is measured.
        self._verified = cfg.search.mode == "verified" or cfg.search.strategy != "predict"
        self._told_loose = False
        self._audit = AuditPolicy(
            floor=self.aim.target - self.aim.tolerance_below, ceiling=self.aim.target + self.aim.tolerance
        )
        self.plan_file = self.ctx.dirs.working / "segments.json"
        self._last_crf: float | None = None
        #: Each finished segment as its `segment_complete` payload (a resumed job's from its saved state).
        self.results: dict[int, SegmentComplete] = {}
        self._warned_size = False
        self._planned = False  # every segment of the film known (a long film's arrive while encoding begins)

    def _probe_size(self, encoder: str) -> str | None:
        """Half the output picture for predict's probes where search.probe_size says so (auto: where the pair was
        measured at half size and the picture is large enough), else None (full size)."""
        chosen = self.ctx.config.search.probe_size
        width, height = self.ctx.out_width, self.ctx.out_height
        if chosen == "full":
            return None
        if chosen == "auto":
            cal = calibration(encoder, self.aim.metric.name)
            if not half_size_probes(cal.half_size_factors is not None, width, height):
                return None
        return half_size(width, height)

    # -- segments ----------------------------------------------------------------------------------------
    async def prepare_video(self) -> None:
        """Take the plan a resumed job left, if any; otherwise `encode` cuts the film as it goes (a long film's
        segments arrive range by range while the rest is still being scene-scored, and encoding starts on
        them)."""
        self.segments: list[Segment] = []
        self.source_frames = 0
        self.film_end: float | None = None
        self._batches: asyncio.Queue[list[Segment] | None] = asyncio.Queue()
        self._cutting: asyncio.Task[list[Segment]] | None = None
        self._plan = self._load_plan()

    def _start_cutting(self) -> None:
        ctx = self.ctx
        if self._plan is not None:
            self._batches.put_nowait(self._plan)
            self._batches.put_nowait(None)
            return
        ctx.emit(StageStarted(stage=ProcessingStage.SEGMENTING.value))
        proc = ctx.config.processing
        threshold = proc.scene_threshold_hdr if ctx.media.hdr else proc.scene_threshold

        meter = ctx.step_meter()

        def new_step(step: str) -> None:
            ctx.emit(StageStarted(stage=ProcessingStage.SEGMENTING.value, step=step))
            meter.restart()

        def arrived(batch: list[Segment], film_end: float) -> None:
            self.film_end = film_end
            self._batches.put_nowait(batch)

        self._cutting = asyncio.create_task(
            segment_video(
                ctx.ffmpeg.path,
                ctx.source,
                ctx.dirs.segments,
                CutRules(
                    mode=proc.segmentation,
                    chunk_size=proc.chunk_size,
                    min_segment=proc.min_segment,
                    max_segment=proc.max_segment,
                    scene_threshold=threshold,
                    cut_tolerance=proc.cut_tolerance,
                    scene_range=proc.scene_range,
                    # H.264 encoders start a GOP at a scene change: scored first without B-frames (segment.py).
                    skip_b_frames=(ctx.media.video_codec or "").upper() == "AVC",
                ),
                duration=ctx.media.duration,
                stream=ctx.media.video_stream,
                pix_fmt=ctx.media.pix_fmt,
                on_step=new_step,
                on_note=lambda line: ctx.emit(Notice(stage="segmenting", message=f"{ctx.source}: {line}")),
                # The scene pass may take every core: until the first segments arrive nothing else runs, and
                # after that the encodes share the machine with it (media/segment.py).
                cores=os.cpu_count() or 1,
                on_segments=arrived,
                on_progress=meter,
                by_ranges=proc.cut_in_ranges == "always"
                or (proc.cut_in_ranges == "auto" and ctx.config.execution.backend != "local"),
            )
        )
        self._cutting.add_done_callback(lambda _: self._batches.put_nowait(None))

    def _write_plan(self) -> None:
        plan = {"source": self.ctx.identity.key, "segments": [s.model_dump() for s in self.segments]}
        self.plan_file.write_text(json.dumps(plan), encoding="utf-8")

    def _load_plan(self) -> list[Segment] | None:
        """A resumed job reuses its segment files (the plan is written only after they were all checked), only
        when they were cut from this very source."""
        try:
            plan = json.loads(self.plan_file.read_text(encoding="utf-8"))
            if not isinstance(plan, dict) or plan.get("source") != self.ctx.identity.key:
                return None
            segments = [Segment.model_validate(s) for s in plan["segments"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if all(Path(s.path).is_file() for s in segments):
            return segments
        return None

    def _encoded_path(self, seg: Segment) -> Path:
        return self.ctx.dirs.encoded / f"seg-{seg.index:04d}.mkv"

    def _already_done(self, seg: Segment) -> bool:
        prev = self.ctx.previous.segments.get(seg.index) if self.ctx.previous else None
        return (
            prev is not None
            and prev.status == SegmentStatus.DONE
            # A segment aimed at another metric, or made by another encoder (the config changed between runs), is
            # encoded again: a film is one encoder's, judged by one metric.
            and prev.metric == self.search.metric
            and (prev.encoder or DEFAULT_ENCODER) == self.ctx.config.encoding.encoder
            and self._encoded_path(seg).is_file()
            and prev.frames == seg.frames
            and abs(prev.start - seg.start) < 1e-3
            and abs(prev.end - seg.end) < 1e-3
        )

    # -- encode ------------------------------------------------------------------------------------------
    async def encode(self) -> Path:
        """Each batch of segments as it is cut: announced, then submitted (a resumed job's finished ones kept);
        the film is joined once every segment is encoded."""
        ctx = self.ctx
        tasks: list[asyncio.Task[None]] = []
        resumed_all = True
        try:
            self._start_cutting()
            while (batch := await self._batches.get()) is not None:
                self._fail_fast(tasks)
                self.segments += batch
                self.source_frames += sum(s.frames for s in batch)
                ctx.emit(
                    EncodingStarted(
                        path=self.name,
                        parallel=self.parallel,
                        metric=self.search.metric,
                        target=self.search.target,
                        tolerance_below=self.aim.tolerance_below,
                        segments=[
                            SegmentPlan(index=s.index, start=s.start, end=s.end, frames=s.frames)
                            for s in batch
                        ],
                        film_end=self.film_end,
                    )
                )
                for seg in batch:
                    if self._already_done(seg):
                        prev = ctx.previous.segments[seg.index]  # type: ignore[union-attr]
                        shared = set(SegmentComplete.model_fields) - {"segment"}
                        self.results[seg.index] = SegmentComplete.model_validate(
                            {"segment": prev.index, **prev.model_dump(include=shared)}
                        )
                        if prev.crf is not None:
                            self._last_crf = prev.crf
                        self._learn_error(self.results[seg.index])
                    else:
                        resumed_all = False
                        tasks.append(asyncio.create_task(self._run_segment(seg)))
            if self._cutting is not None:
                await self._cutting  # its error, if cutting failed
                self._write_plan()
            self._planned = True
            self._judge_size(final=resumed_all)
            # The first segment that fails for good fails the job; the others stop (their finished files stay).
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            if self._cutting is not None:
                self._cutting.cancel()
                await asyncio.gather(self._cutting, return_exceptions=True)
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        if tasks:
            self._judge_size(final=True)

        ctx.emit(StageStarted(stage=ProcessingStage.ENCODING.value, step="joining segments"))
        video = ctx.dirs.working / "video.mkv"
        await concat_segments(
            ctx.ffmpeg.path,
            [self._encoded_path(s) for s in self.segments],
            video,
            starts=[s.start for s in self.segments],
        )
        frames = await count_packets(ctx.ffmpeg.path, video)
        if frames != self.source_frames:
            raise MediaError(
                f"joined video has {frames} frames, the source {self.source_frames}",
                subject=str(ctx.source),
                hint="retry the job; report it if it happens again",
            )
        self._summarise(frames)
        return video

    @staticmethod
    def _fail_fast(tasks: list[asyncio.Task[None]]) -> None:
        """A segment that already failed for good fails the job now, not once the whole film is cut."""
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                task.result()

    def _source_bytes(self, seg: Segment) -> int:
        if seg.source_bytes is not None:
            return seg.source_bytes
        try:
            return Path(seg.path).stat().st_size
        except OSError:
            return 0

    def _judge_size(self, *, final: bool) -> None:
        """Raise NotWorthEncoding when the film's AV1 video would be over search.max_encoded_percent of the
        source's: projected once half the source's video is encoded, exact when all of it is."""
        if not self._planned:  # a share of a film still being cut is no share yet
            return
        search = self.ctx.config.search
        limit = search.max_encoded_percent
        done = [s for s in self.segments if (r := self.results.get(s.index)) is not None and r.bytes]
        source_done = sum(self._source_bytes(s) for s in done)
        source_total = sum(self._source_bytes(s) for s in self.segments)
        if not source_done or not source_total:
            return
        encoded_done = sum(self.results[s.index].bytes or 0 for s in done)
        projected = encoded_done * source_total / source_done
        percent = 100.0 * projected / source_total
        if percent <= limit or (not final and source_done * 2 < source_total):
            return
        share = f"{percent:.0f}% of the source's video"
        if not final or len(done) < len(self.segments):
            share = f"{share} (projected from {100 * source_done / source_total:.0f}% of the film)"
        if search.if_too_big == "encode":
            if final and not self._warned_size:
                self._warned_size = True
                self.ctx.emit(
                    ErrorOccurred(
                        stage="encoding",
                        severity="warning",
                        message=f"{self.ctx.source}: the AV1 video is {share}, over search.max_encoded_percent"
                        f' = {limit:g}; placed anyway (search.if_too_big = "encode")',
                    )
                )
            return
        raise NotWorthEncoding(
            f"the AV1 video would be {share}, over search.max_encoded_percent = {limit:g}: the source is kept"
            ' (raise the limit, or set search.if_too_big = "encode", to encode it anyway)'
        )

    def _summarise(self, frames: int) -> None:
        results = [self.results[s.index] for s in self.segments]
        crfs = [r.crf for r in results if r.crf is not None]
        scores = _segment_scores(results)
        self.ctx.stats.update(
            {
                "segments": len(self.segments),
                "frames": frames,
                "crf_min": min(crfs, default=None),
                "crf_max": max(crfs, default=None),
                "metric": self.search.metric,
                "score_min": min((v for v, _ in scores), default=None),
                "score_max": max((v for v, _ in scores), default=None),
                # Each output frame was measured once, in its segment: the frame-weighted mean is the file's mean.
                "score_file": self._file_score(scores),
                "probes_per_segment": (sum(len(r.probes) for r in results) / len(results)) if results else 0,
                "video_bytes": sum(self._encoded_path(s).stat().st_size for s in self.segments),
                "segments_predicted": sum(1 for r in results if r.score_measured is None),
            }
        )

    def _file_score(self, scores: list[tuple[float, int]]) -> float | None:
        """The whole film's figure from its segments', by the metric's own whole-file rule: each output frame
        was measured once, in its segment, so a segment's figure stands for its frames (VMAF: the
        frame-weighted mean; XPSNR: the mean of the segments' error amplitudes, as the filter averages frames)."""
        if not scores:
            return None
        metric = self.aim.metric
        frames = sum(n for _, n in scores)
        if not frames:
            return None
        return metric.score_at(sum(metric.loss(v) * n for v, n in scores) / frames)

    def _spec(self, seg: Segment) -> SegmentSpec:
        """What a worker needs for this segment; the probes the cache already holds for it go along."""
        ctx = self.ctx
        cfg = ctx.config
        video = ctx.video_settings(0, self.parallel, piece=seg)
        identity = cache_segment_identity(ctx.source, ctx.identity.key, seg)
        cached: dict[str, CachedProbe] = {}
        if ctx.cache is not None and cfg.search.cache:
            if self.search.strategy == "predict":
                prefixes = [
                    probe_cache_prefix(identity, probe_video(video, self.search), probe_settings(self.search))
                ]
            else:
                prefixes = [
                    probe_cache_prefix(identity, video, escalate(self.search, attempt))
                    for attempt in range(1, cfg.search.max_retries + 2)
                ]
            for prefix in prefixes:
                for key, row in ctx.cache.cache_items(prefix).items():
                    cached[key] = CachedProbe.model_validate(row)
        return SegmentSpec(
            job_id=ctx.job_id,
            source=str(ctx.source),
            segment=seg,
            resolution_class=ctx.media.resolution_class,
            ffmpeg=ctx.ffmpeg.path,
            video=video,
            search=self.search,
            out_width=ctx.out_width,
            out_height=ctx.out_height,
            max_retries=cfg.search.max_retries,
            tolerance_below=self.aim.tolerance_below,
            nice=cfg.resources.nice,
            backend="ab-av1" if self.ab_av1 else "builtin",
            ab_av1=self.ab_av1,
            start_crf=self._last_crf,
            model=self._model(),
            **self._aim_and_measure(seg),
            one_pass_measure=ctx.ffmpeg.loopback_decoders,
            probe_identity=identity,
            cached_probes=cached,
            scratch=str(ctx.dirs.working / f"search-{seg.index:04d}"),
        )

    def _refresh(self, spec: SegmentSpec) -> SegmentSpec:
        """At the moment the segment gets a slot: start from the CRF its neighbours settled on meanwhile."""
        return spec.model_copy(
            update={
                "start_crf": self._last_crf,
                "model": self._model(),
                **self._aim_and_measure(spec.segment),
            }
        )

    def _aim_and_measure(self, seg: Segment) -> dict[str, Any]:
        """The segment's aim and whether its final is measured: always in verified mode; in audit mode once the
        film's errors are known only 1 in 4 (and every unsure prediction), the others aiming high enough for
        the film's spread of errors (quality/audit.py)."""
        aim = self._aim()
        if self._verified or self._audit.measures(seg.index):
            return {"aim": aim, "measure": "always"}
        return {"aim": self._audit.unmeasured_aim(aim), "measure": "if_unsure"}

    def _learn_error(self, done: SegmentComplete) -> None:
        """Audit mode's record of how far a measured final's first encode missed its prediction."""
        first = done.history[0] if done.history else {}
        if first.get("measured") is not None and first.get("predicted") is not None:
            self._audit.record(first["predicted"], first["measured"])

    def _model(self) -> QualityModel:
        """The file's r (the median of what its measured segments showed, else the prior) and its typical CRF
        so far."""
        crfs = [r.crf for r in self.results.values() if r.crf is not None]
        prior = QualityModel()
        return QualityModel(
            loss_ratio=statistics.median(self._observed_r) if self._observed_r else prior.loss_ratio,
            crf=statistics.median(crfs) if crfs else None,
            learned_from=len(self._observed_r),
        )

    def _aim(self) -> float:
        """The file-level controller: aim at the middle of [target, target + tolerance], moved against the
        film's figure measured so far, so the film's figure lands in the window; never below target + a tenth of
        the window, so that a segment that misses by its usual error stays above target − tolerance_below."""
        s = self.search
        middle = s.middle
        so_far = self._file_score(_segment_scores(self.results.values()))
        if so_far is None:
            return middle
        margin = s.tolerance / 10
        return min(max(middle + (middle - so_far), s.target + margin), s.target + s.tolerance - margin)

    def _report(self, seg: Segment, report: SegmentReport) -> None:
        ctx = self.ctx
        if isinstance(report, PhaseReport):
            extra = report.model_dump(exclude={"kind", "phase"}, exclude_none=True)
            ctx.emit(SegmentStarted(segment=seg.index, phase=report.phase, **extra))
        elif isinstance(report, ProbeReport):
            ctx.emit(SearchStep(segment=seg.index, attempt=report.attempt, **report.probe.to_event()))
        elif isinstance(report, ProgressReport):
            ctx.emit(SegmentProgress(segment=seg.index, progress=report.progress, fps=report.fps))
        elif report.notice:
            ctx.emit(
                Notice(stage=report.stage, segment=seg.index, attempt=report.attempt, message=report.message)
            )
        else:
            extra = {"stderr_tail": report.stderr_tail} if report.stderr_tail else {}
            flag = {"segment_failed": True} if report.segment_failed else {}
            ctx.emit(
                ErrorOccurred(
                    stage=report.stage,
                    segment=seg.index,
                    attempt=report.attempt,
                    message=report.message,
                    **extra,
                    **flag,
                )
            )

    async def _run_segment(self, seg: Segment) -> None:
        """Submit the segment, then keep what came back: its probes in the cache, its file in encoded/."""
        ctx = self.ctx
        await ctx.control.checkpoint()
        try:
            outcome = await ctx.executor.submit(
                self._spec(seg), lambda r: self._report(seg, r), refresh=self._refresh
            )
        except FfmpegError as err:
            if ctx.control.cancelled:
                raise JobCancelled("cancelled") from None
            if err.disk_full:
                self._encoded_path(seg).unlink(missing_ok=True)
            raise
        if ctx.cache is not None and ctx.config.search.cache:
            for key, row in outcome.new_probes.items():
                ctx.cache.cache_put(key, row.model_dump())
        Path(outcome.encoded).replace(self._encoded_path(seg))
        self._last_crf = outcome.crf
        done = SegmentComplete(
            segment=seg.index,
            start=seg.start,
            end=seg.end,
            frames=seg.frames,
            crf=outcome.crf,
            metric=self.search.metric,
            encoder=self.ctx.config.encoding.encoder,
            score_predicted=outcome.score_predicted,
            score_measured=outcome.score_measured,
            bytes=outcome.bytes,
            bitrate=round(outcome.bytes * 8 / max(seg.duration, 1e-6)),
            encode_seconds=outcome.encode_seconds,
            fps=outcome.fps,
            attempts=outcome.attempts,
            history=outcome.history,
            probes=[ProbeStep.model_validate(p.to_event()) for p in outcome.probes],
            loss_ratio_used=outcome.loss_ratio_used,
            loss_ratio_seen=outcome.observed_loss_ratio,
            worker=outcome.worker,
            transfer_bytes=outcome.transfer_bytes,
            transfer_seconds=outcome.transfer_seconds,
            check_seconds=outcome.check_seconds,
            queued_seconds=outcome.queued_seconds,
            lost_seconds=outcome.lost_seconds,
        )
        self.results[seg.index] = done
        if outcome.observed_loss_ratio is not None:
            self._observed_r.append(outcome.observed_loss_ratio)
        self._learn_error(done)
        if not self._verified and self._audit.too_loose() and not self._told_loose:
            self._told_loose = True
            ctx.emit(
                Notice(
                    stage="encoding",
                    segment=seg.index,
                    message=f"{ctx.source}: predictions miss by {self._audit.spread():.2f} {self.aim.metric.label} (sd of"
                    f" {len(self._audit.errors)} measured segments): too loose to leave a segment unmeasured,"
                    " so every segment is measured until they settle",
                )
            )
        ctx.emit(done)
        self._judge_size(final=False)


def _segment_scores(results: Iterable[SegmentComplete]) -> list[tuple[float, int]]:
    """Each finished segment's figure and frames. A segment audit mode left unmeasured counts with its
    prediction (it aimed above the rest, quality/audit.py): the summary says how many, and the film's figure,
    the controller's and the summary's, is what must land in the window."""
    return [
        (score, r.frames or 0)
        for r in results
        if (score := r.score_measured if r.score_measured is not None else r.score_predicted) is not None
    ]
