"""The shipped calendar must not go stale: from 1 December it has to cover the coming year."""

from __future__ import annotations

import datetime
from pathlib import Path

from jianguan.core.domain.calendar import load_calendar

REPO_ROOT = Path(__file__).parents[2]


def test_the_calendar_covers_this_year_and_from_december_next_year():
    # date.today() on purpose: this test is about the real current date, the one place where the clock is
    # not injected. The State Council publishes next year's schedule between October and December, and
    # deadlines set in December already run into January.
    today = datetime.date.today()
    covered = load_calendar(REPO_ROOT / "rules" / "calendar").covered_years
    needed = [today.year] + ([today.year + 1] if today >= datetime.date(today.year, 12, 1) else [])
    missing = [year for year in needed if year not in covered]
    assert not missing, (
        f"工作日历缺少 {missing} 年的数据（今天 {today}）：请按 docs/operations.md《更新工作日历》添加 "
        f"rules/calendar/<年份>.yaml (working-day calendar is missing {missing} as of {today}; "
        f"see docs/operations.md, 'Updating the working-day calendar')"
    )
