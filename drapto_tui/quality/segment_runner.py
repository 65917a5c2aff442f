"""One segment to its target quality: `run_segment(spec, workdir, report) -> SegmentOutcome`.

Each attempt: search (builtin or ab-av1) → encode the whole segment at the chosen CRF (or keep the search's
full-pass encode) → measure its score (the spec's metric) against the source segment. An FFmpeg failure, or a
measured score below
target − tolerance_below, retries with a stronger search (more and longer samples, then a higher target), up to
max_retries. When the neighbouring segment's CRF is known, the segment is first encoded and measured at that
CRF: neighbours usually want nearly the same CRF, and when it lands in the window the segment costs one encode
and one scoring pass, like a fixed-CRF encode plus its check.

A pure function of its inputs: no event bus, no database, no globals. It writes only under `workdir`, says what
happens through `report`, takes cached probes from the spec and returns new ones in the outcome, so the same
call runs in this process, in a process pool or on a Dask worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from drapto_tui.errors import DraptoError
from drapto_tui.media.encode import EncodeRequest, encode_av1
from drapto_tui.media.ffmpeg import FfmpegError, FfmpegProgress, RunWatch, current_tracker
from drapto_tui.media.measured_encode import encode_and_measure
from drapto_tui.media.metrics import Scoring, measure_score, metric_named
from drapto_tui.model.segment import (
    CachedProbe,
    PhaseReport,
    Probe,
    ProbeReport,
    ProblemReport,
    ProgressReport,
    QualityModel,
    SearchSettings,
    SegmentOutcome,
    SegmentReport,
    SegmentSpec,
    VideoSettings,
)
from drapto_tui.quality.ab_av1 import ab_av1_search
from drapto_tui.quality.crf_search import CrfSearch, SearchError, SearchResult, escalate, source_scale
from drapto_tui.quality.predictive import (
    LossModel,
    Prediction,
    predict_crf,
    probe_settings,
    probe_video,
    probe_width,
    slope_between,
    snap,
)

Report = Callable[[SegmentReport], None]
ENCODED_NAME = "encoded.mkv"


class _SpecCache:
    """The search cache as the spec brought it, plus what this run learns (returned in the outcome)."""

    def __init__(self, known: dict[str, CachedProbe]) -> None:
        self.known = dict(known)
        self.new: dict[str, CachedProbe] = {}

    def cache_get(self, key: str) -> dict[str, Any] | None:
        hit = self.known.get(key)
        return hit.model_dump() if hit is not None else None

    def cache_put(self, key: str, value: dict[str, Any]) -> None:
        probe = CachedProbe.model_validate(value)
        self.known[key] = self.new[key] = probe


async def _predict(spec: SegmentSpec, workdir: Path, crf: float) -> tuple[Probe, Path]:
    """Encode the whole segment at the neighbour's CRF and measure it."""
    seg = spec.segment
    out = workdir / f"predicted-crf{crf:g}.mkv"
    settings = spec.video.with_crf(crf)
    _, scored = await encode_and_measure(
        spec.ffmpeg,
        EncodeRequest(Path(seg.path), out, settings),
        _scoring(spec, settings),
        log_path=workdir / f"predicted-{crf:g}.log",
        one_pass=spec.one_pass_measure,
        watch=RunWatch(
            what=f"segment {seg.index} encode at the predicted CRF {crf:g}",
            duration=seg.duration,
            nice=spec.nice,
        ),
    )
    probe = Probe(
        crf=crf,
        score=scored.pooled(spec.search.pooling),
        encoded_bytes=out.stat().st_size,
        source_bytes=round(Path(seg.path).stat().st_size * source_scale(seg)),
        frame_scores_count=len(scored.frame_scores),
        full_pass=True,
    )
    return probe, out


