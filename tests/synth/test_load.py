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


def _postgresql_only():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite loads keep their indexes")
    return connection


def _schema(connection):
    """Every index and constraint of the registry tables, as PostgreSQL prints their definitions."""
    with connection.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE tablename LIKE 'registry_%%' ORDER BY 1")
        indexes = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid::regclass::text LIKE 'registry_%%' ORDER BY 1, 2")
        return indexes, cur.fetchall()


def _all_visible(connection, table):
    """(pages, pages marked all-visible) of `table`, as the last ANALYZE counted them."""
    with connection.cursor() as cur:
        cur.execute("SELECT relpages, relallvisible FROM pg_class WHERE oid = %s::regclass", [table])
        return cur.fetchone()


@pytest.mark.django_db
def test_a_big_load_on_postgresql_rebuilds_every_index_and_key_it_dropped(monkeypatch):
    connection = _postgresql_only()
    from jianguan.synth import load

    before = _schema(connection)
    monkeypatch.setattr(load, "BULK_INDEX_THRESHOLD", 100)
    _load(300)
    assert _schema(connection) == before
    assert Entity.objects.filter(name__startswith="文登区").exists()


@pytest.mark.django_db
def test_a_first_big_load_on_postgresql_writes_frozen_rows_on_all_visible_pages(monkeypatch):
    connection = _postgresql_only()
    from jianguan.synth import load

    monkeypatch.setattr(load, "BULK_INDEX_THRESHOLD", 100)
    _load(3000)
    pages, visible = _all_visible(connection, "registry_entity")
    assert pages > 0 and visible == pages


@pytest.mark.django_db
def test_a_big_load_beside_other_divisions_keeps_them(monkeypatch):
    connection = _postgresql_only()
    from jianguan.synth import load

    call_command("synth", "--divisions", "371082", "--entities", "40", "--load", "--registry-only",
                 stdout=io.StringIO())
    kept = set(Entity.objects.values_list("uscc", flat=True))
    monkeypatch.setattr(load, "BULK_INDEX_THRESHOLD", 100)
    _load(3000)
    assert set(Entity.objects.filter(division_id="371082").values_list("uscc", flat=True)) == kept
    assert Entity.objects.filter(division_id="371003").count() == 3000
    pages, visible = _all_visible(connection, "registry_entity")
    assert visible < pages  # not truncated, so not frozen: VACUUM marks the pages after commit


@pytest.mark.django_db
def test_a_big_load_that_fails_at_the_end_leaves_the_registry_and_its_schema_as_they_were(monkeypatch):
    """The unique keys are dropped during a big load; a duplicate USCC is caught when they are rebuilt, and the
    whole load — the truncation of the empty tables, the rows, the dropped indexes — is rolled back."""
    connection = _postgresql_only()
    import polars as pl
    from django.db import IntegrityError

    from jianguan.synth import load

    before = _schema(connection)
    write = load.DatabaseSink.write

    def write_with_a_duplicate_uscc(self, chunk):
        uscc = chunk.entities["uscc"]
        chunk.entities = chunk.entities.with_columns(
            uscc=pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(uscc[0])).otherwise(pl.col("uscc")))
        write(self, chunk)

    monkeypatch.setattr(load, "BULK_INDEX_THRESHOLD", 100)
    monkeypatch.setattr(load.DatabaseSink, "write", write_with_a_duplicate_uscc)
    with pytest.raises(IntegrityError, match="registry_entity_uscc_key"):
        _load(300)
    assert not Entity.objects.exists() and not AnnualReport.objects.exists()
    assert _schema(connection) == before
    assert not AuditEntry.objects.filter(action="synth_load").exists()
