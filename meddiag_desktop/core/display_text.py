"""DICOM dates, times and person names as people read them (pure functions, no Qt).

Value formats follow PS3.5 6.2: DA is ``YYYYMMDD`` (ACR-NEMA files may write ``YYYY.MM.DD``),
TM is ``HH[MM[SS[.F{1-6}]]]`` (older files may write ``HH:MM:SS``), and PN holds up to three
component groups (alphabetic, ideographic, phonetic) separated by ``=``, each with up to five
components separated by ``^``: family, given, middle, prefix, suffix (PS3.5 6.2.1.1).
Nothing is guessed: a value that is not a valid date is shown as written, marked as such.
"""

from __future__ import annotations

import datetime

NOT_STATED = "not stated"


def parse_date(value: str) -> datetime.date | None:
    """The date of a DA value, or ``None`` when it is empty or not a real calendar date."""
    digits = value.strip().replace(".", "") if len(value.strip()) == 10 else value.strip()
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def format_date(value: str) -> str:
    """``20070404`` -> ``2007-04-04``; empty -> "not stated"; anything else is shown as written."""
    if not value.strip():
        return NOT_STATED
    parsed = parse_date(value)
    return parsed.isoformat() if parsed else f"{value.strip()} (not a valid date)"


def parse_time(value: str) -> tuple[int, int, int] | None:
    """``(hour, minute, second)`` of a TM value, or ``None`` when it is empty or invalid."""
    text = value.strip().split(".")[0].replace(":", "")
    if not text or len(text) % 2 or len(text) > 6 or not text.isdigit():
        return None
    parts = [int(text[i : i + 2]) for i in range(0, len(text), 2)] + [0, 0]
    hour, minute, second = parts[:3]
    if hour > 23 or minute > 59 or second > 60:  # 60: a leap second is valid TM
        return None
    return hour, minute, second


def format_time(value: str) -> str:
    """``101530.25`` -> ``10:15`` (minutes are what a worklist needs); empty -> "not stated"."""
    if not value.strip():
        return NOT_STATED
    parsed = parse_time(value)
    return f"{parsed[0]:02d}:{parsed[1]:02d}" if parsed else f"{value.strip()} (not a valid time)"


def format_date_time(date: str, time: str) -> str:
    """The date, followed by the time when one is stated and valid."""
    shown = format_date(date)
    clock = parse_time(time)
    if parse_date(date) is None or clock is None:
        return shown
    return f"{shown} {clock[0]:02d}:{clock[1]:02d}"


def date_sort_key(date: str, time: str = "") -> str:
    """``YYYYMMDDHHMMSS`` for sorting; an unknown date sorts first (empty key)."""
    parsed = parse_date(date)
    if parsed is None:
        return ""
    clock = parse_time(time) or (0, 0, 0)
    return parsed.strftime("%Y%m%d") + "".join(f"{p:02d}" for p in clock)


def format_person_name(value: str) -> str:
    """``Doe^John^^Dr`` -> ``Doe, John (Dr)``; the ideographic form follows after " / "."""
    groups = [_format_group(g, separator=", " if i == 0 else " ") for i, g in enumerate(value.split("=")[:3])]
    alphabetic, ideographic = groups[0], groups[1] if len(groups) > 1 else ""
    if alphabetic and ideographic:
        return f"{alphabetic} / {ideographic}"
    return alphabetic or ideographic or (groups[2] if len(groups) > 2 else "") or NOT_STATED


def _format_group(group: str, separator: str) -> str:
    """One component group; ideographic names read family name first with no comma (山田 太郎)."""
    family, given, middle, prefix, suffix = ([c.strip() for c in group.split("^")] + [""] * 5)[:5]
    forenames = " ".join(n for n in (given, middle) if n)
    name = separator.join(n for n in (family, forenames) if n)
    titles = ", ".join(t for t in (prefix, suffix) if t)
    if name and titles:
        return f"{name} ({titles})"
    return name or titles
