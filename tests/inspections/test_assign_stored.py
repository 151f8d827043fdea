"""What plan_assign stores is exactly what the rule (`domain.assign.assign_inspectors`) decides on the register and
the visits as the ORM reads them: the bulk reads and writes change nothing, with every constraint at work."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from tests.inspections.conftest import TODAY, make_inspector, make_plan


def _drawn(org, staff, **kw):
    from jianguan.inspections import draws

    plan = draws.plan_freeze(make_plan(org, staff, **kw), actor=staff.handler, today=TODAY)
    draws.plan_randomness_enter(plan, "7", actor=staff.handler)
    plan = draws.plan_randomness_enter(plan, "7", actor=staff.head)
    return draws.plan_draw(plan, actor=staff.handler)


def _reference_inputs(plan, today, interval_days):
    """The rule's inputs read object by object through the ORM (as plan_assign did before its bulk reads)."""
    from jianguan.inspections.assignment import _assignable_units, inspector_area
    from jianguan.inspections.domain import assign as assign_domain
    from jianguan.inspections.models import Inspector, Visit, VisitInspector

    visits = list(plan.visits.filter(status=Visit.Status.UNASSIGNED).select_related("entity")
                  .prefetch_related("items__item__department", "items__task__partner_departments"))
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
    pool = (Inspector.objects.filter(unit__in=_assignable_units(plan)).exclude(status=Inspector.Status.RETIRED)
            .select_related("department", "unit__division").prefetch_related("conflicts__entity"))
    inspectors = [assign_domain.Inspector(
        id=str(i.pk), department=i.department.code, qualifications=frozenset(i.qualifications),
        active=i.status == Inspector.Status.ACTIVE, conflicts=frozenset(c.entity.uscc for c in i.conflicts.all()),
        area=inspector_area(i.unit)) for i in pool]
    since = today - dt.timedelta(days=interval_days)
    in_plan = {v.entity_id for v in visits}
    recent: dict[tuple[str, str], dt.date] = {}
    for iid, entity_id, uscc, when in (VisitInspector.objects.filter(visit__end_date__gte=since)
                                       .exclude(visit__plan=plan)
                                       .values_list("inspector_id", "visit__entity_id", "visit__entity__uscc",
                                                    "visit__end_date")):
        key = (str(iid), uscc)
        if entity_id in in_plan and (key not in recent or when > recent[key]):
            recent[key] = when
    start, end = min(v.period_start for v in visits), max(v.period_end for v in visits)
    workload: dict[str, int] = defaultdict(int)
    for other in (VisitInspector.objects.filter(visit__period_start__lte=end, visit__period_end__gte=start)
                  .exclude(visit__plan=plan).values_list("inspector_id", flat=True)):
        workload[str(other)] += 1
    return dvisits, inspectors, recent, dict(workload)