async def _search(
    spec: SegmentSpec,
    workdir: Path,
    settings: SearchSettings,
    attempt: int,
    cache: _SpecCache,
    report: Report,
) -> SearchResult:
    def on_probe(probe: Probe) -> None:
        report(ProbeReport(attempt=attempt, probe=probe))

    video = spec.video.with_crf(0)
    if spec.backend == "ab-av1" and spec.ab_av1:
        return await ab_av1_search(spec.ab_av1, spec.segment, settings, video, on_probe=on_probe)
    seed: list[Probe] = []
    seed_files: dict[float, Path] = {}
    if attempt == 1 and spec.start_crf is not None:
        probe, path = await _predict(spec, workdir, spec.start_crf)
        on_probe(probe)
        if (
            settings.target <= probe.score <= settings.target + settings.tolerance
            and probe.percent <= settings.max_encoded_percent
        ):
            return SearchResult(crf=probe.crf, score=probe.score, probes=[probe], full_pass_encode=path)
        seed, seed_files = [probe], {probe.crf: path}
    search = CrfSearch(
        ffmpeg=spec.ffmpeg,
        segment=spec.segment,
        work_dir=workdir,
        settings=settings,
        video=video,
        width=spec.out_width,
        height=spec.out_height,
        identity=spec.probe_identity,
        cache=cache,
        on_probe=on_probe,
        start_crf=spec.start_crf,
        seed=seed,
        seed_files=seed_files,
        one_pass=spec.one_pass_measure,
    )
    return await search.run()


def _model(spec: SegmentSpec) -> QualityModel:
    """The file's model, with the prior r until a measured segment taught one."""
    if spec.model.learned_from:
        return spec.model
    prior = LossModel.of(spec.video, spec.search).prior_loss_ratio(
        spec.search.probe_preset, spec.video.preset, half_width=probe_width(spec.search)
    )
    return spec.model.model_copy(update={"loss_ratio": prior})


def _aim(spec: SegmentSpec, settings: SearchSettings) -> float:
    return spec.aim if spec.aim is not None else settings.middle


async def _predictive(
    spec: SegmentSpec,
    workdir: Path,
    settings: SearchSettings,
    attempt: int,
    cache: _SpecCache,
    report: Report,
    finals: list[tuple[float, float]],
) -> tuple[SearchResult, Prediction | None]:
    """Attempt 1: one fast probe (two when far off) mapped to the final preset. A later attempt follows a
    measured final that fell short: the next CRF comes from that measured point, with no probe at all."""
    aim = _aim(spec, settings)
    model = _model(spec)
    lm = LossModel.of(spec.video, settings)
    if finals:
        (crf, measured) = finals[-1]
        k = lm.slope_at(crf, lm.loss(measured))
        if len(finals) >= 2:
            k = slope_between(finals[-2][0], lm.loss(finals[-2][1]), crf, lm.loss(measured)) or k
        lower = min(snap(lm.crf_for(aim, crf, lm.loss(measured), k), settings), crf - settings.step)
        chosen = max(lower, settings.min_crf)
        return SearchResult(crf=chosen, score=aim, probes=[]), None

    def on_probe(probe: Probe) -> None:
        report(ProbeReport(attempt=attempt, probe=probe))

    search = CrfSearch(
        ffmpeg=spec.ffmpeg,
        segment=spec.segment,
        work_dir=workdir,
        settings=probe_settings(settings),
        video=probe_video(spec.video.with_crf(0), settings),
        width=spec.out_width,
        height=spec.out_height,
        identity=spec.probe_identity,
        cache=cache,
        on_probe=on_probe,
        reuse_full_pass=False,
        one_pass=spec.one_pass_measure,
    )
    middle = lm.cal.first_crf or (settings.min_crf + settings.max_crf) / 2
    start = next((c for c in (model.crf, spec.start_crf) if c is not None), middle)
    prediction = await predict_crf(search, settings, lm, model, aim, start)
    return SearchResult(crf=prediction.crf, score=prediction.score, probes=prediction.probes), prediction


def _outcome(
    spec: SegmentSpec,
    result: SearchResult,
    measured: float | None,
    out: Path,
    encode_seconds: float,
    active: float,
    attempt: int,
    history: list[dict[str, Any]],
    probes: list[Probe],
    cache: _SpecCache,
    observed_r: float | None = None,
    observed_k: float | None = None,
    r_used: float | None = None,
) -> SegmentOutcome:
    """What came back; `measured` None when audit mode left the segment unmeasured (its prediction stands)."""
    return SegmentOutcome(
        job_id=spec.job_id,
        segment=spec.segment.index,
        crf=result.crf,
        score_predicted=round(result.score, 3),
        score_measured=measured,
        bytes=out.stat().st_size,
        encode_seconds=round(encode_seconds, 3),
        fps=round(spec.segment.frames / max(active, 1e-6), 2),
        attempts=attempt,
        history=history,
        probes=probes,
        new_probes=cache.new,
        encoded=str(out),
        loss_ratio_used=round(r_used, 4) if r_used is not None else None,
        observed_loss_ratio=round(observed_r, 4) if observed_r is not None else None,
        observed_log_slope=round(observed_k, 5) if observed_k is not None else None,
    )


