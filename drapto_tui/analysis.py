"""Discovery and analysis steps of the pipeline, as events: FILE_DISCOVERED, ANALYSIS_STARTED/COMPLETE, errors."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from drapto_tui.config.schema import InputConfig
from drapto_tui.discovery import discover_with_roots
from drapto_tui.errors import DraptoError
from drapto_tui.events import EventBus, ProcessingEvents, ProcessingStatus
from drapto_tui.media.probe import MediaProbe, probe


def discover_files(paths: Iterable[Path], cfg: InputConfig,
                   bus: EventBus | None = None) -> list[tuple[Path, Path | None]]:
    """Films under `paths`, each with the folder it was found under (for output.layout = "mirror")."""
    files = discover_with_roots(paths, cfg)
    if bus is not None:
        for file, _ in files:
            bus.emit(ProcessingEvents.FILE_DISCOVERED, file=file, size=file.stat().st_size)
    return files


async def analyze(job_id: str, path: Path, ffmpeg: str, bus: EventBus) -> MediaProbe | None:
    """Probe one file; on bad input emit one clear ERROR_OCCURRED (fatal for the job) and return None."""
    bus.emit(ProcessingEvents.ANALYSIS_STARTED, job_id=job_id, file=path, status=ProcessingStatus.RUNNING)
    try:
        media = await probe(path, ffmpeg)
    except DraptoError as err:
        bus.emit(
            ProcessingEvents.ERROR_OCCURRED, job_id=job_id, file=path, status=ProcessingStatus.FAILED,
            message=err.line(), stage="analysis", fatal=True,
        )
        return None
    bus.emit(
        ProcessingEvents.ANALYSIS_COMPLETE, job_id=job_id, file=path,
        media=media.model_dump(mode="json"), encoding_path=media.encoding_path,
    )
    return media
