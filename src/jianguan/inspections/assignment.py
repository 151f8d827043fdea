"""Inspector assignment, the second "random" of a plan (step 6 of `jianguan-draw-v1`): the register and the
visits read from the database, the pure rule in `domain.assign`, its teams and rejections stored. All or nothing."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import polars as pl
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from jianguan.core.audit import audit_record
from jianguan.core.bulk import Read, read_frames, write_models
from jianguan.core.db import StatementBehind, quoted_table, references_checked_once
from jianguan.core.models import Department, Unit, User
from jianguan.inspections.domain import assign as assign_domain
from jianguan.inspections.domain import draw as draw_domain
from jianguan.inspections.draws import plan_draw
from jianguan.inspections.models import (
    AssignmentRejection,
    DrawSelection,
    DrawStratum,
    InspectionItem,
    InspectionPlan,
    InspectionTask,
    Inspector,
    InspectorConflict,
    Visit,
    VisitInspector,
    VisitItem,
)
from jianguan.inspections.rules import assignment_rules
from jianguan.inspections.services import InspectionError
from jianguan.registry.models import Entity

Status = InspectionPlan.Status
log = logging.getLogger(__name__)


def plan_assign(plan: InspectionPlan, *, actor: User | None, today: dt.date) -> assign_domain.Assignment:
    """Draw a team for every unassigned visit of the plan; all or nothing. On failure the plan records which
    visit and which constraint failed, and no team is stored.

    The register and the visits are read in bulk (a few SELECTs into Polars, not the ORM's objects: a province
    plan carries ≈ 125,000 visits), the teams and rejections written in bulk inside the one transaction."""
    plan.refresh_from_db()
    if not plan.seed:
        raise InspectionError(_("计划尚未抽取检查对象，不能分配检查人员"))
    started = time.perf_counter()
    rules = assignment_rules()
    since = today - dt.timedelta(days=rules.same_entity_interval_days)
    areas = {u.pk: inspector_area(u) for u in _assignable_units(plan).select_related("division")}
    frames = _inputs(read_frames(_input_reads(plan, since)))
    if frames.visits.is_empty():
        raise InspectionError(_("没有待分配检查人员的检查"))
    visits, inspectors = _domain_visits(frames), _domain_inspectors(frames, areas)
    read = time.perf_counter()
    try:
        with transaction.atomic():
            locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
            # The visits are marked assigned by the server while the rule runs (≈ 2.3 s for a province plan's
            # 124,000 visits, beside ≈ 4.5 s of rule, half of whose tickets a forked helper ranks); a failure below
            # rolls the marks back.
            with StatementBehind(f"UPDATE {quoted_table(Visit)} SET status = %s "  # noqa: S608
                                 "WHERE plan_id = %s AND status = %s",
                                 [Visit.Status.ASSIGNED, locked.pk, Visit.Status.UNASSIGNED]) as marking:
                try:
                    result = assign_domain.assign_inspectors(
                        plan.seed, visits, inspectors, recent=_recent(frames.recent),
                        interval_days=rules.same_entity_interval_days, today=today,
                        workload=_workload(frames.workload), cap=rules.workload_cap_per_period,
                        min_team=rules.min_team_size, helper=True)
                except draw_domain.DrawInputError as exc:
                    raise InspectionError(str(exc)) from None
            ruled = time.perf_counter()
            if result.failures:
                raise _Unstaffed(result)
            # No failure: every visit read (the plan's unassigned ones) has a team, so the visits marked must be
            # exactly these; otherwise another assignment ran meanwhile, and nothing is stored.
            if marking.rowcount() != len(result.teams):
                raise InspectionError(_("检查的分配状态在选派期间已被修改，未分配任何检查，请重新选派"))
            _store_teams(locked, result, frames.visits, actor=actor)
    except _Unstaffed as unstaffed:
        result, ruled = unstaffed.result, time.perf_counter()
        _store_failures(plan, result, actor=actor)
    log.info("plan %s: %d visits, %d inspectors, %d failures; read %.2f s, rule %.2f s, store %.2f s", plan.pk,
             len(visits), len(inspectors), len(result.failures), read - started, ruled - read,
             time.perf_counter() - ruled)
    return result


class _Unstaffed(Exception):
    """Leaves the assignment's transaction when a visit cannot be staffed, so that its marks are rolled back."""

    def __init__(self, result: assign_domain.Assignment) -> None:
        super().__init__(len(result.failures))
        self.result = result


