"""Month arithmetic on dates (classification months are stored as the first day of the month)."""

from __future__ import annotations

import calendar
import datetime as dt


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day n months later, clipped to the month's last day (2024-02-29 + 12 months → 2025-02-28)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def add_years(day: dt.date, years: int) -> dt.date:
    return add_months(day, 12 * years)


def previous_month(month: dt.date) -> dt.date:
    return add_months(month_start(month), -1)
