"""Benchmark of the registry import: validate + upsert N rows (default 1,000,000) on SQLite or PostgreSQL.

    python bench/bench_registry_import.py --rows 1000000 --db sqlite
    python bench/bench_registry_import.py --rows 1000000 --db postgresql \
        --database-url postgresql://postgres@127.0.0.1:5432/registry_bench
    python bench/bench_registry_import.py --rows 100000 --format xlsx
    python bench/bench_registry_import.py --rows 1000000 --data /tmp/registry_1000000.csv   # reuse a kept file

The test file is generated with valid USCCs (``make_uscc``; deterministic seed), spread over Shandong's current
county-level divisions, GB/T 4754 classes and the three entity kinds. Each run starts from an empty registry
table (fresh SQLite file / fresh PostgreSQL database) and imports the file twice: ``create`` (every row new) and
``reimport`` (every row compared, none changed), each phase in a process of its own. Peak RSS is the importing
process's high-water mark plus its largest child's (a large CSV file is checked by a second process), read at the
end; CPU seconds count both processes.
Prints lines ``registry_import.<phase> key=value ...``; the target is ≥ 20,000 rows/s and ≤ 1.5 GB peak RSS.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

SEED = 20261122


def generate(path: Path, rows: int, fmt: str) -> None:
    from jianguan.core.domain.divisions import load_divisions
    from jianguan.registry.domain.industries import load_industries
    from jianguan.registry.domain.rows import ENTITY_HEADERS
    from jianguan.registry.domain.uscc import ALPHABET, make_uscc

    rng = random.Random(SEED)
    divisions = [d.code for d in load_divisions().values() if d.current and d.level == "county" and
                 d.code.startswith("37")]
    industries = [i.code for i in load_industries().values() if i.level == "class"]
    kinds = [("1", "企业", "有限责任公司"), ("2", "个体工商户", ""), ("3", "农民专业合作社", "")]
    statuses = ["存续", "存续", "存续", "在业", "歇业", "吊销", "注销", "迁出"]
    base = dt.date(1990, 1, 1).toordinal()
    n_alpha = len(ALPHABET)

    def body(n: int) -> str:
        out = []
        for _ in range(8):
            n, r = divmod(n, n_alpha)
            out.append(ALPHABET[r])
        return "".join(reversed(out))

    def records():
        for i in range(rows):
            div = divisions[i % len(divisions)]
            kt, kind, subtype = kinds[0] if i % 10 < 6 else kinds[1] if i % 10 < 9 else kinds[2]
            est = dt.date.fromordinal(base + rng.randrange(12_000))
            status = statuses[i % len(statuses)]
            yield [make_uscc("9", kt, div, body(i * 7 + 12345)), f"测试市场主体{i}号", kind, subtype, status,
                   (est + dt.timedelta(days=400)).isoformat() if status not in ("存续", "在业") else "",
                   f"{div}市场监督管理局", div, "某某街道", "人民路", f"{i % 300 + 1}号",
                   f"山东省某市某区人民路{i % 300 + 1}号", rng.choice(industries), est.isoformat(),
                   f"{rng.randrange(1, 100000)}.{rng.randrange(100):02d}" if kt == "1" else "", f"张{i % 1000}",
                   "日用百货销售；预包装食品销售", f"1380631{i % 10000:04d}"]

    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(ENTITY_HEADERS)
            w.writerows(records())
    else:
        import xlsxwriter

        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        ws = wb.add_worksheet("市场主体")
        ws.write_row(0, 0, ENTITY_HEADERS)
        for r, rec in enumerate(records(), 1):
            for c, v in enumerate(rec):
                if v:
                    ws.write_string(r, c, v)
        wb.close()


def peak_rss_mb() -> float:
    """Peak RSS of this process (its high-water mark, VmHWM) plus that of its largest finished child (the checking
    process of a large CSV file; ``ru_maxrss``): an upper bound of the two processes' peak together. Read once at the
    end, so nothing samples memory while the import runs (a 50 ms psutil poll of the process tree cost the importing
    process ≈ 7 % of a core and competed with it for the interpreter lock)."""
    hwm_kib = 0
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                hwm_kib = int(line.split()[1])
    children_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (hwm_kib + children_kib) / 1024


def run(args: argparse.Namespace) -> None:
    """One phase in this process (a process of its own per phase, so that its peak memory is the phase's)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from jianguan.registry.importer import run_import
    from jianguan.registry.models import Entity

    path = Path(args.file)
    rows = args.rows
    phase = args.phase
    server = server_cpu(connection)
    steps: dict[str, float] = {}

    def progress(step: str, done: int, total: int | None, counts: dict) -> None:
        steps.setdefault(step, time.perf_counter())  # when each step began: checking and writing, index rebuild

    began, cpu, checker = time.perf_counter(), own_cpu(), children_cpu()
    db_cpu = server()
    result = run_import(path, today=dt.date(2026, 11, 22), max_bytes=2**40, progress=progress)
    ended = time.perf_counter()
    seconds, cpu, checker = ended - began, own_cpu() - cpu, children_cpu() - checker
    rebuild = ended - steps.get("重建索引", ended)  # the secondary indexes built again, and the commit
    db_cpu = server() - db_cpu
    assert result.ok, (result.file_problem, result.errors[:5])
    # On PostgreSQL the server process does part of the work (index builds, constraint checks): its CPU time is
    # reported too, and rows per CPU-second counts both processes.
    total_cpu = cpu + db_cpu
    print(f"registry_import.{phase} db={connection.vendor} format={args.format} rows={rows} "
          f"seconds={seconds:.1f} rows_per_s={rows / seconds:.0f} write_s={seconds - rebuild:.1f} "
          f"rebuild_s={rebuild:.1f} cpu_s={cpu:.1f} checker_cpu_s={checker:.1f} db_cpu_s={db_cpu:.1f} "
          f"rows_per_cpu_s={rows / total_cpu:.0f} load1={os.getloadavg()[0]:.1f} "
          f"peak_rss_mb={peak_rss_mb():.0f} "
          f"created={result.created} updated={result.updated} unchanged={result.unchanged} "
          f"entities={Entity.objects.count()}", flush=True)


def children_cpu() -> float:
    """CPU seconds of this process's finished children: the checking process of a large CSV file."""
    t = os.times()
    return t.children_user + t.children_system


def own_cpu() -> float:
    """CPU seconds of this process and of its finished children (the checking process of a large CSV file)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def server_cpu(connection):
    """A function returning the CPU seconds used so far by this connection's PostgreSQL backend (0 on SQLite, whose
    work is in this process; 0 when the server runs on another host)."""
    import psutil

    if connection.vendor != "postgresql":
        return lambda: 0.0
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    try:
        backend = psutil.Process(pid)
        backend.cpu_times()
    except (psutil.Error, OSError):
        return lambda: 0.0

    def used() -> float:
        t = backend.cpu_times()
        return t.user + t.system

    return used


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/registry_bench")
    ap.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    ap.add_argument("--file", help=argparse.SUPPRESS)
    ap.add_argument("--keep", action="store_true", help="keep the generated file and database")
    ap.add_argument("--data", help="use this previously generated file instead of generating one")
    ap.add_argument("--phases", default="create,reimport",
                    help="comma-separated: create (every row new), reimport (every row unchanged; needs create first)")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not set(args.phases.split(",")) <= {"create", "reimport"}:
        ap.error(f"--phases: create and/or reimport, not {args.phases!r}")
    if args.file:  # child process: import only, so its peak RSS does not include the generator
        run(args)
        return
    work = Path(tempfile.mkdtemp(prefix="bench_registry_import_"))
    if args.data:  # a file generated by an earlier run (--keep), to skip the generation
        data = Path(args.data)
        args.keep = True
    else:
        data = work / f"registry_{args.rows}.{args.format}"
        began = time.perf_counter()
        generate(data, args.rows, args.format)
        print(f"registry_import.generate rows={args.rows} format={args.format} "
              f"bytes={data.stat().st_size} seconds={time.perf_counter() - began:.1f}", flush=True)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="jianguan.settings", JIANGUAN_VAR_DIR=str(work),
               JIANGUAN_DEBUG="0")
    if args.db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    else:
        dbname = args.database_url.rsplit("/", 1)[1]
        admin = args.database_url.rsplit("/", 1)[0] + "/postgres"
        import psycopg

        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
            conn.execute(f'CREATE DATABASE "{dbname}"')
        env["DATABASE_URL"] = args.database_url
    try:
        for phase in args.phases.split(","):
            subprocess.run([sys.executable, __file__, "--file", str(data), "--rows", str(args.rows), "--db", args.db,
                            "--format", args.format, "--phase", phase], env=env, check=True)
    finally:
        if not args.keep:
            data.unlink(missing_ok=True)
            for f in work.glob("bench.sqlite3*"):
                f.unlink()


if __name__ == "__main__":
    main()