#: A final scored on every n-th frame that lands this close above the floor (target − tolerance_below) is scored
#: again on every frame before it is kept: against an independent libvmaf of every frame, VMAF finals scored on
#: every 5th frame read −0.24 to +0.21 off (74 segments of the issue 24 film), so one kept at 92.58 showed 92.34.
#: (A metric that scores every frame anyway is never rescored.)
BORDERLINE = 0.3


def _borderline(spec: SegmentSpec, measured: float) -> bool:
    floor = spec.search.target - spec.tolerance_below
    subsampled = spec.search.n_subsample > 1 and metric_named(spec.search.metric).subsamples
    return subsampled and floor - BORDERLINE < measured < floor + BORDERLINE


async def _score_every_frame(spec: SegmentSpec, encoded: Path, workdir: Path) -> float:
    """The final's score on every frame (a decode and the metric: a fraction of encoding it again)."""
    every_frame = replace(_scoring(spec, spec.video), n_subsample=1)
    scored = await measure_score(
        spec.ffmpeg,
        every_frame,
        encoded,
        Path(spec.segment.path),
        log_path=workdir / "measure-every-frame.log",
    )
    return scored.pooled(spec.search.pooling)


def _scoring(spec: SegmentSpec, settings: VideoSettings) -> Scoring:
    """How this segment's encodes at `settings` are scored (the search's metric, frames and picture format)."""
    return Scoring.of_encode(
        metric_named(spec.search.metric),
        settings,
        width=spec.out_width,
        height=spec.out_height,
        n_subsample=spec.search.n_subsample,
        pix_fmt=spec.search.score_pix_fmt,
    )


def _name_segment(err: DraptoError, spec: SegmentSpec) -> None:
    """The error names the film and the segment once (an FFmpeg step's own name may already hold it)."""
    name = f"segment {spec.segment.index}"
    err.subject = spec.source
    if not err.message.startswith(name):
        err.message = f"{name}: {err.message}"


