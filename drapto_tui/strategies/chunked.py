"""The quality path: segments, a VMAF-targeted CRF search per segment, parallel encodes, measured VMAF, concat.

Each segment: search (builtin or ab-av1) → encode the whole segment at the chosen CRF (or keep the search's
full-pass encode) → measure its VMAF against the source segment. An FFmpeg failure, or a measured VMAF below
target − search.tolerance_below, retries the segment with a stronger search (more and longer samples, then a
higher target), up to search.max_retries. A finished segment's file is renamed into encoded/ only when complete,
and a resumed job skips every segment whose file is there and whose state says done.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from drapto_tui.control import JobCancelled
from drapto_tui.errors import DraptoError, MediaError
from drapto_tui.events import ProcessingEvents
from drapto_tui.media.encode import encode_av1
from drapto_tui.media.ffmpeg import FfmpegError, FfmpegProgress
from drapto_tui.media.mux import concat_segments
from drapto_tui.media.segment import Segment, count_packets, segment_video
from drapto_tui.media.vmaf import measure_vmaf
from drapto_tui.state import ProcessingStage, SegmentStatus
from drapto_tui.strategies.ab_av1 import ab_av1_search, find_ab_av1
from drapto_tui.strategies.base import EncodingStrategy
from drapto_tui.strategies.crf_search import (
    CrfSearch,
    Probe,
    SearchError,
    SearchResult,
    SearchSettings,
    cache_segment_identity,
    escalate,
)


class ChunkedStrategy(EncodingStrategy):
    name = "chunked"

    async def initialize_encoding(self) -> None:
        cfg = self.ctx.config
        self.parallel = cfg.parallel_jobs()
        self.ab_av1 = find_ab_av1(cfg.tools.ab_av1) if cfg.encoding.search_backend == "ab-av1" else None
        self.search = SearchSettings(
            target=cfg.encoding.vmaf_target, tolerance=cfg.search.tolerance, min_crf=cfg.encoding.min_crf,
            max_crf=cfg.encoding.max_crf, samples=cfg.search.samples, sample_duration=cfg.search.sample_duration,
            full_pass_share=cfg.search.full_pass_share, max_encoded_percent=cfg.search.max_encoded_percent,
            n_subsample=cfg.search.n_subsample, pooling=cfg.search.pooling,
        )
        self.plan_file = self.ctx.dirs.working / "segments.json"
        self._last_crf: float | None = None
        self.results: dict[int, dict] = {}

    # -- segments ----------------------------------------------------------------------------------------
    async def prepare_video(self) -> None:
        ctx = self.ctx
        self.segments = self._load_plan()
        if self.segments is None:
            ctx.emit(ProcessingEvents.STAGE_STARTED, stage=ProcessingStage.SEGMENTING.value)
            proc = ctx.config.processing
            threshold = proc.scene_threshold_hdr if ctx.media.hdr else proc.scene_threshold
            self.segments = await segment_video(
                ctx.ffmpeg.path, ctx.source, ctx.dirs.segments, duration=ctx.media.duration,
                mode=proc.segmentation, chunk_size=proc.chunk_size, min_segment=proc.min_segment,
                max_segment=proc.max_segment, scene_threshold=threshold,
            )
            plan = {"source": self.ctx.identity.key, "segments": [s.model_dump() for s in self.segments]}
            self.plan_file.write_text(json.dumps(plan), encoding="utf-8")
        self.source_frames = sum(s.frames for s in self.segments)

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
        return (prev is not None and prev.status == SegmentStatus.DONE and self._encoded_path(seg).is_file()
                and prev.frames == seg.frames and abs(prev.start - seg.start) < 1e-3
                and abs(prev.end - seg.end) < 1e-3)

    # -- encode ------------------------------------------------------------------------------------------
    async def encode(self) -> Path:
        ctx = self.ctx
        ctx.emit(ProcessingEvents.ENCODING_STARTED, path=self.name, parallel=self.parallel,
                 segments=[{"index": s.index, "start": s.start, "end": s.end, "frames": s.frames}
                           for s in self.segments])
        todo = []
        for seg in self.segments:
            if self._already_done(seg):
                prev = ctx.previous.segments[seg.index]  # type: ignore[union-attr]
                self.results[seg.index] = prev.model_dump()
                if prev.crf is not None:
                    self._last_crf = prev.crf
            else:
                todo.append(seg)
        async def guarded(seg: Segment) -> None:
            await ctx.control.checkpoint()
            await ctx.executor.submit(ctx.job_id, seg.index, ctx.media.resolution_class,
                                      lambda: self._run_segment(seg))

        tasks = [asyncio.create_task(guarded(seg)) for seg in todo]
        try:
            # The first segment that fails for good fails the job; the others stop (their finished files stay).
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

        ctx.emit(ProcessingEvents.STAGE_STARTED, stage=ProcessingStage.ENCODING.value, step="joining segments")
        video = ctx.dirs.working / "video.mkv"
        await concat_segments(ctx.ffmpeg.path, [self._encoded_path(s) for s in self.segments], video)
        frames = await count_packets(ctx.ffmpeg.path, video)
        if frames != self.source_frames:
            raise MediaError(f"joined video has {frames} frames, the source {self.source_frames}",
                             subject=str(ctx.source), hint="retry the job; report it if it happens again")
        self._summarise(frames)
        return video

    def _summarise(self, frames: int) -> None:
        results = [self.results[s.index] for s in self.segments]
        crfs = [r["crf"] for r in results if r.get("crf") is not None]
        vmafs = [(r["vmaf_measured"], r["frames"]) for r in results if r.get("vmaf_measured") is not None]
        self.ctx.stats.update({
            "segments": len(self.segments),
            "frames": frames,
            "crf_min": min(crfs, default=None),
            "crf_max": max(crfs, default=None),
            "vmaf_min": min((v for v, _ in vmafs), default=None),
            "vmaf_max": max((v for v, _ in vmafs), default=None),
            # Each output frame was measured once, in its segment: the frame-weighted mean is the file's mean.
            "vmaf_file": (sum(v * n for v, n in vmafs) / sum(n for _, n in vmafs)) if vmafs else None,
            "probes_per_segment": (sum(len(r.get("probes", [])) for r in results) / len(results)) if results else 0,
            "video_bytes": sum(self._encoded_path(s).stat().st_size for s in self.segments),
        })

    async def _search(self, seg: Segment, settings: SearchSettings, attempt: int) -> SearchResult:
        ctx = self.ctx
        video = ctx.video_settings(0, self.parallel)

        def report(probe: Probe) -> None:
            ctx.emit(ProcessingEvents.SEARCH_STEP, segment=seg.index, attempt=attempt, **probe.to_event())

        if self.ab_av1:
            return await ab_av1_search(self.ab_av1, seg, settings, video, on_probe=report)
        seed: list[Probe] = []
        seed_files: dict[float, Path] = {}
        if attempt == 1 and self._last_crf is not None:
            predicted = await self._predict(seg, self._last_crf)
            if predicted is not None:
                probe, path = predicted
                report(probe)
                if self.search.target <= probe.score <= self.search.target + self.search.tolerance \
                        and probe.percent <= self.search.max_encoded_percent:
                    return SearchResult(crf=probe.crf, score=probe.score, probes=[probe], full_pass_encode=path)
                seed, seed_files = [probe], {probe.crf: path}
        search = CrfSearch(
            ffmpeg=ctx.ffmpeg.path, segment=seg, work_dir=ctx.dirs.working / f"search-{seg.index:04d}",
            settings=settings, video=video, width=ctx.out_width, height=ctx.out_height,
            identity=cache_segment_identity(ctx.source, ctx.identity.key, seg),
            cache=ctx.cache if ctx.config.search.cache else None,
            on_probe=report, start_crf=self._last_crf, seed=seed, seed_files=seed_files,
        )
        return await search.run()

    async def _predict(self, seg: Segment, crf: float) -> tuple[Probe, Path] | None:
        """Encode the whole segment at the neighbour's CRF and measure it. Neighbouring segments usually want
        nearly the same CRF, and this encode and measurement are needed anyway if it lands in the window: then
        the segment costs one encode and one VMAF pass, like a fixed-CRF encode plus its check. Otherwise it
        seeds the search as a known probe."""
        ctx = self.ctx
        work = ctx.dirs.working / f"search-{seg.index:04d}"
        out = work / f"predicted-crf{crf:g}.mkv"
        await encode_av1(ctx.ffmpeg.path, Path(seg.path), out, ctx.video_settings(crf, self.parallel),
                         duration=seg.duration, nice=ctx.config.resources.nice,
                         what=f"segment {seg.index} encode at the predicted CRF {crf:g}")
        vmaf = await measure_vmaf(ctx.ffmpeg.path, out, Path(seg.path), log_path=work / f"predicted-{crf:g}.json",
                                  width=ctx.out_width, height=ctx.out_height, crop=ctx.crop.crop,
                                  n_subsample=ctx.config.search.n_subsample, pix_fmt=ctx.config.encoding.pixel_format)
        probe = Probe(crf=crf, score=vmaf.pooled(ctx.config.search.pooling), encoded_bytes=out.stat().st_size,
                      source_bytes=Path(seg.path).stat().st_size, frame_scores_count=len(vmaf.frame_scores),
                      full_pass=True)
        return probe, out

    async def _run_segment(self, seg: Segment) -> None:
        ctx = self.ctx
        cfg = ctx.config.search
        target = self.search.target
        history: list[dict] = []
        attempts = cfg.max_retries + 1
        for attempt in range(1, attempts + 1):
            await ctx.control.checkpoint()
            settings = escalate(self.search, attempt)
            ctx.emit(ProcessingEvents.SEGMENT_STARTED, segment=seg.index, phase=SegmentStatus.SEARCHING.value,
                     attempt=attempt, samples=settings.samples, sample_duration=settings.sample_duration,
                     target=settings.target)
            try:
                started = time.monotonic()
                result = await self._search(seg, settings, attempt)
                ctx.emit(ProcessingEvents.SEGMENT_STARTED, segment=seg.index, phase=SegmentStatus.ENCODING.value,
                         attempt=attempt, crf=result.crf)
                out = self._encoded_path(seg)
                encode_started = time.monotonic()
                if result.full_pass_encode is not None:
                    result.full_pass_encode.replace(out)  # the search already encoded the whole segment
                    active = time.monotonic() - started
                    measured = result.score
                else:
                    def progress(p: FfmpegProgress, seg: Segment = seg) -> None:
                        ctx.emit(ProcessingEvents.SEGMENT_PROGRESS, segment=seg.index, progress=p.fraction or 0.0,
                                 fps=p.fps)

                    res = await encode_av1(ctx.ffmpeg.path, Path(seg.path), out,
                                           ctx.video_settings(result.crf, self.parallel), duration=seg.duration,
                                           on_progress=progress, nice=ctx.config.resources.nice,
                                           what=f"segment {seg.index} encode")
                    active = res.active_seconds
                    vmaf = await measure_vmaf(
                        ctx.ffmpeg.path, out, Path(seg.path),
                        log_path=ctx.dirs.working / f"measure-{seg.index:04d}.json",
                        width=ctx.out_width, height=ctx.out_height, crop=ctx.crop.crop,
                        n_subsample=cfg.n_subsample, pix_fmt=ctx.config.encoding.pixel_format,
                    )
                    measured = vmaf.pooled(cfg.pooling)
            except FfmpegError as err:
                if ctx.control.cancelled:
                    raise JobCancelled("cancelled") from None
                if err.disk_full:  # retrying cannot help; the pipeline names the full disk in one line
                    self._encoded_path(seg).unlink(missing_ok=True)
                    raise
                # Name the film and the segment, not the temp file FFmpeg was reading.
                err.subject, err.message = str(ctx.source), f"segment {seg.index}: {err.message}"
                self._encoded_path(seg).unlink(missing_ok=True)
                history.append({"attempt": attempt, "error": err.line()})
                final = attempt == attempts
                ctx.emit(ProcessingEvents.ERROR_OCCURRED, stage="encoding", segment=seg.index, attempt=attempt,
                         message=err.line() + ("" if final else f"; retrying (attempt {attempt + 1} of {attempts})"),
                         stderr_tail=err.result.stderr_tail[-12:], segment_failed=final)
                if final:
                    raise
                continue
            except SearchError as err:
                err.subject, err.message = str(ctx.source), f"segment {seg.index}: {err.message}"
                ctx.emit(ProcessingEvents.ERROR_OCCURRED, stage="search", segment=seg.index, attempt=attempt,
                         message=err.line(), segment_failed=True)
                raise
            size = out.stat().st_size
            history.append({"attempt": attempt, "crf": result.crf, "predicted": round(result.score, 3),
                            "measured": round(measured, 3), "probes": result.probe_count})
            if measured < target - cfg.tolerance_below and attempt < attempts:
                out.unlink(missing_ok=True)
                ctx.emit(ProcessingEvents.ERROR_OCCURRED, stage="encoding", segment=seg.index, attempt=attempt,
                         message=f"segment {seg.index}: measured VMAF {measured:.2f} is below {target:g} −"
                                 f" {cfg.tolerance_below:g}; retrying with a stronger search"
                                 f" (attempt {attempt + 1} of {attempts})")
                continue
            self._last_crf = result.crf
            data = {
                "segment": seg.index, "start": seg.start, "end": seg.end, "frames": seg.frames, "crf": result.crf,
                "vmaf_predicted": round(result.score, 3), "vmaf_measured": round(measured, 3), "bytes": size,
                "bitrate": round(size * 8 / max(seg.duration, 1e-6)),
                "encode_seconds": round(time.monotonic() - encode_started if result.full_pass_encode is None
                                        else active, 3),
                "fps": round(seg.frames / max(active, 1e-6), 2), "attempts": attempt, "history": history,
                "probes": [p.to_event() for p in result.probes],
            }
            self.results[seg.index] = data
            ctx.emit(ProcessingEvents.SEGMENT_COMPLETE, **data)
            return
        raise DraptoError("segment did not finish", subject=seg.path)  # unreachable: the loop returns or raises
