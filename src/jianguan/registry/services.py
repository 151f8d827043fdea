"""Writes to the registry: the bulk upsert of an import, rule-label recomputation, manual labels."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jianguan.core.audit import ENTRY_COLUMNS, ENTRY_TABLE, AuditBatches, AuditEvent, audit_record, audit_record_many
from jianguan.core.db import (
    CopiesBehind,
    Insert,
    MissingReference,
    insert_many,
    planner_settings,
    references_checked_once,
)
from jianguan.core.models import AuditEntry
from jianguan.registry.domain.rows import ENTITY_FIELDS
from jianguan.registry.models import Entity, EntityLabel, Industry, Label, Licence
from jianguan.registry.reference import label_catalogue

ENTITY_TYPE = Entity._meta.label_lower
I_USCC = ENTITY_FIELDS.index("uscc")
I_NAME = ENTITY_FIELDS.index("name")
I_KIND = ENTITY_FIELDS.index("kind")
I_INDUSTRY = ENTITY_FIELDS.index("industry_id")
I_CAPITAL = ENTITY_FIELDS.index("registered_capital")
I_STATUS = ENTITY_FIELDS.index("status")
_CENT = Decimal("0.01")


class ImportConflict(Exception):
    """The database changed under a running import; everything was rolled back (message in Chinese)."""


class LabelError(Exception):
    """A label change that is not allowed (message in Chinese)."""


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _columns() -> list[str]:
    return [Entity._meta.get_field(f).column for f in ENTITY_FIELDS]  # type: ignore[union-attr,misc]


def _norm(i: int, v: Any) -> Any:
    """A stored value in the importer's text form, so that it compares equal to an unchanged cell."""
    if v is None:
        return None
    if i == I_CAPITAL:
        return str(Decimal(str(v)).quantize(_CENT))
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


class _LabelRules:
    """The rule-label catalogue with label ids and industry sections, derived once per (industry, kind, …)."""

    def __init__(self) -> None:
        self.catalogue = label_catalogue()
        self.ids = dict(Label.objects.values_list("code", "id"))
        self.codes = {v: k for k, v in self.ids.items()}
        self.sections = dict(Industry.objects.values_list("code", "section"))
        self._cache: dict[tuple[Any, ...], frozenset[int]] = {}
        self._plain: dict[tuple[str, str], frozenset[int]] = {}
        self._names: dict[frozenset[int], list[str]] = {}

    def derive(self, industry: str, kind: str, licences: Iterable[str] = (), platform: bool = False) -> frozenset[int]:
        if not licences and not platform:  # the common case of an import: no key to build
            hit = self._plain.get((industry, kind))
            if hit is None:
                hit = self._plain[(industry, kind)] = self._derive((industry, kind, (), False))
            return hit
        return self._derive((industry, kind, tuple(sorted(set(licences))), platform))

    def _derive(self, key: tuple[str, str, tuple[str, ...], bool]) -> frozenset[int]:
        hit = self._cache.get(key)
        if hit is None:
            industry, kind, licences, platform = key
            codes = self.catalogue.derive(industry=industry, section=self.sections.get(industry, ""),
                                          licences=licences, kind=kind, ecommerce_platform=platform)
            hit = self._cache[key] = frozenset(self.ids[c] for c in codes if c in self.ids)
        return hit

    def names(self, ids: Iterable[int]) -> list[str]:
        return sorted(self.codes[i] for i in ids)

    def names_of(self, ids: frozenset[int]) -> list[str]:
        """:meth:`names` of a derived label set, computed once per set (a fresh list: callers may keep it)."""
        hit = self._names.get(ids)
        if hit is None:
            hit = self._names[ids] = self.names(ids)
        return list(hit)


def _in_clause(n: int) -> str:
    return ",".join(["%s"] * n)


I_STATUS_DATE = ENTITY_FIELDS.index("status_date")
I_ESTABLISHED = ENTITY_FIELDS.index("established_on")


