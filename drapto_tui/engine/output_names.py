"""Where each film's output goes, decided when the job is queued, so two films never share one output.

Layout (`output.layout`):
- "flat" (default): `<output dir>/<stem>.mkv`.
- "mirror": the source's folders below the folder that was given are repeated under the output dir
  (`encode Films/` with `Films/a/film.mkv` → `<output dir>/a/film.mkv`); a file given directly goes at the
  top.

A name is taken when another source's job claims it: a queued, running, held or failed job, or a completed one
whose file is still there. The next free name is then `<stem> (2).mkv`, `<stem> (3).mkv`, ... in queue order,
so the same command always gives the same names. A file on disk that no job in the queue claims is not a
collision: it is this film's earlier output, skipped unless --overwrite, as always.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SUFFIX = ".mkv"


def exists_reason(output: Path | str) -> str:
    """Why a film is skipped when its output is already there (said the same way on every run)."""
    return f"{output} exists; pass --overwrite to replace it"


def base_output(source: Path, root: Path | None, out_dir: Path, layout: str) -> Path:
    if layout == "mirror" and root is not None:
        try:
            relative = source.parent.resolve().relative_to(root.resolve())
        except ValueError:
            relative = Path()
        return out_dir / relative / f"{source.stem}{SUFFIX}"
    return out_dir / f"{source.stem}{SUFFIX}"


def plan_output(
    source: Path, root: Path | None, out_dir: Path, layout: str, claimed: Mapping[str, str]
) -> Path:
    """The first of base, base (2), base (3)... that no other source claims (`claimed`: output → source)."""
    base = base_output(source, root, out_dir, layout)
    me = str(source)
    n = 1
    while True:
        candidate = base if n == 1 else base.with_name(f"{base.stem} ({n}){SUFFIX}")
        owner = claimed.get(str(candidate))
        if owner is None or owner == me:
            return candidate
        n += 1


__all__ = ["base_output", "plan_output"]
