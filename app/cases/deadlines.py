"""Legal clocks: calendar and working-day deadlines with each country's public holidays.

- Recovery and reflection period: at least 30 days (Council of Europe Convention on Action
  against Trafficking in Human Beings, Art. 13), from the reasonable-grounds indication.
- National decision deadlines, e.g. the UK's reasonable-grounds decision expected within
  5 working days (National Referral Mechanism guidance, a comparison). Each Member State
  sets its own in its settings.

Public holidays come from the ``holidays`` package (no hand-kept tables).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

import holidays

MINIMUM_REFLECTION_DAYS = 30


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:
        raise ValueError(f"no public-holiday calendar for {country}") from exc
    return frozenset(calendar.keys())


def holiday_subdivisions(country: str) -> frozenset[str]:
    """Regions with their own public holidays in ``country`` (empty if none or unknown)."""
    try:
        return frozenset(holidays.list_supported_countries().get(country, []))
    except AttributeError:
        return frozenset()


def is_working_day(day: date, country: str, subdivision: str | None = None) -> bool:
    return day.weekday() < 5 and day not in _holidays(country, subdivision, day.year)


def add_working_days(start: date, days: int, country: str, subdivision: str | None = None) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself is not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    _holidays(country, subdivision, start.year)  # fail early for an unknown country
    day = start
    remaining = days
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day, country, subdivision):
            remaining -= 1
    return day


@dataclass(frozen=True)
class ClockRule:
    code: str
    amount: int
    unit: Literal["calendar_days", "working_days"]

    def due(self, start: date, country: str, subdivision: str | None = None) -> date:
        if self.unit == "working_days":
            return add_working_days(start, self.amount, country, subdivision)
        return start + timedelta(days=self.amount)


def check_rule(rule: ClockRule) -> None:
    if not 0 < rule.amount <= 3650:
        raise ValueError("a deadline must be between 1 and 3650 days")
    if rule.code == "reflection_period" and (rule.unit != "calendar_days" or rule.amount < MINIMUM_REFLECTION_DAYS):
        raise ValueError("the reflection period is at least 30 calendar days")


@dataclass(frozen=True)
class ClockStatus:
    code: str
    due: date
    days_left: int  # calendar days from today; negative when overdue
    overdue: bool


def status(rule: ClockRule, start: date, today: date, country: str, subdivision: str | None = None) -> ClockStatus:
    due = rule.due(start, country, subdivision)
    left = (due - today).days
    return ClockStatus(rule.code, due, left, left < 0)
