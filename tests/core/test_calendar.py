"""The working-day calendar: working-day and calendar-day periods over the real 2024 to 2026 schedules."""

from __future__ import annotations

import datetime
import re
from datetime import date
from pathlib import Path

import pytest

from jianguan.core.domain.calendar import (
    CalendarDataError,
    CalendarYearMissing,
    WorkingDayCalendar,
    YearData,
    load_calendar,
    parse_date,
)

REPO_ROOT = Path(__file__).parents[2]
CALENDAR_DIR = REPO_ROOT / "rules" / "calendar"


@pytest.fixture(scope="module")
def calendar() -> WorkingDayCalendar:
    return load_calendar(CALENDAR_DIR)


def test_the_shipped_calendar_covers_2024_to_2026(calendar):
    assert calendar.covered_years[:3] == (2024, 2025, 2026)


# --- working-day periods ---------------------------------------------------------------------------------

# 2025 National Day + Mid-autumn: 10-01..10-08 off; Sun 09-28 and Sat 10-11 are make-up working days.
@pytest.mark.parametrize(("start", "days", "due"), [
    pytest.param(date(2025, 9, 26), 1, date(2025, 9, 28), id="Fri 2025-09-26 +1 -> make-up Sun 09-28"),
    pytest.param(date(2025, 9, 26), 2, date(2025, 9, 29), id="Fri 2025-09-26 +2 -> Mon 09-29"),
    pytest.param(date(2025, 9, 26), 4, date(2025, 10, 9), id="Fri 2025-09-26 +4 -> Thu 10-09 after the holiday"),
    pytest.param(date(2025, 9, 28), 7, date(2025, 10, 14), id="make-up Sun 2025-09-28 +7 -> Tue 10-14"),
    pytest.param(date(2025, 9, 30), 1, date(2025, 10, 9), id="Tue 2025-09-30 +1 -> Thu 10-09"),
    pytest.param(date(2025, 10, 3), 1, date(2025, 10, 9), id="holiday Fri 2025-10-03 +1 -> Thu 10-09"),
    pytest.param(date(2025, 10, 9), 2, date(2025, 10, 11), id="Thu 2025-10-09 +2 -> make-up Sat 10-11"),
    pytest.param(date(2025, 10, 10), 2, date(2025, 10, 13), id="Fri 2025-10-10 +2 -> Mon 10-13"),
])
def test_add_working_days_across_2025_national_day(calendar, start, days, due):
    assert calendar.add_working_days(start, days) == due


# 2026 Spring Festival: 02-15..02-23 off; Sat 02-14 and Sat 02-28 are make-up working days.
@pytest.mark.parametrize(("start", "days", "due"), [
    pytest.param(date(2026, 2, 13), 1, date(2026, 2, 14), id="Fri 2026-02-13 +1 -> make-up Sat 02-14"),
    pytest.param(date(2026, 2, 14), 1, date(2026, 2, 24), id="make-up Sat 2026-02-14 +1 -> Tue 02-24"),
    pytest.param(date(2026, 2, 12), 7, date(2026, 2, 28), id="Thu 2026-02-12 +7 -> make-up Sat 02-28"),
    pytest.param(date(2026, 2, 16), 5, date(2026, 2, 28), id="holiday Mon 2026-02-16 +5 -> make-up Sat 02-28"),
    pytest.param(date(2026, 2, 16), 6, date(2026, 3, 2), id="holiday Mon 2026-02-16 +6 -> Mon 03-02"),
])
def test_add_working_days_across_2026_spring_festival(calendar, start, days, due):
    assert calendar.add_working_days(start, days) == due


