"""Reads of the credit module. `*_public` selectors feed the portal and never touch risk results."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db.models import Q, QuerySet

from jianguan.core.access import data_scope
from jianguan.core.bulk import read_frame
from jianguan.core.calendar_service import get_calendar
from jianguan.core.models import User
from jianguan.credit.domain.model import CLASSES
from jianguan.credit.domain.scoring import ExplainedFactor, explain
from jianguan.credit.models import (
    AbnormalListing,
    ClassificationRun,
    CreditRepair,
    Penalty,
    RiskResult,
    SeriousListing,
)
from jianguan.credit.rules import lists_rules, model_by_version
from jianguan.registry.models import Entity
from jianguan.registry.selectors import name_contains


def latest_month() -> dt.date | None:
    run = ClassificationRun.objects.filter(status=ClassificationRun.Status.SUCCEEDED).order_by("-month").first()
    return run.month if run else None


def classified_months() -> list[dt.date]:
    """Every month a classification ever started for (a superset of the months that have results), newest first."""
    return list(ClassificationRun.objects.order_by("-month").values_list("month", flat=True).distinct())


def entity_results(entity: Entity) -> QuerySet[RiskResult]:
    """An entity's results, newest month first: one probe of the (month, entity) index per classified month."""
    return RiskResult.objects.filter(month__in=classified_months(), entity=entity).order_by("-month")


def risk_classes(month: dt.date | None = None) -> dict[int, str]:
    """entity_id → "A"|"B"|"C"|"D" for a month (latest when None); entities never classified are absent (= "B")."""
    month = month or latest_month()
    if month is None:
        return {}
    return dict(RiskResult.objects.filter(month=month.replace(day=1)).values_list("entity_id", "risk_class")
                .iterator(chunk_size=50_000))


def risk_class_frame(month: dt.date | None = None) -> pl.DataFrame:
    """`risk_classes` as a frame (id, cls), read in bulk: a province has some 13 million classified entities."""
    month = month or latest_month()
    if month is None:
        return pl.DataFrame(schema={"id": pl.Int64, "cls": pl.String})
    return read_frame(f"SELECT entity_id, risk_class FROM {RiskResult._meta.db_table} WHERE month = %s",  # noqa: S608
                      [month.replace(day=1)], {"id": pl.Int64, "cls": pl.String})


@dataclass
class Explained:
    uscc: str
    entity_name: str
    month: dt.date
    risk_class: str
    score: float
    model_version: str
    hard_rule: str
    factors: list[ExplainedFactor]


def risk_explain_result(result: RiskResult, entity: Entity) -> Explained:
    run = ClassificationRun.objects.filter(month=result.month, status=ClassificationRun.Status.SUCCEEDED) \
        .order_by("-finished_at").first()
    missing = set(run.missing_features) if run else set()
    model = model_by_version(result.model_version)
    contributions, facts = json.loads(result.contributions), json.loads(result.facts)
    factors = explain(model, contributions, facts, missing) if model else [
        ExplainedFactor(k, "", v, "", None, "模型文件已不存在") for k, v in contributions.items()]
    return Explained(entity.uscc, entity.name, result.month, result.risk_class, result.score, result.model_version,
                     result.hard_rule, factors)


def risk_explain(uscc: str, month: dt.date | None = None) -> Explained | None:
    entity = Entity.objects.filter(uscc=uscc).first()
    if entity is None:
        return None
    qs = RiskResult.objects.filter(entity=entity)
    result = qs.filter(month=month).first() if month else entity_results(entity).first()
    return risk_explain_result(result, entity) if result else None


def risk_history(entity: Entity) -> QuerySet[RiskResult]:
    return entity_results(entity)


def classification_runs() -> QuerySet[ClassificationRun]:
    return ClassificationRun.objects.select_related("job").order_by("-month", "-id")


