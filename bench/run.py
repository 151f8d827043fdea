"""Run the benchmarks: `make bench` runs them all; `python bench/run.py calendar audit` runs the named ones.

Each bench_<name>.py prints lines `metric key=value …`. The output of the last run is kept in bench/out/latest.txt;
figures worth keeping are copied into bench/RESULTS.md with the machine, data size and date.
"""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if any(s.stem.removeprefix("bench_").startswith(n) for n in names)]
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    cpu = platform.processor() or platform.machine()
    header = f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {platform.node()} · {cpu}"
    lines = [header]
    failed = 0
    for script in scripts:
        print(f"== {script.name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
        sys.stdout.write(proc.stdout)
        if proc.returncode:
            failed += 1
            sys.stderr.write(proc.stderr[-4000:])
            lines.append(f"{script.name} FAILED rc={proc.returncode}")
        lines.extend(line for line in proc.stdout.splitlines() if "=" in line)
    (out_dir / "latest.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
