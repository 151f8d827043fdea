"""Reading query results into Polars and writing frames back, in bulk, on SQLite and PostgreSQL.

Writes go through Django's own connection, so they take part in the current transaction.
PostgreSQL: reads outside a transaction through ADBC (libpq's binary COPY straight into Arrow, no Python object per
row; a second connection, so only when Django's connection holds no uncommitted work it should see), otherwise
`COPY (query) TO STDOUT` in CSV on Django's connection; writes `COPY table FROM STDIN` in CSV. Independent reads
(`read_frames`) run concurrently on several ADBC connections: each is one server process, so the server's cores
work at once, and the driver decodes with the GIL released.
SQLite: one cursor, `executemany`; reads one after another.
Not ADBC for SQLite: its driver bundles a second copy of the SQLite library, and two copies in one process
break each other's POSIX file locks (sqlite.org/howtocorrupt.html §2.2) — we saw "database disk image is
malformed" when trying it next to Django's connection.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import queue
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from django.db import connection, models

COPY_CHUNK_ROWS = 500_000
# Concurrent read connections: the database server's cores one classification may keep busy (the production
# server and the benchmark machine have 2; a third stream only adds switching).
READ_STREAMS = 2
log = logging.getLogger(__name__)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# SQLite's default page cache is 2 MB; bulk reads and month-sized writes into indexed tables touch far more.
SQLITE_CACHE_KIB = 262_144


def _tune(cursor: Any) -> None:
    if connection.vendor == "sqlite":
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


def _conform(frame: pl.DataFrame, schema: Mapping[str, Any]) -> pl.DataFrame:
    frame.columns = list(schema)
    return frame.with_columns([
        (pl.col(c).cast(pl.String).str.to_date() if frame.schema[c] != pl.Date else pl.col(c)) if t == pl.Date
        else pl.col(c).cast(t) for c, t in schema.items()])


# libpq connection parameters that DATABASE_URL's query string may carry (dj-database-url puts them in OPTIONS).
_LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options",
                  "target_session_attrs", "passfile", "service")


def _adbc_uri() -> str:
    from urllib.parse import quote, urlencode

    s = connection.settings_dict
    auth = quote(s.get("USER") or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s.get("HOST") or "localhost"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    query = urlencode({k: v for k, v in (s.get("OPTIONS") or {}).items() if k in _LIBPQ_OPTIONS})
    return f"postgresql://{auth}{'@' if auth else ''}{host}{port}/{quote(s['NAME'], safe='')}" \
        + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Read:
    """One SELECT for `read_frames`: its text and parameters, the result's column names and types, and planner
    settings for this statement alone on PostgreSQL (e.g. {"enable_hashjoin": "off"}; ignored on SQLite)."""

    sql: str
    params: Mapping[str, Any] | Sequence[Any] | None
    schema: Mapping[str, Any]
    settings: Mapping[str, str] = field(default_factory=dict)


def _adbc_connect() -> Any:
    """A new ADBC connection to Django's database, or None when none can be made (then COPY is used)."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        return adbc.connect(_adbc_uri())
    except Exception as exc:  # e.g. a connection option only psycopg understands
        log.warning("ADBC connection failed, reading through COPY instead: %s", exc)
        return None


def _settings_sql(settings: Mapping[str, str], *, local: bool) -> str:
    """One statement applying the (non-empty) settings, for the session or the current transaction only."""
    with connection.cursor() as cursor:
        query = cursor.mogrify("SELECT " + ", ".join(["set_config(%s, %s, %s)"] * len(settings)),
                               [x for k, v in settings.items() for x in (k, v, local)])
    return query.decode() if isinstance(query, bytes) else query


@dataclass(frozen=True)
class _Job:
    """A read rendered for an ADBC connection (in the calling thread: rendering needs Django's connection)."""

    query: str
    schema: Mapping[str, Any]
    set_sql: str | None = None  # applies the read's settings to the session
    reset_sql: str | None = None  # puts them back to the session's defaults, for the connection's next read


def _job(query: str, schema: Mapping[str, Any], settings: Mapping[str, str]) -> _Job:
    if not settings:
        return _Job(query, schema)
    reset = _mogrify("SELECT set_config(name, reset_val, false) FROM pg_settings WHERE name = ANY(%s)",
                     [list(settings)])
    return _Job(query, schema, _settings_sql(settings, local=False), reset)


def _fetch_adbc(conn: Any, job: _Job) -> pl.DataFrame:
    with conn.cursor() as cur:
        if job.set_sql:
            cur.execute(job.set_sql)
            cur.fetchall()
        cur.execute(job.query)
        table = cur.fetch_arrow_table()
        if job.reset_sql:
            cur.execute(job.reset_sql)
            cur.fetchall()
    if table.num_rows == 0:
        return pl.DataFrame(schema=dict(job.schema))
    frame = pl.from_arrow(table.rename_columns(list(job.schema)))  # unnamed expressions come back all as "case" …
    assert isinstance(frame, pl.DataFrame)
    return _conform(frame, job.schema)


