"""The dashboard summary gives exactly the figures counted from the cases, for every period, kind and scope."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import polars as pl
import pytest
from django.core.management import call_command

from jianguan.complaints import analysis
from jianguan.complaints import services as svc
from jianguan.complaints.access import case_scope_q
from jianguan.complaints.models import Case, DayCount, SummaryState
from jianguan.complaints.summary import summary_rebuild
from jianguan.core.models import AuditEntry
from tests.complaints.conftest import at, create_entity, intake_data
from tests.conftest import create_user

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 20)


@pytest.fixture(autouse=True)
def _busy_respondents(monkeypatch):
    # Province data makes ~2,000 entities "busy" at 100 cases; this test year has ~10 a respondent.
    monkeypatch.setattr("jianguan.complaints.summary.ENTITY_MIN", 4)


@pytest.fixture
def year(org):
    """A synthetic year (≈ 450 cases) for 40 Wendeng entities, loaded the way `jianguan synth --load` does."""
    from jianguan.complaints.synth import generate
    from jianguan.synth.context import SynthContext

    entities = [create_entity(street="龙山街道", odr=i % 5 == 0) for i in range(40)]
    frame = pl.DataFrame({
        "id": [e.pk for e in entities], "uscc": [e.uscc for e in entities], "name": [e.name for e in entities],
        "division": ["371003"] * 40, "industry": ["5212"] * 40, "section": ["F", "H", "P", "O"] * 10,
        "is_ecommerce_platform": [False] * 40, "odr_enabled": [i % 5 == 0 for i in range(40)],
        "street": ["龙山街道"] * 40})
    ctx = SynthContext(seed=5, scale="custom", divisions=["371003"], entities=pl.concat([frame] * 100), load=True,
                       today=TODAY, out=io.StringIO())
    generate(ctx)
    return entities


@pytest.fixture
def province(org):
    """A leader whose scope (Weihai and below) covers every unit of this test's bureau tree."""
    return create_user(unit=org.weihai, roles=(("leader", "subtree"),), username="weihai_leader")


PERIODS = [
    (dt.date(2025, 11, 20), dt.date(2026, 11, 19)),  # the dashboard's default year
    (dt.date(2026, 3, 17), dt.date(2026, 8, 4)),     # edges inside months
    (dt.date(2026, 10, 1), dt.date(2026, 12, 31)),   # reaches past the summary (cases received today, due later)
    (dt.date(2026, 11, 20), dt.date(2026, 11, 20)),  # only after the summary
]


def _raw(user, date_from, date_to, kind=None):
    return analysis.figures(user, date_from, date_to, kind, use_summary=False)


@pytest.mark.parametrize(("date_from", "date_to"), PERIODS)
@pytest.mark.parametrize("kind", [None, "complaint", "report"])
def test_summary_figures_equal_the_figures_counted_from_the_cases(year, province, staff, org, now, date_from,
                                                                  date_to, kind):
    # A case received today (after the summary) and one handled today: both must count at once.
    [new] = svc.case_register(intake_data(respondent_uscc=year[1].uscc, received_at=at("2026-11-20T09:00:00+08:00")),
                              actor=staff.clerk, now=now)
    svc.case_assign(new, org.wendeng, actor=staff.clerk)
    assert SummaryState.objects.get().through == dt.date(2026, 11, 19)
    got = analysis.figures(province, date_from, date_to, kind)
    assert got["summary_through"] == dt.date(2026, 11, 19)
    want = _raw(province, date_from, date_to, kind)
    want.pop("summary_through"), got.pop("summary_through")
    assert got == want
    assert analysis.respondents(province, date_from, date_to, kind, limit=8) == analysis.top_respondents(
        analysis.scoped_cases(province, date_from, date_to, kind), limit=8)
    # the comparison is not vacuous: the default year holds hundreds of cases in several breakdowns
    if (date_from, date_to) == PERIODS[0] and kind is None:
        assert sum(r["n"] for r in got["channel"]) > 300 and len(got["month"]) >= 12
        assert got["amount"] > 0 and got["on_time"]["c_due"] > 0 and got["respondent"]


def test_the_summary_is_what_the_page_reads(year, province, client):
    # Alter one summary row: a dashboard that ignored the summary would not notice.
    # A year reads month rows for whole months and day rows for the partial months at its ends.
    month = DayCount.objects.filter(dim="m:channel", day=dt.date(2026, 3, 1)).first()
    edge = DayCount.objects.filter(dim="channel", day__gte=dt.date(2025, 11, 20), day__lte=dt.date(2025, 11, 30))[0]
    inner = DayCount.objects.filter(dim="channel", day__gte=dt.date(2026, 4, 1), day__lte=dt.date(2026, 4, 30))[0]
    before = analysis.figures(province, dt.date(2025, 11, 20), dt.date(2026, 11, 19))
    for row in (month, edge, inner):
        DayCount.objects.filter(pk=row.pk).update(n=row.n + 1000)
    after = analysis.figures(province, dt.date(2025, 11, 20), dt.date(2026, 11, 19))
    assert sum(r["n"] for r in after["channel"]) == sum(r["n"] for r in before["channel"]) + 2000
    # the same for the busy respondents: the top list comes from the summary too
    busiest = after["respondent"][0]
    DayCount.objects.filter(dim="m:entity", value=str(busiest["entity_id"])).update(n=0)
    DayCount.objects.filter(dim="entity", value=str(busiest["entity_id"])).update(n=0)
    assert analysis.figures(province, dt.date(2025, 11, 20), dt.date(2026, 11, 19))["respondent"][0] != busiest
    client.force_login(province)
    page = client.get("/staff/complaints/dashboard/?from=2025-11-20&to=2026-11-19")
    assert page.status_code == 200
    assert 'data-testid="summary-note"' in page.content.decode()


