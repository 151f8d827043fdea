"""Our calendar files agree, day by day, with the chinesecalendar package they were seeded from."""

from __future__ import annotations

import datetime
import importlib.util
from pathlib import Path

import chinese_calendar
import pytest

from jianguan.core.domain.calendar import WorkingDayCalendar, load_calendar

REPO_ROOT = Path(__file__).parents[2]
YEARS = [2024, 2025, 2026]


@pytest.fixture(scope="module")
def calendar() -> WorkingDayCalendar:
    return load_calendar(REPO_ROOT / "rules" / "calendar")


def _days(year: int) -> list[datetime.date]:
    first = datetime.date(year, 1, 1)
    return [first + datetime.timedelta(days=i) for i in range((datetime.date(year, 12, 31) - first).days + 1)]


@pytest.mark.parametrize("year", YEARS)
def test_every_day_of_the_year_is_a_workday_exactly_when_chinesecalendar_says_so(calendar, year):
    differences = [d for d in _days(year) if calendar.is_workday(d) != chinese_calendar.is_workday(d)]
    assert differences == []


@pytest.mark.parametrize("year", YEARS)
def test_holidays_and_makeup_days_are_the_ones_chinesecalendar_lists(calendar, year):
    data = calendar.years[year]
    assert data.holidays == {d for d in chinese_calendar.holidays if d.year == year}
    assert data.makeup_workdays == {d for d in chinese_calendar.workdays if d.year == year and d.weekday() >= 5}


@pytest.mark.parametrize("year", YEARS)
def test_the_seed_script_reproduces_the_committed_names(calendar, year):
    spec = importlib.util.spec_from_file_location("seed_calendar", REPO_ROOT / "scripts" / "seed_calendar.py")
    assert spec and spec.loader
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    holidays, makeup = seed.year_schedule(year)
    assert dict(calendar.years[year].holiday_names) == holidays
    assert dict(calendar.years[year].makeup_names) == makeup
