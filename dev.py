#!/usr/bin/env python3
"""One-step setup and run: `python3 dev.py demo` opens the app on demo clips; `python3 dev.py test` runs the suite.

Creates .venv beside this file with the standard library's venv, installs the project (editable) with the
extras the command needs, every package at the version in requirements.lock (what CI tested), and reinstalls
only when pyproject.toml or the lock changes. Needs only Python 3.11+ and pip.

    check       ruff check, ruff format --check, mypy and the import contracts (lint-imports)
    wheel-test  build the wheel, install it into a fresh venv, run the snapshot and theme tests against it
    lock        rewrite requirements.lock: the project and every extra resolved in a fresh venv
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
LOCK = ROOT / "requirements.lock"
EXTRAS = {
    "demo": {"demo"},
    "test": {"test"},
    "app": {"demo"},
    "screenshots": {"demo"},
    "bench": {"demo", "bench"},
    "check": {"test"},
    "wheel-test": {"test"},
    "lock": set(),
}
#: The tests that prove the installed wheel carries its data files (CSS, themes), that its console script
#: resolves, and that it runs without the checkout.
WHEEL_TESTS = [
    "tests/tui/test_snapshots.py",
    "tests/tui/test_app.py::test_themes_load_from_files_and_cycle",
    "tests/test_cli.py::test_the_installed_command_runs",
]


#: An extra whose packages another one carries too: a venv set up for the tests needs no install for the demo.
IMPLIED = {"test": {"demo"}}


def _installed() -> tuple[str, set[str]]:
    try:
        digest, _, listed = STAMP.read_text().partition("\n")
    except FileNotFoundError:
        return "", set()
    extras = set(listed.split(",")) - {""}
    return digest, extras.union(*(IMPLIED.get(extra, set()) for extra in extras))


def ensure_env(extras: set[str]) -> None:
    if not (BIN / "python").exists():
        print(f"dev.py: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (LOCK.read_bytes() if LOCK.exists() else b"")
    ).hexdigest()
    have_digest, have_extras = _installed()
    if have_digest == digest and extras <= have_extras:
        return
    wanted = sorted(extras | (have_extras if have_digest == digest else set()))
    spec = f".[{','.join(wanted)}]" if wanted else "."
    print(f"dev.py: installing {spec} into .venv", flush=True)
    pip_install(BIN / "python", ["-e", spec])
    STAMP.write_text(f"{digest}\n{','.join(wanted)}")


def pip_install(python: Path, args: list[str]) -> None:
    constraints = ["-c", str(LOCK)] if LOCK.exists() else []
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *constraints, *args],
        cwd=ROOT,
        check=True,
    )


#: The independent judges some tests need from the system (Debian package → the command it gives): Chromium for
#: the browser view, mkvtoolnix's mkvmerge for track flags and attachments. Without them those tests skip.
JUDGES = {"chromium": "chromium", "mkvtoolnix": "mkvmerge"}


def ensure_judges() -> None:
    """Install the missing judges with apt-get where this user may (root, non-interactive), else say which
    tests will skip and the command that installs them."""
    import shutil

    missing = [package for package, command in JUDGES.items() if shutil.which(command) is None]
    if not missing:
        return
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        print(f"dev.py: installing {' '.join(missing)} (the tests' independent judges)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "-q", *missing]
        if subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False).returncode != 0:
            subprocess.run([apt, "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)
            subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=False)
        missing = [package for package, command in JUDGES.items() if shutil.which(command) is None]
    if missing:
        print(
            f"dev.py: {', '.join(missing)} not installed: the tests that judge with them will skip"
            f" (sudo apt-get install {' '.join(missing)})",
            flush=True,
        )


def check() -> int:
    """Every static check, each reported; non-zero if any failed."""
    steps = [
        (
            "ruff check",
            [BIN / "ruff", "check", "drapto_tui", "samples", "tests", "benchmarks", "screenshots", "dev.py"],
        ),
        (
            "ruff format",
            [
                BIN / "ruff",
                "format",
                "--check",
                "drapto_tui",
                "samples",
                "tests",
                "benchmarks",
                "screenshots",
                "dev.py",
            ],
        ),
        ("mypy", [BIN / "mypy"]),
        ("import contracts", [BIN / "lint-imports", "--no-cache"]),
    ]
    failed = []
    for name, args in steps:
        print(f"dev.py check: {name}", flush=True)
        if subprocess.run([str(a) for a in args], cwd=ROOT, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"dev.py check: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("dev.py check: all clean")
    return 0


def wheel_test(pytest_args: list[str]) -> int:
    """Build the wheel, install it with its test extras into a fresh venv, and run tests that need the package's
    data files from a copy of tests/ outside the checkout, so nothing can be imported from the source tree."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(prefix="drapto-wheel-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [str(BIN / "python"), "-m", "build", "--wheel", "--outdir", str(work / "dist"), str(ROOT)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wheel = next((work / "dist").glob("*.whl"))
        print(f"dev.py wheel-test: built {wheel.name}", flush=True)
        import zipfile

        # The product only: no sample-media makers, no tests (samples/ makes demo and test clips, issue 25).
        stray = [
            name
            for name in zipfile.ZipFile(wheel).namelist()
            if not name.startswith(("drapto_tui/", "drapto_tui-")) or name.endswith("samples.py")
        ]
        if stray:
            print(f"dev.py wheel-test: the wheel carries {', '.join(stray)}", file=sys.stderr)
            return 1
        venv.EnvBuilder(with_pip=True, clear=True).create(work / "venv")
        python = work / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python"
        pip_install(python, [f"{wheel}[test]"])
        for support in ("tests", "samples"):  # the tests make their clips with samples/, as in the checkout
            shutil.copytree(ROOT / support, work / support, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")  # pytest settings only; no package here
        where = subprocess.run(
            [str(python), "-c", "import drapto_tui; print(drapto_tui.__file__)"],
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if str(work / "venv") not in where:
            print(
                f"dev.py wheel-test: drapto_tui imported from {where}, not the installed wheel",
                file=sys.stderr,
            )
            return 1
        print(f"dev.py wheel-test: testing {where}", flush=True)
        return subprocess.run(
            [str(python), "-m", "pytest", "-p", "no:cacheprovider", *WHEEL_TESTS, *pytest_args],
            cwd=work,
            check=False,
        ).returncode


def lock() -> int:
    """Resolve the project with every extra in a fresh venv (no constraints) and pin what it got."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="drapto-lock-") as tmp:
        venv.EnvBuilder(with_pip=True, clear=True).create(tmp)
        python = Path(tmp) / ("Scripts" if os.name == "nt" else "bin") / "python"
        extras = ",".join(sorted(set().union(*EXTRAS.values())))
        subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", f"{ROOT}[{extras}]"],
            check=True,
        )
        frozen = subprocess.run(
            [str(python), "-m", "pip", "freeze", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    lines = sorted(
        (line for line in frozen.splitlines() if line and not line.startswith("drapto-tui")), key=str.lower
    )
    LOCK.write_text(
        "# The versions CI tested (python3 dev.py lock rewrites it); dev.py installs with"
        " these as constraints.\n" + "\n".join(lines) + "\n"
    )
    print(f"dev.py lock: {len(lines)} packages in {LOCK.name}")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in EXTRAS:
        print(__doc__.strip())
        print(
            "\nusage: python3 dev.py demo [app options] | test [pytest options] | app [app options] | screenshots | bench [quality|probes|calibrate|hdr-metric|direct|service|cluster|latency|reattach]"
            " | check | wheel-test [pytest options] | lock"
        )
        return 2
    command, rest = argv[0], argv[1:]
    if command == "lock":
        return lock()  # its own fresh venv: .venv may hold packages the project no longer needs
    ensure_env(EXTRAS[command])
    if command == "check":
        return check()
    if command == "wheel-test":
        return wheel_test(rest)
    if command == "test":
        ensure_judges()
        args = [str(BIN / "python"), "-m", "pytest", *rest]
    elif command == "bench":
        if rest[:1] == ["quality"]:  # the quality path against fixed CRF and ab-av1, on real footage
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "quality.py"), *rest[1:]]
        elif rest[:1] == ["probes"]:  # probe designs against each segment's truth (issue 24)
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "probes.py"), *rest[1:]]
        elif rest[:1] == ["hdr-metric"]:  # which metric judges an HDR film, at what target (issue 25)
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "hdr_metric.py"), *rest[1:]]
        elif rest[:1] == [
            "calibrate"
        ]:  # the predictive model's constants for an encoder and metric (issue 25)
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "calibrate.py"), *rest[1:]]
        elif rest[:1] == ["direct"]:  # the Dolby Vision path against the bare FFmpeg command
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "direct.py"), *rest[1:]]
        elif rest[:1] == ["cluster"]:  # the Dask executor against the local one, and the N-machine model
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "cluster.py"), *rest[1:]]
        elif rest[:1] == ["service"]:  # the service's memory and attach time with a big queue
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "service.py"), *rest[1:]]
        elif rest[:1] == ["reattach"]:  # the real app attaching to a service with a big queue, in a pty
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "reattach.py"), *rest[1:]]
        elif rest[:1] == ["latency"]:  # the app in a pseudo-terminal: key to screen, read back by pyte
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "ui_latency.py"), *rest[1:]]
        else:
            args = [str(BIN / "python"), str(ROOT / "benchmarks" / "run.py"), *rest]
    elif command == "screenshots":
        args = [str(BIN / "python"), str(ROOT / "screenshots" / "make_screenshots.py"), *rest]
    elif command == "demo":  # samples/demo.py makes the demo's films, then opens `drapto-tui --demo` on them
        args = [str(BIN / "python"), "-m", "samples.demo", *rest]
    else:
        args = [str(BIN / "drapto-tui"), *rest]
    os.chdir(ROOT)
    os.execv(args[0], args)
    return 0  # unreachable


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
