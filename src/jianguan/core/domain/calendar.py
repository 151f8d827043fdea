"""The working-day calendar (工作日历): which days count as working days for legal deadlines.

A working day is Monday to Friday, minus the statutory days off (法定节假日) and plus the weekend days the State
Council declares working days (调休上班). The data live in `rules/calendar/<year>.yaml`, one file per year, each
citing its 国务院办公厅 notice; `load_calendar` is the only function here that touches the file system.

The calendar never guesses: any question about a year without data raises `CalendarYearMissing`, because a
deadline computed from an invented holiday schedule is worse than no deadline.

Periods follow SAMR Order 121 art. 45: the first day is never counted; a working-day period ends on the N-th
working day after the start; a calendar-day period ends N calendar days after the start and, if that day is not a
working day, moves to the next working day.
"""

from __future__ import annotations

import datetime
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CalendarDataError",
    "CalendarYearMissing",
    "WorkingDayCalendar",
    "YearData",
    "load_calendar",
    "parse_date",
]

OPERATIONS_DOC = "docs/operations.md"

_SATURDAY = 5
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_YEAR_FILE = re.compile(r"([0-9]{4})\.yaml", re.ASCII)
_FILE_KEYS = frozenset({"year", "source", "valid_from", "holidays", "makeup_workdays"})
_ENTRY_KEYS = frozenset({"date", "name"})


class CalendarYearMissing(ValueError):
    """The calendar has no data for a year it was asked about; someone has to add the year's file."""

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"工作日历缺少 {year} 年的数据：请按 {OPERATIONS_DOC}《更新工作日历》添加 rules/calendar/{year}.yaml "
            f"(working-day calendar has no data for {year}; see {OPERATIONS_DOC}, "
            f"'Updating the working-day calendar')"
        )

    def __reduce__(self) -> tuple[type[CalendarYearMissing], tuple[int]]:
        return (self.__class__, (self.year,))


class CalendarDataError(ValueError):
    """A calendar data file is missing, unreadable or inconsistent; the message names the file."""


def parse_date(value: str) -> datetime.date:
    """Parse a YYYY-MM-DD date strictly; anything else raises ValueError with a Chinese + English message."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and _ISO_DATE.fullmatch(text):
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(
        f"日期无效：{value!r}，应为 YYYY-MM-DD 格式的真实日期，例如 2025-09-28 "
        f"(invalid date {value!r}; expected a real date as YYYY-MM-DD, e.g. 2025-09-28)"
    )


@dataclass(frozen=True)
class YearData:
    """One year's published schedule: statutory days off and weekend make-up working days, with names."""

    year: int
    holidays: frozenset[datetime.date]
    makeup_workdays: frozenset[datetime.date]
    source: str = ""
    valid_from: datetime.date | None = None
    holiday_names: Mapping[datetime.date, str] = field(default_factory=dict)
    makeup_names: Mapping[datetime.date, str] = field(default_factory=dict)


class _Segment:
    """Precomputed lookups for a run of consecutive covered years."""

    __slots__ = ("dates", "first_ord", "first_year", "flags", "last_ord", "last_year", "ords")

    def __init__(self, years: list[YearData]) -> None:
        self.first_year = years[0].year
        self.last_year = years[-1].year
        self.first_ord = datetime.date(self.first_year, 1, 1).toordinal()
        self.last_ord = datetime.date(self.last_year, 12, 31).toordinal()
        holidays = {d.toordinal() for y in years for d in y.holidays}
        makeup = {d.toordinal() for y in years for d in y.makeup_workdays}
        self.flags = bytearray(self.last_ord - self.first_ord + 1)
        self.ords: list[int] = []
        self.dates: list[datetime.date] = []
        for o in range(self.first_ord, self.last_ord + 1):
            weekday = (o + 6) % 7  # date.fromordinal(1) is a Monday
            if o in makeup or (weekday < _SATURDAY and o not in holidays):
                self.flags[o - self.first_ord] = 1
                self.ords.append(o)
                self.dates.append(datetime.date.fromordinal(o))


def _check_plain_date(d: datetime.date) -> None:
    if isinstance(d, datetime.datetime) or not isinstance(d, datetime.date):
        raise TypeError(f"expected a datetime.date, got {type(d).__name__}: {d!r}")


def _check_count(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"天数必须是非负整数：{n!r} (the number of days must be a non-negative integer: {n!r})")


