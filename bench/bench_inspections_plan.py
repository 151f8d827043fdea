"""Benchmark of a county random-inspection plan end to end in the database: freeze (candidates per stratum from
the registry, candidates.csv, manifest, commitment) + draw (seed, tickets, alternates) + merge into joint visits
+ inspector assignment.

Run against a loaded registry, e.g. after `jianguan demo --no-serve` (文登区, 70,000 entities):
    JIANGUAN_VAR_DIR=… python bench/bench_inspections_plan.py [--division 371003] [--runs 3]
The plan carries one task per department with every item of the shipped list (rules/inspections/items.yaml,
default ratios), scope = the division. Enough generated inspectors are added to the register first (once).
Each run makes a new plan in its own year so that workloads of earlier runs do not count. Prints
`inspections.plan <key>=<value>` lines; times are medians over the runs; peak_rss_mb is the process maximum.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")


def ensure_bench_inspectors(county: str, per_department: dict[str, int]) -> int:
    """Generated inspectors in the county's bureau and partner offices (cert numbers B<county><dept>…)."""
    from jianguan.core.models import Department, Unit
    from jianguan.inspections.models import InspectionItem, Inspector

    made = 0
    for code, n in per_department.items():
        dept = Department.objects.get(code=code)
        unit = Unit.objects.filter(code=f"{county}-{code}").first()
        if unit is None:
            continue
        quals = sorted(set(InspectionItem.objects.filter(department=dept).values_list("category", flat=True)))
        prefix = f"B{county}{code[:3]}"
        have = Inspector.objects.filter(cert_no__startswith=prefix).count()
        rows = [Inspector(name=f"基准检查员{i}", department=dept, unit=unit, cert_no=f"{prefix}{i:06d}",
                          qualifications=quals) for i in range(have, n)]
        Inspector.objects.bulk_create(rows, batch_size=2000)
        made += len(rows)
        # a smaller register than in an earlier run: the extra bench inspectors retire
        mine = Inspector.objects.filter(cert_no__startswith=prefix)
        mine.filter(cert_no__gte=f"{prefix}{n:06d}").update(status="retired")
        mine.filter(cert_no__lt=f"{prefix}{n:06d}").update(status="active")
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--division", default="371003")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import django

    django.setup()
    from jianguan.core.models import Department, Division, Unit, User
    from jianguan.inspections import assignment, draws, services
    from jianguan.inspections.models import InspectionItem, InspectionPlan
    from jianguan.registry.models import Entity

    division = Division.objects.get(code=args.division)
    entities = Entity.objects.filter(division__pk__startswith=division.scope_prefix).count()
    services.items_load_defaults(only_if_empty=True)
    items = list(InspectionItem.objects.filter(active=True).select_related("department"))
    departments = sorted({i.department.code for i in items})
    # Inspectors per county: roughly what a county register holds, scaled with the registry (samr ≈ 1 per 200
    # entities, e.g. 350 for 文登区's 70,000; partner departments 60 or 1 per 1,000 entities).
    from django.db.models import Count

    made = 0
    for county, n in (Entity.objects.filter(division__pk__startswith=division.scope_prefix)
                      .values_list("division_id").annotate(n=Count("pk"))):
        per_department = {d: (max(200, n // 200) if d == "samr" else max(60, n // 1000)) for d in departments}
        made += ensure_bench_inspectors(county, per_department)
    unit = Unit.objects.get(code=f"{args.division}-samr")
    actor, _ = User.objects.get_or_create(username="bench_inspections",
                                          defaults={"full_name": "基准测试", "unit": unit})
    other, _ = User.objects.get_or_create(username="bench_inspections2",
                                          defaults={"full_name": "基准测试2", "unit": unit})
    print(f"inspections.plan division={args.division} entities={entities} items={len(items)} "
          f"departments={len(departments)} inspectors_added={made}")
    timings: dict[str, list[float]] = {"freeze_s": [], "draw_merge_s": [], "assign_s": [], "total_s": [],
                                       "process_cpu_s": []}
    last = {}
    for run in range(args.runs):
        year = 2100 + InspectionPlan.objects.filter(name__startswith="基准计划").count()
        plan = services.plan_create(name=f"基准计划 {year}", year=year, unit=unit, actor=actor)
        for code in departments:
            services.task_create(plan, name=f"{code} 抽查", department=Department.objects.get(code=code),
                                 items=[i for i in items if i.department.code == code],
                                 scope_divisions=[args.division], period_start=dt.date(2026, 4, 1),
                                 period_end=dt.date(2026, 10, 31), a_slice_ratio="0.01", actor=actor)
        # tasks of one plan share the period; later runs must not see earlier runs' workload
        plan.tasks.update(period_start=dt.date(year, 4, 1), period_end=dt.date(year, 10, 31))
        services.plan_approve(plan, actor=actor)
        c0 = time.process_time()
        t0 = time.perf_counter()
        plan = draws.plan_freeze(plan, actor=actor, today=dt.date(year, 3, 1))
        t1 = time.perf_counter()
        draws.plan_randomness_enter(plan, f"bench {year}", actor=actor)
        plan = draws.plan_randomness_enter(plan, f"bench {year}", actor=other)
        t2 = time.perf_counter()
        plan = draws.plan_draw(plan, actor=actor)
        t3 = time.perf_counter()
        result = assignment.plan_assign(plan, actor=actor, today=dt.date(year, 3, 1))
        t4 = time.perf_counter()
        cpu = time.process_time() - c0
        timings["freeze_s"].append(t1 - t0)
        timings["draw_merge_s"].append(t3 - t2)
        timings["assign_s"].append(t4 - t3)
        timings["total_s"].append((t1 - t0) + (t4 - t2))
        timings["process_cpu_s"].append(cpu)
        last = {"candidates": plan.candidates_count, "strata": plan.strata.count(),
                "selections": plan.selections_count, "visits": plan.visits_count, "visits_saved": plan.visits_saved,
                "teams": len(result.teams), "rejections": len(result.rejections),
                "failures": len(result.failures)}
        print(f"inspections.plan run={run + 1} " + " ".join(f"{k}={v}" for k, v in last.items())
              + f" freeze_s={t1 - t0:.2f} draw_merge_s={t3 - t2:.2f} assign_s={t4 - t3:.2f} process_cpu_s={cpu:.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("inspections.plan " + " ".join(f"{k}={v}" for k, v in last.items()) + " "
          + " ".join(f"median_{k}={statistics.median(v):.2f}" for k, v in timings.items())
          + f" runs={args.runs} peak_rss_mb={peak:.0f}")


if __name__ == "__main__":
    main()
