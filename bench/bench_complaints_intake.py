"""Benchmark: complaint intake through the HTTP API on PostgreSQL (target ≥ 300/s for 60 s, p99 ≤ 300 ms).

Usage:
  python bench/bench_complaints_intake.py [--rate 300] [--seconds 60] [--threads 32] [--kill-after 0]
      [--db postgresql://postgres@127.0.0.1:5432/complaints_bench] [--server-threads 16]

Creates (or reuses) the bench database, migrates it, builds the Shandong unit tree, makes an API key, starts
`jianguan serve` on a free port on 127.0.0.1, and drives `POST /api/v1/complaints` from a thread pool at the given
rate (open loop: request i is due at t0 + i/rate). Every 201 answer is "acknowledged"; afterwards each
acknowledged tracking number is looked up in the database. With --kill-after N the server is SIGKILLed N seconds
into the run (the remaining requests fail) and the check proves that no acknowledged submission was lost.
Prints `name key=value` lines.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JG = str(ROOT / ".venv" / "bin" / "jianguan")
PY = str(ROOT / ".venv" / "bin" / "python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SETUP = r"""
import os, django
django.setup()
from jianguan.core.models import Unit, User, Division
from jianguan.core.services import org_bootstrap, user_create
if not Unit.objects.filter(code="370000-samr").exists():
    org_bootstrap("370000")
u = User.objects.filter(username="bench_api").first()
if u is None:
    u = user_create("bench_api", "Bench-password-2026", full_name="接口压测", unit=Unit.objects.get(code="371000-12315"),
                    roles=[("intake_clerk", "subtree")])
from jianguan.api.auth import api_key_create
_k, plain = api_key_create(Unit.objects.get(code="371000-12315"), "bench", u)
print("KEY", plain)
"""


def setup(env: dict[str, str]) -> str:
    dbname = env["DATABASE_URL"].rsplit("/", 1)[1]
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"create database {dbname}"],  # noqa: S607
                   capture_output=True, check=False)
    subprocess.run([JG, "migrate", "--verbosity", "0"], env=env, check=True)
    out = subprocess.run([PY, "-c", SETUP], env=env, check=True, capture_output=True, text=True).stdout
    return next(line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("KEY "))


def payload(i: int) -> bytes:
    kind = "report" if i % 5 == 0 else "complaint"
    return json.dumps({
        "kind": kind, "received_at": "2026-09-30T10:00:00+08:00",
        "complainant": {"name": "压测用户", "phone": f"139{i % 100000000:08d}",
                        "address": f"威海市文登区天福路{i}号"},
        "respondent": {"name": f"压测商店{i % 5000}", "address": "威海市文登区世纪大道1号"},
        "facts": "购买的牛奶已过期，要求退款。", "request": "退款"}, ensure_ascii=False).encode()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=300)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--threads", type=int, default=32)
    p.add_argument("--server-threads", type=int, default=16)
    p.add_argument("--kill-after", type=float, default=0)
    p.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/complaints_bench")
    args = p.parse_args()
    env = {**os.environ, "DATABASE_URL": args.db, "DJANGO_SETTINGS_MODULE": "jianguan.settings",
           "JIANGUAN_DEBUG": "0"}
    key = setup(env)
    port = free_port()
    server = subprocess.Popen([JG, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker",
                               "--threads", str(args.server_threads)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise SystemExit("server did not start: " + server.stderr.read().decode()[-2000:])
        acked: list[str] = []
        latencies: list[float] = []
        failures = {"http": 0, "conn": 0}
        skipped = [0]
        lock = threading.Lock()
        counter = iter(range(10**9))
        total = int(args.rate * args.seconds)
        t0 = time.monotonic() + 0.5
        local = threading.local()

        def conn() -> http.client.HTTPConnection:
            if getattr(local, "c", None) is None:
                local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            return local.c

        def worker() -> None:
            while True:
                with lock:
                    i = next(counter)
                if i >= total:
                    return
                due = t0 + i / args.rate
                if time.monotonic() > t0 + args.seconds + 2:
                    with lock:
                        skipped[0] += 1
                    continue  # bounded in time: what the server could not take in the window is not sent
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                start = time.monotonic()
                try:
                    c = conn()
                    c.request("POST", "/api/v1/complaints", body=payload(i),
                              headers={"Content-Type": "application/json", "X-API-Key": key,
                                       "Idempotency-Key": f"bench-{t0}-{i}"})
                    r = c.getresponse()
                    body = r.read()
                    elapsed = time.monotonic() - start
                    if r.status == 201:
                        tn = json.loads(body)["tracking_number"]
                        with lock:
                            acked.append(tn)
                            latencies.append(elapsed)
                    else:
                        with lock:
                            failures["http"] += 1
                except (OSError, http.client.HTTPException):
                    local.c = None
                    with lock:
                        failures["conn"] += 1

        killer = None
        if args.kill_after:
            def kill() -> None:
                time.sleep(max(0.0, t0 - time.monotonic()) + args.kill_after)
                server.send_signal(signal.SIGKILL)
            killer = threading.Thread(target=kill, daemon=True)
            killer.start()
        with ThreadPoolExecutor(args.threads) as pool:
            for _ in range(args.threads):
                pool.submit(worker)
        wall = time.monotonic() - t0
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    check = subprocess.run([PY, "-c", (
        "import django,sys,json;django.setup();from jianguan.complaints.models import Case;"
        "ns=json.load(sys.stdin);print(Case.objects.filter(tracking_number__in=ns).count())")],
        env=env, input=json.dumps(acked), capture_output=True, text=True, check=True)
    present = int(check.stdout.strip())
    lat = sorted(latencies)
    q = (lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000) if lat else (lambda f: float("nan"))
    mode = "kill" if args.kill_after else "steady"
    skipped = locals().get("skipped", [0])
    print(f"complaints_intake_{mode} target_rate={args.rate} seconds={args.seconds} sent={total} "
          f"not_sent={skipped[0]} acknowledged={len(acked)} rate={len(acked) / wall:.1f}/s wall={wall:.1f}s "
          f"p50_ms={q(0.50):.0f} p99_ms={q(0.99):.0f} max_ms={(lat[-1] * 1000 if lat else 0):.0f} "
          f"mean_ms={(statistics.mean(lat) * 1000 if lat else 0):.0f} http_errors={failures['http']} "
          f"conn_errors={failures['conn']} present_after={present} lost={len(acked) - present}")
    sys.exit(0 if present == len(acked) else 1)


if __name__ == "__main__":
    main()
