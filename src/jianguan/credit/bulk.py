"""Reading query results into Polars and writing frames back, in bulk, on SQLite and PostgreSQL.

Writes go through Django's own connection, so they take part in the current transaction.
PostgreSQL: reads outside a transaction through ADBC (libpq's binary COPY straight into Arrow, no Python object per
row; a second connection, so only when Django's connection holds no uncommitted work it should see), otherwise
`COPY (query) TO STDOUT` in CSV on Django's connection; writes `COPY table FROM STDIN` in CSV.
SQLite: one cursor, `executemany`.
Not ADBC for SQLite: its driver bundles a second copy of the SQLite library, and two copies in one process
break each other's POSIX file locks (sqlite.org/howtocorrupt.html §2.2) — we saw "database disk image is
malformed" when trying it next to Django's connection.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import polars as pl
from django.db import connection

COPY_CHUNK_ROWS = 500_000
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


def _read_adbc(query: str, schema: Mapping[str, Any]) -> pl.DataFrame | None:
    """The query's rows through ADBC, or None when no ADBC connection can be made (then COPY is used)."""
    import adbc_driver_postgresql.dbapi as adbc

    try:
        conn = adbc.connect(_adbc_uri())
    except Exception as exc:  # e.g. a connection option only psycopg understands
        log.warning("ADBC connection failed, reading through COPY instead: %s", exc)
        return None
    with conn, conn.cursor() as cur:
        cur.execute(query)
        table = cur.fetch_arrow_table()
    if table.num_rows == 0:
        return pl.DataFrame(schema=dict(schema))
    frame = pl.from_arrow(table.rename_columns(list(schema)))  # unnamed expressions come back all as "case" …
    assert isinstance(frame, pl.DataFrame)
    return _conform(frame, schema)


def read_frame(sql: str, params: Mapping[str, Any] | Sequence[Any] | None, schema: Mapping[str, Any]) -> pl.DataFrame:
    """Run a SELECT and return its rows as a DataFrame with the given column names and types."""
    with connection.cursor() as cursor:
        if is_postgres():
            query = cursor.mogrify(sql, params) if params else sql
            if isinstance(query, bytes):
                query = query.decode()
            if not connection.in_atomic_block:
                frame = _read_adbc(query, schema)
                if frame is not None:
                    return frame
            buf = io.BytesIO()
            with cursor.cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER false)") as copy:
                for block in copy:
                    buf.write(block)
            if buf.tell() == 0:
                return pl.DataFrame(schema=dict(schema))
            buf.seek(0)
            return pl.read_csv(buf, has_header=False, new_columns=list(schema), schema_overrides=dict(schema),
                               try_parse_dates=False)
        _tune(cursor)
        cursor.execute(sql, params or ())
        rows = cursor.fetchall()
    if not rows:
        return pl.DataFrame(schema=dict(schema))
    return _conform(pl.DataFrame(rows, schema=list(schema), orient="row"), schema)


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
