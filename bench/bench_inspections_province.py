"""Benchmark of a province-wide random-inspection plan through the real services (issue 5: 15 million entities,
~200 items, all counties, 4 risk classes, ~20,000 inspectors: candidate selection, draw, merge and inspector
assignment ≤ 60 s, peak memory ≤ 8 GB).

Needs only a PostgreSQL database holding a synthetic registry (`jianguan migrate`, then
`jianguan synth --scale city|province --load [--registry-only]`):

    python bench/bench_inspections_province.py --db postgresql://postgres@127.0.0.1:5432/NAME

Everything else is created by the script, idempotently, before the timed part:
- the departments and the bureau tree of the province (`core.services.org_bootstrap`) with partner-department
  offices in every county of the loaded data;
- the shipped item list (`rules/inspections/items.yaml`), extended to `--items` (default 200) target rules when it
  holds fewer: one item per GB/T 4754 industry division (大类), then per industry group (中类), that active
  entities of the registry belong to, in code order, given in turn to the departments of the shipped list (with
  the qualification category of that department's first shipped item), so the list, and therefore the
  candidates, are the same at every run on the same registry;
- after the freeze (untimed: the register is not part of the commitment), about `--inspectors` active inspectors
  (default 20,000 × entities / 15,000,000, at least 300) spread over (department, county) after the selections
  of the plan's strata there, so that the workload cap of rules/inspections/assignment.yaml can be met; see
  `ensure_inspectors`. Each holds every qualification category of their department's items.

The plan: one task per department carrying all its items, scope = the province (every county), the period of a
year of its own (so earlier runs' workloads and intervals do not count), task ratios per risk class `--ratios`
(default A 0 / B 0.002 / C 0.005 / D 0.01, so that a province plan draws on the order of 100,000 visits, like
bench_draw.py; `--ratios items` keeps the item list's ratios) and the A-class control slice `--slice`.

Risk classes (`--classes`): `credit` uses the latest classification of the credit module exactly as the freeze job
does (entities never classified count as B; if no classification exists every candidate is B); `synthetic` (the
default when no classification exists) gives each entity a class from its id (id mod 20: 0–3 A, 4–13 B, 14–17 C,
18–19 D) and passes it to the freeze, the way the freeze accepts a classification; `none` classes every entity B.

`--fresh` deletes every plan of the database before each run (untimed), so that runs start alike: without it each
run's visits stay, and with autovacuum off (as on the test machines) the tables the next run writes grow and bloat.
`bench/alternate_province.sh` alternates an earlier commit's code with the current one this way.

Timed, each once (a run makes a plan; `--runs` repeats with new plans): freeze = candidate selection +
candidates.csv + manifest + commitment (`draws.plan_freeze`), draw = seed, tickets, alternates, selections and
the merge into visits (`draws.plan_draw`), assign = inspector assignment (`assignment.plan_assign`). Prints
`inspections.province <key>=<value>` lines: wall seconds, process CPU seconds and PostgreSQL CPU seconds (the
backends of this database and their parallel workers, sampled from /proc every 0.1 s) per phase, and the peak
resident memory of the process. The plan files go to var/bench-<database>/media (or $JIANGUAN_VAR_DIR) and are
removed after each run unless `--keep-files`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pgcpu import ServerCpu, peak_rss_mb

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")

PROVINCE_ENTITIES = 15_000_000
PROVINCE_INSPECTORS = 20_000
CERT_PREFIX = "BPROV"  # cert numbers of the generated inspectors
ITEM_PREFIX = "BENCH-HY-"  # codes of the generated items (one per industry division or group)


def measure(name: str, database: str, fn: Callable[[], Any], out: dict[str, float]) -> Any:
    """Run fn, record `<name>_s` (wall), `<name>_cpu_s` (process), `<name>_pg_cpu_s` (PostgreSQL) and
    `<name>_peak_rss_mb`."""
    with ServerCpu(database) as server:
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        out[f"{name}_s"] = time.perf_counter() - t0
        out[f"{name}_cpu_s"] = time.process_time() - c0
    out[f"{name}_pg_cpu_s"] = server.seconds if server.seconds is not None else float("nan")
    out[f"{name}_peak_rss_mb"] = peak_rss_mb()  # the process's peak so far (so: up to the end of this phase)
    return result


def loaded_counties() -> list[str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT DISTINCT division_id FROM registry_entity")
        divisions = sorted({row[0] for row in cur.fetchall()})
    return divisions


def ensure_organisation(counties: list[str]) -> None:
    from jianguan.core.models import Division
    from jianguan.core.services import departments_sync, org_bootstrap

    departments_sync()
    provinces = sorted({c[:2] + "0000" for c in counties})
    real = [c for c in counties if Division.objects.filter(code=c, level="county").exists()]
    for province in provinces:
        org_bootstrap(province, partner_counties=[c for c in real if c.startswith(province[:2])])


def ensure_items(target: int) -> None:
    """The shipped list, then one generated item per industry division until `target` items are active."""
    from decimal import Decimal

    from jianguan.core.models import Department
    from jianguan.inspections import services
    from jianguan.inspections.models import InspectionItem
    from jianguan.inspections.rules import default_items
    from jianguan.registry.models import Industry

    services.items_load_defaults(only_if_empty=True)
    shipped = [raw for raw in default_items() if Department.objects.filter(code=raw["department"]).exists()]
    have = InspectionItem.objects.filter(active=True).exclude(code__startswith=ITEM_PREFIX).count()
    wanted = max(0, target - have)
    departments: list[tuple[str, str]] = []  # (department, category of its first shipped item), in list order
    for raw in shipped:
        if raw["department"] not in {d for d, _c in departments}:
            departments.append((raw["department"], raw["category"]))
    # industry divisions (大类), then groups (中类), that active entities of the registry belong to
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT DISTINCT industry_id FROM registry_entity WHERE status = 'active'")
        used = {row[0] for row in cur.fetchall()}
    names = dict(Industry.objects.values_list("code", "name"))
    prefixes = sorted({c[:2] for c in used}) + sorted({c[:3] for c in used if len(c) >= 3})
    made = []
    for n, code in enumerate(prefixes[:wanted]):
        name = names.get(code, code)
        dept_code, category = departments[n % len(departments)]
        made.append(InspectionItem(
            code=f"{ITEM_PREFIX}{code}", name=f"{name}经营者检查（基准）",
            department=Department.objects.get(code=dept_code),
            kind="general", category=category, legal_basis="基准测试生成事项", check_points=["基准检查内容"],
            target_rule={"industries": [code]}, min_interval_days=365, source="bench_inspections_province.py",
            ratio_a=Decimal("0"), ratio_b=Decimal("0.05"), ratio_c=Decimal("0.10"), ratio_d=Decimal("0.20")))
    InspectionItem.objects.bulk_create(made, ignore_conflicts=True)
    InspectionItem.objects.filter(code__startswith=ITEM_PREFIX).exclude(
        code__in=[i.code for i in made]).update(active=False)
    InspectionItem.objects.filter(code__in=[i.code for i in made]).update(active=True)


def inspector_demand(plan: Any) -> dict[tuple[str, str], int]:
    """(department, county) → twice the selections of the frozen plan's strata there (their `take`): a visit
    carrying one department's items only is staffed by two of its inspectors."""
    demand: dict[tuple[str, str], int] = {}
    for dept, county, take in plan.strata.values_list("item__department__code", "county", "take"):
        demand[(dept, county)] = demand.get((dept, county), 0) + 2 * take
    return demand