class WorkingDayCalendar:
    """Working days built from per-year published schedules; raises CalendarYearMissing outside them."""

    def __init__(self, years: Mapping[int, YearData]) -> None:
        for key, data in years.items():
            if key != data.year:
                raise ValueError(f"year key {key} does not match YearData.year {data.year}")
        self._years: dict[int, YearData] = dict(sorted(years.items()))
        self._segment_by_year: dict[int, _Segment] = {}
        run: list[YearData] = []
        for data in self._years.values():
            if run and data.year != run[-1].year + 1:
                self._add_segment(run)
                run = []
            run.append(data)
        if run:
            self._add_segment(run)

    def _add_segment(self, run: list[YearData]) -> None:
        segment = _Segment(run)
        for data in run:
            self._segment_by_year[data.year] = segment

    def _segment(self, d: datetime.date) -> _Segment:
        segment = self._segment_by_year.get(d.year)
        if segment is None:
            _check_plain_date(d)
            raise CalendarYearMissing(d.year)
        return segment

    @property
    def covered_years(self) -> tuple[int, ...]:
        """The years with data, ascending."""
        return tuple(self._years)

    @property
    def years(self) -> Mapping[int, YearData]:
        """The loaded per-year data, by year."""
        return self._years

    def is_workday(self, d: datetime.date) -> bool:
        """Whether `d` is a working day (Mon-Fri and not a day off, or a make-up weekend day)."""
        if type(d) is not datetime.date:
            _check_plain_date(d)
        segment = self._segment(d)
        return bool(segment.flags[d.toordinal() - segment.first_ord])

    def holiday_name(self, d: datetime.date) -> str | None:
        """The published name of the holiday `d` belongs to (e.g. 国庆节), or None."""
        data = self._years.get(d.year)
        if data is None:
            raise CalendarYearMissing(d.year)
        return data.holiday_names.get(d)

    def add_working_days(self, start: datetime.date, n: int) -> datetime.date:
        """The N-th working day after `start` (the start day itself is never counted); n=0 returns `start`."""
        if type(start) is not datetime.date:
            _check_plain_date(start)
        if type(n) is not int or n < 0:
            _check_count(n)
        segment = self._segment(start)
        if n == 0:
            return start
        i = bisect_right(segment.ords, start.toordinal()) + n - 1
        if i >= len(segment.dates):
            raise CalendarYearMissing(segment.last_year + 1)
        return segment.dates[i]

    def next_workday_on_or_after(self, d: datetime.date) -> datetime.date:
        """`d` if it is a working day, else the first working day after it."""
        segment = self._segment(d)
        o = d.toordinal()
        j = bisect_left(segment.ords, o)
        if j >= len(segment.dates):
            raise CalendarYearMissing(segment.last_year + 1)
        return segment.dates[j]

    def add_calendar_days(self, start: datetime.date, n: int) -> datetime.date:
        """End of an N calendar-day period (Order 121 art. 45): start + N days, moved to the next working day
        if that day is a weekend or statutory holiday."""
        if type(start) is not datetime.date:
            _check_plain_date(start)
        if type(n) is not int or n < 0:
            _check_count(n)
        segment = self._segment(start)
        end = start.toordinal() + n
        if end > segment.last_ord:
            # The end day (or the roll-forward) lies in a year we have no data for.
            raise CalendarYearMissing(segment.last_year + 1)
        j = bisect_left(segment.ords, end)
        if j >= len(segment.dates):
            raise CalendarYearMissing(segment.last_year + 1)
        return segment.dates[j]

    def working_days_between(self, start: datetime.date, end: datetime.date) -> int:
        """Number of working days in (start, end]: the start is not counted; 0 if end <= start."""
        _check_plain_date(start)
        _check_plain_date(end)
        first = self._segment(start)
        last = self._segment(end)
        if end <= start:
            return 0
        if first is not last:
            raise CalendarYearMissing(first.last_year + 1)
        return bisect_right(first.ords, end.toordinal()) - bisect_right(first.ords, start.toordinal())

# --- loading -----------------------------------------------------------------------------------------------


def _file_error(path: Path, zh: str, en: str) -> CalendarDataError:
    return CalendarDataError(f"工作日历文件 {path} 无效：{zh} (invalid working-day calendar file {path}: {en})")


def _as_date(value: Any, path: Path, where: str) -> datetime.date:
    if isinstance(value, datetime.datetime):
        raise _file_error(
            path, f"{where} 应为日期而不是时间：{value}", f"{where} must be a date, not a timestamp: {value}"
        )
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return parse_date(value)
        except ValueError:
            pass
    raise _file_error(path, f"{where} 不是 YYYY-MM-DD 日期：{value!r}", f"{where} is not a YYYY-MM-DD date: {value!r}")


