"""Benchmark of inspector assignment alone (`assignment.plan_assign`) on a plan that is already drawn and assigned,
re-assigned from scratch, and a check that the new teams and rejections are exactly the ones stored before.

Measures: wall time, process CPU (all threads, so ADBC's decoding threads count; not the sampler's) and peak RSS of one
`plan_assign` call, plus the CPU of the local PostgreSQL backends of that database while it runs. The stored result
of the plan — VisitInspector (visit, inspector, ticket) and AssignmentRejection (visit, inspector, constraint,
detail), in insertion (id) order — is snapshotted first, then reset in one transaction (rows deleted, the plan's
visits back to `unassigned`, `assignment_error` cleared), and after the call compared with the snapshot: MATCH, or
the first difference; on a difference the snapshot is put back so the database is left as it was found.

Run against the city database (plan 1 of year 2200, drawn and assigned; 10,655 visits):
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/city JIANGUAN_VAR_DIR=/work/main/var/bench-city \
        PYTHONPATH=src python bench/bench_inspections_assign.py [--plan 1] [--today 2200-03-01]
Creates and draws no plan. Prints `inspections.assign <key>=<value>` lines, and plan_assign's own log line with its
phases (read: the SELECTs and the rule's inputs built; rule: `assign_inspectors`; store: writes and commit).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from pgcpu import ServerCpu, peak_rss_mb

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")


class Sampler(ServerCpu):
    """The server's CPU, and this sampler thread's own CPU, which is not the assignment's (subtracted)."""

    own_cpu = 0.0

    def _run(self) -> None:
        super()._run()
        self.own_cpu = time.thread_time()


def stored(plan_id: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The plan's team rows and rejection rows, in insertion order (by id)."""
    from jianguan.inspections.models import AssignmentRejection, VisitInspector

    team = list(VisitInspector.objects.filter(visit__plan_id=plan_id).order_by("id")
                .values_list("visit_id", "inspector_id", "ticket"))
    rejections = list(AssignmentRejection.objects.filter(plan_id=plan_id).order_by("id")
                      .values_list("visit_id", "inspector_id", "constraint", "detail"))
    return team, rejections


def reset(plan_id: int) -> None:
    """Undo the plan's assignment: no team, no rejection, every visit unassigned, no error; one transaction."""
    from django.db import transaction

    from jianguan.inspections.models import AssignmentRejection, InspectionPlan, Visit, VisitInspector

    with transaction.atomic():
        VisitInspector.objects.filter(visit__plan_id=plan_id).delete()
        AssignmentRejection.objects.filter(plan_id=plan_id).delete()
        Visit.objects.filter(plan_id=plan_id).update(status=Visit.Status.UNASSIGNED)
        InspectionPlan.objects.filter(pk=plan_id).update(assignment_error={})


def restore(plan_id: int, team: list[tuple[Any, ...]], rejections: list[tuple[Any, ...]]) -> None:
    """Put the snapshot back (after a difference), so that the next run compares with the original result."""
    from django.db import transaction

    from jianguan.inspections.models import AssignmentRejection, Visit, VisitInspector

    reset(plan_id)
    with transaction.atomic():
        VisitInspector.objects.bulk_create([VisitInspector(visit_id=v, inspector_id=i, ticket=t)
                                            for v, i, t in team], batch_size=5000)
        AssignmentRejection.objects.bulk_create([
            AssignmentRejection(plan_id=plan_id, visit_id=v, inspector_id=i, constraint=c, detail=d)
            for v, i, c, d in rejections], batch_size=5000)
        Visit.objects.filter(plan_id=plan_id, pk__in={v for v, _i, _t in team}).update(status=Visit.Status.ASSIGNED)


def first_difference(name: str, before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> str | None:
    if before == after:
        return None
    for n, (old, new) in enumerate(zip(before, after, strict=False)):
        if old != new:
            return f"{name} row {n}: before {old!r}, now {new!r}"
    return f"{name}: {len(before)} rows before, {len(after)} now"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", type=int, default=1)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2200, 3, 1))
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection

    from jianguan.core.models import User
    from jianguan.inspections import assignment
    from jianguan.inspections.models import InspectionPlan, Visit

    plan = InspectionPlan.objects.filter(pk=args.plan).first()
    if plan is None:
        raise SystemExit(f"no plan {args.plan} in this database: set DATABASE_URL to one holding a drawn plan")
    phases = logging.StreamHandler(sys.stdout)  # plan_assign's own line: read / rule / store seconds
    phases.setFormatter(logging.Formatter("inspections.assign phases %(message)s"))
    logging.getLogger("jianguan.inspections.assignment").addHandler(phases)
    logging.getLogger("jianguan.inspections.assignment").setLevel(logging.INFO)
    logging.getLogger("jianguan.inspections.assignment").propagate = False
    actor = User.objects.order_by("pk").first()
    team, rejections = stored(plan.pk)
    if not team:
        raise SystemExit(f"plan {plan.pk} has no stored team to compare with: assign it once first")
    print(f"inspections.assign visits={plan.visits.count()} team_rows={len(team)} rejection_rows={len(rejections)}")
    reset(plan.pk)
    rss_before = peak_rss_mb()
    with Sampler(connection.settings_dict["NAME"]) as server:
        wall, cpu = time.perf_counter(), time.process_time()
        result = assignment.plan_assign(plan, actor=actor, today=args.today)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cpu -= server.own_cpu
    server_cpu = server.seconds if connection.vendor == "postgresql" else None
    print(f"inspections.assign wall_s={wall:.2f} cpu_s={cpu:.2f} server_cpu_s="
          f"{'n/a' if server_cpu is None else f'{server_cpu:.2f}'} peak_rss_mb={peak_rss_mb():.0f} "
          f"(before the call {rss_before:.0f}) failures={len(result.failures)}")
    new_team, new_rejections = stored(plan.pk)
    unassigned = Visit.objects.filter(plan=plan).exclude(status=Visit.Status.ASSIGNED).count()
    plan.refresh_from_db()
    problem = (first_difference("VisitInspector", team, new_team)
               or first_difference("AssignmentRejection", rejections, new_rejections)
               or (f"{unassigned} visits not assigned" if unassigned else None)
               or (f"assignment_error {plan.assignment_error!r}" if plan.assignment_error else None))
    if problem:
        print(f"inspections.assign DIFFERENT {problem}")
        restore(plan.pk, team, rejections)
        print("inspections.assign the snapshot was put back")
        raise SystemExit(1)
    print("inspections.assign MATCH")


if __name__ == "__main__":
    main()
