"""The working-day calendar as the running site sees it: loaded once from rules/calendar."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jianguan.core.domain.calendar import WorkingDayCalendar, load_calendar


@lru_cache(maxsize=1)
def get_calendar() -> WorkingDayCalendar:
    """The calendar built from `settings.JIANGUAN_RULES_DIR / "calendar"`; cached (get_calendar.cache_clear())."""
    from django.conf import settings

    return load_calendar(Path(settings.JIANGUAN_RULES_DIR) / "calendar")
