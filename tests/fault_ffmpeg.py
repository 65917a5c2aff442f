"""Fault-injecting FFmpeg wrappers: the real embedded FFmpeg, with one capability hidden or one step broken."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

_TEMPLATE = '''#!{python}
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
os.execv(REAL, [REAL, *args])
'''


def ffmpeg_without(tmp_dir: Path, real: str, *hide: str) -> Path:
    """An FFmpeg that reports no `hide` encoders/filters (e.g. libsvtav1) but otherwise is the real one."""
    path = tmp_dir / f"ffmpeg-without-{'-'.join(hide)}"
    path.write_text(_TEMPLATE.format(python=sys.executable, real=real, hide=list(hide)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    assert os.access(path, os.X_OK)
    return path
