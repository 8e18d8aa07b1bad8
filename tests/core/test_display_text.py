"""Dates, times and person names as the browser shows them (issue 11)."""

from __future__ import annotations

import pytest

from meddiag_desktop.core.display_text import (
    NOT_STATED,
    date_sort_key,
    format_date,
    format_date_time,
    format_person_name,
    format_time,
)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("20070404", "2007-04-04"),
        (" 20070404 ", "2007-04-04"),
        ("2007.04.04", "2007-04-04"),  # ACR-NEMA style
        ("", NOT_STATED),
        ("   ", NOT_STATED),
        ("20071340", "20071340 (not a valid date)"),  # month 13
        ("20070230", "20070230 (not a valid date)"),  # 30 February
        ("2007044", "2007044 (not a valid date)"),
        ("unknown", "unknown (not a valid date)"),
    ],
)
def test_format_date(value: str, shown: str) -> None:
    assert format_date(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("101530.123456", "10:15"),
        ("1015", "10:15"),
        ("07", "07:00"),
        ("10:15:30", "10:15"),
        ("", NOT_STATED),
        ("2561", "2561 (not a valid time)"),
        ("10153", "10153 (not a valid time)"),
    ],
)
def test_format_time(value: str, shown: str) -> None:
    assert format_time(value) == shown


def test_date_and_time_together_and_sort_key() -> None:
    assert format_date_time("20070404", "101530") == "2007-04-04 10:15"
    assert format_date_time("20070404", "") == "2007-04-04"
    assert format_date_time("", "101530") == NOT_STATED
    assert date_sort_key("20070404", "101530") == "20070404101530"
    assert date_sort_key("20070404") == "20070404000000"
    assert date_sort_key("junk", "101530") == ""
    assert date_sort_key("19991231", "235959") < date_sort_key("20000101", "000000")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Doe^John^^Dr", "Doe, John (Dr)"),
        ("Doe^John^Quincy^Dr^Jr", "Doe, John Quincy (Dr, Jr)"),
        ("Doe^John", "Doe, John"),
        ("Doe", "Doe"),
        ("^John", "John"),
        ("Doe^^^^PhD", "Doe (PhD)"),
        ("  Doe ^ John  ", "Doe, John"),
        ("Yamada^Tarou=山田^太郎=やまだ^たろう", "Yamada, Tarou / 山田 太郎"),
        ("=山田^太郎", "山田 太郎"),
        ("Buc^Jérôme", "Buc, Jérôme"),
        ("Люкceмбypг^Гeнpиx", "Люкceмбypг, Гeнpиx"),
        ("", NOT_STATED),
        ("^^^^", NOT_STATED),
        ("==", NOT_STATED),
    ],
)
def test_format_person_name(value: str, shown: str) -> None:
    assert format_person_name(value) == shown