def fetch_where_in(cursor: Any, select: str, column: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of ``select`` (a SELECT … FROM … without WHERE) whose ``column`` is one of ``values``: one query with an
    array on PostgreSQL (a round trip per 900 values cost more than the lookups), IN lists of 900 elsewhere."""
    if not values:
        return []
    if connection.vendor == "postgresql":
        # Through the column's index, never a sequential scan. A table that this transaction is filling (a first load)
        # has no statistics: the planner took it for small and read all of it for each chunk of values, ever longer
        # as it grew (30 → 190 ms per 5,000 USCCs; ≈ 20 s of the server's time in a 1 M-row load).
        with planner_settings(enable_seqscan="off"):
            cursor.execute(f"{select} WHERE {_q(column)} = ANY(%s)", [list(values)])
            return list(cursor.fetchall())
    rows: list[tuple[Any, ...]] = []
    for k in range(0, len(values), 900):
        part = list(values[k:k + 900])
        cursor.execute(f"{select} WHERE {_q(column)} IN ({_in_clause(len(part))})", part)
        rows.extend(cursor.fetchall())
    return rows


def _fetch_existing(cursor: Any, usccs: Sequence[str]) -> Stored:
    """uscc → (id, stored values in the importer's text form, is e-commerce platform) for the stored ones."""
    if Entity._meta.db_table in _EMPTY_WHEN_LOCKED.get():
        return {}
    cols = _columns()
    out: dict[str, tuple[int, tuple[Any, ...], bool]] = {}
    table = _q(Entity._meta.db_table)
    # SQLite keeps dates as ISO text: read them as text rather than parse them into dates and format them back.
    as_text = {I_STATUS_DATE, I_ESTABLISHED} if connection.vendor == "sqlite" else set()
    select = ", ".join(f"CAST({_q(c)} AS TEXT)" if i in as_text else _q(c) for i, c in enumerate(cols))
    for row in fetch_where_in(cursor, f"SELECT {_q('id')}, {_q('is_ecommerce_platform')}, {select} "  # noqa: S608
                                      f"FROM {table}", "uscc", usccs):
        values = list(row[2:])
        for i in (I_STATUS_DATE, I_ESTABLISHED):
            v = values[i]
            if v is not None and not isinstance(v, str):
                values[i] = v.isoformat()
        if values[I_CAPITAL] is not None:
            values[I_CAPITAL] = _norm(I_CAPITAL, values[I_CAPITAL])
        out[values[I_USCC]] = (row[0], tuple(values), bool(row[1]))
    return out


def _fetch_ids(cursor: Any, usccs: Sequence[str]) -> dict[str, int]:
    table = _q(Entity._meta.db_table)
    return dict(fetch_where_in(cursor, f"SELECT {_q('uscc')}, {_q('id')} FROM {table}", "uscc",  # noqa: S608
                               usccs))


def _reserve_ids(cursor: Any, table: str, n: int, after: int = 0) -> list[int]:
    """``n`` new primary keys for ``table``, taken before the rows are inserted with them (no read-back by USCC).

    PostgreSQL hands them out from the column's sequence. SQLite (AUTOINCREMENT) continues after the largest id the
    table has held, or ``after`` (the last id the caller reserved and may not have inserted yet), whichever is
    larger; the import's transaction took the database's write lock when it began, so nobody else inserts
    meanwhile, and inserting them moves the table's counter on."""
    if connection.vendor == "postgresql":
        # The sequence is found once (MATERIALIZED): written inside nextval(), pg_get_serial_sequence ran for every
        # id, searching the catalogue each time (24 ms of 27 per 5,000 ids).
        cursor.execute("WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
                       "SELECT nextval(s.seq) FROM s, generate_series(1, %s)", [table, n])
        return [r[0] for r in cursor.fetchall()]
    cursor.execute(f"SELECT max({_q('id')}) FROM {_q(table)}")  # noqa: S608 (model table name)
    largest = cursor.fetchone()[0] or 0
    cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
    row = cursor.fetchone()
    start = max(largest, row[0] if row else 0, after) + 1
    return list(range(start, start + n))


class _IdBlocks:
    """New primary keys for an import's rows, reserved (:func:`_reserve_ids`) for up to BLOCK rows at a time — as
    many as the import still expects to create, at least as many as asked — rather than a chunk at a time: a
    reservation is a statement, which waits for the copy in flight (:class:`~jianguan.core.db.CopiesBehind`). Ids
    left unused when the import ends are skipped, as a rolled-back insert skips its own."""

    # 200,000 ids (≈ 7 MB as Python integers): a million-row first load waits for its copy in flight five times
    # rather than twenty (50,000 at a time: ≈ 2 s of the writing process's time spent waiting there).
    BLOCK = 200_000

    def __init__(self, cursor: Any, table: str, expected: int) -> None:
        self._cursor, self._table, self._left = cursor, table, expected
        self._ids: list[int] = []
        self._next = 0  # position of the first id not yet taken

    def take(self, n: int) -> list[int]:
        have = len(self._ids) - self._next
        if have < n:
            more = _reserve_ids(self._cursor, self._table, max(n - have, min(self.BLOCK, self._left)),
                                after=self._ids[-1] if self._ids else 0)
            self._ids = self._ids[self._next:] + more
            self._next = 0
        taken = self._ids[self._next:self._next + n]
        self._next += n
        self._left -= n
        return taken


def _fetch_by_entity(cursor: Any, sql: str, ids: Sequence[int]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for k in range(0, len(ids), 900):
        part = list(ids[k:k + 900])
        cursor.execute(sql.format(ids=_in_clause(len(part))), part)
        rows.extend(cursor.fetchall())
    return rows


def registry_import_write(entity_chunks: Iterable[list[tuple[Any, ...]]],
                          licence_chunks: Iterable[list[tuple[Any, ...]]], *, total: int, actor: Any, reason: str,
                          today: dt.date, dry_run: bool = False, progress: Callable[..., None] | None = None
                          ) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Write a validated import in one transaction: entities, then licences, then the rule labels of the entities
    whose licences changed. Returns ((entities created, updated, unchanged), (licences created, updated, unchanged))."""
    with _large_page_cache(), transaction.atomic():
        tables = [] if dry_run else [Entity._meta.db_table, EntityLabel._meta.db_table, AuditEntry._meta.db_table]
        growth = total
        if tables and total >= REBUILD_INDEXES_MIN_ROWS:
            entity_chunks, growth = _expected_new(entity_chunks, total)
        with _indexes_rebuilt_after(tables, growth, progress) as rebuilt, _empty_when_locked(rebuilt):
            # A first load of all three tables checks their references once at the end, where it may.
            with _references_checked_once(tables if set(rebuilt) == set(tables) else []):
                entities = entities_import_write(entity_chunks, total=total, actor=actor, reason=reason,
                                                 today=today, dry_run=dry_run, progress=progress)
            licences = licences_import_write(licence_chunks, actor=actor, reason=reason, today=today,
                                             dry_run=dry_run)
    return entities, licences


def _expected_new(chunks: Iterable[list[tuple[Any, ...]]], total: int) -> tuple[Iterable[list[tuple[Any, ...]]], int]:
    """How many of an import's ``total`` rows will probably be new entities — all of them when the registry is
    empty, else the share of the first chunk's USCCs it does not hold — and the chunks to write, the first one
    included again. A registry's own export imported again (a monthly reconciliation) adds nothing: its tables'
    indexes must not be dropped and rebuilt for it (16.7 s of a million-row re-import on PostgreSQL)."""
    with connection.cursor() as cur:
        if not _holds_more_than(cur, Entity._meta.db_table, 0):
            return chunks, total
        rest = iter(chunks)
        first = next(rest, None)
        if first is None:
            return rest, total
        if not first:  # an empty chunk: nothing to judge by
            return itertools.chain([first], rest), total
        held = _fetch_ids(cur, [r[I_USCC] for r in first])
    new = sum(1 for r in first if r[I_USCC] not in held)
    # A chunk whose stored versions were read here, before the tables are locked, is read again by the writer.
    again = list(first) if isinstance(first, LookedUp) else first
    return itertools.chain([again], rest), math.ceil(total * new / len(first))


# An import that at least doubles a table (the first load of a bureau's registry) writes it faster without its
# secondary indexes, which are then built once from sorted data: maintaining two GIN name indexes and a dozen B-trees
# row by row cost PostgreSQL several times the import's own work. Unique indexes (USCC, primary keys) stay: the
# upsert looks rows up by them.
REBUILD_INDEXES_MIN_ROWS = 50_000


def _secondary_indexes(cur: Any, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of a table's indexes that enforce nothing (not unique, no constraint)."""
    if connection.vendor == "postgresql":
        cur.execute("SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                    "WHERE x.indrelid = %s::regclass AND NOT x.indisunique AND NOT x.indisprimary AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)", [table])
        return list(cur.fetchall())
    if connection.vendor == "sqlite":
        cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL "
                    "AND sql NOT LIKE 'CREATE UNIQUE%%'", [table])
        return list(cur.fetchall())
    return []


def _foreign_keys(cur: Any, table: str, among: Sequence[str]) -> list[tuple[str, str]]:
    """(name, definition) of a table's foreign keys to the tables ``among`` (PostgreSQL; SQLite checks each row by
    an index lookup, cheaply).

    Only keys between tables whose indexes are rebuilt too (locked already): dropping a foreign key locks the table
    it references as well, and for any other table — the registry when only its labels are rebuilt, or a shared
    reference table (divisions, which every page's access check reads; industries; labels) — that would stall pages
    for the length of the load and invite deadlocks with readers."""
    if connection.vendor != "postgresql":
        return []
    cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype = 'f' AND confrelid::regclass::text = ANY(%s) ORDER BY conname", [table, list(among)])
    return list(cur.fetchall())


def _holds_more_than(cur: Any, table: str, rows: int) -> bool:
    """Whether ``table`` holds more than ``rows`` rows. PostgreSQL's statistics answer for a large table at once;
    otherwise (small, or statistics stale or missing) the rows are counted, at most ``rows`` + 1 of them."""
    if connection.vendor == "postgresql":
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
        estimate = cur.fetchone()[0]
        if estimate is not None and estimate > 2 * rows:
            return True
    cur.execute(f"SELECT count(*) FROM (SELECT 1 FROM {_q(table)} LIMIT %s) AS head", [rows + 1])  # noqa: S608
    return int(cur.fetchone()[0]) > rows


@contextmanager
def _indexes_rebuilt_after(tables: Sequence[str], rows: int,
                           progress: Callable[..., None] | None) -> Iterator[list[str]]:
    """Inside the import's transaction: drop the secondary indexes of each table the import will at least double,
    and create them again once the rows are written; gives the list of these tables. On PostgreSQL the foreign keys
    between these tables (rule labels → entities) go the same way: a deferred check per inserted row (≈ 4 µs each)
    becomes one join when the constraint is added back. A failure rolls the drop back with everything else.

    On PostgreSQL the drop locks the table until the commit: readers of the registry wait for the first, large load
    to finish. On SQLite readers keep seeing the previous state of the file throughout (WAL)."""
    dropped: list[tuple[str, str]] = []
    foreign: list[tuple[str, str, str]] = []
    chosen: list[str] = []
    if rows >= REBUILD_INDEXES_MIN_ROWS:
        with connection.cursor() as cur:
            chosen = [table for table in tables if not _holds_more_than(cur, table, rows)]
            if chosen and connection.vendor == "postgresql":
                # All the locks the drops take, at once and in the order readers take them (entities before their
                # labels), so that a reader holding one cannot wait for another that the import holds.
                cur.execute(f"LOCK TABLE {', '.join(_q(t) for t in chosen)} IN ACCESS EXCLUSIVE MODE")
            for table in chosen:
                for name, create in _secondary_indexes(cur, table):
                    cur.execute(f"DROP INDEX {_q(name)}")
                    dropped.append((name, create))
                for name, definition in _foreign_keys(cur, table, chosen):
                    cur.execute(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)}")
                    foreign.append((table, name, definition))
    yield chosen
    if not dropped and not foreign:
        return
    steps = len(dropped) + len(foreign)
    if progress:
        progress(_("重建索引"), 0, steps, {})
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            # The deferred foreign-key checks of the rows written must run before a table's index can be built.
            cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for k, (_name, create) in enumerate(dropped, 1):
            cur.execute(create)
            if progress:
                progress(_("重建索引"), k, steps, {})
        # Adding a foreign key back checks every row at once (one join); a row that breaks it fails the import.
        for k, (table, name, definition) in enumerate(foreign, len(dropped) + 1):
            cur.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
            if progress:
                progress(_("重建索引"), k, steps, {})
        if connection.vendor == "postgresql":
            cur.execute("SET CONSTRAINTS ALL DEFERRED")


# The tables that the running import found empty once it held them locked (a first load). Nothing can be stored in
# them but what the import itself writes, and the check of the file made its USCCs unique (the unique index stands
# behind that), so the writer does not look its rows up: for a million new entities that was 200 round trips of
# 5,000 index probes that could find nothing, ≈ an eighth of the writing process's time.
_EMPTY_WHEN_LOCKED: ContextVar[frozenset[str]] = ContextVar("registry_empty_when_locked", default=frozenset())


@contextmanager
def _empty_when_locked(tables: Sequence[str]) -> Iterator[None]:
    """Inside the import's transaction, with ``tables`` locked (:func:`_indexes_rebuilt_after`: ACCESS EXCLUSIVE on
    PostgreSQL; SQLite's write lock is the whole file's): remember which of them are empty until the block ends."""
    with connection.cursor() as cur:
        empty = []
        for table in tables:
            cur.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {_q(table)})")  # noqa: S608 (model table name)
            if cur.fetchone()[0]:
                empty.append(table)
    token = _EMPTY_WHEN_LOCKED.set(frozenset(empty))
    try:
        yield
    finally:
        _EMPTY_WHEN_LOCKED.reset(token)


