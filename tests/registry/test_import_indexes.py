"""A large first import writes without the registry's secondary indexes and builds them again before it commits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jianguan.core.models import AuditEntry
from jianguan.registry import services
from jianguan.registry.importer import run_import
from jianguan.registry.models import Entity, EntityLabel
from tests.registry.importdata import row, write_csv

TODAY = dt.date(2026, 11, 20)
TABLES = (Entity._meta.db_table, EntityLabel._meta.db_table, AuditEntry._meta.db_table)


def index_definitions() -> set[tuple[str, str]]:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)", [list(TABLES)])
        else:
            cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN (%s, %s, %s)",
                        list(TABLES))
        return set(cur.fetchall())


def foreign_keys() -> set[tuple[str, str, str]]:
    """(table, name, definition) of the tables' foreign keys on PostgreSQL; the tables' own SQL on SQLite (which
    holds its REFERENCES clauses)."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE contype = 'f' AND conrelid = ANY(%s::regclass[])", [list(TABLES)])
        else:
            cur.execute("SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'table' AND tbl_name IN "
                        "(%s, %s, %s)", list(TABLES))
        return set(cur.fetchall())


def drops(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].upper().startswith("DROP INDEX")]


def test_a_first_load_drops_the_secondary_indexes_and_builds_the_same_ones_again(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 3)
    before, before_fks = index_definitions(), foreign_keys()
    path = write_csv(media / "a.csv", [row(名称=f"文登区好运来{n}号超市") for n in range(4)])
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(path, today=TODAY)
    assert result.ok and result.created == 4
    dropped = drops(ctx.captured_queries)
    assert any("entity_division_status_idx" in q for q in dropped)  # a secondary index of the registry went …
    assert not any("uscc" in q and "like" not in q for q in dropped)  # … the unique USCC index stayed
    assert index_definitions() == before
    assert foreign_keys() == before_fks
    if connection.vendor == "postgresql":  # the foreign keys were checked once, by adding them back
        sql = [q["sql"] for q in ctx.captured_queries]
        assert any("DROP CONSTRAINT" in q and "registry_entitylabel_entity_id" in q for q in sql)
        assert any("ADD CONSTRAINT" in q and "FOREIGN KEY (entity_id)" in q for q in sql)
        # … but not those to shared reference tables, whose lock would stall every page (divisions: access checks)
        assert not any("DROP CONSTRAINT" in q and ("division" in q or "industry" in q or "label_id" in q)
                       for q in sql)
        assert len(before_fks) == 4
    assert Entity.objects.filter(name__contains="好运来2号").count() == 1
    assert EntityLabel.objects.filter(entity__name__contains="好运来").exists()


def test_an_import_smaller_than_the_registry_keeps_the_indexes(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    run_import(write_csv(media / "a.csv", [row() for _ in range(3)]), today=TODAY)
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "b.csv", [row()]), today=TODAY)
    assert result.ok and result.created == 1
    assert not any("registry_entity" in q and "entitylabel" not in q for q in drops(ctx.captured_queries))


def test_a_dry_run_drops_nothing(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "a.csv", [row(), row()]), today=TODAY, dry_run=True)
    assert result.ok and result.created == 2 and Entity.objects.count() == 0
    assert drops(ctx.captured_queries) == []


def test_a_write_that_fails_after_the_drop_leaves_indexes_and_registry_as_they_were(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    before, before_fks = index_definitions(), foreign_keys()

    def broken_audit(events, **options):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "audit_record_many", broken_audit)
    with pytest.raises(RuntimeError):
        run_import(write_csv(media / "a.csv", [row(), row()]), today=TODAY)
    assert Entity.objects.count() == 0
    assert index_definitions() == before
    assert foreign_keys() == before_fks


def test_when_only_the_labels_are_rebuilt_the_registry_stays_readable(media, db, monkeypatch):
    """A load that at least doubles the label table but not the registry drops only the labels' own indexes: not
    their foreign key to the registry, whose drop would lock every registry page for the length of the load."""
    run_import(write_csv(media / "a.csv", [row(行业代码="6110") for _ in range(20)]), today=TODAY)
    EntityLabel.objects.all().delete()
    with connection.cursor() as cur:  # fire the deferred checks of the first load inside the test's transaction
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("SET CONSTRAINTS ALL DEFERRED")
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 5)
    before_fks = foreign_keys()
    locks: list[list[tuple[str, str]]] = []

    def progress(step, done, total, counts):
        if step == "写入" and not locks and connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                            "WHERE l.pid = pg_backend_pid() AND l.mode = 'AccessExclusiveLock' AND c.relkind = 'r'")
                locks.append(cur.fetchall())

    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "b.csv", [row(行业代码="5211") for _ in range(10)]), today=TODAY,
                            progress=progress)
    assert result.ok and result.created == 10
    sql = [q["sql"] for q in ctx.captured_queries]
    assert any("DROP INDEX" in q and "entitylabel" in q for q in sql)  # the labels' index was rebuilt …
    assert not any("DROP CONSTRAINT" in q for q in sql)  # … but no foreign key went
    assert foreign_keys() == before_fks
    if connection.vendor == "postgresql":
        assert ("registry_entity", "AccessExclusiveLock") not in locks[0]
        assert ("registry_entitylabel", "AccessExclusiveLock") in locks[0]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's indexes (migration registry 0008)")
@pytest.mark.parametrize(("sql", "index"), [
    ("SELECT id FROM registry_entity WHERE division_id = '371003'", "entity_division_status_idx"),
    ("SELECT id FROM registry_entity WHERE industry_id = '5211'", "entity_industry_status_idx"),
    ("SELECT entity_id FROM registry_entitylabel WHERE label_id = 1", "entitylabel_label_idx"),
    ("SELECT label_id FROM registry_entitylabel WHERE entity_id = 1", "sqlite_autoindex_registry_entitylabel_1"),
    ("SELECT year FROM registry_annualreport WHERE entity_id = 1", "sqlite_autoindex_registry_annualreport_1"),
])
def test_on_sqlite_the_covered_indexes_are_gone_and_their_queries_use_the_covering_ones(sql, index):
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        names = {name for (name,) in cur.fetchall()}
        cur.execute("EXPLAIN QUERY PLAN " + sql)
        plan = " ".join(str(row[-1]) for row in cur.fetchall())
    assert not names & {"registry_entity_division_id_239178f5", "registry_entity_industry_id_a161316f",
                        "registry_entity_name_6f9f5c16", "registry_entitylabel_entity_id_49df6621",
                        "registry_entitylabel_label_id_c47f865f", "registry_annualreport_entity_id_355f590b"}
    assert index in plan, plan
