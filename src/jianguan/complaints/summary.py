"""The dashboard summary (`DayCount`): rebuilt from the cases by a job, read by `analysis.figures`.

The summary holds every case received up to `SummaryState.through` as it stood at the last rebuild; cases received
after that day are counted from the cases themselves at each page load, so a new case shows at once. A rebuild
replaces the rows of the days it covers in one transaction (one INSERT … SELECT per breakdown) and is audited.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from jianguan.complaints.models import Case, DayCount, SummaryState
from jianguan.core.audit import AuditEvent, audit_record_many
from jianguan.core.models import User

# breakdown -> the case column it counts by (received day); "due" is counted by the final deadline's day
RECEIVED_DIMS = {"channel": "channel", "category": "category", "division": "division_code",
                 "industry": "industry_code", "total": None}
# Every day row is also summed into a month row (dim "m:<dim>", day = the 1st): a year reads 12 month rows per
# value plus the day rows of the partial months at its ends, instead of 365 day rows.
MONTH = "m:"
# Month rows per assigned and intake unit, for users who see only part of the units (dim "u:<dim>").
UNIT_MONTH = "u:"
# Respondents ("entity", value = entity id) are kept only for entities with at least this many complaints and
# reports in all; any other entity has fewer in every period, so a top list whose last entry reaches this number
# is exact (analysis.figures checks, and counts from the cases otherwise).
ENTITY_MIN = 100


@dataclass
class RebuildResult:
    through: dt.date
    rows: int
    seconds: float
    full: bool


def summary_state() -> SummaryState | None:
    return SummaryState.objects.order_by("-id").first()


def _insert_received(dim: str, column: str | None, through: dt.date, since: dt.date | None) -> None:
    case_t, day_t = Case._meta.db_table, DayCount._meta.db_table
    value = column or "''"
    where = ["received_on <= %s"]
    params: list[Any] = [dim, through]
    if since is not None:
        where.append("received_on >= %s")
        params.append(since)
    if column:
        where.append(f"{column} <> ''")
    sql = (f"INSERT INTO {day_t} (dim, day, kind, value, n, on_time, amount) "  # noqa: S608 (model identifiers)
           f"SELECT %s, received_on, kind, {value}, COUNT(*), 0, COALESCE(SUM(amount_recovered), 0) "
           f"FROM {case_t} WHERE {' AND '.join(where)} GROUP BY received_on, kind{', ' + column if column else ''}")
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _insert_due(through: dt.date, due_since: dt.date | None) -> None:
    case_t, day_t = Case._meta.db_table, DayCount._meta.db_table
    where = ["received_on <= %s", "final_due IS NOT NULL", "kind IN ('complaint', 'report')"]
    params: list[Any] = [through]
    if due_since is not None:
        where.append("final_due >= %s")
        params.append(due_since)
    sql = (f"INSERT INTO {day_t} (dim, day, kind, value, n, on_time, amount) "  # noqa: S608 (model identifiers)
           f"SELECT 'due', final_due, kind, '', COUNT(*), "
           f"SUM(CASE WHEN closed_on IS NOT NULL AND closed_on <= final_due THEN 1 ELSE 0 END), 0 "
           f"FROM {case_t} WHERE {' AND '.join(where)} GROUP BY final_due, kind")
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _month_start_sql(column: str = "day") -> str:
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS date)"
    return f"date({column}, 'start of month')"


def _insert_unit_months(through: dt.date, since: dt.date | None) -> None:
    """Month rows per unit and intake unit, from the cases received up to `through` (from `since`'s month on)."""
    case_t, day_t = Case._meta.db_table, DayCount._meta.db_table
    received, due = _month_start_sql("received_on"), _month_start_sql("final_due")
    cols = "(dim, day, kind, value, unit_id, intake_unit_id, n, on_time, amount)"
    start = since.replace(day=1) if since is not None else None
    with connection.cursor() as cur:
        for dim, column in RECEIVED_DIMS.items():
            value = column or "''"
            where = ["received_on <= %s"] + ([f"{column} <> ''"] if column else [])
            params: list[Any] = [f"{UNIT_MONTH}{dim}", through]
            if start is not None:
                where.append("received_on >= %s")
                params.append(start)
            cur.execute(
                f"INSERT INTO {day_t} {cols} "  # noqa: S608 (model identifiers)
                f"SELECT %s, {received}, kind, {value}, unit_id, intake_unit_id, COUNT(*), 0, "
                f"COALESCE(SUM(amount_recovered), 0) FROM {case_t} WHERE {' AND '.join(where)} "
                f"GROUP BY {received}, kind, unit_id, intake_unit_id{', ' + column if column else ''}", params)
        where = ["received_on <= %s", "final_due IS NOT NULL", "kind IN ('complaint', 'report')"]
        params = [through]
        if start is not None:
            where.append("final_due >= %s")
            params.append(start)
        cur.execute(
            f"INSERT INTO {day_t} {cols} "  # noqa: S608 (model identifiers)
            f"SELECT '{UNIT_MONTH}due', {due}, kind, '', unit_id, intake_unit_id, COUNT(*), "
            f"SUM(CASE WHEN closed_on IS NOT NULL AND closed_on <= final_due THEN 1 ELSE 0 END), 0 "
            f"FROM {case_t} WHERE {' AND '.join(where)} GROUP BY {due}, kind, unit_id, intake_unit_id", params)


def _insert_months(since: dt.date | None, dims: list[str] | None = None) -> None:
    """Month rows from the day rows (all, or those of the months from `since`'s month on)."""
    day_t = DayCount._meta.db_table
    month = _month_start_sql()
    where = [f"dim NOT LIKE '{MONTH}%%'", f"dim NOT LIKE '{UNIT_MONTH}%%'"]
    params: list[Any] = []
    if since is not None:
        where.append("day >= %s")
        params.append(since.replace(day=1))
    if dims is not None:
        where.append(f"dim IN ({', '.join(['%s'] * len(dims))})")
        params.extend(dims)
    sql = (f"INSERT INTO {day_t} (dim, day, kind, value, n, on_time, amount) "  # noqa: S608 (model identifiers)
           f"SELECT '{MONTH}' || dim, {month}, kind, value, SUM(n), SUM(on_time), SUM(amount) FROM {day_t} "
           f"WHERE {' AND '.join(where)} GROUP BY dim, {month}, kind, value")
    with connection.cursor() as cur:
        cur.execute(sql, params)


def _insert_entities(through: dt.date) -> None:
    """Day rows per busy respondent (≥ ENTITY_MIN complaints and reports received up to `through`)."""
    case_t, day_t = Case._meta.db_table, DayCount._meta.db_table
    kinds = "kind IN ('complaint', 'report')"
    sql = (f"INSERT INTO {day_t} (dim, day, kind, value, n, on_time, amount) "  # noqa: S608 (model identifiers)
           f"SELECT 'entity', received_on, kind, CAST(entity_id AS VARCHAR(32)), COUNT(*), 0, 0 FROM {case_t} "
           f"WHERE received_on <= %s AND {kinds} AND entity_id IN ("
           f"SELECT entity_id FROM {case_t} WHERE received_on <= %s AND {kinds} AND entity_id IS NOT NULL "
           f"GROUP BY entity_id HAVING COUNT(*) >= %s) GROUP BY received_on, kind, entity_id")
    with connection.cursor() as cur:
        cur.execute(sql, [through, through, ENTITY_MIN])


def summary_rebuild(*, today: dt.date, days: int | None = None, actor: User | None = None) -> RebuildResult:
    """Recount the summary up to yesterday: everything (`days=None`), or only the last `days` days.

    An incremental rebuild recounts the cases received in the last `days` days and every deadline day from
    `days` days ago on — what changes as cases are handled; older days keep their counts until the next full
    rebuild (the nightly job runs incrementally, a full rebuild weekly and on demand).
    """
    started = time.perf_counter()
    through = today - dt.timedelta(days=1)
    since = None if days is None else today - dt.timedelta(days=days)
    with transaction.atomic():
        previous = SummaryState.objects.select_for_update().order_by("-id").first()
        if since is not None and previous is None:
            since = None  # nothing to increment: build it all
        full = since is None
        if full:
            DayCount.objects.all().delete()
        else:
            assert since is not None
            DayCount.objects.exclude(dim__startswith=MONTH).exclude(dim__startswith=UNIT_MONTH).filter(
                day__gte=since).delete()
            DayCount.objects.filter(Q(dim__startswith=MONTH) | Q(dim__startswith=UNIT_MONTH),
                                    day__gte=since.replace(day=1)).delete()
            DayCount.objects.filter(dim__in=["entity", f"{MONTH}entity"]).delete()
        for dim, column in RECEIVED_DIMS.items():
            _insert_received(dim, column, through, since)
        _insert_due(through, since)
        _insert_months(since, dims=None if full else [*RECEIVED_DIMS, "due"])
        _insert_unit_months(through, since)
        _insert_entities(through)
        _insert_months(None, dims=["entity"])
        rows = DayCount.objects.count()
        seconds = time.perf_counter() - started
        SummaryState.objects.all().delete()
        state = SummaryState.objects.create(through=through, refreshed_at=timezone.now(), rows=rows,
                                            seconds=round(seconds, 3))
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(f"ANALYZE {DayCount._meta.db_table}")  # the planner must know the table's new size
        audit_record_many([AuditEvent(
            action="summary_rebuild", object_type="complaints.summarystate", object_id=str(state.pk),
            object_repr=f"投诉举报统计汇总（截至 {through}）",
            before={"through": previous.through.isoformat()} if previous else None,
            after={"through": through.isoformat(), "rows": rows, "full": full,
                   "since": since.isoformat() if since else None},
            reason="全量重建" if full else f"增量刷新最近 {days} 天", actor=actor)])
    return RebuildResult(through, rows, seconds, full)
