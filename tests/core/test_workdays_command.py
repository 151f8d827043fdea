"""`jianguan workdays …`: the calendar from the command line; bad input exits 2 with a bilingual message."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from jianguan.core.calendar_service import get_calendar

REPO_ROOT = Path(__file__).parents[2]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("workdays", *args, stdout=out)
    return out.getvalue().strip()


def run_failing(*args: str) -> str:
    err = io.StringIO()
    with pytest.raises(SystemExit) as excinfo:
        call_command("workdays", *args, stdout=io.StringIO(), stderr=err)
    assert excinfo.value.code == 2
    return err.getvalue()


@pytest.mark.parametrize(("args", "printed"), [
    pytest.param(["add", "2025-09-28", "7"], "2025-10-14", id="make-up Sun 2025-09-28 +7 -> Tue 10-14"),
    pytest.param(["add", "2025-09-26", "1"], "2025-09-28", id="Fri 2025-09-26 +1 -> make-up Sun 09-28"),
    pytest.param(["add", "2026-08-02", "60", "--calendar-days"], "2026-10-08",
                 id="Sun 2026-08-02 +60 calendar days -> Thu 10-08"),
    pytest.param(["is-workday", "2026-10-08"], "true", id="Thu 2026-10-08 is a working day"),
    pytest.param(["is-workday", "2025-10-11"], "true", id="make-up Sat 2025-10-11 is a working day"),
    pytest.param(["is-workday", "2025-10-08"], "false", id="holiday Wed 2025-10-08 is not"),
    pytest.param(["between", "2026-09-30", "2026-10-15"], "7", id="Wed 2026-09-30 .. Thu 10-15 -> 7"),
])
def test_workdays_prints_the_answer(args, printed):
    assert run(*args) == printed


@pytest.mark.parametrize(("args", "zh", "en"), [
    pytest.param(["add", "2027-01-04", "3"], "工作日历缺少 2027 年", "no data for 2027", id="start Mon 2027-01-04"),
    pytest.param(["add", "2026-12-30", "5"], "工作日历缺少 2027 年", "no data for 2027", id="Wed 2026-12-30 +5"),
    pytest.param(["is-workday", "2023-10-09"], "工作日历缺少 2023 年", "no data for 2023", id="Mon 2023-10-09"),
    pytest.param(["between", "2026-12-01", "2027-01-10"], "缺少 2027 年", "no data for 2027", id="between into 2027"),
    pytest.param(["add", "2025-02-30", "3"], "日期无效", "invalid date '2025-02-30'", id="Feb 30"),
    pytest.param(["add", "2025/09/28", "3"], "日期无效", "expected a real date as YYYY-MM-DD", id="slashes"),
    pytest.param(["is-workday", "tomorrow"], "日期无效", "invalid date 'tomorrow'", id="a word"),
    pytest.param(["add", "2025-09-28", "seven"], "天数无效", "invalid number of days 'seven'", id="days not a number"),
    pytest.param(["add", "2025-09-28", "-3"], "天数无效", "non-negative integer", id="negative days"),
])
def test_bad_input_and_uncovered_years_exit_2_with_a_bilingual_message(args, zh, en):
    message = run_failing(*args)
    assert zh in message
    assert en in message


def test_the_calendar_is_read_from_the_configured_rules_directory(settings, tmp_path):
    (tmp_path / "calendar").mkdir()
    (tmp_path / "calendar" / "2030.yaml").write_text(
        "year: 2030\nsource: test notice\nvalid_from: 2030-01-01\n"
        "holidays:\n  - {date: 2030-01-01, name: 元旦}\nmakeup_workdays: []\n",
        encoding="utf-8",
    )
    settings.JIANGUAN_RULES_DIR = tmp_path
    get_calendar.cache_clear()
    try:
        assert get_calendar().covered_years == (2030,)
        assert run("is-workday", "2030-01-01") == "false"
    finally:
        get_calendar.cache_clear()  # the next test gets the real calendar again


def test_get_calendar_is_loaded_once():
    assert get_calendar() is get_calendar()
