"""`jianguan jobs list|show ID [--follow]|schedule` — background jobs, their progress and the schedules."""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from jianguan.core.models import Job, ScheduledRun


def _line(job: Job) -> str:
    total = f"{job.done}/{job.total}" if job.total else f"{job.done}"
    return f"{job.pk}\t{job.status}\t{job.percent}%\t{total}\t{job.kind}\t{job.title}\t{job.step}"


class Command(BaseCommand):
    help = "后台任务 (background jobs): list 列出任务；show ID 查看进度 (--follow 持续刷新)；schedule 定时任务"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="列出最近的任务 (list recent jobs)")
        ls.add_argument("--limit", type=int, default=20)
        show = sub.add_parser("show", help="显示一个任务的进度与结果 (show one job)")
        show.add_argument("job_id", type=int)
        show.add_argument("--follow", action="store_true", help="每秒刷新直到结束 (refresh until finished)")
        sched = sub.add_parser("schedule", help="各模块声明的定时任务、上次与下次运行 (scheduled jobs)")
        sched.add_argument("--now", help="按此时间计算（ISO 格式，默认当前时间） (evaluate at this time)")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "schedule":
            self._schedule(opts.get("now"))
            return
        if opts["action"] == "list":
            for listed in Job.objects.all()[: opts["limit"]]:
                self.stdout.write(_line(listed))
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

    def _schedule(self, now_text: str | None) -> None:
        from jianguan.core.jobs import ScheduleError, scheduler_enabled, schedules

        try:
            now = dt.datetime.fromisoformat(now_text) if now_text else timezone.now()
        except ValueError:
            raise CommandError(f"--now 应为 ISO 时间，例如 2026-07-01T03:00+08:00，而不是 {now_text!r}") from None
        if timezone.is_naive(now):
            now = timezone.make_aware(now)
        try:
            declared = schedules()
        except ScheduleError as exc:
            raise CommandError(str(exc)) from None
        state = "on" if scheduler_enabled() else "off (JIANGUAN_SCHEDULER)"
        self.stdout.write(f"# 定时任务 (schedules), {timezone.localtime(now):%Y-%m-%d %H:%M %Z}, scheduler {state}")
        self.stdout.write("kind\tapp\twhen\tlast period\tlast job\tdue now\tnext")
        for s in declared:
            last = ScheduledRun.objects.filter(kind=s.kind).select_related("job").order_by("-scheduled_for").first()
            last_text = "-\t-"
            if last is not None:
                job = f"{last.job.pk} {last.job.status}" if last.job else "(deleted)"
                last_text = f"{last.period}\t{job}"
            due = s.latest_due(now)
            pending = not ScheduledRun.objects.filter(kind=s.kind, period=s.period_key(due)).exists()
            due_text = f"{timezone.localtime(due):%Y-%m-%d %H:%M} pending" if pending else "-"
            nxt = timezone.localtime(s.next_after(now))
            self.stdout.write(f"{s.kind}\t{s.app}\t{s.period} {s.at}\t{last_text}\t{due_text}\t{nxt:%Y-%m-%d %H:%M}")
