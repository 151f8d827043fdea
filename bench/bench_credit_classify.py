"""Benchmark: the monthly credit-risk classification end to end, and the same scoring as one plain SQL query.

Usage:
  python bench/bench_credit_classify.py --entities 1300000            # SQLite file under bench/out/
  DATABASE_URL=postgresql://postgres@127.0.0.1:5432/credit_bench python bench/bench_credit_classify.py \
      --entities 15000000
Targets: city (1.3 M) on SQLite ≤ 60 s end to end; province (15 M) on PostgreSQL compute ≤ 120 s, write ≤ 5 min,
peak memory ≤ 8 GB.

Data: minimal registry rows written in bulk (entities over 10 counties of 济南, annual reports for 2024-2025 with
~8 % missing and ~5 % late, valid licences for ~12 %, 1 % of entities with penalties over 3 years, 3 % on the
abnormal list, 0.1 % on the serious list). With --previous-month the month before is classified first (untimed),
so the association feature (same legal representative as a C/D entity of last month) has work to do, as in a real
month. Each classification run is timed (read / compute / write from the pipeline's own timings, and wall clock;
on a local PostgreSQL also the server's CPU, see ServerCpu); the median of --runs is printed. The plain SQL query
computes the same credit-owned factors, score and class for every entity in one statement and returns the count
per class.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

from pgcpu import ServerCpu, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
MONTH = dt.date(2026, 10, 1)
TODAY = dt.date(2026, 11, 20)
AS_OF = dt.date(2026, 10, 31)


def generate(n: int) -> dict[str, float]:
    import numpy as np
    import polars as pl
    from django.db import connection

    from jianguan.core.bulk import replace_rows
    from jianguan.core.models import Department, Division, Unit
    from jianguan.registry.models import Industry

    rng = np.random.default_rng(2026)
    counties = list(Division.objects.filter(code__startswith="3701", level="county", current=True)
                    .values_list("code", flat=True))[:10]
    industries = list(Industry.objects.filter(level="class").values_list("code", flat=True))
    dept, _ = Department.objects.get_or_create(code="samr", defaults={"name": "市场监管", "is_market_regulation": True})
    unit, _ = Unit.objects.get_or_create(code="bench-unit", defaults={
        "name": "基准测试局", "kind": "bureau", "department": dept, "division_id": counties[0]})
    t0 = time.perf_counter()
    ids = np.arange(1, n + 1, dtype=np.int64)
    division = np.array(counties)[rng.integers(0, len(counties), n)]
    established = (np.datetime64("2026-10-01") - rng.integers(30, 365 * 25, n).astype("timedelta64[D]"))
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    names = [f"法人{i}" for i in range(n // 3 + 1)]
    entities = pl.DataFrame({
        "id": ids,
        "uscc": [f"91{d}{i:010d}" for d, i in zip(division, ids, strict=True)],
        "name": [f"基准测试商贸有限公司{i}" for i in ids],
        "kind": np.where(rng.random(n) < 0.6, "individual", "enterprise"),
        "subtype": "", "status": np.where(rng.random(n) < 0.93, "active", "cancelled"),
        "registration_authority": "基准测试局", "division_id": division, "street": "", "road": "",
        "house_number": "", "address": "山东省济南市",
        "industry_id": np.array(industries)[rng.integers(0, len(industries), n)],
        "established_on": pl.Series(established).cast(pl.Date),
        "legal_representative": np.array(names)[rng.integers(0, len(names), n)],
        "business_scope": "", "phone": "", "is_ecommerce_platform": False, "odr_enabled": False,
        "created_at": now, "updated_at": now,
    })
    est_year = entities["established_on"].dt.year().to_numpy()
    report_parts = []
    for year in (2024, 2025):
        eligible = ids[est_year <= year]
        r = rng.random(eligible.size)
        filed = eligible[r >= 0.08]
        late = rng.random(filed.size) < 0.05
        filed_on = np.where(late, np.datetime64(f"{year + 1}-08-15"), np.datetime64(f"{year + 1}-04-20"))
        report_parts.append(pl.DataFrame({"entity_id": filed, "year": year,
                                          "filed_on": pl.Series(filed_on).cast(pl.Date), "on_time": ~late}))
    reports = pl.concat(report_parts)
    lic_ids = ids[rng.random(n) < 0.12]
    licences = pl.DataFrame({
        "entity_id": lic_ids, "type": np.array(["food_business", "food_production", "drug_business",
                                                 "special_equipment"])[rng.integers(0, 4, lic_ids.size)],
        "number": [f"L{i}" for i in lic_ids], "issuer": "基准测试局", "valid_from": dt.date(2022, 1, 1),
        "valid_to": dt.date(2027, 1, 1), "status": "valid"})
    pen_ids = ids[rng.random(n) < 0.01]
    pen_days = rng.integers(1, 3 * 365, pen_ids.size).astype("timedelta64[D]")
    penalties = pl.DataFrame({
        "entity_id": pen_ids, "decision_number": [f"P{i}" for i in pen_ids],
        "decided_on": pl.Series(np.datetime64("2026-10-31") - pen_days).cast(pl.Date),
        "severity": np.array(["minor", "general", "general", "heavy"])[rng.integers(0, 4, pen_ids.size)],
        "amount": 1000, "violation": "基准", "unit_id": unit.pk, "published_on": None, "public_until": None,
    }).with_columns(pl.col("published_on").cast(pl.Date), pl.col("public_until").cast(pl.Date))
    ab_ids = ids[rng.random(n) < 0.03]
    abnormal = pl.DataFrame({
        "entity_id": ab_ids, "ground": "annual_report", "decision_number": [f"A{i}" for i in ab_ids],
        "entered_on": pl.Series(np.datetime64("2026-10-31")
                                - rng.integers(1, 4 * 365, ab_ids.size).astype("timedelta64[D]")).cast(pl.Date),
        "unit_id": unit.pk, "reason": "", "removal_reason": "", "removal_decision_number": "", "repaired": False,
    })
    se_ids = ids[rng.random(n) < 0.001]
    serious = pl.DataFrame({
        "entity_id": se_ids, "decision_number": [f"S{i}" for i in se_ids], "reason": "基准",
        "unit_id": unit.pk, "entered_on": dt.date(2025, 3, 1), "earliest_removal_on": dt.date(2026, 3, 1),
        "auto_removal_on": dt.date(2028, 3, 1), "removal_reason": "", "repaired": False})
    t_gen = time.perf_counter() - t0
    t1 = time.perf_counter()
    for table, frame in (("registry_entity", entities), ("registry_annualreport", reports),
                         ("registry_licence", licences), ("credit_penalty", penalties),
                         ("credit_abnormallisting", abnormal), ("credit_seriouslisting", serious)):
        replace_rows(table, "1 = 0", [], frame)  # bulk append (ADBC ingest on SQLite, COPY on PostgreSQL)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"generate_s": t_gen, "load_s": time.perf_counter() - t1, "entities": n, "reports": reports.height,
            "penalties": penalties.height, "abnormal": abnormal.height}


def plain_sql(vendor: str) -> str:
    """The v1 model's credit-owned factors, score and class for every operating entity, in one statement."""
    from jianguan.credit.domain.months import add_years
    from jianguan.credit.domain.scoring import decay_weight

    least = "MIN" if vendor == "sqlite" else "LEAST"
    y1, y2 = add_years(AS_OF, -1), add_years(AS_OF, -2)
    since3 = add_years(AS_OF, -3)

    def q(d: dt.date) -> str:
        return f"'{d.isoformat()}'" if vendor == "sqlite" else f"DATE '{d.isoformat()}'"

    def decayed(sev: str, hl: float) -> str:
        w = [decay_weight(k, hl) for k in range(3)]
        return (f"SUM(CASE WHEN severity = '{sev}' THEN (CASE WHEN decided_on > {q(y1)} THEN {w[0]} "
                f"WHEN decided_on > {q(y2)} THEN {w[1]} ELSE {w[2]} END) ELSE 0 END)")

    return f"""
WITH base AS (
  SELECT e.id, e.established_on FROM registry_entity e
  WHERE e.status IN ('active', 'suspended') AND e.established_on <= {q(AS_OF)}),
ar AS (
  SELECT b.id,
    (CASE WHEN b.established_on <= '2024-12-31' AND r1.id IS NULL THEN 1 ELSE 0 END)
    + (CASE WHEN b.established_on <= '2025-12-31' AND r2.id IS NULL THEN 1 ELSE 0 END) AS missing,
    (CASE WHEN r1.filed_on > '2025-06-30' THEN 1 ELSE 0 END) + (CASE WHEN r2.filed_on > '2026-06-30' THEN 1 ELSE 0 END)
      AS late
  FROM base b
  LEFT JOIN registry_annualreport r1 ON r1.entity_id = b.id AND r1.year = 2024 AND r1.filed_on <= {q(AS_OF)}
  LEFT JOIN registry_annualreport r2 ON r2.entity_id = b.id AND r2.year = 2025 AND r2.filed_on <= {q(AS_OF)}),
ab AS (
  SELECT entity_id, MAX(CASE WHEN removed_on IS NULL OR removed_on > {q(AS_OF)} THEN 1 ELSE 0 END) AS on_list,
    SUM(CASE WHEN entered_on > {q(since3)} THEN 1 ELSE 0 END) AS n3
  FROM credit_abnormallisting WHERE entered_on <= {q(AS_OF)} GROUP BY entity_id),
se AS (
  SELECT entity_id, 1 AS on_list FROM credit_seriouslisting WHERE entered_on <= {q(AS_OF)}
    AND (removed_on IS NULL OR removed_on > {q(AS_OF)}) GROUP BY entity_id),
pe AS (
  SELECT entity_id, {decayed('minor', 12)} AS minor, {decayed('general', 18)} AS general,
    {decayed('heavy', 24)} AS heavy
  FROM credit_penalty WHERE decided_on > {q(since3)} AND decided_on <= {q(AS_OF)} GROUP BY entity_id),
hr AS (
  SELECT entity_id, 1 AS high FROM registry_licence WHERE status = 'valid'
    AND type IN ('food_production', 'drug_business', 'medical_device', 'special_equipment')
  GROUP BY entity_id),
scored AS (
  SELECT b.id,
    {least}(COALESCE(ar.missing, 0) * 12, 24) + {least}(COALESCE(ar.late, 0) * 4, 8)
    + COALESCE(ab.on_list, 0) * 15 + {least}(COALESCE(ab.n3, 0) * 3, 9) + COALESCE(se.on_list, 0) * 40
    + ROUND({least}(COALESCE(pe.minor, 0) * 2, 6), 2) + ROUND({least}(COALESCE(pe.general, 0) * 8, 24), 2)
    + ROUND({least}(COALESCE(pe.heavy, 0) * 20, 40), 2)
    + (CASE WHEN b.established_on > {q(add_years(AS_OF, -1))} THEN 5 ELSE 0 END)
    + (CASE WHEN b.established_on <= {q(add_years(AS_OF, -3))} THEN -5 ELSE 0 END)
    + COALESCE(hr.high, 0) * 6 AS score,
    COALESCE(se.on_list, 0) AS serious, COALESCE(ab.on_list, 0) AS abnormal
  FROM base b LEFT JOIN ar ON ar.id = b.id LEFT JOIN ab ON ab.entity_id = b.id
  LEFT JOIN se ON se.entity_id = b.id LEFT JOIN pe ON pe.entity_id = b.id LEFT JOIN hr ON hr.entity_id = b.id)
SELECT cls, COUNT(*) FROM (
  SELECT CASE WHEN serious = 1 OR score >= 35 THEN 'D' WHEN abnormal = 1 OR score >= 15 THEN 'C'
              WHEN score >= 0 THEN 'B' ELSE 'A' END AS cls FROM scored) t
GROUP BY cls ORDER BY cls"""  # noqa: S608 — built from constants


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=1_300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="reuse the database generated by a previous run")
    parser.add_argument("--clear-month", action="store_true",
                        help="delete the month's results before each run (not timed): time a first classification "
                             "of the month instead of a re-run")
    parser.add_argument("--drop-name-search-indexes", action="store_true",
                        help="PostgreSQL: drop the registry's GIN name-search indexes in the bench database before "
                             "loading (they make bulk loading ~10x slower and play no part in classification)")
    parser.add_argument("--previous-month", action="store_true",
                        help="classify the month before first (not timed, skipped when it has results): the timed "
                             "runs then count associations with last month's C/D entities, as a real month does")
    args = parser.parse_args()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        db = out / f"credit_{args.entities}.sqlite3"
        if not args.reuse:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from jianguan.credit.classification import classification_run
    from jianguan.credit.domain.months import previous_month
    from jianguan.credit.models import RiskResult

    call_command("migrate", verbosity=0)
    vendor = connection.vendor
    label = f"credit.classify db={vendor} entities={args.entities}"
    if not args.reuse:
        if vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE credit_riskresult, credit_classificationrun, credit_seriouslisting, "
                               "credit_abnormalcandidate, credit_abnormalcandidatebatch, credit_seriouscandidate, "
                               "credit_creditrepair, credit_abnormallisting, credit_penalty, registry_annualreport, "
                               "registry_licence, registry_entitylabel, registry_premises, registry_entity CASCADE")
        if vendor == "postgresql" and args.drop_name_search_indexes:
            with connection.cursor() as cursor:
                cursor.execute("DROP INDEX IF EXISTS registry_entity_name_trgm_idx")
                cursor.execute("DROP INDEX IF EXISTS registry_entity_name_bigram_idx")
        info = generate(args.entities)
        print(f"{label} step=generate " + " ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                                   for k, v in info.items()), flush=True)
    if args.previous_month and not RiskResult.objects.filter(month=previous_month(MONTH)).exists():
        t0 = time.perf_counter()
        prev = classification_run(previous_month(MONTH), today=TODAY)
        print(f"{label} step=previous-month wall_s={time.perf_counter() - t0:.1f} counts={prev.counts}", flush=True)
    walls, reads, computes, writes, cpus = [], [], [], [], []
    for i in range(args.runs):
        if args.clear_month:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM credit_riskresult WHERE month = %s", [MONTH])
                if vendor == "postgresql":
                    cursor.execute("VACUUM credit_riskresult")
        server = ServerCpu(connection.settings_dict["NAME"]) if vendor == "postgresql" else None
        marks: dict[str, float | None] = {}

        def progress(step: str, done: int, total: int | None, server: ServerCpu | None = server,
                     marks: dict[str, float | None] = marks) -> None:
            if step == "计算分值与分类" and server is not None:  # the read phase has ended
                marks["read"] = server.seconds

        t0, c0 = time.perf_counter(), time.process_time()
        with server or contextlib.nullcontext():
            outcome = classification_run(MONTH, today=TODAY, progress=progress)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        server_s = server.seconds if server is not None else None
        server_text = "n/a" if server_s is None or marks.get("read") is None \
            else f"{server_s:.1f} (read {marks['read']:.1f})"
        walls.append(wall)
        reads.append(outcome.timings["read"])
        computes.append(outcome.timings["compute"])
        writes.append(outcome.timings["write"])
        tm = outcome.timings
        cpus.append(cpu)
        print(f"{label} run={i + 1} wall_s={wall:.1f} process_cpu_s={cpu:.1f} read_s={tm['read']:.1f} "
              f"compute_s={tm['compute']:.1f} write_s={tm['write']:.1f} read_cpu_s={tm['read_cpu']:.1f} "
              f"score_write_cpu_s={tm['score_write_cpu']:.1f} summary_cpu_s={tm['summary_cpu']:.1f} "
              f"server_cpu_s={server_text} counts={outcome.counts} peak_rss_mb={peak_rss_mb():.0f} "
              f"load={os.getloadavg()[0]:.1f}", flush=True)
    if not walls:  # --runs 0: generate (or migrate) only
        return
    sql = plain_sql(vendor)
    sql_times, sql_cpus, sql_server_cpus = [], [], []
    for _ in range(args.runs):
        # Process CPU includes the engine only on SQLite (in-process); PostgreSQL's is in the server process.
        server = ServerCpu(connection.settings_dict["NAME"]) if vendor == "postgresql" else None
        t0, c0 = time.perf_counter(), time.process_time()
        with server or contextlib.nullcontext(), connection.cursor() as cursor:
            cursor.execute(sql)
            sql_counts = dict(cursor.fetchall())
        sql_times.append(time.perf_counter() - t0)
        sql_cpus.append(time.process_time() - c0)
        if server is not None and server.seconds is not None:
            sql_server_cpus.append(server.seconds)
    pipeline = statistics.median(r + c for r, c in zip(reads, computes, strict=True))
    sql_s = statistics.median(sql_times)
    print(f"{label} median_wall_s={statistics.median(walls):.1f} median_process_cpu_s={statistics.median(cpus):.1f} "
          f"median_read_s={statistics.median(reads):.1f} "
          f"median_compute_s={statistics.median(computes):.1f} median_write_s={statistics.median(writes):.1f} "
          f"peak_rss_mb={peak_rss_mb():.0f} results={RiskResult.objects.filter(month=MONTH).count()}")
    pipeline_cpu = statistics.median(cpus)
    sql_server = f"{statistics.median(sql_server_cpus):.1f}" if sql_server_cpus else "n/a"
    print(f"{label} plain_sql_median_cpu_s={statistics.median(sql_cpus):.1f} plain_sql_server_cpu_s={sql_server} "
          f"pipeline_median_cpu_s={pipeline_cpu:.1f} (read + score + write + summary: scoring overlaps the write)")
    print(f"{label} plain_sql_median_s={sql_s:.1f} pipeline_read_compute_median_s={pipeline:.1f} "
          f"ratio={pipeline / sql_s:.2f} sql_counts={sql_counts}")


if __name__ == "__main__":
    main()