@pytest.mark.parametrize(("start", "days", "due"), [
    pytest.param(date(2024, 12, 31), 1, date(2025, 1, 2), id="Tue 2024-12-31 +1 -> Thu 2025-01-02 (New Year)"),
    pytest.param(date(2025, 12, 31), 1, date(2026, 1, 4), id="Wed 2025-12-31 +1 -> make-up Sun 2026-01-04"),
    pytest.param(date(2026, 9, 30), 1, date(2026, 10, 8), id="Wed 2026-09-30 +1 -> Thu 2026-10-08"),
    pytest.param(date(2026, 9, 18), 1, date(2026, 9, 20), id="Fri 2026-09-18 +1 -> make-up Sun 2026-09-20"),
    pytest.param(date(2024, 6, 7), 1, date(2024, 6, 11), id="Fri 2024-06-07 +1 -> Tue 06-11 (Dragon Boat Mon)"),
    pytest.param(date(2026, 3, 2), 15, date(2026, 3, 23), id="Mon 2026-03-02 +15 -> Mon 03-23 (no holiday)"),
])
def test_add_working_days_across_year_ends_and_other_holidays(calendar, start, days, due):
    assert calendar.add_working_days(start, days) == due


def test_adding_zero_working_days_returns_the_start_even_on_a_holiday(calendar):
    assert calendar.add_working_days(date(2025, 10, 1), 0) == date(2025, 10, 1)


@pytest.mark.parametrize("days", [-1, 1.5, True, "7"])
def test_add_working_days_rejects_a_count_that_is_not_a_non_negative_integer(calendar, days):
    with pytest.raises(ValueError, match="非负整数"):
        calendar.add_working_days(date(2025, 9, 26), days)


def test_add_working_days_rejects_a_datetime_instead_of_a_date(calendar):
    with pytest.raises(TypeError, match=r"datetime\.date"):
        calendar.add_working_days(datetime.datetime(2025, 9, 26, 10, 0), 1)


# --- calendar-day periods (Order 121 art. 45) --------------------------------------------------------------

@pytest.mark.parametrize(("start", "days", "due"), [
    pytest.param(date(2026, 8, 2), 60, date(2026, 10, 8), id="Sun 2026-08-02 +60 = Thu 10-01 holiday -> Thu 10-08"),
    pytest.param(date(2025, 9, 1), 30, date(2025, 10, 9), id="Mon 2025-09-01 +30 = Wed 10-01 -> Thu 10-09"),
    pytest.param(date(2026, 1, 16), 30, date(2026, 2, 24), id="Fri 2026-01-16 +30 = Sun 02-15 holiday -> Tue 02-24"),
    pytest.param(date(2026, 3, 5), 2, date(2026, 3, 9), id="Thu 2026-03-05 +2 = Sat 03-07 -> Mon 03-09"),
    pytest.param(date(2026, 3, 5), 1, date(2026, 3, 6), id="Thu 2026-03-05 +1 = Fri 03-06 stays"),
    pytest.param(date(2026, 10, 3), 7, date(2026, 10, 10), id="Sat 2026-10-03 +7 = make-up Sat 10-10 stays"),
    pytest.param(date(2025, 12, 2), 30, date(2026, 1, 4), id="Tue 2025-12-02 +30 = Thu 01-01 -> make-up Sun 01-04"),
    pytest.param(date(2024, 5, 31), 10, date(2024, 6, 11), id="Fri 2024-05-31 +10 = Mon 06-10 holiday -> Tue 06-11"),
])
def test_calendar_day_period_ending_on_a_day_off_moves_to_the_next_working_day(calendar, start, days, due):
    assert calendar.add_calendar_days(start, days) == due


@pytest.mark.parametrize(("day", "due"), [
    pytest.param(date(2026, 10, 1), date(2026, 10, 8), id="holiday Thu 2026-10-01 -> Thu 10-08"),
    pytest.param(date(2026, 10, 10), date(2026, 10, 10), id="make-up Sat 2026-10-10 stays"),
    pytest.param(date(2026, 10, 11), date(2026, 10, 12), id="Sun 2026-10-11 -> Mon 10-12"),
])
def test_next_workday_on_or_after(calendar, day, due):
    assert calendar.next_workday_on_or_after(day) == due