def _store_teams(locked: InspectionPlan, result: assign_domain.Assignment, visits: pl.DataFrame, *,
                 actor: User | None) -> None:
    """Store every team and rejection and audit it, in the caller's transaction (the plan locked, its visits
    already marked assigned)."""
    visit_pk = dict(zip(visits["number"].to_list(), visits["id"].to_list(), strict=True))
    team, rejections = _team_frame(locked.seed, result, visit_pk), _rejection_frame(locked, result, visit_pk)
    visits_of_plan = f"visit_id IN (SELECT id FROM {quoted_table(Visit)} WHERE plan_id = %s)"  # noqa: S608
    with references_checked_once([(VisitInspector._meta.db_table, visits_of_plan, [locked.pk]),
                                  (AssignmentRejection._meta.db_table, "plan_id = %s", [locked.pk])]):
        write_models(VisitInspector, team)
        write_models(AssignmentRejection, rejections)
    locked.assignment_error = {}
    locked.save(update_fields=["assignment_error"])
    audit_record(locked, "assign", actor=actor,
                 after={"visits": len(result.teams), "rejections": len(result.rejections)},
                 reason=_("随机选派检查人员"))


def _store_failures(plan: InspectionPlan, result: assign_domain.Assignment, *, actor: User | None) -> None:
    """Record on the plan which visits failed and why (the entity named as the register has it), and audit it."""
    failing = sorted({f.task_id for f in result.failures})
    names = dict(Visit.objects.filter(plan=plan, number__in=failing).values_list("number", "entity__name"))
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        locked.assignment_error = {"failures": [
            {"visit": f.task_id, "entity": names[f.task_id], "uscc": f.uscc,
             "constraint": f.constraint, "label": assign_domain.CONSTRAINT_LABELS.get(f.constraint, ""),
             "message": f.message} for f in result.failures]}
        locked.save(update_fields=["assignment_error"])
        audit_record(locked, "assign:failed", actor=actor,
                     after={"failures": len(result.failures), "first": locked.assignment_error["failures"][0]})


# ---------------------------------------------------------------------------------------------------------------
# Reading: the plan's unassigned visits with what they need, the register, and the history they are checked against
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Inputs:
    """What an assignment reads (`_input_reads`, put together by `_inputs`)."""

    visits: pl.DataFrame  # id, number, uscc, area (county): the plan's unassigned visits
    items: pl.DataFrame  # visit, department, category: one row per visit item
    partners: pl.DataFrame  # visit, department: partner departments of the tasks that drew each visit
    inspectors: pl.DataFrame  # id, department, qualifications (JSON text), status, unit; in register order
    conflicts: pl.DataFrame  # inspector, uscc: declared conflicts of those inspectors
    recent: pl.DataFrame  # inspector, uscc, last: last inspection of a plan entity by an inspector, other plans
    workload: pl.DataFrame  # inspector, n: assignments in the plan's period, other plans


