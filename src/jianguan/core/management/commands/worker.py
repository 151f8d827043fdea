"""`jianguan worker` — run queued background jobs, and submit the apps' scheduled jobs when due, until stopped."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jianguan.core.jobs import worker_loop


class Command(BaseCommand):
    help = "运行后台任务执行进程，并按时提交定时任务 (run the background job worker; submits scheduled jobs)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--poll", type=float, default=1.0, help="空闲时轮询间隔秒数 (poll interval, seconds)")
        parser.add_argument("--no-schedule", action="store_true",
                            help="不提交定时任务 (do not submit scheduled jobs; or JIANGUAN_SCHEDULER=off)")

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write("后台任务执行进程已启动 (worker started); Ctrl-C 退出")
        try:
            worker_loop(stop, opts["poll"], schedule=False if opts["no_schedule"] else None)
        except KeyboardInterrupt:
            stop.set()