# --- counting working days ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "end", "count"), [
    pytest.param(date(2026, 9, 30), date(2026, 10, 15), 7, id="Wed 2026-09-30 .. Thu 10-15 -> 7 (make-up Sat counts)"),
    pytest.param(date(2025, 9, 26), date(2025, 10, 14), 8, id="Fri 2025-09-26 .. Tue 10-14 -> 8"),
    pytest.param(date(2025, 10, 1), date(2025, 10, 8), 0, id="Wed 2025-10-01 .. Wed 10-08 -> 0 (all holiday)"),
    pytest.param(date(2025, 10, 8), date(2025, 10, 9), 1, id="Wed 2025-10-08 .. Thu 10-09 -> 1 (start not counted)"),
    pytest.param(date(2025, 12, 30), date(2026, 1, 5), 3, id="Tue 2025-12-30 .. Mon 2026-01-05 -> 3"),
    pytest.param(date(2026, 3, 9), date(2026, 3, 9), 0, id="Mon 2026-03-09 .. same day -> 0"),
    pytest.param(date(2026, 3, 13), date(2026, 3, 9), 0, id="Fri 2026-03-13 .. earlier Mon 03-09 -> 0"),
])
def test_working_days_between_excludes_the_start_day(calendar, start, end, count):
    assert calendar.working_days_between(start, end) == count


def test_counting_back_the_days_added_gives_the_same_number(calendar):
    start = date(2024, 1, 1)
    while start < date(2026, 9, 1):
        for days in (1, 7, 15, 20, 60):
            due = calendar.add_working_days(start, days)
            assert calendar.working_days_between(start, due) == days, (start, days)
        start += datetime.timedelta(days=3)


# --- which days are working days ---------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "workday"), [
    pytest.param(date(2025, 9, 28), True, id="make-up Sun 2025-09-28"),
    pytest.param(date(2025, 10, 11), True, id="make-up Sat 2025-10-11"),
    pytest.param(date(2025, 10, 8), False, id="holiday Wed 2025-10-08"),
    pytest.param(date(2025, 10, 12), False, id="plain Sun 2025-10-12"),
    pytest.param(date(2026, 10, 8), True, id="Thu 2026-10-08 after National Day"),
    pytest.param(date(2026, 10, 10), True, id="make-up Sat 2026-10-10"),
    pytest.param(date(2026, 2, 14), True, id="make-up Sat 2026-02-14"),
    pytest.param(date(2026, 2, 23), False, id="holiday Mon 2026-02-23"),
    pytest.param(date(2026, 1, 4), True, id="make-up Sun 2026-01-04"),
    pytest.param(date(2024, 6, 10), False, id="Dragon Boat Mon 2024-06-10"),
    pytest.param(date(2024, 2, 9), True, id="Fri 2024-02-09 (Spring Festival eve, not a statutory day off)"),
    pytest.param(date(2026, 3, 11), True, id="plain Wed 2026-03-11"),
])
def test_is_workday(calendar, day, workday):
    assert calendar.is_workday(day) is workday


def test_holiday_names_come_from_the_notice(calendar):
    assert calendar.holiday_name(date(2025, 10, 6)) == "国庆节、中秋节"
    assert calendar.holiday_name(date(2026, 9, 25)) == "中秋节"
    assert calendar.holiday_name(date(2026, 3, 11)) is None
    assert calendar.years[2026].makeup_names[date(2026, 1, 4)] == "元旦调休"


# --- years without data ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("call", "year"), [
    pytest.param(lambda c: c.is_workday(date(2023, 12, 29)), 2023, id="is_workday Fri 2023-12-29"),
    pytest.param(lambda c: c.is_workday(date(2027, 1, 4)), 2027, id="is_workday Mon 2027-01-04"),
    pytest.param(lambda c: c.add_working_days(date(2023, 12, 29), 1), 2023, id="start Fri 2023-12-29"),
    pytest.param(lambda c: c.add_working_days(date(2026, 12, 30), 5), 2027, id="Wed 2026-12-30 +5 runs into 2027"),
    pytest.param(lambda c: c.add_calendar_days(date(2026, 12, 15), 30), 2027, id="Tue 2026-12-15 +30 calendar days"),
    pytest.param(lambda c: c.working_days_between(date(2026, 12, 1), date(2027, 1, 10)), 2027, id="between into 2027"),
    pytest.param(lambda c: c.working_days_between(date(2023, 12, 1), date(2024, 1, 10)), 2023, id="between from 2023"),
    pytest.param(lambda c: c.holiday_name(date(2027, 1, 1)), 2027, id="holiday_name Fri 2027-01-01"),
])
def test_a_year_without_data_fails_loudly_and_names_the_year(calendar, call, year):
    with pytest.raises(CalendarYearMissing) as excinfo:
        call(calendar)
    assert excinfo.value.year == year
    message = str(excinfo.value)
    assert f"缺少 {year} 年" in message
    assert f"rules/calendar/{year}.yaml" in message
    assert f"no data for {year}" in message
    assert "docs/operations.md" in message
    assert isinstance(excinfo.value, ValueError)


