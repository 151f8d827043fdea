"""Writing to and reading from the tamper-evident audit trail.

Every service that changes a business record calls `audit_record` inside its own transaction, so the record
and its audit entry commit or roll back together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from jianguan.core.db import execute, fast_cursor
from jianguan.core.domain.audit_chain import (
    GENESIS_HASH,
    VerifyResult,
    canonical_json,
    canonical_json_plain,
    entry_hash,
    verify_chain,
)
from jianguan.core.models import AuditChainHead, AuditEntry, User


def _key() -> bytes:
    return settings.JIANGUAN_AUDIT_KEY.encode()


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class AuditEvent:
    """What happened, before it is given its place in the chain."""

    action: str
    object_type: str
    object_id: str
    object_repr: str = ""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str = ""
    actor: User | None = None
    at: dt.datetime = field(default_factory=timezone.now)


def event_for(obj: models.Model, action: str, *, actor: User | None, before: Mapping[str, Any] | None = None,
              after: Mapping[str, Any] | None = None, reason: str = "") -> AuditEvent:
    return AuditEvent(action=action, object_type=obj._meta.label_lower, object_id=str(obj.pk),
                      object_repr=str(obj)[:255], before=before, after=after, reason=reason, actor=actor)


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The current values of a record's concrete fields, JSON-ready, for before/after."""
    names = list(fields) if fields is not None else [f.attname for f in obj._meta.concrete_fields]
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        elif value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
            value = str(value)
        out[name] = value
    return out


def changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, for a compact update entry."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def audit_record(obj: models.Model, action: str, *, actor: User | None, before: Mapping[str, Any] | None = None,
                 after: Mapping[str, Any] | None = None, reason: str = "") -> None:
    """Append one entry about `obj` to the chain."""
    audit_record_many([event_for(obj, action, actor=actor, before=before, after=after, reason=reason)])


_COLS = ("seq", "at", "actor_id", "actor_name", "unit_id", "unit_name", "action", "object_type", "object_id",
         "object_repr", "before", "after", "reason", "prev_hash", "hash")
ENTRY_TABLE = AuditEntry._meta.db_table
ENTRY_COLUMNS = _COLS  # the order of the rows that AuditBatches.rows gives


def audit_record_many(events: list[AuditEvent], *, plain: bool = False) -> int:
    """Append several entries in one locked step (bulk imports write thousands at a time); returns how many.

    ``plain``: every before/after value is text, an integer, a boolean, None or a list/dict of these — never a float
    (an import's cells) — so the faster :func:`canonical_json_plain` serialises them, byte for byte the same.

    Rows are built as plain tuples and written with COPY on PostgreSQL and executemany elsewhere: building a model
    instance per entry cost more than hashing it.
    """
    if not events:
        return 0
    from django.db import connection

    with transaction.atomic():
        chain = _Chain(*_lock_head(), plain=plain)
        rows = chain.rows(events)
        _insert_entries(connection, rows)
        with fast_cursor() as cur:
            execute(cur, _HEAD_UPDATE, [chain.seq, chain.prev])
    return len(rows)


class _Chain:
    """The chain's end (last seq and hash) and the rows of the entries that continue it, computed in memory.

    The hashed ISO time and the database form of each distinct timestamp are computed once (a bulk import stamps
    all its entries with the same moment), as is each actor's identity."""

    def __init__(self, seq: int, prev: str, *, plain: bool) -> None:
        from django.db import connection

        self.seq, self.prev = seq, prev
        self._as_json = canonical_json_plain if plain else canonical_json
        self._key = _key()
        self._adapt = connection.ops.adapt_datetimefield_value
        self._postgres = connection.vendor == "postgresql"
        self._who: dict[int, tuple[int | None, str, int | None, str]] = {}
        self._times: dict[dt.datetime, tuple[str, Any]] = {}

    def rows(self, events: Iterable[AuditEvent]) -> list[tuple[Any, ...]]:
        """The rows (``_COLS`` order) of ``events`` appended after the chain's end, which moves past them."""
        key, as_json, hash_of, who, times = self._key, self._as_json, entry_hash, self._who, self._times
        seq, prev = self.seq, self.prev
        rows = []
        for ev in events:
            seq += 1
            actor = ev.actor
            ident = who.get(id(actor))
            if ident is None:
                unit = getattr(actor, "unit", None) if actor is not None else None
                ident = (actor.pk if actor is not None else None,
                         (actor.display_name if actor is not None else "系统")[:150],
                         unit.pk if unit is not None else None, (unit.name if unit is not None else "")[:128])
                who[id(actor)] = ident
            at = ev.at
            stamp = times.get(at)
            if stamp is None:
                iso = _iso(at)
                # PostgreSQL reads the hashed ISO text (UTC, microseconds) as the same instant; handing psycopg the
                # text spares it formatting a datetime per row (≈ 1 µs each, a second per million imported rows).
                stamp = times[at] = (iso, iso if self._postgres else self._adapt(at))
            before, after = ev.before, ev.after
            payload = (seq, stamp[0], *ident, ev.action, ev.object_type, str(ev.object_id)[:64],
                       ev.object_repr[:255], as_json(before) if before is not None else "",
                       as_json(after) if after is not None else "", ev.reason, prev)
            prev = hash_of(key, payload)
            rows.append((seq, stamp[1], *payload[2:], prev))
        self.seq, self.prev = seq, prev
        return rows


