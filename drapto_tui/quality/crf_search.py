"""Quality-targeted CRF search for one segment, in the manner of ab-av1's crf-search, and cheaper.

Samples: `samples` clips of `sample_duration` seconds spread evenly over the segment
(gap = (D - n*d) / (n + 1), sample i starts at gap*(i+1) + d*i), cut by stream copy; each copy is its own VMAF
reference (scored by the settings' metric). When the samples would cover >= full_pass_share of the segment, the whole segment is encoded and
scored instead (and that encode is kept, so the final encode at the chosen CRF costs nothing more).

Search on a quarter-CRF grid between min and max CRF: first probe at the midpoint (or at the previous
segment's CRF, which is usually close), then a probe skewed by the expected slope of the metric's loss, then secant
interpolation between the nearest passing and failing probes. Stop when a score lands in
[target, target + tolerance], when the passing and failing probes are adjacent on the grid, or when max CRF
passes; fail when min CRF fails. A segment over max_encoded_percent of its source is searched for the highest
passing CRF (aim at the target itself, not the window's middle) but never fails for its size: the whole film's
size is what the limit judges (engine/strategies/chunked.py), so one grainy scene cannot stop a film.

Every probe result is cached (segment identity + CRF + encoder, metric and scoring settings), so retries and resumes never
redo a probe.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drapto_tui.errors import DraptoError
from drapto_tui.media.encode import EncodeRequest
from drapto_tui.media.ffmpeg import RunWatch, run_ffmpeg
from drapto_tui.media.measured_encode import encode_and_measure, fits_one_pass
from drapto_tui.media.metrics import Metric, Scoring, metric_named
from drapto_tui.model.segment import Probe, SearchSettings, Segment, VideoSettings

#: Typical d ln(loss) / d CRF (0.7 VMAF per CRF at VMAF 93 with SVT-AV1); only steers the second probe.
DEFAULT_LOG_SLOPE = 0.1
MAX_PROBES = 12
#: A partial probe's run is never shorter than this (about half a second): shorter runs are mostly the
#: encoder's start-up (a key frame, an empty look-ahead); a segment too short for that is probed whole.
MIN_RUN_FRAMES = 12


class SearchError(DraptoError):
    """No CRF meets the target (or the size limit) for this segment."""


class ProbeCache(Protocol):
    def cache_get(self, key: str) -> dict | None: ...
    def cache_put(self, key: str, value: dict) -> None: ...


@dataclass
class SearchResult:
    crf: float
    score: float
    probes: list[Probe]
    full_pass_encode: Path | None = None  # the whole segment already encoded at `crf`, when the search did it

    @property
    def probe_count(self) -> int:
        return len(self.probes)


def sample_starts(duration: float, samples: int, sample_duration: float) -> list[float]:
    gap = (duration - samples * sample_duration) / (samples + 1)
    return [gap * (i + 1) + sample_duration * i for i in range(samples)]


def _file_digest(path: Path) -> str:
    h = hashlib.sha1()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_scale(segment: Segment) -> float:
    """Source bytes per byte of the segment's file: 1 for a stream copy, far below 1 for a lossless piece cut
    between keyframes, so that a probe's percent is always of what the source spent."""
    size = Path(segment.path).stat().st_size
    if segment.source_bytes is None or size <= 0:
        return 1.0
    return segment.source_bytes / size


