"""`jianguan worker` — run queued background jobs until stopped (Ctrl-C / SIGTERM)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jianguan.core.jobs import worker_loop


class Command(BaseCommand):
    help = "运行后台任务执行进程 (run the background job worker)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--poll", type=float, default=1.0, help="空闲时轮询间隔秒数 (poll interval, seconds)")

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        self.stdout.write("后台任务执行进程已启动 (worker started); Ctrl-C 退出")
        try:
            worker_loop(stop, opts["poll"])
        except KeyboardInterrupt:
            stop.set()