# Committed transactions, so that on PostgreSQL plan_assign reads through its own ADBC connections as in production
# (inside a test's transaction it reads through Django's connection instead).
@pytest.mark.django_db(transaction=True)
def test_stored_teams_and_rejections_are_the_rules_result(org, staff, food_world, monkeypatch):
    from jianguan.inspections import assignment, services
    from jianguan.inspections.domain.assign import CONSTRAINT_LABELS, assign_inspectors, inspector_ticket
    from jianguan.inspections.models import AssignmentRejection, Inspector, Visit, VisitInspector
    from jianguan.inspections.rules import AssignmentRules

    food = [{"name": "食品", "items": ("SCJG-SP-01",), "department": "samr", "ratios": {"B": "1"}}]
    first = _drawn(org, staff, tasks=food)
    assert not assignment.plan_assign(first, actor=staff.handler, today=TODAY).failures
    for visit in first.visits.all():  # done: their teams may not go back there within the interval
        services.visit_record_results(visit, results={vi.pk: ("no_problem", "") for vi in visit.items.all()},
                                      visit_date=dt.date(2026, 3, 1), actor=staff.handler)
    samr = food_world["samr"]
    Inspector.objects.filter(pk=samr[0].pk).update(status="leave")
    Inspector.objects.filter(pk=samr[1].pk).update(status="retired")
    for entity in food_world["food"][:12]:
        services.inspector_conflict_declare(samr[2], entity, "亲属在该企业任职", declared_on=TODAY, actor=staff.head)
    make_inspector(org.wendeng, quals=("食品安全",))  # not qualified for the second plan's item
    make_inspector(org.rongcheng)  # another county's bureau: not in the pool at all
    for _ in range(4):
        make_inspector(org.station)
    for _ in range(2):
        make_inspector(org.tax, department="tax", quals=())
    # a cap the first plan's teams (same period) and this run reach
    rules = AssignmentRules(min_team_size=2, same_entity_interval_days=730, workload_cap_per_period=9)
    monkeypatch.setattr(assignment, "assignment_rules", lambda: rules)
    joint = [{"name": "公示（税务联合）", "items": ("SCJG-DJ-02",), "department": "samr", "ratios": {"B": "1"},
              "partners": ("tax",)}]
    second = _drawn(org, staff, tasks=joint)

    visits, inspectors, recent, workload = _reference_inputs(second, TODAY, rules.same_entity_interval_days)
    expected = assign_inspectors(second.seed, visits, inspectors, recent=recent, interval_days=730, today=TODAY,
                                 workload=workload, cap=rules.workload_cap_per_period, min_team=2)
    result = assignment.plan_assign(second, actor=staff.handler, today=TODAY)

    assert result == expected and not result.failures
    # which constraints come up depends on the tickets, so on the plan's id (the seed): run alone this plan meets all
    # five; the equality above is the point, whatever the ids
    assert result.rejections and {r.constraint for r in result.rejections} <= {
        "inactive", "qualification", "recusal", "interval", "workload"}
    assert all("tax" in v.needs for v in visits)
    team = list(VisitInspector.objects.filter(visit__plan=second).order_by("id")
                .values_list("visit__number", "inspector_id", "ticket"))
    assert team == [(number, int(member), inspector_ticket(second.seed, number, member))
                    for number, members in expected.teams.items() for member in members]
    rejected = list(AssignmentRejection.objects.filter(plan=second).order_by("id")
                    .values_list("visit__number", "inspector_id", "constraint", "detail"))
    assert rejected == [(r.task_id, int(r.inspector_id), r.constraint, CONSTRAINT_LABELS[r.constraint])
                        for r in expected.rejections]
    assert set(Visit.objects.filter(plan=second).values_list("status", flat=True)) == {"assigned"}
    assert Visit.objects.filter(plan=first, status="unassigned").count() == 0  # the other plan untouched


def test_visits_changed_after_they_were_read_store_nothing(org, staff, food_world, monkeypatch):
    from jianguan.inspections import assignment, services
    from jianguan.inspections.models import AssignmentRejection, Visit, VisitInspector

    plan = _drawn(org, staff, tasks=[{"name": "食品", "items": ("SCJG-SP-01",), "department": "samr",
                                      "ratios": {"B": "1"}}])
    read = assignment._inputs

    def meanwhile(*args, **kwargs):  # another assignment takes one visit after this one has read them
        inputs = read(*args, **kwargs)
        Visit.objects.filter(pk=plan.visits.order_by("number").first().pk).update(status=Visit.Status.ASSIGNED)
        return inputs

    monkeypatch.setattr(assignment, "_inputs", meanwhile)
    with pytest.raises(services.InspectionError, match="检查的分配状态在选派期间已被修改"):
        assignment.plan_assign(plan, actor=staff.handler, today=TODAY)
    assert not VisitInspector.objects.filter(visit__plan=plan).exists()
    assert not AssignmentRejection.objects.filter(plan=plan).exists()
    assert Visit.objects.filter(plan=plan, status=Visit.Status.UNASSIGNED).count() == plan.visits.count() - 1


@pytest.mark.django_db
def test_a_visit_without_a_selection_is_located_from_the_registry():
    """Visits are made by the draw, so the plan's selections give each its USCC and county; one without (not made
    by the draw) is looked up in the registry instead of being left without either."""
    import polars as pl

    from jianguan.inspections.assignment import _inputs
    from tests.registry.factories import create_entity

    drawn, loose = create_entity(division_id="371003"), create_entity(division_id="371082")
    visits = pl.DataFrame({"id": [1, 2], "number": ["V-1", "V-2"], "entity": [drawn.pk, loose.pk]})
    selections = pl.DataFrame({"entity": [drawn.pk, drawn.pk], "uscc": [drawn.uscc, drawn.uscc], "stratum": [7, 8]})
    strata = pl.DataFrame({"stratum": [7, 8], "area": ["371003", "371003"]})
    empty = pl.DataFrame()
    inputs = _inputs([visits, empty, empty, empty, empty, empty, empty, selections, strata])
    assert inputs.visits.sort("id").rows() == [(1, "V-1", drawn.uscc, "371003"), (2, "V-2", loose.uscc, "371082")]
