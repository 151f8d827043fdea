"""The statutory clock of complaints and reports (投诉举报处理时限).

Pure functions over a rule set (parsed from `rules/complaints/order-*.yaml`) and a working-day calendar passed in.
The rule set is chosen by the local (Asia/Shanghai) date a submission was received: Order 20 before 2026-04-15,
Order 121 from then on (Order 121 art. 46).

Periods follow Order 121 art. 45: the start day is not counted; a working-day period ends on the N-th working day
after the start; a calendar-day period ends N days after the start, moved to the next working day if that day is
not a working day. Time paused for testing/appraisal (art. 22) is excluded from the period, and an approved
extension adds to it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

__all__ = [
    "SHANGHAI", "Deadlines", "Extension", "Ground", "Pause", "Period", "PeriodRule", "RuleError", "RuleSet",
    "compute_period", "intake_deadlines", "local_date", "parse_ruleset", "ruleset_for",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKING = "working"
CALENDAR = "calendar"
PERIOD_KEYS = ("accept", "mediation", "termination_notice", "verify", "verify_extension", "odr")


class Calendar(Protocol):
    def add_working_days(self, start: dt.date, n: int) -> dt.date: ...
    def add_calendar_days(self, start: dt.date, n: int) -> dt.date: ...
    def working_days_between(self, start: dt.date, end: dt.date) -> int: ...


class RuleError(ValueError):
    """A complaints rule file is missing a number, its unit or its source."""


@dataclass(frozen=True)
class PeriodRule:
    """One statutory period: N working or calendar days, with the article it comes from."""

    key: str
    label: str
    days: int
    unit: str
    source: str
    pausable: bool = False


@dataclass(frozen=True)
class Ground:
    """A legal ground (rejection art. 16 / termination art. 23) with its article."""

    code: str
    article: str
    text: str

    @property
    def label(self) -> str:
        return f"{self.article}：{self.text}"


@dataclass(frozen=True)
class RuleSet:
    """The deadlines and grounds of one version of the complaints rules (Order 20 or Order 121)."""

    code: str
    title: str
    valid_from: dt.date
    source: str
    warn_ratio: float
    periods: Mapping[str, PeriodRule]
    rejection_grounds: tuple[Ground, ...] = ()
    termination_grounds: tuple[Ground, ...] = ()
    remedies_text: str = ""
    remedies_article: str = ""

    def period(self, key: str) -> PeriodRule:
        return self.periods[key]

    def rejection_ground(self, code: str) -> Ground | None:
        return next((g for g in self.rejection_grounds if g.code == code), None)

    def termination_ground(self, code: str) -> Ground | None:
        return next((g for g in self.termination_grounds if g.code == code), None)


def _need(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw or raw[key] in (None, ""):
        raise RuleError(f"投诉举报规则 {where} 缺少 {key} (complaints rule {where} lacks {key})")
    return raw[key]


def parse_ruleset(raw: Mapping[str, Any], *, warn_ratio: float | None = None) -> RuleSet:
    """Build a RuleSet from the YAML mapping; every number must carry its unit and source."""
    code = str(_need(raw, "code", "file"))
    valid_from = _need(raw, "valid_from", code)
    if isinstance(valid_from, str):
        valid_from = dt.date.fromisoformat(valid_from)
    source = str(_need(raw, "source", code))
    periods: dict[str, PeriodRule] = {}
    for key in PERIOD_KEYS:
        p = _need(_need(raw, "periods", code), key, code)
        days = _need(p, "days", f"{code}.{key}")
        unit = _need(p, "unit", f"{code}.{key}")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            raise RuleError(f"{code}.{key}.days 必须是非负整数 (must be a non-negative integer)")
        if unit not in (WORKING, CALENDAR):
            raise RuleError(f"{code}.{key}.unit 必须是 working 或 calendar (must be working or calendar)")
        periods[key] = PeriodRule(key=key, label=str(p.get("label", key)), days=days, unit=unit,
                                  source=str(_need(p, "source", f"{code}.{key}")), pausable=bool(p.get("pausable")))
    ratio = warn_ratio if warn_ratio is not None else float(_need(_need(raw, "warn_ratio", code), "value", code))
    if not 0 < ratio <= 1:
        raise RuleError(f"{code}.warn_ratio 必须在 0 与 1 之间 (must be in (0, 1])")

    def grounds(key: str) -> tuple[Ground, ...]:
        return tuple(Ground(code=str(g["code"]), article=str(g["article"]), text=str(g["text"]))
                     for g in raw.get(key) or [])

    remedies = raw.get("remedies") or {}
    return RuleSet(code=code, title=str(raw.get("title", code)), valid_from=valid_from, source=source,
                   warn_ratio=ratio, periods=periods, rejection_grounds=grounds("rejection_grounds"),
                   termination_grounds=grounds("termination_grounds"), remedies_text=str(remedies.get("text", "")),
                   remedies_article=str(remedies.get("article", "")))


def local_date(at: dt.datetime | dt.date) -> dt.date:
    """The Asia/Shanghai calendar date of an aware datetime (a plain date is returned as is)."""
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            raise ValueError("收到时间必须带时区 (received time must be timezone-aware)")
        return at.astimezone(SHANGHAI).date()
    return at


def ruleset_for(rulesets: Iterable[RuleSet], received: dt.datetime | dt.date) -> RuleSet:
    """The rule version in force on the local date a submission was received."""
    day = local_date(received)
    candidates = sorted((r for r in rulesets if r.valid_from <= day), key=lambda r: r.valid_from)
    if not candidates:
        raise RuleError(f"{day} 没有适用的投诉举报规则 (no complaints rule in force on {day})")
    return candidates[-1]


@dataclass(frozen=True)
class Pause:
    """Time excluded from a period (testing/appraisal, art. 22): from `start` until `end` (None = still paused)."""

    start: dt.date
    end: dt.date | None = None
    reason: str = ""


@dataclass(frozen=True)
class Extension:
    """Days added to a period by an approved extension."""

    days: int
    reason: str = ""


@dataclass(frozen=True)
class Period:
    """A computed period: when it started, when it is due, when to warn, and what changed it."""

    key: str
    label: str
    start: dt.date
    days: int
    unit: str
    due: dt.date
    warn_on: dt.date
    source: str
    paused_days: int = 0
    extension_days: int = 0
    paused: bool = False
    pauses: tuple[Pause, ...] = field(default_factory=tuple)
    extensions: tuple[Extension, ...] = field(default_factory=tuple)

    def days_left(self, today: dt.date, calendar: Calendar) -> int:
        """Days left until the due date in the period's own unit; negative when overdue."""
        if self.unit == WORKING:
            if today <= self.due:
                return calendar.working_days_between(today, self.due)
            return -calendar.working_days_between(self.due, today)
        return (self.due - today).days

    def status(self, today: dt.date) -> str:
        """"paused", "overdue", "warn" (past the warning date) or "ok"."""
        if self.paused:
            return "paused"
        if today > self.due:
            return "overdue"
        if today >= self.warn_on:
            return "warn"
        return "ok"


