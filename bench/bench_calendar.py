"""Benchmark of the working-day calendar: 1,000,000 add_working_days and add_calendar_days calls.

Run as `python bench/bench_calendar.py`. Start dates are random days from 2024-01-01 to 2026-09-30 (fixed seed)
so that every result stays inside the covered years; n is 1..60. Each measurement is repeated 5 times and
the median is printed as `calendar.<operation>_1M median_s=<seconds>`. Target: add_working_days ≤ 5 s.
"""

from __future__ import annotations

import datetime
import random
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from jianguan.core.domain.calendar import load_calendar  # noqa: E402

CALLS = 1_000_000
REPEATS = 5
SEED = 20250928


def main() -> None:
    calendar = load_calendar(REPO_ROOT / "rules" / "calendar")
    rng = random.Random(SEED)
    first = datetime.date(2024, 1, 1)
    span = (datetime.date(2026, 9, 30) - first).days
    starts = [first + datetime.timedelta(days=rng.randint(0, span)) for _ in range(CALLS)]
    counts = [rng.randint(1, 60) for _ in range(CALLS)]
    pairs = list(zip(starts, counts, strict=True))

    for name in ("add_working_days", "add_calendar_days"):
        method = getattr(calendar, name)
        timings = []
        for _ in range(REPEATS):
            began = time.perf_counter()
            for start, n in pairs:
                method(start, n)
            timings.append(time.perf_counter() - began)
        print(f"calendar.{name}_1M median_s={statistics.median(timings):.3f} "
              f"min_s={min(timings):.3f} max_s={max(timings):.3f} repeats={REPEATS}")


if __name__ == "__main__":
    main()
