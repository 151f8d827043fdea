"""Benchmark: the complaints dashboard over a province year, and a unit's due-soon list, on PostgreSQL.

Usage:
  python bench/bench_complaints_dashboard.py [--cases 1650000] [--runs 3] [--reuse]
      [--db postgresql://postgres@127.0.0.1:5432/complaints_bench]

Loads `--cases` synthetic complaints/reports/consultations for all Shandong counties (the same generator as
`jianguan synth`, fed a fabricated entity frame so that the 15 million registry rows are not needed), unless
`--reuse` and the table already holds that many. Then times, as a province-wide superuser through the Django test
client: GET /staff/complaints/dashboard/ for the year (targets ≤ 2 s), and GET /staff/complaints/due/?unit=<county>
for the busiest county bureau (target ≤ 200 ms). The dashboard reads the province-wide summary
(`complaints.summary`), rebuilt here after the load (`--rebuild` forces it; its time is printed). Prints
`name key=value` lines with the median of the runs: wall time, this process's CPU time and the PostgreSQL
backend's CPU time (read from /proc: the server runs on this host), since on a loaded machine CPU-seconds are
the honest figure. `--raw` also times the same figures counted from the cases (no summary), for comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def load(cases: int) -> None:
    import numpy as np
    import polars as pl

    from jianguan.complaints import synth
    from jianguan.core.models import Division
    from jianguan.synth.context import SynthContext

    counties = list(Division.objects.filter(code__startswith="37", level="county", current=True)
                    .values_list("code", flat=True))
    n_entities = max(1000, cases // 10)
    synth.RATE_PER_ENTITY = cases / n_entities  # ~0.11 per entity per year in reality; fewer, busier entities here
    rng = np.random.default_rng(1)
    from jianguan.complaints.services import _station_towns

    towns_by_county: dict[str, list[str]] = {}
    for code, towns in _station_towns().items():
        towns_by_county.setdefault(code.split("-")[0], []).extend(towns)
    div = rng.choice(counties, size=n_entities)
    sections = rng.choice(list("FFFFHHHOOPPRRQICKG"), size=n_entities)
    streets = [(towns_by_county.get(d) or [""])[int(rng.integers(len(towns_by_county.get(d) or [""])))]
               for d in div]
    frame = pl.DataFrame({
        "id": np.arange(50_000_000, 50_000_000 + n_entities), "uscc": [f"BENCH{i:013d}" for i in range(n_entities)],
        "name": [f"压测商贸{i}号店" for i in range(n_entities)], "division": div, "industry": ["5212"] * n_entities,
        "section": sections, "is_ecommerce_platform": rng.random(n_entities) < 0.0005,
        "odr_enabled": rng.random(n_entities) < 0.01, "street": streets})
    ctx = SynthContext(seed=11, scale="province", divisions=counties, entities=frame, load=True,
                       today=dt.date(2026, 11, 20), out=io.StringIO())
    t0 = time.perf_counter()
    synth.generate(ctx)
    print(f"complaints_synth_load cases={ctx.facts.get('complaints')} seconds={time.perf_counter() - t0:.1f}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", type=int, default=1_650_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/complaints_bench")
    p.add_argument("--rebuild", action="store_true", help="rebuild the summary even when it is there")
    p.add_argument("--raw", action="store_true", help="also time the figures counted from the cases")
    args = p.parse_args()
    os.environ["DATABASE_URL"] = args.db
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db.models import Count
    from django.test import Client

    from jianguan.complaints.models import Case
    from jianguan.core.models import Unit, User
    from jianguan.core.services import org_bootstrap

    if not Unit.objects.filter(code="370000-samr").exists():
        org_bootstrap("370000")
    have = Case.objects.count()
    if not (args.reuse and have >= args.cases * 0.9):
        load(args.cases - have if args.reuse else args.cases)
    total = Case.objects.count()
    admin = User.objects.filter(username="bench_admin").first()
    if admin is None:
        admin = User.objects.create_superuser("bench_admin", password="Bench-admin-2026",  # noqa: S106
                                              unit=Unit.objects.get(code="370000-samr"))
    client = Client()
    client.force_login(admin)
    busiest = (Case.objects.exclude(status="closed").exclude(unit=None).values("unit__code").annotate(n=Count("id"))
               .order_by("-n").first())
    from django.core.cache import cache
    from django.db import connection

    from jianguan.complaints import analysis
    from jianguan.complaints.models import SummaryState
    from jianguan.complaints.summary import summary_rebuild

    def backend_cpu() -> float:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    today = dt.date(2026, 11, 20)
    if args.rebuild or not SummaryState.objects.exists():
        t, c = time.perf_counter(), time.process_time()
        r = summary_rebuild(today=today)
        print(f"complaints_summary_rebuild cases={Case.objects.count()} rows={r.rows} "
              f"wall_s={time.perf_counter() - t:.1f} cpu_s={time.process_time() - c:.1f}")
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE complaints_case")  # visibility map for the index-only scans
    timings: dict[str, list[tuple[float, float, float]]] = {
        "dashboard_cold": [], "dashboard_warm": [], "dashboard_text_cold": [], "due_list": [], "figures_raw": []}

    def timed(name: str, fn: Any) -> Any:
        b0, t0, c0 = backend_cpu(), time.perf_counter(), time.process_time()
        out = fn()
        timings[name].append((time.perf_counter() - t0, time.process_time() - c0, backend_cpu() - b0))
        return out

    for _ in range(args.runs):
        cache.clear()
        for name in ("dashboard_cold", "dashboard_warm"):
            r = timed(name, lambda: client.get("/staff/complaints/dashboard/?from=2025-11-20&to=2026-11-19"))
            assert r.status_code == 200, r.status_code
        r = timed("dashboard_text_cold",
                  lambda: client.get("/staff/complaints/dashboard/text/?from=2025-11-20&to=2026-11-19"))
        assert r.status_code == 200, r.status_code
        r = timed("due_list", lambda: client.get(f"/staff/complaints/due/?unit={busiest['unit__code']}"))
        assert r.status_code == 200
        if args.raw:
            timed("figures_raw", lambda: analysis.figures(admin, dt.date(2025, 11, 20), dt.date(2026, 11, 19),
                                                          use_summary=False))
    open_in_unit = busiest["n"]
    for name, values in timings.items():
        if values:
            wall = [v[0] for v in values]
            print(f"complaints_{name} cases={total} runs={len(values)} median_ms={statistics.median(wall) * 1000:.0f} "
                  f"min_ms={min(wall) * 1000:.0f} max_ms={max(wall) * 1000:.0f} "
                  f"cpu_ms={statistics.median(v[1] for v in values) * 1000:.0f} "
                  f"pg_cpu_ms={statistics.median(v[2] for v in values) * 1000:.0f}"
                  + (f" unit={busiest['unit__code']} open_in_unit={open_in_unit}" if name.startswith("due") else ""))


if __name__ == "__main__":
    main()
