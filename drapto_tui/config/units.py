"""Human sizes ("700MB", "4GiB", "1.5G") to bytes and back."""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    # Bare letters follow dd/ffmpeg habit: binary multiples.
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
    "t": 2**40,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: object) -> int:
    """Bytes from an int or a string such as "700MB", "4GiB", "1.5G"; ValueError says what is accepted."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 700MB or 4GiB, not a boolean")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if isinstance(value, float):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a size such as 700MB or 4GiB, got {type(value).__name__}")
    match = _SIZE_RE.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a size; write e.g. 700MB, 4GiB or 1048576")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown size unit {unit!r}; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB")
    return int(float(number) * factor)


def format_size(num_bytes: int) -> str:
    """The shortest exact spelling, so that `config show` output parses back to the same value."""
    if num_bytes == 0:
        return "0"
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if num_bytes % factor == 0:
            return f"{num_bytes // factor}{unit}"
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if num_bytes % factor == 0:
            return f"{num_bytes // factor}{unit}"
    return str(num_bytes)


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(value: str) -> tuple[int, int]:
    """A daily time window "HH:MM-HH:MM" as (start, end) minutes after midnight; end before start crosses
    midnight ("22:00-06:00"), equal ends mean the whole day."""
    match = _WINDOW.match(value)
    if not match:
        raise ValueError(
            f'{value!r} is not a time window; write e.g. "01:00-07:00" (local time, 24-hour clock)'
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
        raise ValueError(f"{value!r} is not a time window: hours run 00-24 and minutes 00-59")
    return (h1 * 60 + m1) % 1440, (h2 * 60 + m2) % 1440


def human_size(num_bytes: float) -> str:
    """Approximate size for display (1.2 GiB)."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
