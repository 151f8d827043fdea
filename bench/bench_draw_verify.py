"""Benchmark of the standalone verifier on a province-scale draw export.

Run as `python bench/bench_draw_verify.py [--candidates 2000000] [--strata 3000] [--ratio 0.05]`.
Writes an export (candidates.csv, manifest.json, draw.json, verify_draw.py) into a temporary directory with
the domain code: `candidates` USCC-like rows over `strata` strata of random sizes (fixed seed), every stratum
at `ratio` (2,000,000 x 0.05 = 100,000 selections, plus the rounding up), 200 selected entities deregistered
and replaced by alternates. Then runs `python -I -S verify_draw.py DIR` in a fresh process (standard library
only, as the public would) `--repeats` times (default 3) and prints
`draw.verify median_s=… cpu_s=… selected=…`; it fails unless the verifier prints MATCH.
Target (issue 5): ≤ 60 s.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))

from jianguan.inspections.domain.draw import (  # noqa: E402
    build_manifest,
    candidates_csv,
    commitment_of,
    draw_all,
    draw_json,
    export_files,
    replace_deregistered,
    seed_of,
)
from jianguan.inspections.domain.verify import verifier_source  # noqa: E402


def write_export(directory: Path, candidates: int, strata_count: int, ratio: Decimal, rng: random.Random) -> int:
    weights = [rng.random() + 0.2 for _ in range(strata_count)]
    total = sum(weights)
    sizes = [max(1, int(candidates * w / total)) for w in weights]
    sizes[-1] += candidates - sum(sizes)
    strata: dict[str, list[str]] = {}
    counter = 0
    for index, size in enumerate(sizes):
        county = 370100 + index % 140
        key = f"T{index // 600}:SCJG-{index % 200:03d}:{'ABCD'[index % 4]}:{county}"
        strata[key] = [f"91{county}MA{n:08d}" for n in range(counter, counter + size)]
        counter += size
    data = candidates_csv(strata)
    manifest = build_manifest(
        "bench-province", data, dict.fromkeys(strata, ratio), {k: len(v) for k, v in strata.items()}
    )
    commitment = commitment_of(manifest)
    randomness = "福彩3D 2026054 417 / 见证人 3815"
    seed = seed_of(commitment, randomness)
    draws = draw_all(seed, {k: (v, ratio) for k, v in strata.items()})
    selected = [u for d in draws for u, _ in d.selected]
    _, used = replace_deregistered(draws, set(rng.sample(selected, 200)))
    document = draw_json(commitment, randomness, seed, draws, used)
    files = export_files(data, manifest, document)
    files["verify_draw.py"] = verifier_source()
    for name, content in files.items():
        (directory / name).write_bytes(content)
    return len(selected)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=2_000_000)
    parser.add_argument("--strata", type=int, default=3_000)
    parser.add_argument("--ratio", default="0.05")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-draw-verify-") as tmp:
        directory = Path(tmp)
        began = time.perf_counter()
        selected = write_export(directory, args.candidates, args.strata, Decimal(args.ratio), random.Random(20260302))
        sizes = {p.name: p.stat().st_size for p in directory.iterdir()}
        print(
            f"draw.verify_export candidates={args.candidates} strata={args.strata} selected={selected} "
            f"csv_mb={sizes['candidates.csv'] / 2**20:.0f} draw_json_mb={sizes['draw.json'] / 2**20:.0f} "
            f"s={time.perf_counter() - began:.1f}",
            flush=True,
        )
        walls, cpus = [], []
        for _ in range(args.repeats):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-I", "-S", str(directory / "verify_draw.py"), str(directory)],
                capture_output=True,
                text=True,
                check=False,
            )
            walls.append(time.perf_counter() - began)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if done.stdout != "MATCH\n":
                raise SystemExit(f"verifier did not match: {done.stdout}{done.stderr}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(
            f"draw.verify median_s={statistics.median(walls):.2f} min_s={min(walls):.2f} max_s={max(walls):.2f} "
            f"cpu_s={statistics.median(cpus):.2f} repeats={args.repeats} candidates={args.candidates} "
            f"strata={args.strata} selected={selected} verifier_peak_rss_mb={peak:.0f}"
        )


if __name__ == "__main__":
    main()
