#!/usr/bin/env python3
"""One-step setup and run: `python3 dev.py demo` opens the app on demo clips; `python3 dev.py test` runs the suite.

Creates .venv beside this file with the standard library's venv, installs the project (editable) with the
extras the command needs, and reinstalls only when pyproject.toml changes. Needs only Python 3.11+ and pip.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".drapto-installed"
EXTRAS = {"demo": {"demo"}, "test": {"test"}, "app": {"demo"}, "screenshots": {"demo"}, "bench": {"demo"}}


def _installed() -> tuple[str, set[str]]:
    try:
        digest, _, extras = STAMP.read_text().partition("\n")
        return digest, set(extras.split(",")) - {""}
    except FileNotFoundError:
        return "", set()


def ensure_env(extras: set[str]) -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"drapto-tui needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    have_digest, have_extras = _installed()
    if have_digest == digest and extras <= have_extras:
        return
    wanted = sorted(extras | (have_extras if have_digest == digest else set()))
    spec = f".[{','.join(wanted)}]" if wanted else "."
    print(f"dev.py: installing {spec} into .venv", flush=True)
    subprocess.run([str(BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", spec],
                   cwd=ROOT, check=True)
    STAMP.write_text(f"{digest}\n{','.join(wanted)}")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EXTRAS:
        print(__doc__.strip())
        print("\nusage: python3 dev.py demo [app options] | test [pytest options] | app [app options] | screenshots | bench")
        return 2
    command, rest = argv[0], argv[1:]
    ensure_env(EXTRAS[command])
    if command == "test":
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    elif command == "bench":
        args = [str(BIN / "python"), str(ROOT / "benchmarks" / "run.py"), *rest]
    elif command == "screenshots":
        args = [str(BIN / "python"), str(ROOT / "screenshots" / "make_screenshots.py"), *rest]
    elif command == "demo":
        args = [str(BIN / "drapto-tui"), "--demo", *rest]
    else:
        args = [str(BIN / "drapto-tui"), *rest]
    os.chdir(ROOT)
    os.execv(args[0], args)
    return 0  # unreachable


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
