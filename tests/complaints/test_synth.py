"""The synthetic history loads through the same tables and shows open, due-soon and overdue cases."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest

from jianguan.complaints.models import Case
from tests.complaints.conftest import create_entity

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_synthetic_year_loads_with_deadlines_and_open_cases(org):
    from jianguan.complaints.synth import generate
    from jianguan.synth.context import SynthContext

    entities = [create_entity(street="龙山街道") for _ in range(40)]
    frame = pl.DataFrame({
        "id": [e.pk for e in entities], "uscc": [e.uscc for e in entities], "name": [e.name for e in entities],
        "division": ["371003"] * 40, "industry": ["5212"] * 40, "section": ["F"] * 40,
        "is_ecommerce_platform": [False] * 40, "odr_enabled": [False] * 40, "street": ["龙山街道"] * 40})
    # 40 entities would give ~4 cases; raise the rate for the test through many entities in one frame.
    big = pl.concat([frame] * 100)
    ctx = SynthContext(seed=3, scale="custom", divisions=["371003"], entities=big, load=True,
                       today=dt.date(2026, 11, 20), out=io.StringIO())
    generate(ctx)
    n = Case.objects.count()
    assert n == ctx.facts["complaints"] and 300 < n < 600
    assert Case.objects.filter(kind="complaint", accept_due__isnull=True).count() == 0
    assert Case.objects.exclude(status="closed").filter(next_due__lt=dt.date(2026, 11, 20)).exists()
    assert Case.objects.exclude(status="closed").filter(unit=org.station).exists()
    assert set(Case.objects.values_list("rule_code", flat=True)) == {"order-20", "order-121"}
