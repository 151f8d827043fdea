"""`jianguan serve` — serve the web app with waitress and run the job worker in the same process."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from jianguan.core.jobs import start_worker_thread


class Command(BaseCommand):
    help = "启动网站与后台任务执行进程 (serve the web app and a job worker)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-worker", action="store_true", help="不在本进程内运行后台任务 (no in-process worker)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from waitress import serve

        from jianguan.wsgi import application

        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        stop = None if opts["no_worker"] else start_worker_thread()
        self.stdout.write(f"监管平台已启动 (serving) http://{opts['host']}:{opts['port']}/  —  后台: /staff/")
        try:
            serve(application, host=opts["host"], port=opts["port"], threads=opts["threads"], ident="jianguan")
        finally:
            if stop is not None:
                stop.set()
