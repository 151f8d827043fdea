"""The statutory clock: real dates from the 2026 calendar, the weekday in every case id."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from jianguan.complaints.domain.clock import (
    Extension,
    Pause,
    RuleError,
    compute_period,
    intake_deadlines,
    parse_ruleset,
    ruleset_for,
)
from jianguan.complaints.rules import load_rulesets
from jianguan.core.domain.calendar import CalendarYearMissing

RULES = Path(__file__).resolve().parents[2] / "rules" / "complaints"
SH = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(scope="module")
def rulesets():
    return load_rulesets(RULES)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.mark.parametrize(("received", "rule"), [
    pytest.param("2026-04-14T23:59:00+08:00", "order-20", id="Tue 04-14 23:59 Shanghai -> Order 20"),
    pytest.param("2026-04-15T00:00:00+08:00", "order-121", id="Wed 04-15 00:00 Shanghai -> Order 121"),
    pytest.param("2026-04-14T16:30:00+00:00", "order-121", id="04-14 16:30 UTC is 04-15 in Shanghai -> Order 121"),
    pytest.param("2025-11-20T10:00:00+08:00", "order-20", id="Thu 2025-11-20 -> Order 20"),
])
def test_rule_version_is_chosen_by_the_shanghai_date_of_receipt(rulesets, received, rule):
    assert ruleset_for(rulesets, at(received)).code == rule


# 2026 National Day: 10-01..10-07 off; Sun 09-20 and Sat 10-10 are make-up working days; 中秋 09-25..09-27.
@pytest.mark.parametrize(("received", "accept_by"), [
    pytest.param("2026-09-30T10:00:00+08:00", dt.date(2026, 10, 15),
                 id="Wed 09-30 +7wd -> Thu 10-15 over National Day"),
    pytest.param("2026-10-09T16:30:00+00:00", dt.date(2026, 10, 20),
                 id="UTC Fri 10-09 is Sat 10-10 makeup in Shanghai -> Tue 10-20"),
    pytest.param("2026-10-09T10:00:00+08:00", dt.date(2026, 10, 19),
                 id="Fri 10-09 +7wd counts makeup Sat 10-10 -> Mon 10-19"),
    pytest.param("2026-10-03T09:00:00+08:00", dt.date(2026, 10, 15), id="holiday Sat 10-03 +7wd -> Thu 10-15"),
    pytest.param("2026-06-18T09:00:00+08:00", dt.date(2026, 6, 30), id="Thu 06-18 +7wd skips 端午 06-19 -> Tue 06-30"),
])
def test_complaint_accept_deadline_is_seven_working_days_after_receipt(rulesets, calendar, received, accept_by):
    d = intake_deadlines("complaint", at(received), rulesets, calendar)
    assert d.as_dict() == {"accept_by": accept_by}


def test_report_verification_is_fifteen_working_days_and_extends_by_fifteen(rulesets, calendar):
    d = intake_deadlines("report", at("2026-09-30T10:00:00+08:00"), rulesets, calendar)
    assert d.as_dict() == {"verify_by": dt.date(2026, 10, 27)}  # Tue
    rule = d.rule
    extended = compute_period(rule.period("verify"), dt.date(2026, 9, 30), calendar, warn_ratio=rule.warn_ratio,
                              extensions=[Extension(rule.period("verify_extension").days, "案情复杂")])
    assert extended.due == dt.date(2026, 11, 17)  # Tue
    assert extended.extension_days == 15


@pytest.mark.parametrize(("accepted", "due"), [
    pytest.param(dt.date(2026, 8, 10), dt.date(2026, 10, 9), id="Mon 08-10 +60d -> Fri 10-09 a working day"),
    pytest.param(dt.date(2026, 8, 3), dt.date(2026, 10, 8), id="Mon 08-03 +60d -> Fri 10-02 holiday -> Thu 10-08"),
    pytest.param(dt.date(2026, 7, 27), dt.date(2026, 9, 28), id="Mon 07-27 +60d -> Fri 09-25 中秋 -> Mon 09-28"),
])
def test_order_121_mediation_ends_sixty_calendar_days_after_acceptance_rolling_past_holidays(rulesets, calendar,
                                                                                              accepted, due):
    rule = ruleset_for(rulesets, accepted)
    assert rule.code == "order-121"
    assert compute_period(rule.period("mediation"), accepted, calendar, warn_ratio=0.7).due == due


def test_order_20_mediation_is_forty_five_working_days(rulesets, calendar):
    rule = ruleset_for(rulesets, at("2026-04-10T09:00:00+08:00"))
    assert rule.code == "order-20"
    period = compute_period(rule.period("mediation"), dt.date(2026, 4, 13), calendar, warn_ratio=0.7)
    # Mon 04-13 + 45 working days, over 劳动节 05-01..05-05 and the make-up Sat 05-09 -> Wed 06-17
    assert period.due == dt.date(2026, 6, 17)


def test_testing_pause_is_excluded_from_the_mediation_period(rulesets, calendar):
    rule = ruleset_for(rulesets, dt.date(2026, 8, 10))
    p = compute_period(rule.period("mediation"), dt.date(2026, 8, 10), calendar, warn_ratio=0.7,
                       pauses=[Pause(dt.date(2026, 8, 20), dt.date(2026, 8, 30), "送检")])
    assert (p.paused_days, p.due, p.paused) == (10, dt.date(2026, 10, 19), False)  # Mon


def test_an_open_pause_counts_up_to_today_and_marks_the_period_paused(rulesets, calendar):
    rule = ruleset_for(rulesets, dt.date(2026, 8, 10))
    p = compute_period(rule.period("mediation"), dt.date(2026, 8, 10), calendar, warn_ratio=0.7,
                       pauses=[Pause(dt.date(2026, 8, 20), None, "送检")], today=dt.date(2026, 8, 25))
    assert (p.paused_days, p.paused, p.status(dt.date(2026, 8, 25))) == (5, True, "paused")


def test_the_accept_period_cannot_be_paused(rulesets, calendar):
    rule = rulesets[-1]
    with pytest.raises(ValueError, match="不能中止计算"):
        compute_period(rule.period("accept"), dt.date(2026, 9, 30), calendar, warn_ratio=0.7,
                       pauses=[Pause(dt.date(2026, 10, 8), dt.date(2026, 10, 9))])


@pytest.mark.parametrize(("key", "start", "warn_on"), [
    pytest.param("accept", dt.date(2026, 9, 30), dt.date(2026, 10, 13), id="accept 7wd: 5th wd Tue 10-13"),
    pytest.param("verify", dt.date(2026, 9, 30), dt.date(2026, 10, 21), id="verify 15wd: 11th wd Wed 10-21"),
    pytest.param("mediation", dt.date(2026, 8, 10), dt.date(2026, 9, 21), id="mediation 60d: day 42 Mon 09-21"),
])
def test_warning_comes_when_seventy_percent_of_the_period_has_passed(rulesets, calendar, key, start, warn_on):
    rule = rulesets[-1]
    assert compute_period(rule.period(key), start, calendar, warn_ratio=rule.warn_ratio).warn_on == warn_on


def test_warn_ratio_is_configurable(calendar):
    rules = load_rulesets(RULES, warn_ratio=0.5)
    p = compute_period(rules[-1].period("verify"), dt.date(2026, 9, 30), calendar, warn_ratio=rules[-1].warn_ratio)
    assert p.warn_on == dt.date(2026, 10, 16)  # 8th working day, Fri


@pytest.mark.parametrize(("today", "left", "status"), [
    pytest.param(dt.date(2026, 10, 12), 3, "ok", id="Mon 10-12: 3 wd left"),
    pytest.param(dt.date(2026, 10, 13), 2, "warn", id="Tue 10-13: warning day"),
    pytest.param(dt.date(2026, 10, 15), 0, "warn", id="Thu 10-15: due today"),
    pytest.param(dt.date(2026, 10, 19), -2, "overdue", id="Mon 10-19: 2 wd overdue"),
])
def test_time_left_is_counted_in_the_periods_own_days(rulesets, calendar, today, left, status):
    p = intake_deadlines("complaint", at("2026-09-30T10:00:00+08:00"), rulesets, calendar).periods[0]
    assert (p.days_left(today, calendar), p.status(today)) == (left, status)


def test_a_deadline_in_a_year_without_calendar_data_fails_loudly(rulesets, calendar):
    with pytest.raises(CalendarYearMissing, match="2027"):
        intake_deadlines("complaint", at("2026-12-28T10:00:00+08:00"), rulesets, calendar)


def test_a_naive_received_time_is_refused(rulesets, calendar):
    with pytest.raises(ValueError, match="时区"):
        intake_deadlines("complaint", dt.datetime(2026, 9, 30, 10), rulesets, calendar)


def test_a_rule_file_without_a_source_is_refused():
    import yaml

    raw = yaml.safe_load((RULES / "order-121.yaml").read_text(encoding="utf-8"))
    del raw["periods"]["accept"]["source"]
    with pytest.raises(RuleError, match="source"):
        parse_ruleset(raw)


def test_every_period_in_every_rule_file_cites_an_article(rulesets):
    for rule in rulesets:
        for period in rule.periods.values():
            assert ("第" in period.source and "条" in period.source) or "本地" in period.source, period


def test_cli_prints_the_deadlines_the_service_uses():
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("complaints", "deadlines", "--kind", "complaint", "--received-at", "2026-09-30T10:00:00+08:00",
                 stdout=out)
    assert "accept_by 2026-10-15" in out.getvalue().splitlines()
    out = io.StringIO()
    call_command("complaints", "deadlines", "--kind", "report", "--received-at", "2026-09-30T10:00:00+08:00",
                 stdout=out)
    assert "verify_by 2026-10-27" in out.getvalue().splitlines()


def test_cli_refuses_a_received_time_without_a_timezone():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="时区"):
        call_command("complaints", "deadlines", "--kind", "complaint", "--received-at", "2026-09-30T10:00:00")
