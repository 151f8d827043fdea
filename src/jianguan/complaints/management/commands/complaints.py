"""`jianguan complaints …` — deadlines of a submission, 12345 hotline import, synthetic history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "投诉举报：计算期限、导入12345工单 (complaints: deadlines, 12345 import)"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        d = sub.add_parser("deadlines", help="打印某一时间收到的投诉/举报的法定期限 (print the statutory deadlines)")
        d.add_argument("--kind", choices=["complaint", "report"], required=True)
        d.add_argument("--received-at", required=True, help="ISO 8601, e.g. 2026-09-30T10:00:00+08:00")
        d.add_argument("--odr", action="store_true", help="被投诉人为ODR企业 (respondent is an ODR enterprise)")
        d.add_argument("--verbose-rules", action="store_true", help="同时打印依据 (print the legal source too)")
        i = sub.add_parser("import", help="导入12345热线工单Excel（全部校验通过才写入）(import a 12345 export)")
        i.add_argument("path")
        i.add_argument("--user", required=True, help="登记员用户名 (the intake clerk doing the import)")
        i.add_argument("--dry-run", action="store_true")
        s = sub.add_parser("summary", help="重建统计分析汇总表 (rebuild the dashboard summary)")
        s.add_argument("--days", type=int, default=None,
                       help="只重算最近 N 天（默认全量）(recount only the last N days; default: everything)")
        s.add_argument("--today", default=None, help="YYYY-MM-DD（默认今天）")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "deadlines":
            self._deadlines(opts)
        elif opts["action"] == "import":
            self._import(opts)
        elif opts["action"] == "summary":
            self._summary(opts)

    def _summary(self, opts: dict[str, Any]) -> None:
        from jianguan.complaints.services import today_local
        from jianguan.complaints.summary import summary_rebuild

        try:
            today = dt.date.fromisoformat(opts["today"]) if opts["today"] else today_local()
        except ValueError as exc:
            raise CommandError(f"日期格式不正确：{opts['today']}（应为 YYYY-MM-DD）") from exc
        if opts["days"] is not None and opts["days"] < 1:
            raise CommandError("--days 须为正整数")
        r = summary_rebuild(today=today, days=opts["days"])
        self.stdout.write(f"through {r.through.isoformat()} rows {r.rows} full {str(r.full).lower()} "
                          f"seconds {r.seconds:.2f}")

    def _deadlines(self, opts: dict[str, Any]) -> None:
        from jianguan.complaints.services import case_deadlines
        from jianguan.core.domain.calendar import CalendarYearMissing

        try:
            received = dt.datetime.fromisoformat(opts["received_at"])
        except ValueError as exc:
            raise CommandError(
                f"收到时间格式不正确：{opts['received_at']}"
                "（应为 ISO 8601，如 2026-09-30T10:00:00+08:00）"
            ) from exc
        if received.tzinfo is None:
            raise CommandError("收到时间须带时区，如 2026-09-30T10:00:00+08:00")
        try:
            d = case_deadlines(opts["kind"], received, odr=opts["odr"])
        except CalendarYearMissing as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"rule {d.rule.code}")
        self.stdout.write(f"received_on {d.received_on.isoformat()}")
        for name, p in d.named():
            self.stdout.write(f"{name} {p.due.isoformat()}")
            self.stdout.write(f"warn_on {p.warn_on.isoformat()}")
            if opts["verbose_rules"]:
                self.stdout.write(f"  # {p.days} {'工作日' if p.unit == 'working' else '日'}；{p.source}")

    def _import(self, opts: dict[str, Any]) -> None:
        from jianguan.complaints.imports import hotline_import
        from jianguan.core.models import User

        user = User.objects.filter(username=opts["user"]).first()
        if user is None:
            raise CommandError(f"用户 {opts['user']} 不存在")
        with open(opts["path"], "rb") as fh:
            report = hotline_import(fh, actor=user, dry_run=opts["dry_run"])
        for row in report.rows:
            if row.errors:
                self.stdout.write(f"row {row.number} error " + "；".join(f"{k}：{v}" for k, v in row.errors.items()))
        self.stdout.write(f"rows {len(report.rows)} errors {report.error_count} created {report.created}")
        if report.error_count:
            raise CommandError("导入未执行：存在错误行，全部更正后再导入（all-or-nothing）")
