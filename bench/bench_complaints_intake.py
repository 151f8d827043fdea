"""Benchmark: complaint intake through the HTTP API on PostgreSQL (target ≥ 300/s for 60 s, p99 ≤ 300 ms).

Usage:
  python bench/bench_complaints_intake.py [--rate 300] [--seconds 60] [--connections 64] [--kill-after 0]
      [--db postgresql://postgres@127.0.0.1:5432/complaints_bench] [--workers 2] [--server-threads 16]

Creates (or reuses) the bench database, migrates it, builds the Shandong unit tree, makes an API key, starts
`jianguan serve --workers N` on a free port on 127.0.0.1 in its own process group, and drives
`POST /api/v1/complaints` at the given rate, open loop: request i is due at t0 + i/rate whatever the answers
before it. The client is one asyncio event loop over keep-alive connections (raw HTTP/1.1), so that it takes a
small share of the two cores; its CPU time is reported. Latency is measured from the moment a request was due
(`p99_ms`, includes waiting for a free connection — no coordinated omission) and from when it was sent
(`p99_sent_ms`). Every 201 answer is "acknowledged"; afterwards each acknowledged tracking number is looked up in
the database. With --kill-after N every server process (web processes and master) is SIGKILLed N seconds into the
run (the remaining requests fail) and the check proves that no acknowledged submission was lost.
Prints `name key=value` lines, including the CPU seconds of the client, of the server processes and of the
PostgreSQL server processes during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

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
    u = user_create("bench_api", "Bench-password-2026", full_name="接口压测",
                    unit=Unit.objects.get(code="371000-12315"), roles=[("intake_clerk", "subtree")])
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


def process_tree_cpu(pid: int, part: str = "both") -> float:
    """CPU seconds (user + system, or `part` = "system" only) of a process and its children, alive ones only."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
            total += t.system if part == "system" else t.user + t.system
        except psutil.Error:
            pass
    return total


