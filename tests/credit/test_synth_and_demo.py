"""The synthetic credit history step and the demo's monthly cycle."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest

from jianguan.credit.models import AbnormalListing, ClassificationRun, Penalty, RiskResult, SeriousListing
from tests.registry.factories import create_annual_report, create_entity

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org):
    entities = [create_entity(established_on=dt.date(2015, 1, 1) + dt.timedelta(days=7 * i)) for i in range(60)]
    for e in entities[:50]:
        create_annual_report(e, 2024)
        create_annual_report(e, 2025)
    return entities


def make_ctx(entities, seed=7):
    from jianguan.synth.context import SynthContext

    frame = pl.DataFrame({"id": [e.pk for e in entities], "uscc": [e.uscc for e in entities],
                          "division": [e.division_id for e in entities], "status": [e.status for e in entities]})
    return SynthContext(seed=seed, scale="test", divisions=["371003"], entities=frame, load=True,
                        today=dt.date(2026, 11, 20), out=io.StringIO())


def test_the_synth_step_lists_entities_whose_annual_reports_are_missing(world):
    from jianguan.credit.synth import generate

    generate(make_ctx(world))
    missing = {e.pk for e in world[50:]}
    listed = set(AbnormalListing.objects.filter(ground="annual_report", entered_on=dt.date(2026, 7, 10))
                 .values_list("entity_id", flat=True))
    assert listed == missing
    assert all(p.decided_on < dt.date(2026, 11, 20) for p in Penalty.objects.all())
    assert not SeriousListing.objects.exclude(basis__severity="heavy").exists()


def test_the_synth_step_is_deterministic_for_a_seed(world):
    from jianguan.credit.synth import _penalties

    ctx = make_ctx(world, seed=11)
    first, again = _penalties(ctx, ctx.entities), _penalties(make_ctx(world, seed=11), ctx.entities)
    assert first.equals(again)


def test_the_demo_classifies_september_and_october_so_transitions_show(world):
    from jianguan.core.demo import DemoContext
    from jianguan.credit.demo import monthly_cycle

    out = io.StringIO()
    monthly_cycle(DemoContext(seed=1, small=True, out=out, today=dt.date(2026, 11, 20)))
    assert set(ClassificationRun.objects.values_list("month", flat=True)) == {dt.date(2026, 9, 1),
                                                                             dt.date(2026, 10, 1)}
    assert RiskResult.objects.filter(month=dt.date(2026, 10, 1)).count() == 60
    october = ClassificationRun.objects.get(month=dt.date(2026, 10, 1))
    assert sum(n for _d, prev, _c, n in october.summary["transitions"] if prev != "-") == 60
    assert "2026-10 信用风险分类：" in out.getvalue()