def _inputs(frames: list[pl.DataFrame]) -> _Inputs:
    """`_Inputs` from the frames of `_input_reads`: each visit given its entity's USCC and county from the plan's
    selections (an entity's selections in one plan share both; a visit whose entity has none — not made by the
    draw — from the registry)."""
    visits, *rest, selections, strata = frames
    located = (selections.join(strata, on="stratum", how="left").group_by("entity")
               .agg(pl.col("uscc").min(), pl.col("area").min()))
    visits = visits.join(located, on="entity", how="left")
    unknown = visits.filter(pl.col("uscc").is_null() | pl.col("area").is_null())["entity"].to_list()
    if unknown:
        registry = pl.DataFrame(list(Entity.objects.filter(pk__in=unknown).values_list("pk", "uscc", "division_id")),
                                schema={"entity": pl.Int64, "uscc_r": pl.String, "area_r": pl.String}, orient="row")
        visits = (visits.join(registry, on="entity", how="left")
                  .with_columns(pl.col("uscc").fill_null(pl.col("uscc_r")), pl.col("area").fill_null(pl.col("area_r"))))
    return _Inputs(visits.select("id", "number", "uscc", "area"), *rest)


def _input_reads(plan: InspectionPlan, since: dt.date) -> list[Read]:
    """The SELECTs of `_Inputs`, independent of each other so that they can run at once. Each restates the
    plan's unassigned visits (`v`, `pending`) rather than passing their ids along."""
    q = connection.ops.quote_name
    visit, entity, item, dept, unit = map(quoted_table, (Visit, Entity, InspectionItem, Department, Unit))
    vitem, team, inspector = map(quoted_table, (VisitItem, VisitInspector, Inspector))
    selection, stratum = map(quoted_table, (DrawSelection, DrawStratum))
    partners = InspectionTask._meta.get_field("partner_departments")
    through, task_col, dept_col = (q(partners.m2m_db_table()), q(partners.m2m_column_name()),  # type: ignore[union-attr]
                                   q(partners.m2m_reverse_name()))  # type: ignore[union-attr]
    pending, key = "v.plan_id = %s AND v.status = %s", [plan.pk, Visit.Status.UNASSIGNED]
    units_sql, units_params = _assignable_units(plan).order_by().values("pk").query.sql_with_params()
    register, register_params = f"i.unit_id IN ({units_sql}) AND i.status <> %s", [*units_params,
                                                                                      Inspector.Status.RETIRED]
    return [
        Read(f"SELECT v.id, v.number, v.entity_id FROM {visit} v WHERE {pending}", key,  # noqa: S608
             {"id": pl.Int64, "number": pl.String, "entity": pl.Int64}),
        Read(f"SELECT vi.visit_id, d.code, it.category FROM {vitem} vi "  # noqa: S608
             f"JOIN {visit} v ON v.id = vi.visit_id JOIN {item} it ON it.id = vi.item_id "
             f"JOIN {dept} d ON d.id = it.department_id WHERE {pending}", key,
             {"visit": pl.Int64, "department": pl.String, "category": pl.String}),
        Read(f"SELECT DISTINCT vi.visit_id, d.code FROM {vitem} vi "  # noqa: S608
             f"JOIN {visit} v ON v.id = vi.visit_id JOIN {through} tp ON tp.{task_col} = vi.task_id "
             f"JOIN {dept} d ON d.id = tp.{dept_col} WHERE {pending}", key,
             {"visit": pl.Int64, "department": pl.String}),
        Read(f"SELECT i.id, d.code, CAST(i.qualifications AS TEXT), i.status, i.unit_id "  # noqa: S608
             f"FROM {inspector} i JOIN {dept} d ON d.id = i.department_id JOIN {unit} u ON u.id = i.unit_id "
             f"WHERE {register} ORDER BY u.path, i.cert_no", register_params,
             {"id": pl.Int64, "department": pl.String, "qualifications": pl.String, "status": pl.String,
              "unit": pl.Int64}),
        Read(f"SELECT c.inspector_id, e.uscc FROM {quoted_table(InspectorConflict)} c "  # noqa: S608
             f"JOIN {inspector} i ON i.id = c.inspector_id JOIN {entity} e ON e.id = c.entity_id WHERE {register}",
             register_params, {"inspector": pl.Int64, "uscc": pl.String}),
        # The other plans' recent visits of these entities first (materialised), the registry only for those: with
        # the visits' statistics missing or stale, PostgreSQL joined the registry to all of this plan's visits
        # first (123,744 entity rows read, ≈ 5 s at province scale) to find that no other visit matched.
        Read(f"WITH recent AS MATERIALIZED (SELECT o.id, o.entity_id, o.end_date FROM {visit} o "  # noqa: S608
             f"WHERE o.plan_id <> %s AND o.end_date >= %s "
             f"AND o.entity_id IN (SELECT v.entity_id FROM {visit} v WHERE {pending})) "
             f"SELECT t.inspector_id, e.uscc, MAX(r.end_date) FROM recent r JOIN {team} t ON t.visit_id = r.id "
             f"JOIN {entity} e ON e.id = r.entity_id GROUP BY t.inspector_id, e.uscc",
             [plan.pk, since, *key], {"inspector": pl.Int64, "uscc": pl.String, "last": pl.Date}),
        Read(f"SELECT t.inspector_id, COUNT(*) FROM {team} t JOIN {visit} o ON o.id = t.visit_id "  # noqa: S608
             f"WHERE o.plan_id <> %s AND o.period_start <= (SELECT MAX(v.period_end) FROM {visit} v WHERE {pending}) "
             f"AND o.period_end >= (SELECT MIN(v.period_start) FROM {visit} v WHERE {pending}) "
             f"GROUP BY t.inspector_id", [plan.pk, *key, *key], {"inspector": pl.Int64, "n": pl.Int64}),
        # Each visit's USCC and county come from the plan's own selections and strata (the county the draw found
        # the entity active in), joined here rather than in the database: read from the registry, 123,744 entities'
        # table rows by id out of 15 million took ≈ 6 s at province scale; joined in SQL over the plan's fresh,
        # unanalysed tables, PostgreSQL once chose a plan that took minutes.
        Read(f"SELECT s.entity_id, s.uscc, s.stratum_id FROM {selection} s WHERE s.plan_id = %s",  # noqa: S608
             [plan.pk], {"entity": pl.Int64, "uscc": pl.String, "stratum": pl.Int64}),
        Read(f"SELECT st.id, st.county FROM {stratum} st WHERE st.plan_id = %s", [plan.pk],  # noqa: S608
             {"stratum": pl.Int64, "area": pl.String}),
    ]