@contextmanager
def _references_checked_once(tables: Sequence[str]) -> Iterator[None]:
    """A first load of ``tables`` (locked, their secondary indexes dropped) checks their foreign keys once after
    the last row (:func:`references_checked_once`), where the session may; a value with no referenced row — a
    division, industry or label deleted while the file was checked — rolls the import back, named. The keys that
    :func:`_indexes_rebuilt_after` drops and adds back are checked when they are added back."""
    try:
        with references_checked_once([(table, "TRUE", []) for table in tables]):
            yield
    except MissingReference as exc:
        # What the bureau calls it (the field's name: 行政区划, 行业, 标签), the table and value for the administrator.
        what = next((str(f.verbose_name) for model in (Entity, EntityLabel, AuditEntry)
                     if model._meta.db_table == exc.table
                     for f in model._meta.concrete_fields if f.column == exc.column), exc.column)
        raise ImportConflict(_("写入的记录引用了不存在的%(what)s（%(table)s.%(column)s：%(values)s），可能在导入期间"
                               "被删除；已全部撤销本次写入，请重新导入")
                             % {"what": what, "table": exc.referenced, "column": exc.referenced_column,
                                "values": "、".join(str(v) for v in exc.values[:5])}) from exc


# SQLite page cache for the duration of an import. With the default 2,000 pages a million-row transaction keeps
# spilling index pages to the WAL and reading them back (gigabytes of I/O); 256 MiB holds the indexes being written.
SQLITE_IMPORT_CACHE_KIB = 256 * 1024