@pytest.mark.parametrize(("date_from", "date_to"), PERIODS)
@pytest.mark.parametrize("kind", [None, "complaint"])
def test_narrower_scopes_read_the_unit_rows_and_get_the_figures_counted_from_the_cases(year, staff, org, now,
                                                                                       date_from, date_to, kind):
    [new] = svc.case_register(intake_data(respondent_uscc=year[2].uscc, received_at=at("2026-11-20T09:00:00+08:00")),
                              actor=staff.clerk, now=now)
    svc.case_assign(new, org.station, actor=staff.clerk)
    station_only = create_user(unit=org.station, roles=(("handler", "unit"),), username="st_only")
    for user in (staff.wendeng_handler, station_only, staff.clerk, staff.rongcheng_handler):
        got = analysis.figures(user, date_from, date_to, kind)
        want = _raw(user, date_from, date_to, kind)
        assert got.pop("summary_through") is not None and want.pop("summary_through") is None
        assert got == want, user.username


def test_a_narrower_scope_counts_only_its_own_cases(year, province, org):
    rongcheng = create_user(unit=org.rongcheng, roles=(("handler", "subtree"),), username="rc_only")
    wendeng = create_user(unit=org.wendeng, roles=(("handler", "subtree"),), username="wd_only")
    assert DayCount.objects.filter(dim__startswith="u:").exists()
    for user in (rongcheng, wendeng):
        got = analysis.figures(user, dt.date(2025, 11, 20), dt.date(2026, 11, 19))
        mine = Case.objects.filter(case_scope_q(user), received_on__gte=dt.date(2025, 11, 20),
                                   received_on__lte=dt.date(2026, 11, 19)).count()
        assert sum(r["n"] for r in got["channel"]) == mine
    # the Wendeng figures come from its unit rows: altering one shows
    row = DayCount.objects.filter(dim="u:channel", unit__path__startswith=org.wendeng.path,
                                  day=dt.date(2026, 5, 1)).first()
    DayCount.objects.filter(pk=row.pk).update(n=row.n + 1000)
    got = analysis.figures(wendeng, dt.date(2025, 11, 20), dt.date(2026, 11, 19))
    assert sum(r["n"] for r in got["channel"]) == mine + 1000
    assert sum(r["n"] for r in analysis.figures(rongcheng, dt.date(2025, 11, 20), dt.date(2026, 11, 19))
               ["channel"]) == 0


def test_an_incremental_rebuild_picks_up_recent_handling(year, province, staff, org, now):
    case = (Case.objects.filter(kind="complaint", status="assigned", unit__isnull=False, received_on__gte=TODAY
                                - dt.timedelta(days=60)).order_by("received_on").first())
    assert case is not None
    svc.complaint_reject(case, actor=staff.wendeng_handler, ground="16-1", on=TODAY)
    period = (TODAY - dt.timedelta(days=120), TODAY + dt.timedelta(days=60))
    stale = analysis.figures(province, *period)["on_time"]
    assert stale != _raw(province, *period)["on_time"]  # until the summary is refreshed
    result = summary_rebuild(today=TODAY + dt.timedelta(days=1), days=90)
    assert not result.full
    got = analysis.figures(province, *period)
    want = _raw(province, *period)
    assert got["on_time"] == want["on_time"] and got["channel"] == want["channel"]
    full_rows = sorted(DayCount.objects.values_list("dim", "day", "kind", "value", "n", "on_time", "amount"))
    summary_rebuild(today=TODAY + dt.timedelta(days=1))
    assert sorted(DayCount.objects.values_list("dim", "day", "kind", "value", "n", "on_time", "amount")) == full_rows
    assert AuditEntry.objects.filter(action="summary_rebuild").count() >= 3


def test_the_command_and_the_nightly_job_rebuild_the_summary(year):
    from jianguan.core.jobs import job_run_now, schedules

    DayCount.objects.all().delete()
    out = io.StringIO()
    call_command("complaints", "summary", "--today", "2026-11-20", stdout=out)
    assert out.getvalue().startswith("through 2026-11-19 rows ") and DayCount.objects.exists()
    job = job_run_now("complaints.summary_refresh", "统计汇总", {"as_of": "2026-11-21", "days": 30})
    assert job.status == "succeeded", job.error
    assert job.result["full"] is False and SummaryState.objects.get().through == dt.date(2026, 11, 20)
    assert any(s.kind == "complaints.summary_refresh" for s in schedules())


def test_amount_recovered_includes_agreements(year, province, staff, org, now):
    entity = create_entity()
    [c] = svc.case_register(intake_data(respondent_uscc=entity.uscc), actor=staff.clerk, now=now)
    c = svc.case_assign(c, org.wendeng, actor=staff.clerk)
    c = svc.complaint_accept(c, actor=staff.wendeng_handler, on=dt.date(2026, 10, 9))
    before = analysis.figures(province, dt.date(2026, 9, 1), dt.date(2026, 9, 30))["amount"]
    svc.complaint_agreement(c, actor=staff.wendeng_handler, amount=Decimal("123.45"), on=dt.date(2026, 10, 12))
    summary_rebuild(today=TODAY)
    assert analysis.figures(province, dt.date(2026, 9, 1), dt.date(2026, 9, 30))["amount"] == before + Decimal(
        "123.45")
