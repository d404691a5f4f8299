"""Legal clocks over weekends and real public holidays."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cases.deadlines import ClockRule, add_working_days, check_rule, is_working_day, status


@pytest.mark.parametrize(
    ("start", "days", "country", "due"),
    [
        (date(2026, 12, 24), 1, "FR", date(2026, 12, 28)),  # Christmas, then a weekend
        (date(2026, 12, 23), 6, "DE", date(2027, 1, 4)),  # 24 and 31 Dec are workdays in DE; 25/26 Dec, 1 Jan not
        (date(2026, 4, 9), 1, "RO", date(2026, 4, 14)),  # Orthodox Good Friday and Easter Monday in Romania
        (date(2026, 3, 2), 1, "BG", date(2026, 3, 4)),  # 3 March, Liberation Day
        (date(2026, 11, 27), 5, "FR", date(2026, 12, 4)),  # an ordinary week
        (date(2026, 12, 25), 0, "FR", date(2026, 12, 25)),  # nothing to add
    ],
)
def test_working_days(start: date, days: int, country: str, due: date) -> None:
    assert add_working_days(start, days, country) == due


def test_regional_holidays() -> None:
    # Epiphany (6 January) is a holiday in Bavaria, not in Berlin.
    assert add_working_days(date(2027, 1, 5), 1, "DE", "BY") == date(2027, 1, 7)
    assert add_working_days(date(2027, 1, 5), 1, "DE", "BE") == date(2027, 1, 6)


def test_is_working_day() -> None:
    assert not is_working_day(date(2026, 11, 28), "FR")  # Saturday
    assert not is_working_day(date(2026, 7, 14), "FR")  # Bastille Day
    assert is_working_day(date(2026, 7, 15), "FR")


@pytest.mark.parametrize(
    "rule",
    [
        ClockRule("reflection_period", 20, "calendar_days"),
        ClockRule("reflection_period", 30, "working_days"),
        ClockRule("decision", 0, "working_days"),
    ],
)
def test_bad_rules(rule: ClockRule) -> None:
    with pytest.raises(ValueError):
        check_rule(rule)


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 1), -1, "FR")
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 1), 1, "XX")


def test_status() -> None:
    rule = ClockRule("reflection_period", 30, "calendar_days")
    running = status(rule, date(2026, 11, 1), date(2026, 11, 20), "FR")
    assert running.due == date(2026, 12, 1) and running.days_left == 11 and not running.overdue
    late = status(ClockRule("decision", 5, "working_days"), date(2026, 11, 2), date(2026, 11, 20), "FR")
    assert late.due == date(2026, 11, 9) and late.overdue and late.days_left == -11


@settings(max_examples=100, deadline=None)
@given(
    st.dates(date(2025, 1, 1), date(2028, 12, 31)),
    st.integers(0, 40),
    st.integers(0, 40),
    st.sampled_from(["FR", "DE", "RO", "BG"]),
)
def test_working_days_compose(start: date, a: int, b: int, country: str) -> None:
    end = add_working_days(start, a + b, country)
    assert end == add_working_days(add_working_days(start, a, country), b, country)
    if a + b:
        assert end > start and is_working_day(end, country)