def ensure_inspectors(total: int, demand: dict[tuple[str, str], int]) -> int:
    """About `total` active generated inspectors over (department, county): first as many as the workload cap
    needs for the plan's demand there (at least two), the rest in proportion to the demand. Market regulation's sit
    in the county bureau, one in twenty in the city bureau (covering the whole city); partner departments' in their
    county office (the city bureau where the county has none). Each holds every qualification category of their
    department's active items. Inspectors generated for an earlier plan that this one does not need retire (and
    come back when needed)."""
    from jianguan.core.models import Department, Unit
    from jianguan.inspections.models import InspectionItem, Inspector
    from jianguan.inspections.rules import assignment_rules

    units = {u.code: u for u in Unit.objects.all()}
    departments = sorted({d for d, _c in demand})
    quals = {d: sorted(set(InspectionItem.objects.filter(department__code=d, active=True)
                           .values_list("category", flat=True))) for d in departments}
    depts = {d.code: d for d in Department.objects.filter(code__in=departments)}
    cap = assignment_rules().workload_cap_per_period
    # first what the workload cap needs (with a margin of half: a visit may need more than one of a department), at
    # least two (a team), then the rest of `total` in proportion to the demand
    base = {key: max(2, math.ceil(need * 1.5 / cap) + 1) for key, need in demand.items()}
    spare = max(0, total - sum(base.values()))
    weight = sum(demand.values())
    wanted: dict[str, tuple[str, str]] = {}  # cert_no → (department, unit code)
    for (dept, county), need in sorted(demand.items()):
        city = f"{county[:4]}00-samr"
        for i in range(base[(dept, county)] + spare * need // weight):
            if dept == "samr":
                code = city if i % 20 == 19 or f"{county}-samr" not in units else f"{county}-samr"
            else:
                code = f"{county}-{dept}" if f"{county}-{dept}" in units else city
            wanted[f"{CERT_PREFIX}{dept}{county}{i:05d}"] = (dept, code)
    have = set(Inspector.objects.filter(cert_no__startswith=CERT_PREFIX).values_list("cert_no", flat=True))
    rows = [Inspector(name=f"基准检查员{cert[-11:]}", department=depts[dept], unit=units[unit], cert_no=cert,
                      qualifications=quals[dept]) for cert, (dept, unit) in wanted.items() if cert not in have]
    Inspector.objects.bulk_create(rows, batch_size=5000)
    mine = Inspector.objects.filter(cert_no__startswith=CERT_PREFIX)
    keep = sorted(wanted)
    mine.exclude(cert_no__in=keep).update(status=Inspector.Status.RETIRED)
    for i in range(0, len(keep), 5000):
        mine.filter(cert_no__in=keep[i:i + 5000]).exclude(status=Inspector.Status.ACTIVE).update(
            status=Inspector.Status.ACTIVE)
    for dept, q in quals.items():  # the item list may have grown since an earlier run
        mine.filter(department__code=dept).exclude(qualifications=q).update(qualifications=q)
    return len(wanted)


def synthetic_classes() -> Any:
    """Each entity's class from its id (id mod 20: 0–3 A, 4–13 B, 14–17 C, 18–19 D), as the frame (id, cls) the
    freeze accepts."""
    import polars as pl

    from jianguan.core.bulk import read_frame

    ids = read_frame("SELECT id FROM registry_entity", [], {"id": pl.Int64})
    bins = dict(enumerate("AAAABBBBBBBBBBCCCCDD"))
    return ids.with_columns(cls=(pl.col("id") % 20).replace_strict(bins, return_dtype=pl.String))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="PostgreSQL URL of a database holding a synthetic registry")
    parser.add_argument("--items", type=int, default=200, help="target rules in the item list (default 200)")
    parser.add_argument("--inspectors", type=int, default=0,
                        help="inspectors (default 20,000 × entities / 15,000,000, at least 300)")
    parser.add_argument("--ratios", default="0,0.002,0.005,0.01",
                        help="task ratios A,B,C,D, or 'items' for the item list's own ratios")
    parser.add_argument("--slice", default="0.001", help="A-class control slice ratio")
    parser.add_argument("--classes", choices=["auto", "credit", "synthetic", "none"], default="auto")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--stop-after", choices=["freeze", "draw", "assign"], default="assign")
    parser.add_argument("--fresh", action="store_true",
                        help="before each run, delete every plan of this database (TRUNCATE … CASCADE: the visits, "
                             "selections and teams of earlier runs go too; for a database kept for benchmarks)")
    parser.add_argument("--keep-files", action="store_true",
                        help="keep each plan's files (candidates.csv and its Arrow copy: ≈ 4.5 GB for a province plan)")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.db
    # Plan files live under MEDIA_ROOT/draws/<plan id>: a directory of this database's own, so that plans of
    # another database with the same ids are never overwritten.
    name = args.db.rsplit("/", 1)[-1].split("?")[0]
    os.environ.setdefault("JIANGUAN_VAR_DIR", str(REPO_ROOT / "var" / f"bench-{name}"))
    import django

    django.setup()
    import logging

    logging.basicConfig(format="%(name)s: %(message)s")
    for name in ("jianguan.inspections.draws", "jianguan.inspections.assignment"):
        logging.getLogger(name).setLevel(logging.INFO)  # the phases of each step
    from django.db import connection

    from jianguan.core.models import Department, Division, Unit, User
    from jianguan.inspections import assignment, draws, services
    from jianguan.inspections.models import InspectionItem, InspectionPlan
    from jianguan.registry.models import Entity

    if connection.vendor != "postgresql":
        raise SystemExit("--db must be a PostgreSQL database")
    database = connection.settings_dict["NAME"]
    t_setup = time.perf_counter()
    entities = Entity.objects.count()
    if not entities:
        raise SystemExit("the database holds no registry: run `jianguan synth --scale city|province --load` first")
    counties = loaded_counties()
    ensure_organisation(counties)
    ensure_items(args.items)
    items = list(InspectionItem.objects.filter(active=True).select_related("department").order_by("code"))
    departments = sorted({i.department.code for i in items})
    n_inspectors = args.inspectors or max(300, round(PROVINCE_INSPECTORS * entities / PROVINCE_ENTITIES))
    provinces = sorted({c[:2] for c in counties})
    if len(provinces) != 1:
        raise SystemExit(f"the registry spans several provinces ({', '.join(provinces)}); one plan covers one")
    province = Division.objects.get(code=f"{provinces[0]}0000")
    unit = Unit.objects.get(code=f"{province.code}-samr")
    actor, _ = User.objects.get_or_create(username="bench_province", defaults={"full_name": "基准测试", "unit": unit})
    other, _ = User.objects.get_or_create(username="bench_province2", defaults={"full_name": "基准测试2", "unit": unit})
    ratios = None if args.ratios == "items" else dict(zip("ABCD", args.ratios.split(","), strict=True))

    from jianguan.credit.selectors import latest_month

    mode = args.classes
    if mode == "auto":
        mode = "credit" if latest_month() is not None else "synthetic"
    classes: Any = None
    setup = {"classes_s": 0.0}
    if mode == "synthetic":
        t0 = time.perf_counter()
        classes = synthetic_classes()
        setup["classes_s"] = time.perf_counter() - t0
    elif mode == "none":
        classes = {}
    print(f"inspections.province db={database} entities={entities} counties={len(counties)} items={len(items)} "
          f"departments={len(departments)} inspectors={n_inspectors} classes={mode} "
          f"ratios={args.ratios} slice={args.slice} setup_s={time.perf_counter() - t_setup:.1f} "
          f"synthetic_classes_s={setup['classes_s']:.1f}", flush=True)

    for run in range(args.runs):
        if args.fresh:  # untimed: PostgreSQL's autovacuum is off on the test machines, and every run's visits (updated
            # once each by the assignment) otherwise bloat the tables the next run writes, slowing it down run by run
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {connection.ops.quote_name(InspectionPlan._meta.db_table)} CASCADE")
                cursor.execute("CHECKPOINT")
        year = 2200 + InspectionPlan.objects.filter(name__startswith="省级基准计划").count()
        plan = services.plan_create(name=f"省级基准计划 {year}", year=year, unit=unit, actor=actor)
        for code in departments:
            services.task_create(plan, name=f"{code} 抽查", department=Department.objects.get(code=code),
                                 items=[i for i in items if i.department.code == code],
                                 scope_divisions=[province.code], period_start=dt.date(year, 4, 1),
                                 period_end=dt.date(year, 10, 31), ratios=ratios, a_slice_ratio=args.slice,
                                 actor=actor)
        services.plan_approve(plan, actor=actor)
        today = dt.date(year, 3, 1)
        out: dict[str, float] = {}
        plan = measure("freeze", database,
                       lambda plan=plan, today=today: draws.plan_freeze(plan, actor=actor, today=today,
                                                                              classes=classes), out)
        facts: dict[str, Any] = {"candidates": plan.candidates_count, "strata": plan.strata.count()}
        if args.stop_after != "freeze":
            facts["inspectors"] = ensure_inspectors(n_inspectors, inspector_demand(plan))
            draws.plan_randomness_enter(plan, f"bench {year}", actor=actor)
            plan = draws.plan_randomness_enter(plan, f"bench {year}", actor=other)
            plan = measure("draw", database, lambda plan=plan: draws.plan_draw(plan, actor=actor), out)
            facts.update(selections=plan.selections_count, visits=plan.visits_count, visits_saved=plan.visits_saved)
        if args.stop_after == "assign":
            result = measure("assign", database,
                             lambda plan=plan, today=today: assignment.plan_assign(plan, actor=actor, today=today), out)
            facts.update(teams=len(result.teams), rejections=len(result.rejections), failures=len(result.failures))
        phases = [p for p in ("freeze", "draw", "assign") if f"{p}_s" in out]
        for key in ("s", "cpu_s", "pg_cpu_s"):
            out[f"total_{key}"] = sum(out[f"{p}_{key}"] for p in phases)
        if not args.keep_files:
            shutil.rmtree(draws.plan_dir(plan), ignore_errors=True)
        load = os.getloadavg()
        print(f"inspections.province run={run + 1} plan={plan.pk} " + " ".join(f"{k}={v}" for k, v in facts.items())
              + " " + " ".join(f"{k}={v:.0f}" if k.endswith("_mb") else f"{k}={v:.2f}" for k, v in out.items())
              + f" peak_rss_mb={peak_rss_mb():.0f} load={load[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
