"""Where the synthetic registry goes: Parquet files (``--out``) or the database in bulk (``--load``).

PostgreSQL gets ``COPY … FROM STDIN (FORMAT csv)`` fed by Polars' CSV writer; SQLite gets ``executemany`` in one
large transaction with ``PRAGMA synchronous=OFF``. Ids are assigned by the generator (after the current maximum),
so nothing is read back. The whole load is recorded as ONE audit entry (action ``synth_load``).

The load is one transaction: if anything fails (a duplicate USCC, a missing division, a foreign-key check, the
process killed), the registry is as it was before. A big load on PostgreSQL (``BULK_INDEX_THRESHOLD``) does the
server's work in bulk inside that transaction, because one backend does all of it and it is what limits a
province load (15 million entities):

* every index that no foreign key needs — secondary indexes, and primary keys and unique constraints that no
  foreign key points at — is dropped and built again at the end: one sort per index (btree builds use parallel
  workers, i.e. the second core) instead of millions of insertions during COPY;
* foreign-key triggers are off for the transaction (``session_replication_role = replica``) and the same
  constraints are checked set-wise before commit;
* when the registry tables (and every table that references them) are empty — the first load of a new
  database — they are truncated in the transaction and loaded with ``COPY … FREEZE``: rows are written frozen
  and their pages marked all-visible, so the VACUUM after the load is not needed (ANALYZE is).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from jianguan.core.audit import AuditEvent, audit_record_many
from jianguan.core.bulk import MissingColumn, fill_value
from jianguan.core.db import quoted_table
from jianguan.core.models import Division
from jianguan.registry.models import AnnualReport, Entity, EntityLabel, Industry, Label, Licence, Premises
from jianguan.synth.registry import TABLES, RegistryChunk, SynthError

# Loads of at least this many entities drop and rebuild indexes on PostgreSQL (see the module docstring).
BULK_INDEX_THRESHOLD = 100_000
# maintenance_work_mem for the index builds of a bulk load. btree: room to sort the big keys (USCC, names) in
# memory at province scale; the parallel workers share it (at city scale 256MB and 1GB cost the same). GIN: the
# build accumulates keys in a red-black tree and flushes it to the index when this much memory is used; a small
# tree is quicker to search than flushing is to repeat (trigram index, backend CPU-s: 1.3 M names 13.1-15.9 at
# 64MB, 19.4-19.6 at 256MB, 20.1 at 2GB; 15.6 M names 200 at 64MB, 210 at 1GB).
BTREE_BUILD_MEMORY = "1GB"
GIN_BUILD_MEMORY = "64MB"

MODELS: dict[str, type[models.Model]] = {
    "entities": Entity, "premises": Premises, "licences": Licence, "entity_labels": EntityLabel,
    "annual_reports": AnnualReport,
}


def _arrow_schema(table: str) -> pa.Schema:
    return pl.DataFrame(schema=TABLES[table]).to_arrow(compat_level=pl.CompatLevel.oldest()).schema


class ParquetSink:
    """Writes each table to ``<out_dir>/<table>.parquet``, one row group per division (streaming, deterministic)."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.counts = dict.fromkeys(TABLES, 0)
        self.first_ids = dict.fromkeys(TABLES, 0)
        self._writers: dict[str, pq.ParquetWriter] = {}

    def __enter__(self) -> ParquetSink:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for table in TABLES:
            self._writers[table] = pq.ParquetWriter(self.out_dir / f"{table}.parquet", _arrow_schema(table),
                                                    compression="zstd")
        return self

    def write(self, chunk: RegistryChunk) -> None:
        for table, df in chunk.tables().items():
            if df.height:
                arrow = df.to_arrow(compat_level=pl.CompatLevel.oldest()).cast(self._writers[table].schema)
                self._writers[table].write_table(arrow, row_group_size=1 << 20)
            self.counts[table] += df.height

    def __exit__(self, *exc: Any) -> None:
        for w in self._writers.values():
            w.close()

    def manifest(self, **info: Any) -> None:
        """A small ``synth.json`` next to the tables: what was generated (no timestamps, so runs compare equal)."""
        body = {**info, "counts": self.counts}
        (self.out_dir / "synth.json").write_text(json.dumps(body, ensure_ascii=False, indent=2, default=str) + "\n",
                                                 encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------------
# database


def entities_in(divisions: Sequence[str]) -> int:
    return Entity.objects.filter(division_id__in=list(divisions)).count()



def registry_delete(divisions: Sequence[str]) -> dict[str, int]:
    """Delete the entities registered in `divisions` and everything that hangs off them (for ``--replace``)."""
    divisions = list(divisions)
    deleted: dict[str, int] = {}
    ours = set(MODELS.values())
    for rel in Entity._meta.related_objects:
        model = rel.related_model
        if model in ours:
            continue
        if rel.many_to_many:
            through = getattr(rel, "through", None) or rel.field.remote_field.through  # type: ignore[union-attr,attr-defined]
            fk = next(f.name for f in through._meta.fields if getattr(f, "related_model", None) is Entity)
            n, _ = through._base_manager.filter(**{f"{fk}__division_id__in": divisions}).delete()
        else:
            n, _ = model._base_manager.filter(**{f"{rel.field.name}__division_id__in": divisions}).delete()
        if n:
            deleted[model._meta.label_lower] = n
    placeholders = ", ".join(["%s"] * len(divisions))
    subquery = f"SELECT id FROM {quoted_table(Entity)} WHERE division_id IN ({placeholders})"  # noqa: S608
    with connection.cursor() as cur:
        for model in (AnnualReport, EntityLabel, Licence, Premises):
            cur.execute(f"DELETE FROM {quoted_table(model)} WHERE entity_id IN ({subquery})", divisions)  # noqa: S608
            deleted[model._meta.label_lower] = cur.rowcount
        cur.execute(f"DELETE FROM {quoted_table(Entity)} WHERE division_id IN ({placeholders})", divisions)  # noqa: S608
        deleted[Entity._meta.label_lower] = cur.rowcount
    return deleted


def backend_cpu_s() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend process, when the server runs on this
    machine and /proc is readable (a diagnostic for load timings); otherwise None."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    pid = getattr(getattr(connection.connection, "info", None), "backend_pid", None)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):
        return None


def _max_id(model: type[models.Model]) -> int:
    return int(model._base_manager.aggregate(m=models.Max("id"))["m"] or 0)


def _fill_value(field: models.Field, now: dt.datetime) -> Any:
    """What to put in a model column the generator does not produce (columns added to the models later)."""
    try:
        return fill_value(field, now)
    except MissingColumn:
        raise SynthError(f"{field.model._meta.label} 的字段 {field.attname} 没有默认值，合成数据无法填写") from None


class DatabaseSink:
    """Bulk-loads chunks into the registry tables inside one transaction, then writes one audit entry."""

    def __init__(self, divisions: Sequence[str], *, replace: bool = False, summary: dict[str, Any] | None = None,
                 actor: Any = None, expected: int = 0):
        self.divisions = list(divisions)
        self.expected = expected
        self._dropped_indexes: list[str] = []  # CREATE INDEX statements of the secondary indexes dropped
        self._dropped_constraints: list[str] = []  # ALTER TABLE … ADD CONSTRAINT of the keys dropped
        self.timings: dict[str, float] = {}
        self.index_timings: dict[str, float] = {}  # seconds to rebuild each dropped index (big loads)
        self.replace = replace
        self.summary = dict(summary or {})
        self.actor = actor
        self.counts = dict.fromkeys(TABLES, 0)
        self.first_ids = dict.fromkeys(TABLES, 0)
        self.deleted: dict[str, int] = {}
        self.vendor = connection.vendor
        self._atomic: Any = None
        self._fast_sync = False
        self._triggers_off = False
        self._frozen = False  # tables truncated in the transaction, COPY … FREEZE
        self._label_ids: dict[str, int] = {}
        self._now = timezone.now().replace(microsecond=0)

    def check(self) -> None:
        missing = sorted(set(self.divisions) - set(Division.objects.filter(code__in=self.divisions)
                                                   .values_list("code", flat=True)))
        if missing:
            raise SynthError(f"数据库中没有行政区划 {'、'.join(missing)}，请先运行 migrate")
        if self.replace:
            return
        rows = (Entity.objects.filter(division_id__in=self.divisions).values("division_id", "division__name")
                .annotate(n=models.Count("id")).order_by("division_id"))
        taken = [f"{r['division_id']} {r['division__name']} {r['n']} 个" for r in rows]
        if taken:
            raise SynthError(f"以下区划已有市场主体：{'、'.join(taken)}；未载入合成数据，如需替换请加 --replace")

    def __enter__(self) -> DatabaseSink:
        self._server_cpu0 = backend_cpu_s() or 0.0
        self.check()
        self._label_ids = dict(Label.objects.values_list("code", "id"))
        # SQLite refuses to change the safety level inside a transaction (e.g. in tests); then it stays as it is.
        self._fast_sync = self.vendor == "sqlite" and not connection.in_atomic_block
        if self._fast_sync:
            with connection.cursor() as cur:
                cur.execute("PRAGMA synchronous=OFF")
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        try:
            if self.replace:
                self.deleted = registry_delete(self.divisions)
            if self.vendor == "postgresql" and self.expected >= BULK_INDEX_THRESHOLD:
                self._frozen = self._truncate_if_empty()
            self.first_ids = {t: _max_id(m) for t, m in MODELS.items()}
            if self.vendor == "postgresql":
                self._triggers_off = self._skip_row_checks()
                if self.expected >= BULK_INDEX_THRESHOLD:
                    self._drop_indexes()
        except BaseException:
            self._atomic.__exit__(*sys.exc_info())
            raise
        return self

    def _skip_row_checks(self) -> bool:
        """PostgreSQL checks each copied row's foreign keys at commit (Django's FKs are deferred), which dominates a
        bulk load. Where the role may (superuser), switch the per-row triggers off for this transaction and check
        the same constraints set-wise at the end instead (`_verify`)."""
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SET LOCAL session_replication_role = replica")
        except DatabaseError:
            return False
        return True

    def _truncate_if_empty(self) -> bool:
        """When the registry tables and every table that references them (transitively) are empty, truncate them
        in this transaction so that COPY may write frozen rows (``FREEZE``; PostgreSQL allows it only into a
        table created or truncated in the current transaction). Truncating empty tables loses nothing; the
        tables are locked before they are checked, so nothing can be added in between, and stay locked until the
        load commits (a first load of a new database, so nobody is kept waiting). Where the role may not lock or
        truncate them, the load goes on without FREEZE. Returns whether it truncated."""
        try:
            with transaction.atomic():
                return self._truncate_empty_tables()
        except DatabaseError:
            return False

    def _truncate_empty_tables(self) -> bool:
        with connection.cursor() as cur:
            cur.execute(
                "WITH RECURSIVE t(oid) AS (SELECT unnest(%s::regclass[])::oid UNION "
                "SELECT c.conrelid FROM pg_constraint c JOIN t ON c.confrelid = t.oid WHERE c.contype = 'f') "
                "SELECT oid::regclass::text FROM t ORDER BY 1",
                [[m._meta.db_table for m in MODELS.values()]])
            tables = [r[0] for r in cur.fetchall()]
            if any(self._has_rows(cur, t) for t in tables):  # cheap check before taking the locks
                return False
            cur.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
            if any(self._has_rows(cur, t) for t in tables):
                return False
            cur.execute(f"TRUNCATE {', '.join(tables)}")
        return True

    @staticmethod
    def _has_rows(cur: Any, table: str) -> bool:
        cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")  # noqa: S608 (regclass text from the catalogue)
        return bool(cur.fetchone()[0])

    def _drop_indexes(self) -> None:
        """For a big load, drop every index that no foreign key needs and build it again at the end: one sort per
        index instead of millions of insertions during COPY. That is the secondary indexes, and the primary
        keys and unique constraints no foreign key points at (the entities' primary key stays: other tables
        reference it). All inside the load's transaction, so a failure restores them; a duplicate USCC or
        licence number makes the rebuilt unique constraint fail, and the load with it."""
        with connection.cursor() as cur:
            for model in MODELS.values():
                table = model._meta.db_table
                cur.execute(
                    "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u') AND NOT EXISTS "
                    "(SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid) "
                    "ORDER BY c.contype, c.conname", [table])
                quoted = connection.ops.quote_name(table)
                for name, definition in cur.fetchall():
                    name = connection.ops.quote_name(name)
                    self._dropped_constraints.append(f"ALTER TABLE {quoted} ADD CONSTRAINT {name} {definition}")
                    cur.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {name}")
                cur.execute(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                    "AND i.tablename = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                    "WHERE c.conrelid = %s::regclass AND c.conname = i.indexname) ORDER BY i.indexname",
                    [table, table])
                for name, definition in cur.fetchall():
                    self._dropped_indexes.append(definition)
                    cur.execute(f"DROP INDEX {connection.ops.quote_name(name)}")

    def _rebuild_indexes(self) -> None:
        """Keys first (a duplicate fails the load before the long builds), then the secondary indexes; each with
        the memory that suits its kind (see ``BTREE_BUILD_MEMORY``)."""
        with connection.cursor() as cur:
            for definition in [*self._dropped_constraints, *self._dropped_indexes]:
                memory = GIN_BUILD_MEMORY if " USING gin " in definition else BTREE_BUILD_MEMORY
                cur.execute(f"SET LOCAL maintenance_work_mem = '{memory}'")
                started = time.monotonic()
                cur.execute(definition)
                if definition.startswith("ALTER TABLE"):
                    name = definition.split(" ADD CONSTRAINT ", 1)[1].split(" ", 1)[0].strip('"')
                else:
                    name = definition.split(" ON ", 1)[0].rsplit(" ", 1)[-1]
                self.index_timings[name] = round(time.monotonic() - started, 1)
        self._dropped_constraints = []
        self._dropped_indexes = []

    def _verify(self) -> None:
        """Set-based foreign-key check of what was loaded (used when the per-row triggers were off)."""
        e, first = quoted_table(Entity), self.first_ids["entities"]
        checks = [
            f"SELECT count(*) FROM {e} x WHERE x.id > {first} AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {quoted_table(Division)} d WHERE d.code = x.division_id)",
            f"SELECT count(*) FROM {e} x WHERE x.id > {first} AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {quoted_table(Industry)} i WHERE i.code = x.industry_id)",
        ]
        for table, model in MODELS.items():
            if model is Entity:
                continue
            checks.append(f"SELECT count(*) FROM {quoted_table(model)} x WHERE x.id > {self.first_ids[table]} "  # noqa: S608
                          f"AND NOT EXISTS (SELECT 1 FROM {e} y WHERE y.id = x.entity_id)")
            if model is Premises:
                checks.append(f"SELECT count(*) FROM {quoted_table(model)} x WHERE x.id > {self.first_ids[table]} "  # noqa: S608
                              f"AND NOT EXISTS (SELECT 1 FROM {quoted_table(Division)} d WHERE d.code = x.division_id)")
            if model is EntityLabel:
                checks.append(f"SELECT count(*) FROM {quoted_table(model)} x WHERE x.id > {self.first_ids[table]} "  # noqa: S608
                              f"AND NOT EXISTS (SELECT 1 FROM {quoted_table(Label)} y WHERE y.id = x.label_id)")
        with connection.cursor() as cur:
            for sql in checks:
                cur.execute(sql)
                if cur.fetchone()[0]:
                    raise SynthError(f"合成数据的外键检查失败，已回滚：{sql}")

    def write(self, chunk: RegistryChunk) -> None:
        for table, df in chunk.tables().items():
            if not df.height:
                continue
            if table == "entity_labels":
                unknown = sorted(set(df["label_code"].unique().to_list()) - set(self._label_ids))
                if unknown:
                    raise SynthError(f"标签目录中没有 {'、'.join(unknown)}，请先运行 migrate 同步标签")
                df = df.with_columns(label_id=pl.col("label_code").replace_strict(self._label_ids,
                                                                                   return_dtype=pl.Int64))
            started = time.monotonic()
            self._insert(MODELS[table], df)
            key = f"copy_{table}_s"
            self.timings[key] = round(self.timings.get(key, 0.0) + time.monotonic() - started, 1)
            self.counts[table] += df.height

    def _frame_for(self, model: type[models.Model], df: pl.DataFrame) -> tuple[list[str], pl.DataFrame]:
        cols: list[str] = []
        exprs: list[pl.Expr] = []
        for field in model._meta.concrete_fields:
            name = field.attname
            cols.append(field.column or name)
            if name in df.columns:
                exprs.append(pl.col(name))
                continue
            value = _fill_value(field, self._now)
            if isinstance(value, dt.datetime):
                value = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00:00" if self.vendor == "postgresql"
                                                          else "%Y-%m-%d %H:%M:%S")
            exprs.append(pl.lit(value).alias(name))
        return cols, df.select(exprs)

    def _insert(self, model: type[models.Model], df: pl.DataFrame) -> None:
        cols, frame = self._frame_for(model, df)
        quoted = ", ".join(connection.ops.quote_name(c) for c in cols)
        if self.vendor == "postgresql":
            buf = io.BytesIO()
            frame.write_csv(buf, include_header=False, quote_style="non_numeric", null_value="")
            with connection.cursor() as cur:
                freeze = ", FREEZE" if self._frozen else ""
                sql = f"COPY {quoted_table(model)} ({quoted}) FROM STDIN WITH (FORMAT csv{freeze})"
                with cur.cursor.copy(sql) as copy:
                    view = buf.getbuffer()
                    step = 8 << 20
                    for start in range(0, len(view), step):
                        copy.write(view[start:start + step])
                    del view
            return
        decimals = [c for c, t in frame.schema.items() if isinstance(t, pl.Decimal)]
        frame = frame.with_columns([pl.col(c).cast(pl.String) for c in decimals])
        marks = ", ".join(["%s"] * len(cols))
        sql = f"INSERT INTO {quoted_table(model)} ({quoted}) VALUES ({marks})"  # noqa: S608
        with connection.cursor() as cur:
            for part in frame.iter_slices(50_000):
                cur.executemany(sql, part.rows())

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        started = time.monotonic()
        cpu = backend_cpu_s()
        if cpu is not None:
            self.timings["server_cpu_copy_s"] = round(cpu - self._server_cpu0, 1)
        try:
            if exc_type is None:
                try:
                    self._finish()
                except BaseException:
                    self._atomic.__exit__(*sys.exc_info())
                    raise
            self._atomic.__exit__(exc_type, exc, tb)
            self.timings["finish_and_commit_s"] = round(time.monotonic() - started, 1)
        finally:
            if self._fast_sync:
                with connection.cursor() as cur:
                    cur.execute("PRAGMA synchronous=NORMAL")

    def _phase(self, name: str, started: float, cpu0: float | None) -> None:
        """Record a phase's wall seconds and, when known, its server CPU seconds (``server_cpu_<name>_s``)."""
        self.timings[f"{name}_s"] = round(time.monotonic() - started, 1)
        cpu = backend_cpu_s()
        if cpu is not None and cpu0 is not None:
            self.timings[f"server_cpu_{name}_s"] = round(cpu - cpu0, 1)

    def _finish(self) -> None:
        if self._dropped_indexes or self._dropped_constraints:
            started, cpu0 = time.monotonic(), backend_cpu_s()
            self._rebuild_indexes()
            self._phase("rebuild_indexes", started, cpu0)
        if self._triggers_off:
            started, cpu0 = time.monotonic(), backend_cpu_s()
            self._verify()
            self._phase("verify_foreign_keys", started, cpu0)
        if self.vendor == "postgresql":
            with connection.cursor() as cur:
                for model in MODELS.values():
                    t = model._meta.db_table
                    cur.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                                f"GREATEST((SELECT MAX(id) FROM {quoted_table(model)}), 1))", [t])
        after = {**self.summary, "divisions": self.divisions, "counts": self.counts}
        if self.deleted:
            after["replaced"] = self.deleted
        n = self.counts["entities"]
        audit_record_many([AuditEvent(
            action="synth_load", object_type="registry.entity", object_id=",".join(self.divisions)[:64],
            object_repr=f"合成数据：{n} 个市场主体（{'、'.join(self.divisions)}）"[:255], after=after,
            reason="载入合成数据（synth --load）", actor=self.actor)])

    def analyze(self) -> None:
        """After a load (PostgreSQL, outside the transaction): refresh the planner's statistics and, when not
        inside a transaction, VACUUM too — it marks the new pages all-visible, which lets searches answer from
        the covering indexes (index-only scans) at once instead of after autovacuum's next visit. Rows copied
        with FREEZE are on all-visible pages already, so ANALYZE is enough."""
        if self.vendor == "postgresql":
            started, cpu0 = time.monotonic(), backend_cpu_s()
            command = "ANALYZE" if connection.in_atomic_block or self._frozen else "VACUUM (ANALYZE)"
            with connection.cursor() as cur:
                for model in MODELS.values():
                    cur.execute(f"{command} {quoted_table(model)}")
            self._phase("analyze" if command == "ANALYZE" else "vacuum_analyze", started, cpu0)
            cpu = backend_cpu_s()
            if cpu is not None:
                self.timings["server_cpu_s"] = round(cpu - self._server_cpu0, 1)