async def run_segment(spec: SegmentSpec, workdir: Path, report: Report) -> SegmentOutcome:
    """Search, encode and measure one segment, retrying as configured; the encoded segment is left at
    `workdir / ENCODED_NAME`. Raises the last FfmpegError or SearchError when the segment fails for good
    (a `ProblemReport` with `segment_failed` said so first)."""
    seg = spec.segment
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / ENCODED_NAME
    cache = _SpecCache(spec.cached_probes)
    history: list[dict[str, Any]] = []
    attempts = spec.max_retries + 1
    predictive = spec.search.strategy == "predict" and spec.backend == "builtin"
    r_used = _model(spec).loss_ratio if predictive else None
    finals: list[tuple[float, float]] = []  # (CRF, measured score) of each final encode, for the next attempt
    metric = metric_named(spec.search.metric)
    lm = LossModel.of(spec.video, spec.search)
    prediction: Prediction | None = None
    observed_r: float | None = None
    observed_k: float | None = None
    all_probes: list[Probe] = []  # every attempt's: what this segment cost
    for attempt in range(1, attempts + 1):
        rescored = False
        settings = spec.search if predictive else escalate(spec.search, attempt)
        report(
            PhaseReport(
                phase="searching",
                attempt=attempt,
                samples=settings.samples,
                sample_duration=settings.sample_duration,
                target=settings.target,
            )
        )
        try:
            started = time.monotonic()
            if predictive:
                result, made = await _predictive(spec, workdir, settings, attempt, cache, report, finals)
                prediction = made or prediction
            else:
                result = await _search(spec, workdir, settings, attempt, cache, report)
            all_probes += result.probes
            report(PhaseReport(phase="encoding", attempt=attempt, crf=result.crf))
            encode_started = time.monotonic()
            if result.full_pass_encode is not None:
                result.full_pass_encode.replace(out)  # the search already encoded the whole segment
                active = time.monotonic() - started
                measured = result.score
            else:
                skip_measure = (
                    predictive
                    and spec.measure == "if_unsure"
                    and attempt == 1
                    and prediction is not None
                    and not prediction.unsure
                )

                def progress(p: FfmpegProgress) -> None:
                    report(ProgressReport(progress=p.fraction or 0.0, fps=p.fps))

                request = EncodeRequest(Path(seg.path), out, spec.video.with_crf(result.crf))
                watch = RunWatch(
                    what=f"segment {seg.index} encode",
                    duration=seg.duration,
                    on_progress=progress,
                    nice=spec.nice,
                )
                if skip_measure:
                    res = await encode_av1(spec.ffmpeg, request, watch)
                    history.append(
                        {
                            "attempt": attempt,
                            "crf": result.crf,
                            "predicted": round(result.score, 3),
                            "measured": None,
                        }
                    )
                    return _outcome(
                        spec,
                        result,
                        None,
                        out,
                        time.monotonic() - encode_started,
                        res.active_seconds,
                        attempt,
                        history,
                        all_probes,
                        cache,
                        r_used=r_used,
                    )
                res, scored = await encode_and_measure(
                    spec.ffmpeg,
                    request,
                    _scoring(spec, request.settings),
                    log_path=workdir / "measure.log",
                    one_pass=spec.one_pass_measure,
                    watch=watch,
                )
                active = res.active_seconds
                measured = scored.pooled(spec.search.pooling)
                if _borderline(spec, measured):
                    measured = await _score_every_frame(spec, out, workdir)
                    rescored = True
        except FfmpegError as err:
            out.unlink(missing_ok=True)
            if err.disk_full:  # retrying cannot help; the coordinator names the full disk in one line
                raise
            tracker = current_tracker.get()
            if tracker is not None and tracker.cancelled:
                raise  # killed because the job was cancelled: no retry (on a worker, each would be killed too)
            # Name the film and the segment, not the temp file FFmpeg was reading.
            _name_segment(err, spec)
            history.append({"attempt": attempt, "error": err.line()})
            final = attempt == attempts
            report(
                ProblemReport(
                    stage="encoding",
                    attempt=attempt,
                    stderr_tail=err.result.stderr_tail[-12:],
                    segment_failed=final,
                    message=err.line()
                    + ("" if final else f"; retrying (attempt {attempt + 1} of {attempts})"),
                )
            )
            if final:
                raise
            continue
        except SearchError as err:
            _name_segment(err, spec)
            report(ProblemReport(stage="search", attempt=attempt, message=err.line(), segment_failed=True))
            raise
        if predictive:
            if attempt == 1 and prediction is not None:
                observed_r = prediction.probe_loss / lm.loss(measured)
                observed_k = prediction.slope
            elif finals:
                observed_k = slope_between(
                    finals[-1][0], lm.loss(finals[-1][1]), result.crf, lm.loss(measured)
                )
            finals.append((result.crf, measured))
        history.append(
            {
                "attempt": attempt,
                "crf": result.crf,
                "predicted": round(result.score, 3),
                "measured": round(measured, 3),
                "probes": result.probe_count,
                **({"every_frame": True} if rescored else {}),
            }
        )
        if measured < spec.search.target - spec.tolerance_below and attempt < attempts:
            out.unlink(missing_ok=True)
            report(
                ProblemReport(
                    stage="encoding",
                    attempt=attempt,
                    notice=True,
                    message=f"segment {seg.index}: measured {metric.label} {measured:.2f} is below"
                    f" {spec.search.target:g} − {spec.tolerance_below:g}; "
                    + (
                        "encoding again from the measured point"
                        if predictive
                        else "retrying with a stronger search"
                    )
                    + f" (attempt {attempt + 1} of {attempts})",
                )
            )
            continue
        if measured < spec.search.target - spec.tolerance_below:
            report(
                ProblemReport(
                    stage="encoding",
                    attempt=attempt,
                    message=f"segment {seg.index}: measured {metric.label} {measured:.2f} at CRF {result.crf:g} is"
                    " still below"
                    f" {spec.search.target:g} − {spec.tolerance_below:g} after {attempt} attempt(s); kept as the best"
                    " reached (lower encoding.min_crf or raise search.max_retries to go further)",
                )
            )
        encode_seconds = time.monotonic() - encode_started if result.full_pass_encode is None else active
        return _outcome(
            spec,
            result,
            round(measured, 3),
            out,
            encode_seconds,
            active,
            attempt,
            history,
            all_probes,
            cache,
            observed_r,
            observed_k,
            r_used,
        )
    raise DraptoError("segment did not finish", subject=seg.path)  # unreachable: the loop returns or raises


__all__ = ["ENCODED_NAME", "Report", "run_segment"]