def _read_adbc(job: _Job) -> pl.DataFrame | None:
    """The query's rows through ADBC, or None when no ADBC connection can be made (then COPY is used)."""
    conn = _adbc_connect()
    if conn is None:
        return None
    with conn:
        return _fetch_adbc(conn, job)


def _mogrify(sql: str, params: Mapping[str, Any] | Sequence[Any] | None) -> str:
    with connection.cursor() as cursor:
        query = cursor.mogrify(sql, params) if params else sql
    return query.decode() if isinstance(query, bytes) else query


def _read_copy(query: str, schema: Mapping[str, Any], settings: Mapping[str, str]) -> pl.DataFrame:
    """The query's rows through COPY CSV on Django's connection (inside its transaction).

    Settings are transaction-local and put back after the read; if the read fails the transaction is aborted and
    rolls them back itself.
    """
    with connection.cursor() as cursor:
        restore = None
        if settings and connection.in_atomic_block:
            cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(settings)), list(settings))
            restore = _settings_sql(dict(zip(settings, cursor.fetchone(), strict=True)), local=True)
            cursor.execute(_settings_sql(settings, local=True))
        buf = io.BytesIO()
        with cursor.cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER false)") as copy:
            for block in copy:
                buf.write(block)
        if restore:
            cursor.execute(restore)
    if buf.tell() == 0:
        return pl.DataFrame(schema=dict(schema))
    buf.seek(0)
    # PostgreSQL's CSV spells booleans t/f, which Polars does not read as booleans, and arrays {1,2,3}
    booleans = [c for c, t in schema.items() if t == pl.Boolean]
    arrays = [c for c, t in schema.items() if isinstance(t, pl.List) or t == pl.List]
    frame = pl.read_csv(buf, has_header=False, new_columns=list(schema), try_parse_dates=False,
                        schema_overrides={c: pl.String if c in booleans or c in arrays else t
                                          for c, t in schema.items()})
    return frame.with_columns([(pl.col(c) == "t").alias(c) for c in booleans]
                              + [_array_of(pl.col(c), schema[c]).alias(c) for c in arrays])


def _array_of(text: pl.Expr, kind: Any) -> pl.Expr:
    """A one-dimensional PostgreSQL array of numbers or codes, as COPY CSV spells it ({1,2,3}), as a list."""
    inner = text.str.strip_prefix("{").str.strip_suffix("}")
    return (pl.when(inner == "").then(pl.lit([], dtype=kind))
            .otherwise(inner.str.split(",").cast(kind)))


def read_frame(sql: str, params: Mapping[str, Any] | Sequence[Any] | None, schema: Mapping[str, Any], *,
               settings: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Run a SELECT and return its rows as a DataFrame with the given column names and types."""
    settings = settings or {}
    if is_postgres():
        query = _mogrify(sql, params)
        if not connection.in_atomic_block:
            frame = _read_adbc(_job(query, schema, settings))
            if frame is not None:
                return frame
        return _read_copy(query, schema, settings)
    with connection.cursor() as cursor:
        _tune(cursor)
        cursor.execute(sql, params or ())
        rows = cursor.fetchall()
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    return _conform(pl.DataFrame(rows, schema=list(schema), orient="row"), schema)


def concurrent_reads() -> int:
    """How many reads `read_frames` runs at once now: READ_STREAMS through ADBC, else 1 (SQLite, or inside a
    transaction whose uncommitted rows only Django's connection sees)."""
    return READ_STREAMS if is_postgres() and not connection.in_atomic_block else 1


def read_frames(reads: Sequence[Read]) -> list[pl.DataFrame]:
    """Run independent SELECTs and return their frames in the same order (see `concurrent_reads`).

    Concurrent reads run in worker threads on at most READ_STREAMS ADBC connections, each reused for the
    thread's next read (an ADBC connection costs ~50 ms of client CPU and ~0.2 s to open: it loads the server's
    type catalogue). Django's connection is used only here, to render the queries; the threads touch no Django
    state.
    """
    if concurrent_reads() == 1 or len(reads) < 2:
        return [read_frame(r.sql, r.params, r.schema, settings=r.settings) for r in reads]
    jobs = [_job(_mogrify(r.sql, r.params), r.schema, r.settings) for r in reads]
    first = _adbc_connect()
    if first is None:
        return [read_frame(r.sql, r.params, r.schema, settings=r.settings) for r in reads]
    idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
    idle.put(first)
    opened = [first]

    def run(job: _Job) -> pl.DataFrame:
        try:
            conn = idle.get_nowait()
        except queue.Empty:  # the other thread holds the first connection
            conn = _adbc_connect()
            if conn is None:
                raise RuntimeError("ADBC connection failed during a concurrent read") from None
            opened.append(conn)
        try:
            return _fetch_adbc(conn, job)
        finally:
            idle.put(conn)

    try:
        with ThreadPoolExecutor(max_workers=min(READ_STREAMS, len(jobs)), thread_name_prefix="credit-read") as pool:
            return list(pool.map(run, jobs))
    finally:
        for conn in opened:
            conn.close()


class PendingRead:
    """A read started now in a background thread, for a result wanted later (e.g. while a long write runs).

    Only when it can bypass Django's connection (see `concurrent_reads`): otherwise — and if no ADBC connection
    can be made — it runs on Django's connection when `result()` is first called.
    """

    def __init__(self, read: Read) -> None:
        self.read = read
        self._future: Future[pl.DataFrame | None] | None = None
        self._frame: pl.DataFrame | None = None
        if concurrent_reads() > 1:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="credit-read")
            self._future = pool.submit(_read_adbc, _job(_mogrify(read.sql, read.params), read.schema, read.settings))
            pool.shutdown(wait=False)

    def result(self) -> pl.DataFrame:
        if self._frame is None:
            frame = self._future.result() if self._future is not None else None
            self._frame = frame if frame is not None else read_frame(
                self.read.sql, self.read.params, self.read.schema, settings=self.read.settings)
        return self._frame


def replace_rows(table: str, where_sql: str, where_params: Sequence[Any],
                 frames: pl.DataFrame | Iterable[pl.DataFrame], *,
                 progress: Callable[[int], None] | None = None) -> int:
    """Delete the rows matching `where_sql` and append the frames' rows, in one transaction."""
    from django.db import transaction

    parts = [frames] if isinstance(frames, pl.DataFrame) else frames
    done = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            _tune(cursor)
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)} WHERE {where_sql}",  # noqa: S608
                           list(where_params))
        for frame in parts:
            report = None
            if progress is not None:
                def report(n: int, offset: int = done, progress: Callable[[int], None] = progress) -> None:
                    progress(offset + n)
            write_frame(table, frame, progress=report)
            done += frame.height
    return done