@dataclass
class CrfSearch:
    ffmpeg: str
    segment: Segment
    work_dir: Path
    settings: SearchSettings
    video: VideoSettings  # crf inside is ignored; everything else is the final encode's
    width: int
    height: int
    identity: str  # stable identity of the segment (source file + bounds), for the cache
    cache: ProbeCache | None = None
    on_probe: Callable[[Probe], None] | None = None
    start_crf: float | None = None
    #: Probes already known (e.g. the whole segment encoded and measured at a predicted CRF), and their encodes.
    seed: list[Probe] = field(default_factory=list)
    seed_files: dict[float, Path] = field(default_factory=dict)
    #: A full-pass probe's encode may become the final encode (bisect), so a cached one counts only with its
    #: file; probes at another preset (predict) are never reused as the final, so their score alone counts.
    reuse_full_pass: bool = True
    #: The FFmpeg has loopback decoders: a probe's encode and its VMAF run as one (media/measured_encode.py).
    one_pass: bool = False
    _samples: list[tuple[Path, int]] | None = field(default=None, init=False)

    @property
    def metric(self) -> Metric:
        return metric_named(self.settings.metric)

    _full_pass: bool = field(default=False, init=False)

    # -- samples -----------------------------------------------------------------------------------------
    @property
    def in_runs(self) -> bool:
        """Probe a share of the segment in evenly spaced runs, each cut by the encode's own input seek and
        scored in the same FFmpeg run (so the reference is exactly those frames)."""
        return (
            self.settings.strategy == "predict"
            and self.settings.probe_share < 1
            and self.one_pass
            and fits_one_pass(self.width, self.height)
            and self.segment.frames * self.settings.probe_share / self.settings.probe_runs >= MIN_RUN_FRAMES
        )

    @property
    def full_pass(self) -> bool:
        s = self.settings
        return s.samples * s.sample_duration >= s.full_pass_share * self.segment.duration

    async def _prepare_samples(self) -> list[tuple[Path, int]]:
        if self._samples is not None:
            return self._samples
        source = Path(self.segment.path)
        scale = source_scale(self.segment)
        if self.full_pass:
            self._samples = [(source, round(source.stat().st_size * scale))]
            return self._samples
        self.work_dir.mkdir(parents=True, exist_ok=True)
        samples: list[tuple[Path, int]] = []
        seen: set[str] = set()
        s = self.settings
        for i, start in enumerate(sample_starts(self.segment.duration, s.samples, s.sample_duration)):
            out = self.work_dir / f"sample-{i}.mkv"
            await run_ffmpeg(
                [
                    self.ffmpeg,
                    "-y",
                    "-ss",
                    f"{start:.3f}",
                    "-i",
                    str(source),
                    "-t",
                    f"{s.sample_duration:.3f}",
                    "-map",
                    "0:v:0",
                    "-c",
                    "copy",
                    "-avoid_negative_ts",
                    "make_zero",
                    str(out),
                ],
                what="cutting a sample",
                subject=str(source),
            )
            digest = _file_digest(out)
            if digest in seen or out.stat().st_size == 0:
                # With sparse keyframes two samples can start at the same keyframe: score that clip once.
                out.unlink()
                continue
            seen.add(digest)
            samples.append((out, round(out.stat().st_size * scale)))
        self._samples = samples
        return samples

    # -- one probe ---------------------------------------------------------------------------------------
    def _cache_key(self, crf: float) -> str:
        return probe_cache_prefix(self.identity, self.video, self.settings) + f"{crf:g}"

    def _full_pass_path(self, crf: float) -> Path:
        return self.work_dir / f"full-crf{crf:g}.mkv"

    async def probe(self, crf: float) -> Probe:
        key = self._cache_key(crf)
        hit = self.cache.cache_get(key) if self.cache is not None else None
        if hit is not None and (
            not hit.get("full_pass") or not self.reuse_full_pass or self._full_pass_path(crf).exists()
        ):
            probe = Probe(
                crf=crf,
                score=hit["score"],
                encoded_bytes=hit["encoded_bytes"],
                source_bytes=hit["source_bytes"],
                cached=True,
                full_pass=hit.get("full_pass", False),
            )
            self._report(probe)
            return probe
        settings = self.video.with_crf(crf)
        if self.in_runs:
            scores, encoded, source = await self._probe_in_runs(settings)
        else:
            scores, encoded, source = await self._probe_samples(settings)
        probe = Probe(
            crf=crf,
            score=self.metric.pool(scores, self.settings.pooling),
            encoded_bytes=encoded,
            source_bytes=source,
            frame_scores_count=len(scores),
            full_pass=self.full_pass and not self.in_runs,
        )
        if self.cache is not None:
            self.cache.cache_put(
                key,
                {
                    "score": probe.score,
                    "encoded_bytes": encoded,
                    "source_bytes": source,
                    "full_pass": probe.full_pass,
                },
            )
        self._report(probe)
        return probe

    async def _probe_samples(self, settings: VideoSettings) -> tuple[list[float], int, int]:
        samples = await self._prepare_samples()
        if not samples:
            raise SearchError("no usable samples could be cut", subject=self.segment.path)
        scores: list[float] = []
        encoded = source = 0
        crf = settings.crf
        for i, (sample, size) in enumerate(samples):
            out = (
                self._full_pass_path(crf) if self.full_pass else self.work_dir / f"sample-{i}-crf{crf:g}.mkv"
            )
            _, scored = await encode_and_measure(
                self.ffmpeg,
                EncodeRequest(sample, out, settings),
                self._scoring(settings),
                log_path=self.work_dir / f"score-{i}-crf{crf:g}.log",
                one_pass=self.one_pass,
                watch=RunWatch(what=f"sample encode at CRF {crf:g}"),
            )
            scores += scored.frame_scores
            encoded += out.stat().st_size
            source += size
            if not self.full_pass:
                out.unlink(missing_ok=True)
        return scores, encoded, source

    async def _probe_in_runs(self, settings: VideoSettings) -> tuple[list[float], int, int]:
        s, seg = self.settings, self.segment
        length = seg.duration * s.probe_share / s.probe_runs
        scores: list[float] = []
        encoded = 0
        crf = settings.crf
        for i, start in enumerate(sample_starts(seg.duration, s.probe_runs, length)):
            out = self.work_dir / f"run-{i}-crf{crf:g}.mkv"
            _, scored = await encode_and_measure(
                self.ffmpeg,
                EncodeRequest(
                    Path(seg.path), out, settings, input_args=("-ss", f"{start:.3f}", "-t", f"{length:.3f}")
                ),
                self._scoring(settings),
                log_path=self.work_dir / f"score-run-{i}-crf{crf:g}.log",
                one_pass=True,
                watch=RunWatch(what=f"probe run {i + 1} of {s.probe_runs} at CRF {crf:g}"),
            )
            scores += scored.frame_scores
            encoded += out.stat().st_size
            out.unlink(missing_ok=True)
        source = round(Path(seg.path).stat().st_size * source_scale(seg) * s.probe_share)
        return scores, encoded, source

    def _scoring(self, settings: VideoSettings) -> Scoring:
        return Scoring.of_encode(
            self.metric,
            settings,
            width=self.width,
            height=self.height,
            n_subsample=self.settings.n_subsample,
            pix_fmt=self.settings.score_pix_fmt,
        )

    def _report(self, probe: Probe) -> None:
        if self.on_probe is not None:
            self.on_probe(probe)

    # -- the search --------------------------------------------------------------------------------------
    def _q(self, crf: float) -> int:
        return round(crf / self.settings.step)

    def _crf(self, q: int) -> float:
        return q * self.settings.step

    async def run(self) -> SearchResult:
        s = self.settings
        lo, hi = self._q(s.min_crf), self._q(s.max_crf)
        aim = s.middle
        probes: dict[int, Probe] = {}
        order: list[Probe] = []

        def passes(p: Probe) -> bool:
            return p.score >= s.target

        def finish(p: Probe) -> SearchResult:
            full = self.seed_files.get(p.crf)
            if full is None and p.full_pass and self._full_pass_path(p.crf).exists():
                full = self._full_pass_path(p.crf)
            return SearchResult(crf=p.crf, score=p.score, probes=order, full_pass_encode=full)

        for known in self.seed:
            probes[self._q(known.crf)] = known
            order.append(known)
        start = self.start_crf if self.start_crf is not None else (s.min_crf + s.max_crf) / 2
        if self.seed:
            start = self.seed[-1].crf  # decide from the known probe first: no encode for it
        q = min(max(self._q(start), lo), hi)
        for _ in range(MAX_PROBES):
            probe = probes.get(q) or await self.probe(self._crf(q))
            if q not in probes:
                probes[q] = probe
                order.append(probe)
            if (
                passes(probe)
                and probe.score <= s.target + s.tolerance
                and probe.percent <= s.max_encoded_percent
            ):
                return finish(probe)
            if not passes(probe) and q == lo:
                raise SearchError(
                    f"even CRF {self._crf(lo):g} scores {self.metric.label} {probe.score:.2f}, below the target"
                    f" {s.target:g}{self.metric.unit}",
                    subject=self.segment.path,
                    hint="lower quality.target or encoding.min_crf",
                )
            if passes(probe) and q == hi:
                return finish(probe)
            good = [k for k, p in probes.items() if passes(p)]
            bad = [k for k, p in probes.items() if not passes(p)]
            best_pass = max(good) if good else None
            worst_fail = min((k for k in bad if best_pass is None or k > best_pass), default=None)
            if best_pass is not None and worst_fail is not None:
                if worst_fail - best_pass <= 1:
                    return finish(probes[best_pass])
                p, f = probes[best_pass], probes[worst_fail]
                # Secant between the bracketing probes, aimed at the middle of the acceptance window, or at the
                # target itself when size, not quality, is what binds (the highest passing CRF is wanted then).
                goal = s.target + 0.05 if p.percent > s.max_encoded_percent else aim
                if p.score - f.score > 1e-6:
                    t = (p.score - goal) / (p.score - f.score)
                    nq = best_pass + round(t * (worst_fail - best_pass))
                else:
                    nq = (best_pass + worst_fail) // 2
                q = min(max(nq, best_pass + 1), worst_fail - 1)
                continue
            # One side known: step by the expected slope (measured from two probes when we have them).
            loss = self.metric.loss
            slope = DEFAULT_LOG_SLOPE
            measured_slope = False
            if len(order) >= 2 and abs(order[-1].crf - order[-2].crf) > 1e-9:
                measured = math.log(loss(order[-1].score) / loss(order[-2].score)) / (
                    order[-1].crf - order[-2].crf
                )
                if measured > 0.007:
                    slope, measured_slope = measured, True
                elif passes(probe):
                    q = hi  # quality barely moves with CRF here (flat or static content): try max CRF at once
                    continue
            delta_crf = math.log(loss(aim) / loss(probe.score)) / slope
            room = (hi - q) if passes(probe) else (q - lo)
            # At least 1 CRF; at most half the remaining room on a guessed slope, all of it on a measured one
            # (content far above the target, such as flat animation, then reaches max CRF in two probes).
            limit = room if measured_slope else max(room // 2, 1)
            step = min(max(4, min(abs(round(delta_crf / s.step)), limit)), room)
            q = q + step if passes(probe) else q - step
        best = [p for p in order if passes(p)]
        if best:
            return finish(max(best, key=lambda p: p.crf))
        raise SearchError(
            f"no passing CRF within {MAX_PROBES} probes",
            subject=self.segment.path,
            hint="lower quality.target",
        )


def probe_cache_prefix(identity: str, video: VideoSettings, settings: SearchSettings) -> str:
    """The cache keys of one segment's probes under one set of encoder and search settings share this prefix
    (the CRF follows it), so a coordinator can hand a worker every probe it already knows in one lookup."""
    blob = json.dumps(
        {"segment": identity, "video": video.cache_identity(), "search": settings.identity()}, sort_keys=True
    )
    return "probe:" + hashlib.sha256(blob.encode()).hexdigest() + ":"


def escalate(settings: SearchSettings, attempt: int) -> SearchSettings:
    """Attempt 1 is as configured; 2 takes more and longer samples; 3+ also raises the target by the acceptance
    window's width per step (1 VMAF by default), never past the metric's range."""
    if attempt <= 1:
        return settings
    stronger = settings.model_copy(
        update={"samples": settings.samples + 2, "sample_duration": settings.sample_duration * 1.5}
    )
    if attempt >= 3:
        ceiling = metric_named(settings.metric).target_range[1] - settings.tolerance
        raised = min(settings.target + (attempt - 2) * settings.tolerance, ceiling)
        stronger = stronger.model_copy(update={"target": max(raised, settings.target)})
    return stronger


def cache_segment_identity(source: Path, content_key: str, segment: Segment) -> str:
    """Probe results belong to this segment of this exact content (see source_identity): a replaced file under
    the same name never reuses them, and no stat of a source that may be gone is needed."""
    return f"{source.resolve()}|{content_key}|{segment.start:.3f}|{segment.end:.3f}|{segment.frames}"


__all__ = [
    "CrfSearch",
    "Probe",
    "SearchError",
    "SearchResult",
    "SearchSettings",
    "cache_segment_identity",
    "escalate",
    "sample_starts",
]
