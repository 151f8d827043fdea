"""Inspector assignment, the second "random" of a plan (step 6 of `jianguan-draw-v1`): the register and the
visits read from the database, the pure rule in `domain.assign`, its teams and rejections stored. All or nothing."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from jianguan.core.audit import audit_record
from jianguan.core.models import Unit, User
from jianguan.inspections.domain import assign as assign_domain
from jianguan.inspections.domain import draw as draw_domain
from jianguan.inspections.draws import plan_draw
from jianguan.inspections.models import (
    AssignmentRejection,
    InspectionPlan,
    Inspector,
    Visit,
    VisitInspector,
)
from jianguan.inspections.rules import assignment_rules
from jianguan.inspections.services import InspectionError

Status = InspectionPlan.Status


def plan_assign(plan: InspectionPlan, *, actor: User | None, today: dt.date) -> assign_domain.Assignment:
    """Draw a team for every unassigned visit of the plan; all or nothing. On failure the plan records which
    visit and which constraint failed, and no team is stored."""
    plan.refresh_from_db()
    if not plan.seed:
        raise InspectionError(_("计划尚未抽取检查对象，不能分配检查人员"))
    visits = list(plan.visits.filter(status=Visit.Status.UNASSIGNED).select_related("entity")
                  .prefetch_related("items__item__department", "items__task__partner_departments"))
    if not visits:
        raise InspectionError(_("没有待分配检查人员的检查"))
    rules = assignment_rules()
    dvisits = []
    for v in visits:
        needs: dict[str, set[str]] = defaultdict(set)
        for vi in v.items.all():
            needs[vi.item.department.code].add(vi.item.category)
            for partner in vi.task.partner_departments.all():
                needs.setdefault(partner.code, set())
        dvisits.append(assign_domain.Visit(task_id=v.number, uscc=v.entity.uscc,
                                           needs={k: frozenset(c) for k, c in needs.items()},
                                           area=v.entity.division_id[:6]))
    # Retired inspectors have left the register; those on leave stay in the pool and are logged as "inactive".
    pool = list(Inspector.objects.filter(unit__in=_assignable_units(plan)).exclude(status=Inspector.Status.RETIRED)
                .select_related("department", "unit__division").prefetch_related("conflicts__entity"))
    inspectors = [assign_domain.Inspector(
        id=str(i.pk), department=i.department.code, qualifications=frozenset(i.qualifications),
        active=i.status == Inspector.Status.ACTIVE,
        conflicts=frozenset(c.entity.uscc for c in i.conflicts.all()),
        area=inspector_area(i.unit))
        for i in pool]
    start = min(v.period_start for v in visits)
    end = max(v.period_end for v in visits)
    since = today - dt.timedelta(days=rules.same_entity_interval_days)
    recent: dict[tuple[str, str], dt.date] = {}
    in_plan = {v.entity_id for v in visits}
    for iid, entity_id, uscc, when in (VisitInspector.objects
                                       .filter(visit__end_date__gte=since, visit__end_date__isnull=False)
                                       .exclude(visit__plan=plan)
                                       .values_list("inspector_id", "visit__entity_id", "visit__entity__uscc",
                                                    "visit__end_date").iterator(chunk_size=5000)):
        if entity_id not in in_plan:
            continue
        key = (str(iid), uscc)
        if when is not None and (key not in recent or when > recent[key]):
            recent[key] = when
    workload: dict[str, int] = defaultdict(int)
    for other_id in (VisitInspector.objects.filter(visit__period_start__lte=end, visit__period_end__gte=start)
                     .exclude(visit__plan=plan).values_list("inspector_id", flat=True)):
        workload[str(other_id)] += 1
    try:
        result = assign_domain.assign_inspectors(
            plan.seed, dvisits, inspectors, recent=recent, interval_days=rules.same_entity_interval_days,
            today=today, workload=workload, cap=rules.workload_cap_per_period, min_team=rules.min_team_size)
    except draw_domain.DrawInputError as exc:
        raise InspectionError(str(exc)) from None
    by_number = {v.number: v for v in visits}
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        if result.failures:
            locked.assignment_error = {"failures": [
                {"visit": f.task_id, "entity": by_number[f.task_id].entity.name, "uscc": f.uscc,
                 "constraint": f.constraint, "label": assign_domain.CONSTRAINT_LABELS.get(f.constraint, ""),
                 "message": f.message} for f in result.failures]}
            locked.save(update_fields=["assignment_error"])
            audit_record(locked, "assign:failed", actor=actor,
                         after={"failures": len(result.failures),
                                "first": locked.assignment_error["failures"][0]})
            return result
        tickets: dict[tuple[str, str], str] = {}
        for number, team in result.teams.items():
            for member in team:
                tickets[(number, member)] = assign_domain.inspector_ticket(plan.seed, number, member)
        VisitInspector.objects.bulk_create([
            VisitInspector(visit_id=by_number[number].pk, inspector_id=int(iid), ticket=tickets[(number, iid)])
            for number, team in result.teams.items() for iid in team], batch_size=2000)
        AssignmentRejection.objects.bulk_create([
            AssignmentRejection(plan=locked, visit_id=by_number[r.task_id].pk, inspector_id=int(r.inspector_id),
                                constraint=r.constraint,
                                detail=assign_domain.CONSTRAINT_LABELS.get(r.constraint, ""))
            for r in result.rejections], batch_size=5000)
        assigned = sorted(by_number[n].pk for n in result.teams)
        for i in range(0, len(assigned), 5000):
            Visit.objects.filter(pk__in=assigned[i:i + 5000]).update(status=Visit.Status.ASSIGNED)
        locked.assignment_error = {}
        locked.save(update_fields=["assignment_error"])
        audit_record(locked, "assign", actor=actor,
                     after={"visits": len(result.teams), "rejections": len(result.rejections)},
                     reason=_("随机选派检查人员"))
    return result


def inspector_area(unit: Unit) -> str:
    """The area an inspector covers: the divisions under their unit's division, as a code prefix (`371003` a
    county office, `3710` a city bureau — every county of the city, `37` the province bureau)."""
    return unit.division.scope_prefix


def _assignable_units(plan: InspectionPlan) -> list[int]:
    """Inspectors of the plan's unit and below, plus partner-department offices in the plan's divisions."""
    unit = plan.unit
    prefix = unit.division.scope_prefix
    return list(Unit.objects.filter(Q(path__startswith=unit.path)
                                    | Q(kind=Unit.Kind.PARTNER, division__pk__startswith=prefix))
                .values_list("pk", flat=True))


def plan_execute(plan: InspectionPlan, *, actor: User | None,
                 today: dt.date) -> tuple[InspectionPlan, assign_domain.Assignment]:
    """Draw, merge and assign in one go (the draw stays even if the assignment fails)."""
    plan = plan_draw(plan, actor=actor)
    return plan, plan_assign(plan, actor=actor, today=today)

