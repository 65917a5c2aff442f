"""`hooks.on_job_end`: a command the user chose, run when a job ends, with the job's facts in its environment.

The command is an argument list run without a shell: a film's name reaches it only as the value of an
environment variable, never as shell text, so no file name can run anything. It runs in a session of its own
(a time limit ends it and whatever it started), with stdin from /dev/null; a failure, a time-out or a missing
program is one warning line in the log and never changes the job's outcome.

Variables: DRAPTO_JOB_ID, DRAPTO_STATUS (completed, kept, failed, cancelled), DRAPTO_INPUT, DRAPTO_OUTPUT
(empty unless written), DRAPTO_INPUT_BYTES, DRAPTO_OUTPUT_BYTES, DRAPTO_METRIC (what the film was judged by:
vmaf, xpsnr; empty for the direct path), DRAPTO_SCORE (the whole film's figure in that metric, else the mean of
the measured segment scores; empty when none), DRAPTO_ERROR (the last fatal error line, empty when none).
A VMAF job also sets DRAPTO_VMAF, the name hooks written before other metrics read. Replace in place (library
mode) sets DRAPTO_REPLACED (the source path the output took the place of) and DRAPTO_ORIGINAL (where the original
is kept until library.trash_days); both are empty otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics

from drapto_tui.model.state import ProcessingState

#: The score's variable before there was more than one metric, still set for that metric's jobs.
OLD_SCORE_VARIABLES = {"vmaf": "DRAPTO_VMAF"}


def hook_environment(job: ProcessingState) -> dict[str, str]:
    scores = [s.score_measured for s in job.segments.values() if s.score_measured is not None]
    whole = job.stats.get("score_file")
    score = f"{whole:.2f}" if whole is not None else (f"{statistics.fmean(scores):.2f}" if scores else "")
    fatal = [e.message for e in job.errors if e.fatal]
    output = job.output_file if job.output_file and os.path.exists(job.output_file) else ""
    old = OLD_SCORE_VARIABLES.get(job.metric or "")
    return {
        "DRAPTO_JOB_ID": job.job_id,
        "DRAPTO_STATUS": job.status.value,
        "DRAPTO_INPUT": job.current_file or "",
        "DRAPTO_OUTPUT": output,
        "DRAPTO_INPUT_BYTES": str(job.stats.get("input_bytes", "")),
        "DRAPTO_OUTPUT_BYTES": str(job.stats.get("output_bytes", "")),
        "DRAPTO_METRIC": job.metric or "",
        "DRAPTO_SCORE": score,
        **({old: score} if old else {}),
        "DRAPTO_ERROR": fatal[-1] if fatal else "",
        "DRAPTO_REPLACED": str(job.stats.get("replaced") or ""),
        "DRAPTO_ORIGINAL": str(job.stats.get("original_kept") or ""),
    }


async def run_job_end_hook(argv: list[str], job: ProcessingState, timeout: float) -> str | None:
    """Run the hook for this ended job; None when it exited 0, else one line that says what went wrong."""
    name = os.path.basename(argv[0])
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **hook_environment(job)},
            start_new_session=True,
        )
    except OSError as exc:
        return f"hooks.on_job_end: {name} could not start ({exc.strerror or exc}); check the command"
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return f"hooks.on_job_end: {name} ran longer than hooks.timeout = {timeout:g} s and was stopped"
    if proc.returncode != 0:
        last = (stderr or b"").decode(errors="replace").strip().splitlines()
        why = f": {last[-1][:200]}" if last else ""
        return f"hooks.on_job_end: {name} exited {proc.returncode}{why}"
    return None


__all__ = ["hook_environment", "run_job_end_hook"]