def test_rolling_a_calendar_day_period_forward_into_an_uncovered_year_fails():
    # 2022-12-31 is a Saturday: the next working day would be in 2023, which this calendar does not know.
    only_2022 = WorkingDayCalendar({2022: YearData(2022, frozenset(), frozenset())})
    assert only_2022.add_calendar_days(date(2022, 12, 29), 1) == date(2022, 12, 30)
    with pytest.raises(CalendarYearMissing, match="2023"):
        only_2022.add_calendar_days(date(2022, 12, 30), 1)


def test_a_gap_between_covered_years_fails_loudly():
    gappy = WorkingDayCalendar({
        2024: YearData(2024, frozenset(), frozenset()),
        2026: YearData(2026, frozenset(), frozenset()),
    })
    assert gappy.covered_years == (2024, 2026)
    assert gappy.add_working_days(date(2026, 1, 1), 1) == date(2026, 1, 2)
    with pytest.raises(CalendarYearMissing, match="2025"):
        gappy.add_working_days(date(2024, 12, 30), 5)
    with pytest.raises(CalendarYearMissing, match="2025"):
        gappy.working_days_between(date(2024, 12, 30), date(2026, 1, 5))


def test_calendar_year_missing_survives_pickling():
    import pickle

    error = pickle.loads(pickle.dumps(CalendarYearMissing(2027)))  # noqa: S301 - our own bytes
    assert error.year == 2027 and "2027" in str(error)


# --- data files --------------------------------------------------------------------------------------------

VALID_2026 = """\
year: 2026
source: 国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）
valid_from: 2026-01-01
holidays:
  - {date: 2026-01-01, name: 元旦}
makeup_workdays:
  - {date: 2026-01-04, name: 元旦调休}
"""


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_minimal_valid_file_loads(tmp_path):
    _write(tmp_path, "2026.yaml", VALID_2026)
    loaded = load_calendar(tmp_path)
    assert loaded.covered_years == (2026,)
    assert loaded.is_workday(date(2026, 1, 4)) and not loaded.is_workday(date(2026, 1, 1))
    assert loaded.years[2026].valid_from == date(2026, 1, 1)


