"""`--load`: bulk load into the database, refusal without --replace, one audit entry per run, module steps."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jianguan.core.models import AuditEntry
from jianguan.registry.domain.uscc import validate_uscc
from jianguan.registry.models import AnnualReport, Entity, EntityLabel, Licence, Premises
from jianguan.synth.registry import DivisionPlan, SynthError
from jianguan.synth.runner import synth_run

SEEN: list = []


def capture_step(ctx):
    """A module's synth step, as another app would declare it."""
    SEEN.append(ctx)


def _load(n=400, *, replace=False, seed=3, steps=()):
    return synth_run([DivisionPlan("371003", n)], seed=seed, scale="custom", load=True, replace=replace,
                     out=io.StringIO(), steps=list(steps))


@pytest.mark.django_db
def test_load_puts_every_table_in_the_database_with_valid_codes():
    ctx = _load()
    assert Entity.objects.filter(division_id="371003").count() == 400
    counts = ctx.facts["registry_counts"]
    assert Licence.objects.count() == counts["licences"] > 0
    assert AnnualReport.objects.count() == counts["annual_reports"] > 0
    assert EntityLabel.objects.count() == counts["entity_labels"] > 0
    assert Premises.objects.count() == counts["premises"]
    entity = Entity.objects.filter(kind="enterprise", subtype="有限责任公司").first()
    assert validate_uscc(entity.uscc, lambda code: True) == []
    assert entity.registered_capital is not None and entity.created_at is not None
    assert entity.registration_authority == "威海市文登区市场监督管理局"
    assert set(EntityLabel.objects.values_list("label__code", flat=True)) >= {"employer"}


@pytest.mark.django_db
def test_loaded_ids_match_the_context_frame_and_new_rows_get_later_ids():
    ctx = _load(50)
    db = dict(Entity.objects.values_list("id", "uscc"))
    assert db == dict(ctx.entities.select("id", "uscc").iter_rows())
    created = Entity.objects.create(
        uscc="91371003MA3C4X7Y0D", name="后来登记的公司", kind="enterprise", registration_authority="x",
        division_id="371003", address="x", industry_id="5211", established_on="2026-01-05",
        legal_representative="张三")
    assert created.id > max(db)


@pytest.mark.django_db
def test_second_load_into_the_same_division_is_refused_in_chinese():
    _load(30)
    message = "以下区划已有市场主体：371003 文登区 30 个；未载入合成数据，如需替换请加 --replace"
    with pytest.raises(SynthError, match=message):
        _load(30, seed=4)
    assert Entity.objects.count() == 30


@pytest.mark.django_db
def test_replace_swaps_the_entities_of_the_division():
    _load(30)
    old = set(Entity.objects.values_list("uscc", flat=True))
    _load(40, replace=True, seed=4)
    new = set(Entity.objects.values_list("uscc", flat=True))
    assert len(new) == 40 and not (old & new)
    assert not AnnualReport.objects.exclude(entity__in=Entity.objects.all()).exists()


@pytest.mark.django_db
def test_each_run_writes_one_summary_audit_entry():
    before = AuditEntry.objects.count()
    _load(200)
    entries = AuditEntry.objects.filter(seq__gt=0).order_by("seq")[before:]
    assert [e.action for e in entries] == ["synth_load"]
    assert '"entities":200' in entries[0].after
    _load(20, replace=True)
    last = AuditEntry.objects.order_by("-seq").first()
    assert last.action == "synth_load" and '"replaced"' in last.after
    assert AuditEntry.objects.count() == before + 2


@pytest.mark.django_db
def test_other_modules_steps_get_the_entity_frame_and_the_year_window():
    SEEN.clear()
    _load(60, steps=[f"{__name__}.capture_step"])
    (ctx,) = SEEN
    assert ctx.load and ctx.divisions == ["371003"] and ctx.entities.height == 60
    assert {"id", "uscc", "kind", "division", "industry", "section", "established_on", "status"} <= set(
        ctx.entities.columns)
    assert str(ctx.year[0]) == "2025-11-20" and str(ctx.year[1]) == "2026-11-19"


@pytest.mark.django_db
def test_a_step_that_cannot_be_imported_is_named_in_the_error():
    with pytest.raises(SynthError, match=r"合成步骤 nowhere\.step 无法导入"):
        _load(10, steps=["nowhere.step"])


@pytest.mark.django_db
def test_command_loads_and_reports_the_divisions():
    out = io.StringIO()
    call_command("synth", "--divisions", "371082", "--entities", "25", "--load", "--registry-only", stdout=out)
    assert "371082 荣成市：25 个市场主体" in out.getvalue()
    assert Entity.objects.filter(division_id="371082").count() == 25
    with pytest.raises(CommandError, match="已有市场主体"):
        call_command("synth", "--divisions", "371082", "--entities", "25", "--load", "--registry-only",
                     stdout=io.StringIO())


@pytest.mark.django_db
def test_a_big_load_on_postgresql_rebuilds_every_index_it_dropped(monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite loads keep their indexes")
    from jianguan.synth import load

    def indexes():
        with connection.cursor() as cur:
            cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename LIKE 'registry_%%' ORDER BY 1")
            return [r[0] for r in cur.fetchall()]

    before = indexes()
    monkeypatch.setattr(load, "BULK_INDEX_THRESHOLD", 100)
    _load(300)
    assert indexes() == before
    assert Entity.objects.filter(name__startswith="文登区").exists()