@contextmanager
def _large_page_cache() -> Iterator[None]:
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cur:
        cur.execute("PRAGMA cache_size")
        old = cur.fetchone()[0]
        cur.execute(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cur:
            cur.execute(f"PRAGMA cache_size = {int(old)}")


Stored = dict[str, tuple[int, tuple[Any, ...], bool]]  # what _fetch_existing returns


class LookedUp(list[tuple[Any, ...]]):
    """A chunk of rows whose stored versions were already read in this transaction (``stored``), so the writer
    need not read them again (the import checked beside the write reads them to refuse revivals)."""

    def __init__(self, rows: Iterable[tuple[Any, ...]], stored: Stored) -> None:
        super().__init__(rows)
        self.stored = stored


def stored_entities(usccs: Sequence[str]) -> Stored:
    """uscc → (id, stored values in the importer's text form, is e-commerce platform) of the stored ones."""
    with connection.cursor() as cur:
        return _fetch_existing(cur, usccs)


def entities_import_write(chunks: Iterable[list[tuple[Any, ...]]], *, total: int, actor: Any, reason: str,
                          today: dt.date, dry_run: bool = False,
                          progress: Callable[..., None] | None = None) -> tuple[int, int, int]:
    """Upsert validated import rows (ENTITY_FIELDS order) by USCC in one transaction; returns (created, updated,
    unchanged). Each created or changed entity gets one audit entry (only changed fields) and its rule labels are
    recomputed; manual labels stay. With ``dry_run`` nothing is written, only counted."""
    created = updated = unchanged = done = 0
    cols = _columns()
    table = Entity._meta.db_table
    el_table = EntityLabel._meta.db_table
    now = timezone.now()
    rules = _LabelRules()
    now_db: Any
    assigned_on: Any
    if connection.vendor == "postgresql":
        # As text, which COPY reads anyway: psycopg formats a datetime or date in ≈ 1 µs, a string in none — three
        # seconds of the writing process per million new entities.
        now_db, assigned_on = now.isoformat(), today.isoformat()
    else:
        now_db = connection.ops.adapt_datetimefield_value(now)
        assigned_on = connection.ops.adapt_datefield_value(today)
    insert_cols = [*cols, "is_ecommerce_platform", "odr_enabled", "created_at", "updated_at"]
    update_sql = (f"UPDATE {_q(table)} SET " + ", ".join(f"{_q(c)} = %s" for c in cols)  # noqa: S608
                  + f", {_q('updated_at')} = %s WHERE {_q('id')} = %s")
    el_cols = ["entity_id", "label_id", "source", "assigned_on"]
    step = _("写入") if not dry_run else _("比对（试运行，不写入）")

    with (transaction.atomic(), connection.cursor() as cur, AuditBatches(plain=True) as audit,
          CopiesBehind() as behind):
        ids = _IdBlocks(cur, table, total)
        for chunk in chunks:
            existing = chunk.stored if isinstance(chunk, LookedUp) else _fetch_existing(cur, [r[I_USCC] for r in chunk])
            new_rows: list[tuple[Any, ...]] = []
            changed_rows: list[tuple[int, tuple[Any, ...], tuple[Any, ...], bool]] = []
            if not existing:  # none of the chunk stored (a first load): all new, without a look-up per row
                new_rows = list(chunk)
            else:
                for row in chunk:
                    old = existing.get(row[I_USCC])
                    if old is None:
                        new_rows.append(row)
                    elif old[1] != row:
                        changed_rows.append((old[0], old[1], row, old[2]))
                    else:
                        unchanged += 1
            created += len(new_rows)
            updated += len(changed_rows)
            done += len(chunk)
            if dry_run:
                if progress:
                    progress(step, done, total, {_("新增"): created, _("更新"): updated, _("无变化"): unchanged})
                continue
            if any(old[I_STATUS] == "cancelled" and row[I_STATUS] != "cancelled" for _i, old, row, _p in changed_rows):
                # Pass 1 refused these; someone cancelled the entity meanwhile. Roll back rather than revive it.
                raise ImportConflict(_("导入期间有主体被注销，已全部撤销本次写入，请重新导入"))
            events: list[AuditEvent] = []
            inserts: list[Insert] = []
            if new_rows:
                new_ids = ids.take(len(new_rows))
                inserts.append((table, ["id", *insert_cols],
                                [(eid, *r, False, False, now_db, now_db) for eid, r in zip(new_ids, new_rows,
                                                                                         strict=True)]))
                label_rows: list[tuple[Any, ...]] = []
                derive, names_of, fields = rules.derive, rules.names_of, ENTITY_FIELDS
                for eid, r in zip(new_ids, new_rows, strict=True):
                    labels = derive(r[I_INDUSTRY], r[I_KIND])
                    after = {f: v for f, v in zip(fields, r, strict=True) if v is not None and v != ""}
                    if labels:
                        after["labels"] = names_of(labels)
                        label_rows.extend([(eid, lid, "rule", assigned_on) for lid in labels])
                    events.append(AuditEvent("create", ENTITY_TYPE, str(eid), r[I_NAME][:255], None, after, reason,
                                             actor, now))
                if label_rows:
                    inserts.append((el_table, el_cols, label_rows))
            if changed_rows:
                cur.executemany(update_sql, [(*r, now_db, eid) for eid, _o, r, _p in changed_rows])
                label_changes = _recompute_labels(cur, rules, [(eid, r[I_INDUSTRY], r[I_KIND], p)
                                                              for eid, _o, r, p in changed_rows], assigned_on)
                for eid, old, r, _p in changed_rows:
                    before = {f: o for f, o, n in zip(ENTITY_FIELDS, old, r, strict=True) if o != n}
                    after = {f: n for f, o, n in zip(ENTITY_FIELDS, old, r, strict=True) if o != n}
                    lc = label_changes.get(eid)
                    if lc:
                        before["labels"], after["labels"] = lc
                    events.append(AuditEvent(action="update", object_type=ENTITY_TYPE, object_id=str(eid),
                                             object_repr=r[I_NAME][:255], before=before, after=after,
                                             reason=reason, actor=actor, at=now))
            if events:
                inserts.append((ENTRY_TABLE, ENTRY_COLUMNS, audit.rows(events)))
            # Sent while the next chunk is checked and built (PostgreSQL); a statement above waits for it.
            behind.send(inserts)
            if progress:
                progress(step, done, total, {_("新增"): created, _("更新"): updated, _("无变化"): unchanged})
    return created, updated, unchanged


LICENCE_COLS = ("entity_id", "type", "number", "issuer", "valid_from", "valid_to", "status")
LICENCE_TYPE = Licence._meta.label_lower


def licences_import_write(chunks: Iterable[list[tuple[Any, ...]]], *, actor: Any, reason: str, today: dt.date,
                          dry_run: bool = False) -> tuple[int, int, int]:
    """Upsert validated licence rows (uscc, type, number, issuer, valid_from, valid_to, status) by (type, number);
    audit each change and recompute the rule labels of the entities whose licences changed."""
    created = updated = unchanged = 0
    table = _q(Licence._meta.db_table)
    now = timezone.now()
    touched: set[int] = set()
    update_sql = (f"UPDATE {table} SET " + ", ".join(f"{_q(c)} = %s" for c in LICENCE_COLS)  # noqa: S608
                  + f" WHERE {_q('id')} = %s")
    with transaction.atomic(), connection.cursor() as cur:
        for chunk in chunks:
            ids = _fetch_ids(cur, sorted({r[0] for r in chunk}))
            numbers = sorted({r[2] for r in chunk})
            existing: dict[tuple[str, str], tuple[Any, ...]] = {}
            for k in range(0, len(numbers), 900):
                part = numbers[k:k + 900]
                cur.execute(f"SELECT id, {', '.join(_q(c) for c in LICENCE_COLS)} FROM {table} "  # noqa: S608
                            f"WHERE {_q('number')} IN ({_in_clause(len(part))})", part)
                for row in cur.fetchall():
                    vals = [v.isoformat() if isinstance(v, dt.date) else v for v in row]
                    existing[(vals[2], vals[3])] = tuple(vals)
            new_rows: list[tuple[Any, ...]] = []
            changes: list[tuple[int, tuple[Any, ...], tuple[Any, ...]]] = []
            for uscc, typ, number, issuer, valid_from, valid_to, status in chunk:
                values = (ids.get(uscc), typ, number, issuer, valid_from, valid_to, status)
                old = existing.get((typ, number))
                if old is None:
                    new_rows.append(values)
                elif old[1:] != values:
                    changes.append((old[0], old[1:], values))
                else:
                    unchanged += 1
            created += len(new_rows)
            updated += len(changes)
            if dry_run:
                continue
            events: list[AuditEvent] = []
            if new_rows:
                insert_many(cur, Licence._meta.db_table, LICENCE_COLS, new_rows)
                keys = sorted({r[2] for r in new_rows})
                new_ids: dict[tuple[str, str], int] = {}
                for k in range(0, len(keys), 900):
                    part = keys[k:k + 900]
                    cur.execute(f"SELECT id, type, number FROM {table} "  # noqa: S608
                                f"WHERE {_q('number')} IN ({_in_clause(len(part))})", part)
                    new_ids.update({(t, n): i for i, t, n in cur.fetchall()})
                for r in new_rows:
                    lid = new_ids[(r[1], r[2])]
                    touched.add(r[0])
                    events.append(AuditEvent(action="create", object_type=LICENCE_TYPE, object_id=str(lid),
                                             object_repr=r[2][:255], reason=reason, actor=actor, at=now,
                                             after={c: v for c, v in zip(LICENCE_COLS, r, strict=True)
                                                    if v not in (None, "")}))
            if changes:
                cur.executemany(update_sql, [(*new, lid) for lid, _old, new in changes])
                for lid, old, new in changes:
                    touched.update((old[0], new[0]))
                    events.append(AuditEvent(
                        action="update", object_type=LICENCE_TYPE, object_id=str(lid), object_repr=new[2][:255],
                        before={c: o for c, o, n in zip(LICENCE_COLS, old, new, strict=True) if o != n},
                        after={c: n for c, o, n in zip(LICENCE_COLS, old, new, strict=True) if o != n},
                        reason=reason, actor=actor, at=now))
            audit_record_many(events, plain=True)
        if touched and not dry_run:
            rules = _LabelRules()
            ent = _q(Entity._meta.db_table)
            info = _fetch_by_entity(cur, f"SELECT id, industry_id, kind, is_ecommerce_platform FROM {ent} "  # noqa: S608
                                         "WHERE id IN ({ids})", sorted(touched))
            label_changes = _recompute_labels(cur, rules, [(i, ind, k, bool(p)) for i, ind, k, p in info],
                                              connection.ops.adapt_datefield_value(today))
            names = dict(Entity.objects.filter(pk__in=list(label_changes)).values_list("pk", "name"))
            audit_record_many([AuditEvent(action="labels_recompute", object_type=ENTITY_TYPE, object_id=str(eid),
                                          object_repr=names.get(eid, "")[:255], before={"labels": b},
                                          after={"labels": a}, reason=reason, actor=actor, at=now)
                               for eid, (b, a) in label_changes.items()])
    return created, updated, unchanged


def _recompute_labels(cur: Any, rules: _LabelRules, entities: Sequence[tuple[int, str, str, bool]],
                      assigned_on: Any) -> dict[int, tuple[list[str], list[str]]]:
    """Bring the rule labels of existing entities in line with the catalogue; manual labels are kept.

    ``entities``: (id, industry code, kind, is e-commerce platform). Returns id → (rule labels before, after) for
    those whose labels changed.
    """
    if not entities:
        return {}
    ids = [e[0] for e in entities]
    el = _q(EntityLabel._meta.db_table)
    lic = _q(Licence._meta.db_table)
    current: dict[int, dict[int, str]] = {}
    for eid, lid, source in _fetch_by_entity(
            cur, f"SELECT entity_id, label_id, source FROM {el} WHERE entity_id IN ({{ids}})", ids):  # noqa: S608
        current.setdefault(eid, {})[lid] = source
    held: dict[int, set[str]] = {}
    for eid, typ in _fetch_by_entity(
            cur, f"SELECT entity_id, type FROM {lic} WHERE status = 'valid' AND entity_id IN ({{ids}})", ids):  # noqa: S608
        held.setdefault(eid, set()).add(typ)
    adds: list[tuple[Any, ...]] = []
    removes: list[tuple[int, int]] = []
    changes: dict[int, tuple[list[str], list[str]]] = {}
    for eid, industry, kind, platform in entities:
        want = rules.derive(industry, kind, held.get(eid, ()), platform)
        have = current.get(eid, {})
        rule_now = {lid for lid, s in have.items() if s == "rule"}
        add = [lid for lid in want if lid not in have]
        drop = [lid for lid in rule_now if lid not in want]
        if add or drop:
            adds.extend((eid, lid, "rule", assigned_on) for lid in add)
            removes.extend((eid, lid) for lid in drop)
            changes[eid] = (rules.names(rule_now), rules.names((rule_now - set(drop)) | set(add)))
    if removes:
        cur.executemany(f"DELETE FROM {el} WHERE entity_id = %s AND label_id = %s AND source = 'rule'",  # noqa: S608
                        removes)
    if adds:
        insert_many(cur, EntityLabel._meta.db_table, ["entity_id", "label_id", "source", "assigned_on"], adds)
    return changes


def entity_labels_recompute(entities: Iterable[Entity], *, actor: Any = None, today: dt.date,
                            reason: str = "") -> int:
    """Recompute the rule labels of some entities (after their industry or licences changed); returns how many
    entities' labels changed. Each change is audited."""
    rules = _LabelRules()
    entities = list(entities)
    with transaction.atomic(), connection.cursor() as cur:
        changes = _recompute_labels(cur, rules, [(e.pk, e.industry_id, e.kind, e.is_ecommerce_platform)
                                                 for e in entities],
                                    connection.ops.adapt_datefield_value(today))
        by_id = {e.pk: e for e in entities}
        audit_record_many([AuditEvent(action="labels_recompute", object_type=ENTITY_TYPE, object_id=str(eid),
                                      object_repr=str(by_id[eid])[:255], before={"labels": b}, after={"labels": a},
                                      reason=reason or _("按规则重新计算标签"), actor=actor)
                           for eid, (b, a) in changes.items()])
    return len(changes)


def _label(label: Label | str) -> Label:
    if isinstance(label, Label):
        return label
    found = Label.objects.filter(code=label).first()
    if found is None:
        raise LabelError(_("标签“%(code)s”不存在") % {"code": label})
    return found


def entity_label_add(entity: Entity, label: Label | str, actor: Any, *, today: dt.date | None = None,
                     reason: str = "") -> EntityLabel:
    """Put a manual label on an entity (人工设置). A label the rules already gave becomes manual, so it stays."""
    label = _label(label)
    with transaction.atomic():
        el = EntityLabel.objects.select_for_update().filter(entity=entity, label=label).first()
        if el is not None and el.source == Label.Source.MANUAL:
            return el
        before = None if el is None else {"label": label.code, "source": el.source}
        if el is None:
            el = EntityLabel.objects.create(entity=entity, label=label, source=Label.Source.MANUAL,
                                            assigned_on=today or timezone.localdate())
        else:
            el.source = Label.Source.MANUAL
            el.save(update_fields=["source"])
        audit_record(entity, "label_add", actor=actor, before=before,
                     after={"label": label.code, "source": Label.Source.MANUAL}, reason=reason)
    return el


def entity_label_remove(entity: Entity, label: Label | str, actor: Any, *, reason: str = "") -> bool:
    """Take a manual label off an entity; returns False if it did not have it. Rule labels cannot be removed by
    hand (they come back with the next recomputation): change the entity's industry or licences instead."""
    label = _label(label)
    with transaction.atomic():
        el = EntityLabel.objects.select_for_update().filter(entity=entity, label=label).first()
        if el is None:
            return False
        if el.source != Label.Source.MANUAL:
            raise LabelError(_("标签“%(name)s”由规则生成，不能手工移除；请修改主体的行业或许可证信息")
                             % {"name": label.name})
        el.delete()
        audit_record(entity, "label_remove", actor=actor, before={"label": label.code, "source": "manual"},
                     after=None, reason=reason)
    return True