@pytest.mark.parametrize(("name", "text", "expected"), [
    pytest.param("2026.yaml", VALID_2026.replace("year: 2026", "year: 2025"), "does not match the file name year 2026",
                 id="year differs from file name"),
    pytest.param("2026.yaml", VALID_2026.replace("{date: 2026-01-01, name: 元旦}", "{date: 2025-12-31, name: 元旦}"),
                 "2025-12-31 is not in 2026", id="holiday outside the year"),
    pytest.param("2026.yaml", VALID_2026 + "  - {date: 2026-01-01, name: 元旦}\n",
                 "2026-01-01 listed both as holiday and as make-up working day", id="day both off and worked"),
    pytest.param("2026.yaml", VALID_2026.replace("2026-01-04, name: 元旦调休", "2026-01-05, name: 元旦调休"),
                 "make-up working day 2026-01-05 is not a Saturday or Sunday", id="make-up day on Mon 2026-01-05"),
    pytest.param("2026.yaml", VALID_2026.replace("{date: 2026-01-01,", "{date: 2026-02-30,"),
                 "day is out of range for month", id="Feb 30"),
    pytest.param("2026.yaml", VALID_2026.replace("{date: 2026-01-01,", "{date: 2026-1-1,"),
                 "is not a YYYY-MM-DD date", id="unpadded date"),
    pytest.param("2026.yaml", VALID_2026.replace("{date: 2026-01-01,", "{date: 2026-01-01T08:00:00,"),
                 "must be a date, not a timestamp", id="timestamp"),
    pytest.param("2026.yaml", VALID_2026 + "  - {date: 2026-01-10, name: 元旦调休}\n  - {date: 2026-01-10, name: x}\n",
                 "date 2026-01-10 is listed twice in makeup_workdays", id="duplicate date"),
    pytest.param("2026.yaml", VALID_2026.replace("holidays:", "holiday:"), "missing keys holidays", id="misspelt key"),
    pytest.param("2026.yaml", VALID_2026 + "notes: x\n", "unknown keys notes", id="unknown key"),
    pytest.param("2026.yaml", VALID_2026.replace("（2025-11-04）", "（TODO）"), "contain no TODO", id="TODO source"),
    pytest.param("2026.yaml", VALID_2026.replace("  - {date: 2026-01-01, name: 元旦}\n", ""),
                 "holidays must not be empty", id="no holidays"),
    pytest.param("2026.yaml", VALID_2026.replace("name: 元旦}", "name: ''}"), "has no name", id="empty name"),
    pytest.param("2026.yaml", VALID_2026.replace("- {date: 2026-01-01, name: 元旦}", "- 2026-01-01"),
                 "must be {date: YYYY-MM-DD, name: ...}", id="bare date entry"),
    pytest.param("2026.yaml", VALID_2026.replace("valid_from: 2026-01-01", "valid_from: 2025-12-01"),
                 "valid_from 2025-12-01 is not in 2026", id="valid_from in another year"),
    pytest.param("2026.yaml", "year: 2026\nholidays: [\n", "cannot read or parse", id="broken YAML"),
    pytest.param("2026.yaml", "", "content must be a mapping", id="empty file"),
    pytest.param("calendar-2026.yaml", VALID_2026, "file name must be <year>.yaml", id="bad file name"),
])
def test_a_malformed_file_is_rejected_naming_the_file(tmp_path, name, text, expected):
    path = _write(tmp_path, name, text)
    with pytest.raises(CalendarDataError) as excinfo:
        load_calendar(tmp_path)
    message = str(excinfo.value)
    assert str(path) in message
    assert expected in message
    assert "工作日历文件" in message


def test_one_bad_file_among_good_ones_is_still_rejected(tmp_path):
    _write(tmp_path, "2026.yaml", VALID_2026)
    bad = _write(tmp_path, "2025.yaml", VALID_2026.replace("2026", "2025").replace("2025-01-04", "2025-01-06"))
    with pytest.raises(CalendarDataError, match=re.escape(str(bad))):
        load_calendar(tmp_path)


def test_an_empty_or_missing_directory_is_rejected(tmp_path):
    with pytest.raises(CalendarDataError, match="no year files"):
        load_calendar(tmp_path)
    with pytest.raises(CalendarDataError, match="directory not found"):
        load_calendar(tmp_path / "nowhere")


# --- parsing dates -----------------------------------------------------------------------------------------

def test_parse_date_reads_iso_dates():
    assert parse_date("2025-09-28") == date(2025, 9, 28)
    assert parse_date(" 2026-10-08 ") == date(2026, 10, 8)


@pytest.mark.parametrize("text", [
    "2025-9-28", "2025-02-30", "20250928", "2025/09/28", "", "tomorrow", "2025-09-28T10:00",
    "\uff12\uff10\uff12\uff15-09-28",  # full-width digits
])
def test_parse_date_rejects_malformed_dates_in_chinese_and_english(text):
    with pytest.raises(ValueError) as excinfo:
        parse_date(text)
    assert "日期无效" in str(excinfo.value)
    assert "expected a real date as YYYY-MM-DD" in str(excinfo.value)