class AuditBatches:
    """Entries appended batch by batch within one long transaction (a bulk import), written by the caller.

    The chain's head is locked when the first batch is hashed (a dry run, or an import in which nothing changed,
    locks nothing) and moved once on leaving without an error; each batch is hashed in memory (:meth:`rows`) and
    written by the caller — with :data:`ENTRY_TABLE` and :data:`ENTRY_COLUMNS`, in the same transaction — so that
    writing one batch (COPY on PostgreSQL) can overlap the preparing of the next. The head row stays locked until the
    transaction ends, so no other entry can come between. The caller must write every batch it was given rows for
    before leaving: the head then names the last of them."""

    def __init__(self, *, plain: bool = False) -> None:
        self._plain = plain
        self._chain: _Chain | None = None
        self._start = 0

    def __enter__(self) -> AuditBatches:
        return self

    def rows(self, events: Iterable[AuditEvent]) -> list[tuple[Any, ...]]:
        if self._chain is None:
            self._chain = _Chain(*_lock_head(), plain=self._plain)
            self._start = self._chain.seq
        return self._chain.rows(events)

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        chain = self._chain
        if exc_type is None and chain is not None and chain.seq != self._start:
            with fast_cursor() as cur:
                execute(cur, _HEAD_UPDATE, [chain.seq, chain.prev])


_HEAD = AuditChainHead._meta.db_table
_HEAD_READ = f"SELECT seq, hash FROM {_HEAD} WHERE id = 1"  # noqa: S608 — model name
_HEAD_UPDATE = f"UPDATE {_HEAD} SET seq = %s, hash = %s WHERE id = 1"  # noqa: S608 — model name


def _lock_head() -> tuple[int, str]:
    """Lock the chain head until the transaction ends and return (last seq, last hash); creates it if missing.

    Written as two prepared statements rather than through the ORM: every intake transaction runs them, and the
    ORM's compilation cost more than the database's work.
    """
    from django.db import connection

    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""  # SQLite locks the whole file
    with fast_cursor() as cur:
        execute(cur, _HEAD_READ + lock, [])
        row = cur.fetchone()
    if row is None:
        AuditChainHead.objects.get_or_create(id=1)  # the first entry ever: the row appears, then is locked
        return _lock_head()
    seq, last = row
    return seq, (last if seq else GENESIS_HASH)


def _insert_entries(connection: Any, rows: list[tuple[Any, ...]]) -> None:
    ops = connection.ops
    table = ops.quote_name(AuditEntry._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in _COLS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql" and len(rows) > 1:
            with cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLS))})"  # noqa: S608
        for k in range(0, len(rows), 2000):
            cur.executemany(sql, rows[k:k + 2000])


_COLUMNS = ("seq, {at}, actor_id, actor_name, unit_id, unit_name, action, object_type, object_id, object_repr, "
            "before, after, reason, prev_hash, hash")


def _sqlite_iso(text: str) -> str:
    """SQLite keeps Django datetimes as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]'; rebuild the hashed ISO form."""
    iso = text.replace(" ", "T")
    return (iso if len(iso) > 19 else iso + ".000000") + "Z"


def _rows(chunk: int = 50000) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Entries in seq order straight from the cursor: no model instances, no datetime round trips on SQLite."""
    from django.db import connection

    table = AuditEntry._meta.db_table
    sqlite = connection.vendor == "sqlite"
    to_iso = _sqlite_iso if sqlite else _iso
    # CAST keeps SQLite's stored text (no datetime parsing); PostgreSQL returns aware datetimes.
    columns = _COLUMNS.format(at="CAST(at AS TEXT)" if sqlite else "at")
    last = 0
    with connection.cursor() as cur:
        while True:
            cur.execute(f"SELECT {columns} FROM {table} WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
                        [last, chunk])
            batch = cur.fetchall()
            if not batch:
                return
            for r in batch:
                yield (r[0], to_iso(r[1]), *r[2:14]), r[14]
            last = batch[-1][0]


def audit_verify() -> VerifyResult:
    """Walk the whole chain and report the first entry that was altered, inserted or deleted."""
    head = AuditChainHead.objects.filter(id=1).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    return verify_chain(_key(), _rows(), head_seq, head_hash)


def audit_timeline(object_type: str, object_id: Any) -> models.QuerySet[AuditEntry]:
    """The actions on one record, oldest first, for its detail page."""
    return AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by("seq")


def audit_view_personal_data(obj: models.Model, *, actor: User, fields: Iterable[str], purpose: str = "") -> None:
    """Record that a user looked at protected personal data (e.g. a reporter's identity)."""
    audit_record(obj, "view_personal_data", actor=actor, after={"fields": sorted(fields)}, reason=purpose)
