"""Fault-injecting FFmpeg wrappers: the real embedded FFmpeg, with one capability hidden or one step broken."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

_TEMPLATE = """#!{python}
import os, subprocess, sys
REAL = {real!r}
HIDE = {hide!r}
args = sys.argv[1:]
if any(a in ("-encoders", "-filters") for a in args) or args[:2] == ["-h", "encoder=libsvtav1"]:
    out = subprocess.run([REAL, *args], capture_output=True, text=True)
    keep = lambda line: not any(name in line.split() for name in HIDE)
    if args[:2] == ["-h", "encoder=libsvtav1"] and "libsvtav1" in HIDE:
        sys.stderr.write("Codec 'libsvtav1' is not recognized by FFmpeg.\\n"); sys.exit(1)
    sys.stdout.write("\\n".join(l for l in out.stdout.splitlines() if keep(l)) + "\\n")
    sys.stderr.write(out.stderr)
    sys.exit(out.returncode)
used = [name for name in HIDE if any(name in a for a in args)]
if used:  # as a build without it answers a run that asks for it
    sys.stderr.write(f"No such filter or encoder: '{{used[0]}}'\\n"); sys.exit(1)
os.execv(REAL, [REAL, *args])
"""


def ffmpeg_without(tmp_dir: Path, real: str, *hide: str) -> Path:
    """An FFmpeg that reports no `hide` encoders/filters (e.g. libsvtav1) and fails a run that uses one, as a build
    without them does; otherwise it is the real one."""
    path = tmp_dir / f"ffmpeg-without-{'-'.join(hide)}"
    path.write_text(_TEMPLATE.format(python=sys.executable, real=real, hide=list(hide)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    assert os.access(path, os.X_OK)
    return path


_KILLER = """#!{python}
import os, signal, subprocess, sys, time
from pathlib import Path
REAL = {real!r}
MATCH = {match!r}
COUNTER = Path({counter!r})
TIMES = {times}
args = sys.argv[1:]
hit = all(any(m in a for a in args) for m in MATCH)
done = int(COUNTER.read_text()) if COUNTER.exists() else 0
if hit and done < TIMES:
    COUNTER.write_text(str(done + 1))
    child = subprocess.Popen([REAL, *args])
    time.sleep({after})
    child.send_signal(signal.SIGKILL)  # FFmpeg killed mid-run, as by the OOM killer
    child.wait()
    sys.stderr.write("fault_ffmpeg: killed FFmpeg mid-run\\n")
    sys.exit(137)
os.execv(REAL, [REAL, *args])
"""


def ffmpeg_killing(tmp_dir: Path, real: str, match: list[str], *, times: int = 1, after: float = 0.3) -> Path:
    """An FFmpeg that SIGKILLs the run whose arguments contain every string in `match`, `times` times."""
    path = tmp_dir / "ffmpeg-killing"
    counter = tmp_dir / "ffmpeg-killing.count"
    path.write_text(
        _KILLER.format(
            python=sys.executable, real=real, match=match, counter=str(counter), times=times, after=after
        )
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def kill_count(tmp_dir: Path) -> int:
    counter = tmp_dir / "ffmpeg-killing.count"
    return int(counter.read_text()) if counter.exists() else 0


_OLD_LIBAVCODEC = """#!{python}
import os, re, subprocess, sys
REAL = {real!r}
args = sys.argv[1:]
if "-version" in args:
    out = subprocess.run([REAL, *args], capture_output=True, text=True)
    sys.stdout.write(re.sub(r"libavcodec(\\s+)\\d+\\.", r"libavcodec\\g<1>{major}.", out.stdout))
    sys.exit(out.returncode)
os.execv(REAL, [REAL, *args])
"""


def ffmpeg_reporting_libavcodec(tmp_dir: Path, real: str, major: int) -> Path:
    """The real FFmpeg, answering `-version` with libavcodec `major` (e.g. 60, a 6.x build without `-dec`)."""
    path = tmp_dir / f"ffmpeg-libavcodec-{major}"
    path.write_text(_OLD_LIBAVCODEC.format(python=sys.executable, real=real, major=major))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


_RECORDER = """#!{python}
import json, os, sys
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


def ffmpeg_recording(tmp_dir: Path, real: str) -> tuple[Path, Path]:
    """The real FFmpeg, each run's arguments written first, one JSON list a line, to the log returned with it."""
    path = tmp_dir / "ffmpeg-recording"
    log = tmp_dir / "ffmpeg-runs.jsonl"
    path.write_text(_RECORDER.format(python=sys.executable, real=real, log=str(log)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path, log
