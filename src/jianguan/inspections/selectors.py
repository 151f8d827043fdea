"""Reads of the inspections app: lists, publication queue, targeting report, public pages."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from jianguan.core.access import data_scope, has_role
from jianguan.core.models import Job, User
from jianguan.inspections.access import visits_for
from jianguan.inspections.jobs import KINDS as JOB_KINDS
from jianguan.inspections.models import InspectionPlan, Visit, VisitItem
from jianguan.inspections.rules import publication_rules, result_codes


def plan_jobs(plan: InspectionPlan) -> QuerySet[Job]:
    """The freeze and draw jobs of a plan, newest first."""
    return Job.objects.filter(kind__in=JOB_KINDS, params__plan=plan.pk).order_by("-created_at", "-id")


def plan_job_in_progress(plan: InspectionPlan) -> Job | None:
    """The plan's freeze or draw job still queued or running, if any."""
    return plan_jobs(plan).filter(status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).first()


def plan_job_to_show(plan: InspectionPlan, job_id: str) -> Job | None:
    """The job whose progress the plan page shows: the one just submitted (`?job=`), else one still running."""
    if job_id.isdigit():
        job = plan_jobs(plan).filter(pk=int(job_id)).first()
        if job is not None:
            return job
    return plan_job_in_progress(plan)


def home_counts(user: User) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if has_role(user, "inspector", "partner_inspector"):
        out["my_open"] = Visit.objects.filter(team__inspector__user=user, status=Visit.Status.ASSIGNED).count()
    if has_role(user, "leader", "section_head", "handler", "admin", "auditor"):
        queue = visits_for(user).filter(status=Visit.Status.COMPLETED)
        out["to_publish"] = queue.count()
        out["overdue"] = queue.filter(due_date__lt=timezone.localdate()).count()
    return out


@dataclass
class QueueRow:
    visit: Visit
    state: str  # ok / warning / overdue / unknown
    working_days_left: int | None


def publication_queue(user: User, *, today: dt.date, state: str = "") -> list[QueueRow]:
    """Completed, unpublished visits with due dates; warning within `warn_working_days`, overdue after."""
    from jianguan.core.calendar_service import get_calendar
    from jianguan.core.domain.calendar import CalendarYearMissing

    cal = get_calendar()
    warn = publication_rules().warn_working_days
    rows = []
    for v in visits_for(user).filter(status=Visit.Status.COMPLETED).order_by("due_date", "number"):
        left = None
        if v.due_date is None:
            st = "unknown"
        elif v.due_date < today:
            st = "overdue"
        else:
            try:
                left = cal.working_days_between(today, v.due_date)
            except CalendarYearMissing:
                left = None
            st = "warning" if left is not None and left <= warn else "ok"
        if state and st != state:
            continue
        rows.append(QueueRow(v, st, left))
    return rows


def plan_summary(plan: InspectionPlan) -> dict[str, Any]:
    counts = dict(plan.visits.values_list("status").annotate(n=Count("pk")))
    return {
        "strata": plan.strata.count(),
        "visits": plan.visits_count,
        "by_status": [(label, counts.get(value, 0)) for value, label in Visit.Status.choices],
        "separate": plan.visits_count + plan.visits_saved,
    }


def targeting_report(plan: InspectionPlan) -> dict[str, Any]:
    """Share of inspections that found problems per risk class; the random A-class slice is the baseline."""
    codes = result_codes()
    problem = {c for c, rc in codes.items() if rc.problem}
    groups: dict[str, dict[str, set[int]]] = defaultdict(lambda: {"all": set(), "hit": set()})
    for visit_id, risk_class, is_slice, code in (VisitItem.objects.filter(visit__plan=plan)
                                                 .exclude(result_code="")
                                                 .values_list("visit_id", "risk_class", "is_slice", "result_code")):
        key = "A-slice" if is_slice else risk_class
        groups[key]["all"].add(visit_id)
        if code in problem:
            groups[key]["hit"].add(visit_id)
    rows: list[dict[str, Any]] = []
    for key in ("A-slice", "A", "B", "C", "D"):
        g = groups.get(key)
        if not g:
            continue
        n, hit = len(g["all"]), len(g["hit"])
        rows.append({"key": key, "label": "A类随机对照（基线）" if key == "A-slice" else f"{key}类",
                     "inspected": n, "with_problems": hit, "share": round(hit / n, 4) if n else 0.0})
    baseline = next((r["share"] for r in rows if r["key"] == "A-slice"), None)
    for r in rows:
        r["lift"] = round(r["share"] / baseline, 2) if baseline else None
    return {"rows": rows, "baseline": baseline,
            "chart": {"labels": [r["label"] for r in rows], "shares": [round(r["share"] * 100, 1) for r in rows],
                      "baseline": round(baseline * 100, 1) if baseline is not None else None}}


def plan_results_public(plan: InspectionPlan) -> QuerySet[Visit]:
    return (plan.visits.filter(status=Visit.Status.PUBLISHED).select_related("entity")
            .prefetch_related("items__item").order_by("number"))


def public_plans() -> QuerySet[InspectionPlan]:
    return (InspectionPlan.objects.exclude(commitment="").select_related("unit")
            .order_by("-commitment_published_at"))


def entity_visits(user: User, entity_id: int) -> QuerySet[Visit]:
    return (visits_for(user).filter(entity_id=entity_id).prefetch_related("items__item", "team__inspector")
            .order_by("-period_start"))


def entity_published_results(entity_id: int) -> list[dict[str, Any]]:
    codes = result_codes()
    out = []
    for v in (Visit.objects.filter(entity_id=entity_id, status=Visit.Status.PUBLISHED)
              .select_related("plan", "unit").prefetch_related("items__item__department")
              .order_by("-end_date")):
        out.append({"number": v.number, "unit": v.unit.name, "plan": str(v.plan), "plan_id": v.plan_id,
                    "date": v.end_date, "published_at": v.published_at,
                    "items": [{"name": vi.item.name, "department": vi.item.department.name,
                               "result": codes[vi.result_code].label if vi.result_code in codes else vi.result_code}
                              for vi in v.items.all()]})
    return out


def visits_filter(qs: QuerySet[Visit], params: dict[str, str]) -> QuerySet[Visit]:
    if params.get("status"):
        qs = qs.filter(status=params["status"])
    if params.get("q"):
        q = params["q"]
        qs = qs.filter(Q(entity__name__contains=q) | Q(entity__uscc=q.upper()) | Q(number=q))
    return qs


def inspectors_scope_everything(user: User) -> bool:
    return data_scope(user).everything