def _domain_visits(frames: _Inputs) -> list[assign_domain.Visit]:
    """The visits as the rule sees them: what each department carries (the item categories of its items; a partner
    department of a task that drew the visit carries none of its own), and the visit's county.

    Grouped in Polars, each visit's needs written as one JSON key: visits share a few hundred distinct needs (a
    province plan: 642 among 124,000 visits), each made into Python objects once and shared, 0.4 s instead of 1.6–2.
    A visit without any item keeps empty `needs` (the rule refuses it)."""
    partners = frames.partners.with_columns(category=pl.lit(None, dtype=pl.String))
    keys = (pl.concat([frames.items, partners])
            .group_by("visit", "department").agg(pl.col("category").drop_nulls().unique().sort())
            .sort("visit", "department")
            .group_by("visit", maintain_order=True).agg(pl.struct("department", "category").alias("needs"))
            .select("visit", pl.struct("needs").struct.json_encode().alias("key")))
    rows = (frames.visits.join(keys, left_on="id", right_on="visit", how="left")
            .select("number", "uscc", pl.col("area").str.slice(0, 6), "key"))
    needs: dict[str | None, dict[str, frozenset[str]]] = {
        key: {} if key is None else {n["department"]: frozenset(n["category"]) for n in json.loads(key)["needs"]}
        for key in rows["key"].unique().to_list()}
    return [assign_domain.Visit(task_id=number, uscc=uscc, area=area, needs=needs[key])
            for number, uscc, area, key in zip(*_columns(rows), strict=True)]


def _columns(frame: pl.DataFrame) -> list[list[Any]]:
    """The frame's columns as Python lists, to zip: cheaper than `iter_rows` when a column holds lists."""
    return [frame[c].to_list() for c in frame.columns]


