"""`jianguan workdays add|is-workday|between` — the working-day calendar from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser

from jianguan.core.calendar_service import get_calendar
from jianguan.core.domain.calendar import CalendarDataError, CalendarYearMissing, parse_date

EXIT_USAGE = 2

EPILOG = (
    "期间的开始当日不计入（《市场监督管理投诉举报处理办法》第四十五条）；没有数据的年份会报错，不会猜测。\n"
    "The start day is never counted (SAMR Order 121 art. 45); a year without calendar data is an error, never a guess."
)


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # pure date arithmetic: no models, no database
    help = (
        "工作日计算 (working-day calendar): add 日期 天数 计算期间届满日；is-workday 日期 判断是否工作日；"
        "between 起 止 统计工作日数 (add DATE N: end of a period; is-workday DATE; between START END: count)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.epilog = EPILOG
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        sub = parser.add_subparsers(dest="action", required=True, metavar="{add,is-workday,between}")

        add = sub.add_parser(
            "add",
            help="期间届满日 (end date of a period of N days)",
            description=(
                "计算期间届满日：开始当日不计入，默认按工作日计算；--calendar-days 按自然日计算，"
                "届满日不是工作日时顺延至下一个工作日。\n"
                "End date of a period: the start day is not counted; working days by default; with "
                "--calendar-days, N calendar days, moved to the next working day if the end falls on a day off.\n"
                "例 / e.g.: jianguan workdays add 2025-09-28 7  ->  2025-10-14"
            ),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add.add_argument("start", help="开始日期 YYYY-MM-DD，当日不计入 (start date, not counted)")
        add.add_argument("days", help="天数，非负整数 (number of days, a non-negative integer)")
        add.add_argument(
            "--calendar-days",
            action="store_true",
            help="按自然日计算，届满日遇休息日顺延 (count calendar days; a day-off end moves to the next working day)",
        )

        is_workday = sub.add_parser(
            "is-workday",
            help="是否工作日，输出 true/false (is DATE a working day)",
            description=(
                "判断某日是否工作日（含调休上班的周末），输出 true 或 false。\n"
                "Whether DATE is a working day (make-up weekend days included); prints true or false.\n"
                "例 / e.g.: jianguan workdays is-workday 2026-10-08  ->  true"
            ),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        is_workday.add_argument("date", help="日期 YYYY-MM-DD (date)")

        between = sub.add_parser(
            "between",
            help="两日之间的工作日数 (working days between two dates)",
            description=(
                "统计 (起, 止] 之间的工作日数：起始日不计入，截止日计入；止 <= 起 时为 0。\n"
                "Number of working days in (START, END]: START not counted, END counted; 0 if END <= START.\n"
                "例 / e.g.: jianguan workdays between 2026-09-30 2026-10-15  ->  7"
            ),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        between.add_argument("start", help="起始日期 YYYY-MM-DD，不计入 (start date, not counted)")
        between.add_argument("end", help="截止日期 YYYY-MM-DD，计入 (end date, counted)")

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(message)
        sys.exit(EXIT_USAGE)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            self.stdout.write(self._answer(opts))
        except (CalendarYearMissing, CalendarDataError) as exc:
            self._fail(str(exc))
        except ValueError as exc:  # malformed dates and counts; the messages are already bilingual
            self._fail(str(exc))

    def _answer(self, opts: dict[str, Any]) -> str:
        calendar = get_calendar()
        action = opts["action"]
        if action == "add":
            start = parse_date(opts["start"])
            days = _parse_days(opts["days"])
            if opts["calendar_days"]:
                return calendar.add_calendar_days(start, days).isoformat()
            return calendar.add_working_days(start, days).isoformat()
        if action == "is-workday":
            return "true" if calendar.is_workday(parse_date(opts["date"])) else "false"
        return str(calendar.working_days_between(parse_date(opts["start"]), parse_date(opts["end"])))


def _parse_days(text: str) -> int:
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit():
        return int(stripped)
    raise ValueError(
        f"天数无效：{text!r}，应为非负整数，例如 7 "
        f"(invalid number of days {text!r}; expected a non-negative integer, e.g. 7)"
    )
