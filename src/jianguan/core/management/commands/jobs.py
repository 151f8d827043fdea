"""`jianguan jobs list|show ID [--follow]` — background jobs and their progress from the command line."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jianguan.core.models import Job


def _line(job: Job) -> str:
    total = f"{job.done}/{job.total}" if job.total else f"{job.done}"
    return f"{job.pk}\t{job.status}\t{job.percent}%\t{total}\t{job.kind}\t{job.title}\t{job.step}"


class Command(BaseCommand):
    help = "后台任务 (background jobs): list 列出任务；show ID 查看进度 (--follow 持续刷新)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="列出最近的任务 (list recent jobs)")
        ls.add_argument("--limit", type=int, default=20)
        show = sub.add_parser("show", help="显示一个任务的进度与结果 (show one job)")
        show.add_argument("job_id", type=int)
        show.add_argument("--follow", action="store_true", help="每秒刷新直到结束 (refresh until finished)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "list":
            for job in Job.objects.all()[: opts["limit"]]:
                self.stdout.write(_line(job))
            return
        job = Job.objects.filter(pk=opts["job_id"]).first()
        if job is None:
            self.stderr.write(f"任务 {opts['job_id']} 不存在 (no such job)")
            sys.exit(2)
        while True:
            self.stdout.write(_line(job))
            if job.finished or not opts["follow"]:
                break
            time.sleep(1)
            job.refresh_from_db()
        if job.error:
            self.stdout.write(f"错误 (error): {job.error}")
        if job.result:
            self.stdout.write(f"结果 (result): {job.result}")