def postgres_backends(dbname: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `dbname` (other databases on the machine are not counted)."""
    out = {}
    for proc in psutil.process_iter(["cmdline"]):
        title = " ".join(proc.info.get("cmdline") or ())
        if title.startswith("postgres:") and f" {dbname} " in title:
            try:
                t = proc.cpu_times()
                out[proc.pid] = t.user + t.system
            except psutil.Error:
                pass
    return out


class PostgresCpu:
    """Backends come and go (Django reconnects after JIANGUAN_DB_CONN_MAX_AGE): sample them through the run."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.first = postgres_backends(dbname)
        self.last = dict(self.first)
        self.own_cpu = 0.0  # what sampling cost the client, not counted as the client's load

    def sample(self) -> None:
        started = time.process_time()
        self.last.update(postgres_backends(self.dbname))
        self.own_cpu += time.process_time() - started

    def seconds(self) -> float:
        return sum(cpu - self.first.get(pid, 0.0) for pid, cpu in self.last.items())


class Client:
    """Open-loop load over keep-alive HTTP/1.1 connections on one asyncio loop."""

    def __init__(self, port: int, key: str, rate: float, seconds: float, connections: int) -> None:
        self.port, self.key, self.rate, self.seconds, self.connections = port, key, rate, seconds, connections
        self.total = int(rate * seconds)
        self.acked: list[str] = []
        self.latency: list[float] = []  # from the moment the request was due
        self.service: list[float] = []  # from the moment it was sent
        self.due: list[float] = []  # when each acknowledged request was due, relative to t0 (for --timeline)
        self.failures = {"http": 0, "conn": 0}
        self.not_sent = 0

    async def _send(self, conn: list, i: int) -> tuple[int, bytes]:
        if conn[0] is None:
            conn[0], conn[1] = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = conn[0], conn[1]
        body = payload(i)
        writer.write(b"POST /api/v1/complaints HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\nX-API-Key: {self.key}\r\n"
                       f"Idempotency-Key: bench-{self.t0}-{i}\r\n\r\n".encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        if "content-length" in headers:
            data = await reader.readexactly(int(headers["content-length"]))
        else:  # chunked
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                parts.append(await reader.readexactly(size + 2))
                if size == 0:
                    break
            data = b"".join(p[:-2] for p in parts)
        if headers.get("connection", "").lower() == "close":
            writer.close()
            conn[0] = conn[1] = None
        return status, data

    async def _worker(self, queue: asyncio.Queue) -> None:
        conn: list = [None, None]
        while True:
            item = await queue.get()
            if item is None:
                return
            i, due = item
            if time.monotonic() > self.t0 + self.seconds + 5:
                self.not_sent += 1  # bounded in time: what the server could not take in the window is not sent
                continue
            sent = time.monotonic()
            try:
                status, data = await asyncio.wait_for(self._send(conn, i), 10)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                self.failures["conn"] += 1
                if conn[1] is not None:
                    conn[1].close()
                conn[0] = conn[1] = None
                continue
            done = time.monotonic()
            if status == 201:
                self.acked.append(json.loads(data)["tracking_number"])
                self.latency.append(done - due)
                self.due.append(due - self.t0)
                self.service.append(done - sent)
            else:
                self.failures["http"] += 1

    async def _sample(self, pg: PostgresCpu) -> None:
        while True:
            await asyncio.sleep(1.0)
            pg.sample()

    async def run(self, on_start=None, pg: PostgresCpu | None = None) -> float:
        queue: asyncio.Queue = asyncio.Queue()
        sampler = asyncio.create_task(self._sample(pg)) if pg is not None else None
        self.t0 = time.monotonic() + 0.5
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.connections)]
        if on_start is not None:
            on_start(self.t0)
        for i in range(self.total):
            due = self.t0 + i / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, due))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        if sampler is not None:
            sampler.cancel()
            pg.sample()
        return time.monotonic() - self.t0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rate", type=float, default=300)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=2, help="web processes of `jianguan serve`")
    p.add_argument("--server-threads", type=int, default=16, help="threads per web process")
    p.add_argument("--kill-after", type=float, default=0)
    p.add_argument("--timeline", action="store_true", help="print acknowledgements and p99 per second of due time")
    p.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/complaints_bench")
    args = p.parse_args()
    env = {**os.environ, "DATABASE_URL": args.db, "DJANGO_SETTINGS_MODULE": "jianguan.settings",
           "JIANGUAN_DEBUG": "0"}
    key = setup(env)
    dbname = args.db.rsplit("/", 1)[1]
    port = free_port()
    server = subprocess.Popen([JG, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-worker",
                               "--workers", str(args.workers), "--threads", str(args.server_threads)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    client = Client(port, key, args.rate, args.seconds, args.connections)
    server_cpu = server_sys = pg_cpu = 0.0
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
        server_cpu0, pg = process_tree_cpu(server.pid), PostgresCpu(dbname)
        server_sys0 = process_tree_cpu(server.pid, "system")
        own0 = resource.getrusage(resource.RUSAGE_SELF)
        killed_cpu = [0.0]

        def on_start(t0: float) -> None:
            if args.kill_after:
                def kill() -> None:
                    killed_cpu[0] = process_tree_cpu(server.pid)
                    os.killpg(server.pid, signal.SIGKILL)  # the master and every web process at once
                loop.call_later(max(0.0, t0 - time.monotonic()) + args.kill_after, kill)

        loop = asyncio.new_event_loop()
        wall = loop.run_until_complete(client.run(on_start, pg))
        loop.close()
        own1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime - pg.own_cpu
        server_cpu = (killed_cpu[0] or process_tree_cpu(server.pid)) - server_cpu0
        server_sys = process_tree_cpu(server.pid, "system") - server_sys0 if not killed_cpu[0] else float("nan")
        pg_cpu = pg.seconds()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
    acked = client.acked
    check = subprocess.run([PY, "-c", (
        "import django,sys,json;django.setup();from jianguan.complaints.models import Case;"
        "ns=json.load(sys.stdin);print(Case.objects.filter(tracking_number__in=ns).count())")],
        env=env, input=json.dumps(acked), capture_output=True, text=True, check=True)
    present = int(check.stdout.strip())

    def q(values: list[float], f: float) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, int(f * len(values)))] * 1000 if values else float("nan")

    lat = client.latency
    mode = "kill" if args.kill_after else "steady"
    print(f"complaints_intake_{mode} target_rate={args.rate} seconds={args.seconds} workers={args.workers} "
          f"server_threads={args.server_threads} connections={args.connections} sent={client.total} "
          f"not_sent={client.not_sent} acknowledged={len(acked)} rate={len(acked) / wall:.1f}/s wall={wall:.1f}s "
          f"p50_ms={q(lat, 0.50):.0f} p99_ms={q(lat, 0.99):.0f} max_ms={(max(lat) * 1000 if lat else 0):.0f} "
          f"mean_ms={(statistics.mean(lat) * 1000 if lat else 0):.0f} p99_sent_ms={q(client.service, 0.99):.0f} "
          f"http_errors={client.failures['http']} conn_errors={client.failures['conn']} "
          f"client_cpu_s={client_cpu:.1f} server_cpu_s={server_cpu:.1f} server_system_cpu_s={server_sys:.1f} "
          f"postgres_cpu_s={pg_cpu:.1f} "
          f"server_cpu_ms_per_ack={(server_cpu / len(acked) * 1000 if acked else 0):.2f} "
          f"postgres_cpu_ms_per_ack={(pg_cpu / len(acked) * 1000 if acked else 0):.2f} "
          f"client_cpu_ms_per_ack={(client_cpu / len(acked) * 1000 if acked else 0):.2f} "
          f"present_after={present} lost={len(acked) - present}")
    if args.timeline:
        by_second: dict[int, list[float]] = {}
        for due, latency in zip(client.due, lat, strict=True):
            by_second.setdefault(int(due), []).append(latency)
        for second, values in sorted(by_second.items()):
            print(f"complaints_intake_second t={second} acknowledged={len(values)} p50_ms={q(values, 0.5):.0f} "
                  f"p99_ms={q(values, 0.99):.0f}")
    sys.exit(0 if present == len(acked) else 1)


if __name__ == "__main__":
    main()
