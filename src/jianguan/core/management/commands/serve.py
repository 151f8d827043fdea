"""`jianguan serve` — serve the web app with N worker processes and run the job worker exactly once.

One Python process is bound by the GIL to one core, so the web app runs in `--workers` processes sharing the port
(granian: the HTTP layer is Rust, each process runs Django on `--threads` threads; it took 1.3 ms of CPU for a
request that cost 1.8 ms under gunicorn). The background job worker is one separate process (`jianguan worker`)
started and stopped with the server — never one per web process — unless `--no-worker` is given.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections


def default_workers() -> int:
    """`JIANGUAN_WEB_WORKERS`, else one per core up to 4 (2 on a 2-core machine)."""
    raw = os.environ.get("JIANGUAN_WEB_WORKERS", "").strip()
    if raw:
        try:
            return max(1, int(raw))
        except ValueError:
            raise CommandError(f"JIANGUAN_WEB_WORKERS 应为正整数 (must be a positive integer), not {raw!r}") from None
    return max(1, min(4, os.cpu_count() or 1))


def default_threads() -> int:
    """Threads mostly wait for the database: intake threads wait for their group commit, and the more submissions
    wait together the fewer commits there are. Measured on 2 cores, 300 submissions/s offered for 60 s: 8 threads a
    process fell behind (285/s), 16 kept up (299.7/s) — see bench/RESULTS.md. Each thread holds one database
    connection (2 processes of 16 threads: 32 PostgreSQL connections)."""
    return 16


class Command(BaseCommand):
    help = "启动网站与后台任务执行进程 (serve the web app and a job worker)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=None,
                            help="网站进程数 (web processes; default: JIANGUAN_WEB_WORKERS or one per core, max 4)")
        parser.add_argument("--threads", type=int, default=default_threads(),
                            help="每个网站进程的线程数 (threads per web process; default: 16)")
        parser.add_argument("--no-worker", action="store_true", help="不启动后台任务执行进程 (no job worker)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from granian import Granian
        from granian.constants import Interfaces
        from granian.log import LogLevels

        workers = opts["workers"] if opts["workers"] is not None else default_workers()
        if workers < 1 or opts["threads"] < 1:
            raise CommandError("--workers 与 --threads 须为正整数 (must be at least 1)")
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        connections.close_all()  # the web processes open their own
        job_worker = None
        if not opts["no_worker"]:
            job_worker = subprocess.Popen([sys.executable, "-m", "jianguan", "worker"],
                                          stdout=subprocess.DEVNULL)
        self.stdout.write(f"监管平台已启动 (serving) http://{opts['host']}:{opts['port']}/  —  后台: /staff/  "
                          f"({workers} 个网站进程 web processes, 各 {opts['threads']} 线程 threads each"
                          f"{'' if job_worker is None else '，后台任务进程 job worker pid ' + str(job_worker.pid)})")
        self.stdout.flush()
        # 16 threads a process is deliberate (see default_threads); granian's advice against it is noise here
        from granian.log import logger as granian_logger

        granian_logger.addFilter(lambda record: "seems quite high" not in record.getMessage())
        server = Granian("jianguan.wsgi:application", interface=Interfaces.WSGI, address=opts["host"],
                         port=opts["port"], workers=workers, blocking_threads=opts["threads"],
                         respawn_failed_workers=True, log_level=LogLevels.warning)
        try:
            server.serve()
        finally:
            if job_worker is not None and job_worker.poll() is None:
                job_worker.terminate()
                try:
                    job_worker.wait(20)
                except subprocess.TimeoutExpired:
                    job_worker.kill()
