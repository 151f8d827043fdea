"""Benchmark of the synthetic data generator (`jianguan synth`).

Times, through the real command line:
  * county (文登区, 70,000 entities) to Parquet — median of --runs runs;
  * city (济南市, 1.3 million) to Parquet — median of --runs runs;
  * city loaded into PostgreSQL (database ``jianguan_bench_synth``, created and migrated here) — once per run,
    with the wall time, the CPU time of the loader (client) and of its PostgreSQL backend (server, when local;
    the parallel workers of the index builds are not counted), and the load average before and after;
  * with --province: province (山东省, 15 million) to Parquet, once, if `df` shows enough free space.

Prints lines ``name key=value``. Usage:
    .venv/bin/python bench/bench_synth.py [--runs 3] [--load-runs 1] [--skip-parquet] [--skip-load] [--province] [--pg postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PSQL = shutil.which("psql") or "/usr/bin/psql"
JIANGUAN = str(REPO / ".venv" / "bin" / "jianguan")
BENCH_DB = "jianguan_bench_synth"


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run([JIANGUAN, *args], env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.stdout:
        sys.stderr.write(proc.stdout[-1500:])
    if proc.returncode:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"failed: jianguan {' '.join(args)}")
    return elapsed, proc.stdout


def generator_seconds(stdout: str) -> float:
    """The generator's own time (without Django start-up), from its last line 市场主体合计 N，用时 Xs."""
    m = re.search(r"市场主体合计 \d+，用时 ([\d.]+)s", stdout)
    return float(m.group(1)) if m else float("nan")


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("*.parquet"))


def bench_parquet(name: str, scale: str, runs: int, env: dict[str, str], work: Path, workers: int = 1) -> None:
    walls, gens, size = [], [], 0
    for i in range(runs):
        out = work / f"{scale}-{i}"
        wall, stdout = run(["synth", "--scale", scale, "--seed", "2026", "--out", str(out), "--registry-only",
                            "--workers", str(workers)], env)
        walls.append(wall)
        gens.append(generator_seconds(stdout))
        size = dir_bytes(out)
        shutil.rmtree(out)
    print(f"{name} workers={workers} runs={runs} wall_median_s={statistics.median(walls):.1f} "
          f"generator_median_s={statistics.median(gens):.1f} min_s={min(walls):.1f} max_s={max(walls):.1f} "
          f"parquet_mb={size / 1e6:.0f}", flush=True)


def server_cpu_seconds(stdout: str) -> float:
    """CPU time of the PostgreSQL backend that did the load, as the loader reports it (local server only)."""
    m = re.search(r"server_cpu_s=([\d.]+)", stdout)
    return float(m.group(1)) if m else float("nan")


def bench_pg_load(runs: int, pg: str, env: dict[str, str], workers: int = 2) -> None:
    admin = pg.rstrip("/") + "/postgres"
    subprocess.run([PSQL, admin, "-q", "-c", f"DROP DATABASE IF EXISTS {BENCH_DB}"], check=True)
    subprocess.run([PSQL, admin, "-q", "-c", f"CREATE DATABASE {BENCH_DB}"], check=True)
    db_env = {**env, "DATABASE_URL": f"{pg.rstrip('/')}/{BENCH_DB}"}
    run(["migrate", "-v0"], db_env)
    walls, gens, clients, servers = [], [], [], []
    load_before = os.getloadavg()[0]
    for i in range(runs):
        args = ["synth", "--scale", "city", "--seed", str(2026 + i), "--load", "--registry-only",
                "--workers", str(workers)]
        if i:
            args.append("--replace")
        cpu0 = children_cpu_s()
        wall, stdout = run(args, db_env)
        clients.append(children_cpu_s() - cpu0)
        servers.append(server_cpu_seconds(stdout))
        walls.append(wall)
        gens.append(generator_seconds(stdout))
    size = subprocess.run([PSQL, admin, "-tAc", f"SELECT pg_database_size('{BENCH_DB}')"], capture_output=True,
                          text=True, check=True).stdout.strip()
    print(f"synth_city_load_postgresql entities=1300000 runs={runs} wall_median_s={statistics.median(walls):.1f} "
          f"generate_and_copy_median_s={statistics.median(gens):.1f} first_s={walls[0]:.1f} "
          f"client_cpu_median_s={statistics.median(clients):.1f} server_cpu_median_s={statistics.median(servers):.1f} "
          f"workers={workers} db_mb={int(size) / 1e6:.0f} loadavg_before={load_before:.1f} "
          f"loadavg_after={os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--load-runs", type=int, default=1)
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-parquet", action="store_true")
    parser.add_argument("--province", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="processes for the province run")
    parser.add_argument("--load-workers", type=int, default=2,
                        help="generator processes for the PostgreSQL load (generation overlaps the COPY)")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    # --out needs no database; keep Django's default SQLite file out of the way
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{work / 'unused.sqlite3'}"}
    try:
        if not opts.skip_parquet:
            bench_parquet("synth_county_parquet entities=70000", "county", opts.runs, env, work)
            bench_parquet("synth_city_parquet entities=1300000", "city", opts.runs, env, work)
        if not opts.skip_load:
            bench_pg_load(opts.load_runs, opts.pg, env, opts.load_workers)
        if opts.province:
            free = shutil.disk_usage(work).free
            if free < 10e9:
                print(f"synth_province_parquet skipped=low_disk free_gb={free / 1e9:.0f}")
            else:
                bench_parquet("synth_province_parquet entities=15000000", "province", 1, env, work, opts.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