def _entries(
    raw: Any, key: str, year: int, path: Path, *, allow_empty: bool
) -> dict[datetime.date, str]:
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise _file_error(path, f"{key} 应为列表", f"{key} must be a list")
    if not raw and not allow_empty:
        raise _file_error(path, f"{key} 不能为空", f"{key} must not be empty")
    out: dict[datetime.date, str] = {}
    for i, entry in enumerate(raw, start=1):
        where = f"{key}[{i}]"
        if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
            raise _file_error(
                path,
                f"{where} 应为 {{date: YYYY-MM-DD, name: 名称}}：{entry!r}",
                f"{where} must be {{date: YYYY-MM-DD, name: ...}}: {entry!r}",
            )
        d = _as_date(entry["date"], path, where)
        if d.year != year:
            raise _file_error(path, f"{where} 的日期 {d} 不在 {year} 年内", f"{where} date {d} is not in {year}")
        name = entry["name"]
        if not isinstance(name, str) or not name.strip():
            raise _file_error(path, f"{where} 缺少名称", f"{where} has no name")
        if d in out:
            raise _file_error(path, f"{key} 中日期 {d} 重复", f"date {d} is listed twice in {key}")
        out[d] = name.strip()
    return out


def load_year_file(path: Path) -> YearData:
    """Read and validate one `rules/calendar/<year>.yaml` file."""
    import yaml  # local import: the rest of this module is pure and needs no third-party package

    match = _YEAR_FILE.fullmatch(path.name)
    if not match:
        raise _file_error(
            path, "文件名应为 <年份>.yaml，例如 2026.yaml", "file name must be <year>.yaml, e.g. 2026.yaml"
        )
    file_year = int(match.group(1))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:  # PyYAML raises ValueError for 2026-02-30
        raise _file_error(path, f"无法读取或解析：{exc}", f"cannot read or parse: {exc}") from exc
    if not isinstance(raw, dict):
        raise _file_error(path, "内容应为键值映射（year、source、valid_from、holidays、makeup_workdays）",
                          "content must be a mapping (year, source, valid_from, holidays, makeup_workdays)")
    missing = sorted(_FILE_KEYS - set(raw))
    unknown = sorted(str(k) for k in set(raw) - _FILE_KEYS)
    if missing:
        raise _file_error(path, f"缺少字段 {', '.join(missing)}", f"missing keys {', '.join(missing)}")
    if unknown:
        raise _file_error(path, f"未知字段 {', '.join(unknown)}", f"unknown keys {', '.join(unknown)}")

    year = raw["year"]
    if isinstance(year, bool) or not isinstance(year, int) or year != file_year:
        raise _file_error(path, f"year 为 {year!r}，与文件名年份 {file_year} 不符",
                          f"year is {year!r}, which does not match the file name year {file_year}")
    source = raw["source"]
    if not isinstance(source, str) or not source.strip() or "TODO" in source:
        raise _file_error(path, "source 须写明国务院办公厅通知的名称、文号和发布日期（不能含 TODO）",
                          "source must cite the State Council notice (title, number, date) and contain no TODO")
    valid_from = _as_date(raw["valid_from"], path, "valid_from")
    if valid_from.year != year:
        raise _file_error(
            path, f"valid_from {valid_from} 不在 {year} 年内", f"valid_from {valid_from} is not in {year}"
        )

    holidays = _entries(raw["holidays"], "holidays", year, path, allow_empty=False)
    makeup = _entries(raw["makeup_workdays"], "makeup_workdays", year, path, allow_empty=True)
    both = sorted(set(holidays) & set(makeup))
    if both:
        listed = ", ".join(str(d) for d in both)
        raise _file_error(path, f"{listed} 同时列为放假日和调休上班日",
                          f"{listed} listed both as holiday and as make-up working day")
    for d in sorted(makeup):
        if d.weekday() < _SATURDAY:
            raise _file_error(
                path,
                f"调休上班日 {d} 不是周六或周日（周一至周五本来就是工作日）",
                f"make-up working day {d} is not a Saturday or Sunday (weekdays are working days anyway)",
            )
    return YearData(
        year=year,
        holidays=frozenset(holidays),
        makeup_workdays=frozenset(makeup),
        source=source.strip(),
        valid_from=valid_from,
        holiday_names=holidays,
        makeup_names=makeup,
    )


def load_calendar(directory: Path) -> WorkingDayCalendar:
    """Build the calendar from every `<year>.yaml` in `directory` (normally rules/calendar)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CalendarDataError(
            f"工作日历目录不存在：{directory} (working-day calendar directory not found: {directory})"
        )
    paths = sorted(p for p in directory.iterdir() if p.suffix in {".yaml", ".yml"})
    if not paths:
        raise CalendarDataError(
            f"工作日历目录 {directory} 中没有年份文件 (no year files in working-day calendar directory {directory})"
        )
    years: dict[int, YearData] = {}
    for path in paths:
        data = load_year_file(path)
        years[data.year] = data
    return WorkingDayCalendar(years)