def distribution(user: User, month: dt.date) -> dict[str, Any] | None:
    """Counts by class per county and per industry section, and transitions from the previous month, in scope."""
    run = ClassificationRun.objects.filter(month=month, status=ClassificationRun.Status.SUCCEEDED) \
        .order_by("-finished_at").first()
    if run is None:
        return None
    scope = data_scope(user)
    by_division: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CLASSES, 0))
    by_section: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(CLASSES, 0))
    moves: dict[tuple[str, str], int] = defaultdict(int)
    for division, section, cls, n in run.summary.get("by_section", []):
        if scope.covers_division(division or ""):
            by_division[division][cls] += n
            by_section[section][cls] += n
    for division, prev, cls, n in run.summary.get("transitions", []):
        if scope.covers_division(division or ""):
            moves[(prev, cls)] += n
    from jianguan.core.models import Division
    from jianguan.registry.models import Industry

    names = dict(Division.objects.filter(code__in=list(by_division)).values_list("code", "name"))
    sections = dict(Industry.objects.filter(level="section").values_list("code", "name"))
    totals = dict.fromkeys(CLASSES, 0)
    for counts in by_division.values():
        for c, n in counts.items():
            totals[c] += n
    return {
        "run": run,
        "totals": totals,
        "divisions": [{"code": k, "name": names.get(k, k), **v} for k, v in sorted(by_division.items())],
        "sections": [{"code": k, "name": sections.get(k, k), **v} for k, v in sorted(by_section.items())],
        "transitions": [{"from": p, "to": c, "n": n} for (p, c), n in sorted(moves.items())],
    }


# --- lists and repair ---------------------------------------------------------------------------------------

def abnormal_list(user: User, *, active: bool | None = None, q: str = "") -> QuerySet[AbnormalListing]:
    qs = AbnormalListing.objects.select_related("entity", "unit").filter(
        data_scope(user).divisions_q("entity__division_id"))
    if active is True:
        qs = qs.filter(removed_on__isnull=True)
    elif active is False:
        qs = qs.filter(removed_on__isnull=False)
    if q:
        qs = qs.filter(Q(entity__uscc=q.upper()) | name_contains(q, "entity__name"))
    return qs


def serious_list(user: User, *, active: bool | None = None) -> QuerySet[SeriousListing]:
    qs = SeriousListing.objects.select_related("entity", "unit", "basis").filter(
        data_scope(user).divisions_q("entity__division_id"))
    if active is True:
        qs = qs.filter(removed_on__isnull=True)
    elif active is False:
        qs = qs.filter(removed_on__isnull=False)
    return qs


@dataclass
class RepairDeadline:
    state: str  # "ok" | "due_soon" | "overdue" | "done"
    working_days_left: int


def repair_deadline(repair: CreditRepair, today: dt.date) -> RepairDeadline:
    if repair.status != CreditRepair.Status.PENDING:
        return RepairDeadline("done", 0)
    if today > repair.decide_by:
        return RepairDeadline("overdue", 0)
    left = get_calendar().working_days_between(today, repair.decide_by)
    warn = lists_rules()["repair"]["warn_working_days_before"]
    return RepairDeadline("due_soon" if left <= warn else "ok", left)


def repair_list(user: User, *, status: str = "") -> QuerySet[CreditRepair]:
    qs = CreditRepair.objects.select_related("entity", "decided_by").filter(
        data_scope(user).divisions_q("entity__division_id"))
    if status:
        qs = qs.filter(status=status)
    return qs


# --- public record (no risk class here, ever) ----------------------------------------------------------------

def abnormal_history_public(entity: Entity) -> list[AbnormalListing]:
    return list(AbnormalListing.objects.filter(entity=entity, repaired=False).select_related("unit")
                .order_by("-entered_on", "-id"))


def serious_history_public(entity: Entity) -> list[SeriousListing]:
    return list(SeriousListing.objects.filter(entity=entity, repaired=False).select_related("unit")
                .order_by("-entered_on", "-id"))


def penalties_public(entity: Entity, today: dt.date) -> list[Penalty]:
    """Published penalties still within their display period and not repaired."""
    return list(Penalty.objects.filter(entity=entity, published_on__isnull=False, published_on__lte=today)
                .filter(Q(public_until__isnull=True) | Q(public_until__gt=today)).select_related("unit")
                .order_by("-decided_on"))