class MissingColumn(ValueError):
    """A NOT NULL model column without a default that the frame does not carry."""


def fill_value(field: models.Field, now: dt.datetime) -> Any:
    """What a bulk write puts in a model column the frame does not carry: what `Model.save()` would."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    if field.blank and isinstance(field, models.CharField | models.TextField):
        return ""
    raise MissingColumn(f"{field.model._meta.label}.{field.attname}")


def write_models(model: type[models.Model], frame: pl.DataFrame) -> int:
    """Append rows of `model` given as a frame whose columns are field attnames (`visit_id`, `status`, …); the
    columns it leaves out get what `save()` would give them (default, auto_now, NULL, ""), the primary key the
    database's. No signals, no `save()`: for rows made by the thousand. Call inside a transaction."""
    from django.utils import timezone

    now = timezone.now()
    fields = {f.attname: f for f in model._meta.concrete_fields}
    unknown = sorted(set(frame.columns) - set(fields))
    if unknown:
        raise MissingColumn(f"{model._meta.label} has no field {', '.join(unknown)}")
    extra = {name: fill_value(f, now) for name, f in fields.items()
             if name not in frame.columns and not f.primary_key}
    frame = frame.with_columns([pl.lit(value).alias(name) for name, value in extra.items()])
    frame = frame.rename({name: str(fields[name].column) for name in frame.columns})
    return write_frame(model._meta.db_table, frame)


def write_frame(table: str, frame: pl.DataFrame, *, progress: Callable[[int], None] | None = None) -> int:
    """Append the frame's rows to `table` (columns named as in the frame). Call inside a transaction."""
    cols = frame.columns
    written = 0
    with connection.cursor() as cursor:
        if is_postgres():
            column_list = ", ".join(connection.ops.quote_name(c) for c in cols)
            copy_sql = f"COPY {connection.ops.quote_name(table)} ({column_list}) FROM STDIN WITH (FORMAT csv)"
            for offset in range(0, frame.height, COPY_CHUNK_ROWS):
                chunk = frame.slice(offset, COPY_CHUNK_ROWS)
                # One COPY per chunk: progress (another statement) cannot run while a COPY is open.
                with cursor.cursor.copy(copy_sql) as copy:
                    copy.write(chunk.write_csv(include_header=False, date_format="%Y-%m-%d"))
                written += chunk.height
                if progress:
                    progress(written)
            return written
        placeholders = ", ".join(["%s"] * len(cols))
        column_list = ", ".join(connection.ops.quote_name(c) for c in cols)
        sql = f"INSERT INTO {connection.ops.quote_name(table)} ({column_list}) VALUES ({placeholders})"  # noqa: S608
        raw = cursor.cursor  # sqlite3 cursor (Django's wrapper translates %s); skips per-row Python overhead
        frame = frame.with_columns([pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items()
                                    if t == pl.Date])
        for offset in range(0, frame.height, COPY_CHUNK_ROWS):
            chunk = frame.slice(offset, COPY_CHUNK_ROWS)
            raw.executemany(sql, chunk.iter_rows())
            written += chunk.height
            if progress:
                progress(written)
    return written