def _domain_inspectors(frames: _Inputs, areas: dict[int, str]) -> list[assign_domain.Inspector]:
    """The register as the rule sees it, in the register's order. Retired inspectors have left it; those on leave
    stay in the pool and are logged as "inactive"."""
    conflicts = {inspector: frozenset(usccs) for inspector, usccs in
                 frames.conflicts.group_by("inspector").agg("uscc").iter_rows()}
    active = Inspector.Status.ACTIVE
    return [assign_domain.Inspector(id=str(pk), department=department,
                                    qualifications=frozenset(json.loads(qualifications)),
                                    active=status == active, conflicts=conflicts.get(pk, frozenset()),
                                    area=areas[unit])
            for pk, department, qualifications, status, unit in frames.inspectors.iter_rows()]


def _recent(frame: pl.DataFrame) -> dict[tuple[str, str], dt.date]:
    """(inspector id, uscc) -> the last day that inspector inspected that entity (of this plan) in another plan."""
    return {(str(inspector), uscc): last for inspector, uscc, last in frame.iter_rows()}


def _workload(frame: pl.DataFrame) -> dict[str, int]:
    """Inspector id -> visits of other plans overlapping this plan's period they are on."""
    return {str(inspector): n for inspector, n in frame.iter_rows()}


def _team_frame(seed: str, result: assign_domain.Assignment, visit_pk: dict[str, int]) -> pl.DataFrame:
    """The VisitInspector rows, in the order the teams were drawn: each member with their ticket for the visit."""
    ticket = assign_domain.inspector_ticket
    visits, inspectors, tickets = [], [], []
    for number, members in result.teams.items():
        pk = visit_pk[number]
        for member in members:
            visits.append(pk)
            inspectors.append(int(member))
            tickets.append(ticket(seed, number, member))
    return pl.DataFrame({"visit_id": visits, "inspector_id": inspectors, "ticket": tickets},
                        schema={"visit_id": pl.Int64, "inspector_id": pl.Int64, "ticket": pl.String})


def _rejection_frame(plan: InspectionPlan, result: assign_domain.Assignment, visit_pk: dict[str, int]) -> pl.DataFrame:
    """The AssignmentRejection rows, in the order the candidates were examined, the constraint's label as detail."""
    labels = assign_domain.CONSTRAINT_LABELS
    rejections = result.rejections
    return pl.DataFrame(
        {"plan_id": [plan.pk] * len(rejections),
         "visit_id": [visit_pk[r.task_id] for r in rejections],
         "inspector_id": [int(r.inspector_id) for r in rejections],
         "constraint": [r.constraint for r in rejections],
         "detail": [labels.get(r.constraint, "") for r in rejections]},
        schema={"plan_id": pl.Int64, "visit_id": pl.Int64, "inspector_id": pl.Int64, "constraint": pl.String,
                "detail": pl.String})


def inspector_area(unit: Unit) -> str:
    """The area an inspector covers: the divisions under their unit's division, as a code prefix (`371003` a
    county office, `3710` a city bureau — every county of the city, `37` the province bureau)."""
    return unit.division.scope_prefix


def _assignable_units(plan: InspectionPlan) -> QuerySet[Unit]:
    """Units whose inspectors may be sent: the plan's unit and below, plus partner-department offices in the plan's
    divisions."""
    unit = plan.unit
    prefix = unit.division.scope_prefix
    return Unit.objects.filter(Q(path__startswith=unit.path)
                               | Q(kind=Unit.Kind.PARTNER, division__pk__startswith=prefix))


def plan_execute(plan: InspectionPlan, *, actor: User | None,
                 today: dt.date) -> tuple[InspectionPlan, assign_domain.Assignment]:
    """Draw, merge and assign in one go (the draw stays even if the assignment fails)."""
    plan = plan_draw(plan, actor=actor)
    return plan, plan_assign(plan, actor=actor, today=today)

