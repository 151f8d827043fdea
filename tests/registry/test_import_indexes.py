"""A large first import writes without the registry's secondary indexes and builds them again before it commits."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from jianguan.core import db as core_db
from jianguan.core.models import AuditEntry
from jianguan.registry import services
from jianguan.registry.domain.rows import ENTITY_FIELDS
from jianguan.registry.importer import run_import
from jianguan.registry.models import Entity, EntityLabel
from tests.registry.importdata import licence, row, uscc, write_csv, write_xlsx

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


def counted(cur, table, rows) -> bool:
    """`services._holds_more_than` by counting only: an ANALYZE in another test (test_search) leaves PostgreSQL's
    row estimate of a table at the rows that test had written, even after its transaction is rolled back."""
    cur.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{table}" LIMIT %s) AS head', [rows + 1])  # noqa: S608
    return cur.fetchone()[0] > rows


def test_a_first_load_drops_the_secondary_indexes_and_builds_the_same_ones_again(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 3)
    monkeypatch.setattr(services, "_holds_more_than", counted)
    before, before_fks = index_definitions(), foreign_keys()
    path = write_csv(media / "a.csv", [row(名称=f"文登区好运来{n}号超市") for n in range(4)])
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(path, today=TODAY)
    assert result.ok and result.created == 4
    dropped = drops(ctx.captured_queries)
    assert any("entity_industry_status_idx" in q for q in dropped)  # a secondary index of the registry went …
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


def stored_lookups(queries) -> list[str]:
    """The writer's reads of the stored versions of a chunk's entities."""
    return [q["sql"] for q in queries if q["sql"].startswith('SELECT "id", "is_ecommerce_platform"')]


def test_a_first_load_into_an_empty_registry_looks_none_of_its_rows_up(media, db, monkeypatch):
    """Locked and found empty, the registry can hold only the rows the import writes, whose USCCs the check made
    unique: the writer does not ask for stored versions. With rows already there it asks, and updates them."""
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 3)
    monkeypatch.setattr(services, "_holds_more_than", counted)
    first = [row(名称=f"文登区好运来{n}号超市") for n in range(4)]
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "a.csv", first), today=TODAY)
    assert result.ok and result.created == 4
    assert drops(ctx.captured_queries)  # it was a first load …
    assert stored_lookups(ctx.captured_queries) == []  # … that read no stored versions

    second = [{**first[0], "名称": "文登区好运来超市（改名）"}, *(row() for _ in range(7))]
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "b.csv", second), today=TODAY)
    assert result.ok and (result.created, result.updated) == (7, 1)
    assert drops(ctx.captured_queries)  # at least doubles the registry, so its indexes are rebuilt again …
    assert stored_lookups(ctx.captured_queries)  # … but it is not empty: the rows are looked up
    assert Entity.objects.filter(name="文登区好运来超市（改名）").count() == 1
    assert Entity.objects.count() == 11


def test_a_file_that_repeats_a_uscc_is_refused_on_a_first_load_too(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 3)
    monkeypatch.setattr(services, "_holds_more_than", counted)
    rows = [row() for _ in range(4)]
    rows.append({**rows[1], "名称": "文登区重复超市"})
    result = run_import(write_csv(media / "a.csv", rows), today=TODAY)
    assert not result.ok and [e.row for e in result.errors] == [6]
    assert Entity.objects.count() == 0


def test_an_import_smaller_than_the_registry_keeps_the_indexes(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    run_import(write_csv(media / "a.csv", [row() for _ in range(3)]), today=TODAY)
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "b.csv", [row()]), today=TODAY)
    assert result.ok and result.created == 1
    assert not any("registry_entity" in q and "entitylabel" not in q for q in drops(ctx.captured_queries))


def test_a_file_the_registry_already_holds_keeps_the_indexes_however_large(media, db, monkeypatch):
    """The registry's own rows imported again (as large as the registry, one changed): nothing is expected to be new,
    so nothing is dropped; a file whose new rows at least double the registry rebuilds them as before."""
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 3)
    monkeypatch.setattr(services, "_holds_more_than", counted)
    rows = [row(名称=f"文登区第{n}号商店") for n in range(6)]
    run_import(write_csv(media / "a.csv", rows), today=TODAY)
    rows[2] = {**rows[2], "名称": "文登区第2号商店（改名）"}
    before = index_definitions()
    with CaptureQueriesContext(connection) as ctx:
        again = run_import(write_csv(media / "b.csv", rows), today=TODAY)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 1, 5)
    assert drops(ctx.captured_queries) == []
    assert index_definitions() == before

    mostly_new = [rows[0], *(row() for _ in range(7))]  # 7 expected new: at least doubles the 6 held
    with connection.cursor() as cur:
        entity_indexes = [name for name, _sql in services._secondary_indexes(cur, Entity._meta.db_table)]
    with CaptureQueriesContext(connection) as ctx:
        grown = run_import(write_csv(media / "c.csv", mostly_new), today=TODAY)
    assert grown.ok and (grown.created, grown.unchanged) == (7, 1)
    dropped = " ".join(drops(ctx.captured_queries))
    assert entity_indexes and all(name in dropped for name in entity_indexes)
    assert index_definitions() == before


def test_a_dry_run_drops_nothing(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "a.csv", [row(), row()]), today=TODAY, dry_run=True)
    assert result.ok and result.created == 2 and Entity.objects.count() == 0
    assert drops(ctx.captured_queries) == []


def test_a_write_that_fails_after_the_drop_leaves_indexes_and_registry_as_they_were(media, db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    before, before_fks = index_definitions(), foreign_keys()

    def broken_audit(self, events):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services.AuditBatches, "rows", broken_audit)
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
    monkeypatch.setattr(services, "_holds_more_than", counted)  # another test's index build left an estimate
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


postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner and triggers")


def first_load(cur, table, rows) -> bool:
    """Every table counts as at most as large as the import (the test database's audit trail is not empty)."""
    return False


def entity_row(code: str, *, division: str = "371003") -> tuple[str | None, ...]:
    """A row as the checks hand it to the writer (ENTITY_FIELDS order, text form), built past the checks."""
    values = {"uscc": code, "name": f"文登区测试{code[-4:]}超市", "kind": "enterprise", "subtype": "有限责任公司",
              "status": "active", "status_date": None, "registration_authority": "威海市文登区市场监督管理局",
              "division_id": division, "street": "龙山街道", "road": "峰山路", "house_number": "12号",
              "address": "山东省威海市文登区龙山街道峰山路12号", "industry_id": "5211", "established_on": "2015-06-18",
              "registered_capital": "50.00", "legal_representative": "王建国", "business_scope": "日用百货销售",
              "phone": "0631-8451234"}
    return tuple(values[f] for f in ENTITY_FIELDS)


@postgresql_only
def test_a_first_load_checks_its_references_once_with_the_row_triggers_off(media, db, monkeypatch):
    """Where the session may turn its row triggers off, a first load writes without a check per row and then reads
    each foreign key's values once, locking the rows they refer to; the setting is back to what it was after."""
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    monkeypatch.setattr(services, "_holds_more_than", first_load)
    before_fks = foreign_keys()
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(write_csv(media / "a.csv", [row(), row(行业代码="6110")]), today=TODAY)
    assert result.ok and result.created == 2
    sql = [q["sql"] for q in ctx.captured_queries]
    assert any("'session_replication_role', 'replica'" in q for q in sql)
    assert any("FOR KEY SHARE" in q and "core_division" in q for q in sql)
    assert any("FOR KEY SHARE" in q and "registry_industry" in q for q in sql)
    assert any("FOR KEY SHARE" in q and "registry_label" in q for q in sql)
    assert foreign_keys() == before_fks
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('session_replication_role')")
        assert cur.fetchone()[0] == "origin"


@postgresql_only
def test_a_reference_to_nothing_rolls_the_first_load_back_and_is_named(db, monkeypatch):
    """The checks refuse an unknown division; if one still reaches the writer (deleted meanwhile), the one check at
    the end finds it: nothing is written and the message names the value."""
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    monkeypatch.setattr(services, "_holds_more_than", first_load)
    entries = AuditEntry.objects.count()
    rows = [entity_row(uscc()), entity_row(uscc(), division="379999")]
    with pytest.raises(services.ImportConflict, match=r"core_division\.code：379999") as caught:
        services.registry_import_write([rows], [], total=2, actor=None, reason="测试", today=TODAY)
    assert "不存在的行政区划" in str(caught.value)  # named as the bureau calls it
    assert Entity.objects.count() == 0 and AuditEntry.objects.count() == entries


@postgresql_only
def test_without_the_right_to_turn_triggers_off_each_row_is_checked_as_before(db, monkeypatch):
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    monkeypatch.setattr(services, "_holds_more_than", first_load)
    monkeypatch.setattr(core_db, "_row_triggers_may_be_skipped", lambda cur, tables: False)
    with CaptureQueriesContext(connection) as ctx:
        created = services.registry_import_write([[entity_row(uscc())]], [], total=1, actor=None, reason="测试",
                                                 today=TODAY)
    assert created[0] == (1, 0, 0)
    assert not any("session_replication_role" in q["sql"] for q in ctx.captured_queries)
    rows = [entity_row(uscc(), division="379999")]
    with pytest.raises(IntegrityError):  # the deferred row check, when the constraints are made immediate
        services.registry_import_write([rows], [], total=1, actor=None, reason="测试", today=TODAY)


@postgresql_only
def test_the_session_may_turn_triggers_off_only_where_nothing_but_key_checks_would_be_skipped(db):
    tables = [Entity._meta.db_table, EntityLabel._meta.db_table, AuditEntry._meta.db_table]
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('is_superuser')")
        superuser = cur.fetchone()[0] == "on"
        assert core_db._row_triggers_may_be_skipped(cur, tables) is superuser
        cur.execute("CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
        cur.execute("CREATE TRIGGER audit_noop BEFORE INSERT ON core_auditentry FOR EACH ROW "
                    "EXECUTE FUNCTION pg_temp.noop()")
        assert core_db._row_triggers_may_be_skipped(cur, tables) is False


@postgresql_only
def test_looking_rows_up_by_value_uses_the_index_of_a_table_without_statistics(db):
    """A chunk's USCCs are looked up through the index even where the planner would guess a sequential scan (a
    table filled in this transaction), and the session's setting is left as it was."""
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE lookup_probe (code varchar(18) PRIMARY KEY, n int)")
        cur.execute("INSERT INTO lookup_probe SELECT 'C' || g, g FROM generate_series(1, 20000) g")
        wanted = [f"C{n}" for n in range(1, 20000, 3)]

        def scans() -> tuple[int, int]:
            cur.execute("SELECT seq_scan, coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables "
                        "WHERE relid = 'lookup_probe'::regclass")
            return cur.fetchone()

        seq, idx = scans()
        found = services.fetch_where_in(cur, "SELECT code, n FROM lookup_probe", "code", wanted)
        assert sorted(n for _c, n in found) == list(range(1, 20000, 3))
        seq_after, idx_after = scans()
        assert seq_after == seq and idx_after > idx
        cur.execute("SELECT current_setting('enable_seqscan')")
        assert cur.fetchone()[0] == "on"


def test_a_chunk_whose_insert_fails_behind_the_writer_rolls_the_whole_load_back(db, monkeypatch):
    """The second chunk's rows are given the first chunk's ids: its insert (sent while the writer goes on, on
    PostgreSQL) breaks the primary key. That error is what the caller sees, and nothing stays — not the first chunk,
    not an audit entry, not a dropped index."""
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 1)
    monkeypatch.setattr(services, "_holds_more_than", first_load)
    monkeypatch.setattr(services, "_reserve_ids", lambda cur, table, n, after=0: [990_001] * n)
    before, entries = index_definitions(), AuditEntry.objects.count()
    with pytest.raises(IntegrityError):
        services.registry_import_write([[entity_row(uscc())], [entity_row(uscc())]], [], total=2, actor=None,
                                       reason="测试", today=TODAY)
    assert Entity.objects.count() == 0 and AuditEntry.objects.count() == entries
    assert index_definitions() == before


@pytest.mark.django_db(transaction=False)
def test_ids_reserved_in_blocks_are_new_distinct_and_handed_out_in_order(monkeypatch):
    """Taken across several reservations (a small block), with more asked than expected at the end: every id is
    new, none is handed out twice, and each take gives them in the order reserved."""
    monkeypatch.setattr(services._IdBlocks, "BLOCK", 7)
    table = Entity._meta.db_table
    with connection.cursor() as cur:
        blocks = services._IdBlocks(cur, table, expected=20)
        taken = [blocks.take(n) for n in (3, 5, 1, 6, 5, 9)]
        assert [len(t) for t in taken] == [3, 5, 1, 6, 5, 9]
        ids = [i for t in taken for i in t]
        assert ids == sorted(ids) and len(set(ids)) == len(ids) == 29
        assert services._reserve_ids(cur, table, 1)[0] > ids[-1] or connection.vendor == "sqlite"


def test_a_first_load_from_a_workbook_finds_the_entities_of_its_licences(media, db, monkeypatch):
    """The licences of a first load's workbook are written inside the same block as its entities, with the
    registry's secondary indexes away: each finds its entity by USCC (the unique index stays for that)."""
    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 3)
    monkeypatch.setattr(services, "_holds_more_than", counted)
    before = index_definitions()
    codes = [uscc() for _ in range(4)]
    path = write_xlsx(media / "a.xlsx", [row(统一社会信用代码=c, 行业代码="5211") for c in codes],
                      licences=[licence(codes[k], 许可证编号=f"JY1371003001234{k}", 有效期至="2029-02-28")
                                for k in (1, 3)])
    with CaptureQueriesContext(connection) as ctx:
        result = run_import(path, today=TODAY)
    assert result.ok and result.created == 4 and result.licences == (2, 0, 0)
    assert drops(ctx.captured_queries)  # it was a first load
    assert index_definitions() == before
    with_licence = set(Entity.objects.filter(licences__isnull=False).values_list("uscc", flat=True))
    assert with_licence == {codes[1], codes[3]}
