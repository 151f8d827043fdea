"""Benchmark of the draw domain at province scale: freeze (candidates.csv + manifest), draw_all, assign_inspectors.

Run as `python bench/bench_draw.py [--rows 15000000] [--strata 20000] [--visits 100000] [--inspectors 20000]`.
Synthetic data with a fixed seed: `rows` candidate rows (18-character USCC-like strings) spread over `strata`
strata of random sizes, ratios 0.02/0.05/0.1/0.2 by risk class; then `visits` visits (samr plus 0-2 of 7 other
departments, in 140 counties; samr inspectors hold 4 of 7 categories, a visit needs one) staffed from
`inspectors` inspectors (half samr; a random county for 99 %, province-wide for 1 %), min team 2, cap 100,
interval 365 days with 50,000 recent inspections. Each measurement is repeated (`--repeats`, default 3); the
median wall time and the median CPU time of the process are printed as `draw.<name> median_s=… cpu_s=…`,
peak memory as the maximum resident set size so far. Target (issue 5): the whole province pipeline ≤ 60 s,
≤ 8 GB.
"""

from __future__ import annotations

import argparse
import datetime
import random
import resource
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from jianguan.inspections.domain.assign import Inspector, Visit, assign_inspectors  # noqa: E402
from jianguan.inspections.domain.draw import (  # noqa: E402
    build_manifest,
    candidates_csv,
    commitment_of,
    draw_all,
    seed_of,
)

RATIOS = {"A": Decimal("0.02"), "B": Decimal("0.05"), "C": Decimal("0.1"), "D": Decimal("0.2")}
DEPARTMENTS = ["samr", "tax", "hrss", "mee", "mem", "nhc", "customs", "culture"]
PROVINCE_WIDE = 0.01  # share of inspectors without a county (candidates for every visit of their department)
SAMR_CATEGORIES = ["登记注册", "食品安全", "特种设备", "计量", "价格", "广告", "产品质量"]


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def timed(fn, repeats: int):
    timings, cpu = [], []
    result = None
    for _ in range(repeats):
        result = None
        began, began_cpu = time.perf_counter(), time.process_time()
        result = fn()
        timings.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
    return result, (timings, cpu)


def report(name: str, measured: tuple[list[float], list[float]], **extra) -> None:
    timings, cpu = measured
    fields = " ".join(f"{k}={v}" for k, v in extra.items())
    print(
        f"draw.{name} median_s={statistics.median(timings):.2f} min_s={min(timings):.2f} max_s={max(timings):.2f} "
        f"cpu_s={statistics.median(cpu):.2f} repeats={len(timings)} {fields} peak_rss_gb={peak_gb():.2f}",
        flush=True,
    )


def make_strata(rows: int, strata: int, rng: random.Random) -> dict[str, tuple[list[str], Decimal]]:
    weights = [rng.random() + 0.2 for _ in range(strata)]
    total = sum(weights)
    sizes = [max(1, int(rows * w / total)) for w in weights]
    sizes[-1] += rows - sum(sizes)
    counter = 0
    out: dict[str, tuple[list[str], Decimal]] = {}
    for index, size in enumerate(sizes):
        cls = "ABCD"[index % 4]
        county = 370100 + (index // 4) % 140
        key = f"T{index // 560}:SCJG-{(index // 4) % 200:03d}:{cls}:{county}"
        out[key] = ([f"91{county}{n:010d}" for n in range(counter, counter + size)], RATIOS[cls])
        counter += size
    return out


def make_assignment(visits: int, inspectors: int, rng: random.Random):
    counties = [str(370100 + i) for i in range(140)]
    people = []
    for i in range(inspectors):
        department = DEPARTMENTS[0] if rng.random() < 0.5 else rng.choice(DEPARTMENTS[1:])
        own = SAMR_CATEGORIES if department == "samr" else [department]
        quals = frozenset(rng.sample(own, min(len(own), 4)))
        area = "" if rng.random() < PROVINCE_WIDE else rng.choice(counties)
        conflicts = frozenset({f"91{area or 370100}{rng.randrange(10**9):010d}"}) if i % 7 == 0 else frozenset()
        people.append(Inspector(str(i), department, quals, active=i % 13 != 0, conflicts=conflicts, area=area))
    visit_list = []
    for v in range(visits):
        county = counties[v % len(counties)]
        uscc = f"91{county}{v:010d}"
        departments = [DEPARTMENTS[0], *rng.sample(DEPARTMENTS[1:], rng.choice((0, 0, 1, 2)))]
        needs = {d: frozenset([rng.choice(SAMR_CATEGORIES) if d == "samr" else d]) for d in departments}
        visit_list.append(Visit(f"V{v:07d}", uscc, needs, area=county))
    recent = {
        (str(rng.randrange(inspectors)), f"91{counties[v % 140]}{v:010d}"): datetime.date(2025, 6, 1)
        for v in rng.sample(range(visits), min(50_000, visits))
    }
    return visit_list, people, recent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=15_000_000)
    parser.add_argument("--strata", type=int, default=20_000)
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--inspectors", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-draw", action="store_true")
    args = parser.parse_args()
    rng = random.Random(20260302)

    if not args.skip_draw:
        began = time.perf_counter()
        strata = make_strata(args.rows, args.strata, rng)
        print(f"draw.generate rows={args.rows} strata={len(strata)} s={time.perf_counter() - began:.1f}", flush=True)

        def freeze():
            data = candidates_csv({k: v[0] for k, v in strata.items()})
            manifest = build_manifest(
                "bench", data, {k: v[1] for k, v in strata.items()}, {k: len(v[0]) for k, v in strata.items()}
            )
            return len(data), commitment_of(manifest)

        (size, commitment), timings = timed(freeze, args.repeats)
        report("freeze", timings, rows=args.rows, strata=len(strata), csv_mb=round(size / 2**20))
        seed = seed_of(commitment, "bench 417")
        draws, timings = timed(lambda: draw_all(seed, strata), args.repeats)
        selected = sum(d.take for d in draws)
        report("draw_all", timings, rows=args.rows, strata=len(strata), selected=selected)
        del strata, draws

    visits, people, recent = make_assignment(args.visits, args.inspectors, rng)
    seed = seed_of("0" * 64, "bench")

    def run():
        return assign_inspectors(
            seed, visits, people, recent=recent, interval_days=365, today=datetime.date(2026, 3, 2), cap=100
        )

    result, timings = timed(run, args.repeats)
    report(
        "assign_inspectors",
        timings,
        visits=args.visits,
        inspectors=args.inspectors,
        teams=len(result.teams),
        failures=len(result.failures),
        rejections=len(result.rejections),
    )


if __name__ == "__main__":
    main()
