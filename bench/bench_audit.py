"""Benchmark: `jianguan audit verify` over 1,000,000 audit entries (target ≤ 30 s).

Usage: DATABASE_URL=... python bench/bench_audit.py [--entries 1000000] [--runs 3]
Builds the chain in a fresh database (SQLite file under bench/out/ by default), then times audit_verify().
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="verify an existing bench database without rebuilding")
    args = parser.parse_args()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        db = out / "audit.sqlite3"
        if not args.reuse:
            db.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from jianguan.core.audit import AuditEvent, audit_record_many, audit_verify
    from jianguan.core.models import AuditChainHead, AuditEntry

    started = time.perf_counter()
    batch = 20_000
    if not args.reuse:
        AuditEntry.objects.all().delete()
        AuditChainHead.objects.all().delete()
    for start in range(0, 0 if args.reuse else args.entries, batch):
        events = [AuditEvent(action="update", object_type="registry.entity", object_id=str(i),
                             object_repr=f"威海市文登区测试商贸有限公司{i}", before={"status": "active"},
                             after={"status": "cancelled", "status_date": "2026-10-01"}, reason="注销登记")
                  for i in range(start, min(start + batch, args.entries))]
        audit_record_many(events)
    build = time.perf_counter() - started
    times, cpu = [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = audit_verify()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        assert result.ok and result.checked == args.entries, result
    vendor = django.db.connection.vendor
    print(f"audit.build entries={args.entries} db={vendor} seconds={build:.1f}")
    print(f"audit.verify entries={args.entries} db={vendor} runs={args.runs} median_s={statistics.median(times):.2f} "
          f"min_s={min(times):.2f} cpu_median_s={statistics.median(cpu):.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