def _excluded_days(unit: str, pauses: Sequence[Pause], today: dt.date | None, calendar: Calendar) -> tuple[int, bool]:
    total, open_pause = 0, False
    for p in pauses:
        end = p.end
        if end is None:
            open_pause = True
            end = today or p.start
        if end <= p.start:
            continue
        total += (end - p.start).days if unit == CALENDAR else calendar.working_days_between(p.start, end)
    return total, open_pause


def _advance(unit: str, start: dt.date, n: int, calendar: Calendar) -> dt.date:
    return calendar.add_working_days(start, n) if unit == WORKING else calendar.add_calendar_days(start, n)


def compute_period(rule: PeriodRule, start: dt.date, calendar: Calendar, *, warn_ratio: float,
                   pauses: Sequence[Pause] = (), extensions: Sequence[Extension] = (),
                   today: dt.date | None = None) -> Period:
    """Due date, warning date and adjustments of one period starting on `start` (the start day not counted).

    A still-open pause is counted up to `today` (or not at all without one): the period stays `paused`.
    """
    if isinstance(start, dt.datetime):
        raise TypeError("start must be a date")
    if pauses and not rule.pausable:
        raise ValueError(f"{rule.label}不能中止计算 (period {rule.key} cannot be paused)")
    excluded, open_pause = _excluded_days(rule.unit, pauses, today, calendar)
    ext = sum(e.days for e in extensions)
    total = rule.days + ext + excluded
    due = _advance(rule.unit, start, total, calendar)
    warn_n = max(1, math.ceil(total * warn_ratio)) if total else 0
    warn_on = (
        calendar.add_working_days(start, warn_n)
        if rule.unit == WORKING
        else start + dt.timedelta(days=warn_n)  # a warning needs no roll-forward
    )
    warn_on = min(warn_on, due)
    return Period(key=rule.key, label=rule.label, start=start, days=rule.days, unit=rule.unit, due=due,
                  warn_on=warn_on, source=rule.source, paused_days=excluded, extension_days=ext, paused=open_pause,
                  pauses=tuple(pauses), extensions=tuple(extensions))


@dataclass(frozen=True)
class Deadlines:
    """The deadlines a submission gets at intake."""

    kind: str
    received_on: dt.date
    rule: RuleSet
    periods: tuple[Period, ...]

    def named(self) -> list[tuple[str, Period]]:
        """(accept_by | verify_by | odr_by, period), in order."""
        return [(f"{p.key}_by", p) for p in self.periods]

    def as_dict(self) -> dict[str, dt.date]:
        return {name: p.due for name, p in self.named()}

    def get(self, key: str) -> Period | None:
        return next((p for p in self.periods if p.key == key), None)


def intake_deadlines(kind: str, received_at: dt.datetime | dt.date, rulesets: Iterable[RuleSet], calendar: Calendar,
                     *, odr: bool = False) -> Deadlines:
    """The deadlines set on receipt: a complaint's accept/reject decision (and ODR window), a report's
    verification. Consultations (art. 44) get none."""
    rule = ruleset_for(rulesets, received_at)
    day = local_date(received_at)
    periods: list[Period] = []
    if kind == "complaint":
        periods.append(compute_period(rule.period("accept"), day, calendar, warn_ratio=rule.warn_ratio))
        if odr:
            periods.append(compute_period(rule.period("odr"), day, calendar, warn_ratio=rule.warn_ratio))
    elif kind == "report":
        periods.append(compute_period(rule.period("verify"), day, calendar, warn_ratio=rule.warn_ratio))
    elif kind != "consultation":
        raise ValueError(f"未知类型 {kind!r} (unknown kind)")
    return Deadlines(kind=kind, received_on=day, rule=rule, periods=tuple(periods))
