"""`jianguan registry …` — the market-entity registry from the command line.

`jianguan registry import FILE [--dry-run] [--user NAME]` validates every row of an .xlsx/.csv file and, when all
are good, upserts them in one transaction (recorded as a background job, visible in the UI). Exit status 1 and
the list of bad rows when the file is not importable.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jianguan.core.models import Job, User


class Command(BaseCommand):
    help = "市场主体名录 (registry): import FILE 批量导入（--dry-run 只校验不写入）"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="从 .xlsx 或 .csv 导入市场主体 (import entities)")
        imp.add_argument("file", help="导入文件路径 (.xlsx / .csv)")
        imp.add_argument("--dry-run", action="store_true", help="只校验并统计新增/更新，不写入 (validate only)")
        imp.add_argument("--user", help="以该用户身份导入，按其管辖范围校验 (import as this user, within their scope)")
        imp.add_argument("--max-errors-shown", type=int, default=200,
                         help="屏幕上最多列出的问题条数 (problems printed), 默认 200")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["action"] == "import":
            self.import_file(opts)

    def import_file(self, opts: dict[str, Any]) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        from jianguan.core.jobs import job_run_now
        from jianguan.registry.importer import import_max_bytes
        from jianguan.registry.jobs import import_outcome_message, report_paths

        console = Console(file=getattr(self.stdout, "_out", sys.stdout), highlight=False)
        path = Path(opts["file"]).resolve()
        user = None
        if opts.get("user"):
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                self.stderr.write(f"用户 {opts['user']} 不存在 (no such user)")
                sys.exit(2)
        params = {"path": str(path), "file_name": path.name, "dry_run": bool(opts["dry_run"]),
                  "max_bytes": import_max_bytes("cli")}
        title = f"导入市场主体：{path.name}" + ("（试运行）" if opts["dry_run"] else "")
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                      TextColumn("{task.fields[counts]}"), console=console, transient=False,
                      disable=not console.is_terminal) as bar:
            task = bar.add_task("校验", total=None, counts="")

            def on_progress(job: Job) -> None:
                counts = " ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in job.counts.items())
                bar.update(task, description=job.step or "校验", completed=job.done, total=job.total or None,
                           counts=counts)

            job = job_run_now("registry.import", title, params, user=user, on_progress=on_progress)
        summary = job.result or {}
        if job.status == Job.Status.SUCCEEDED:
            verb = "试运行（未写入）" if summary.get("dry_run") else "导入完成"
            self.stdout.write(f"{verb}：共 {summary.get('rows', 0)} 行；新增 {summary.get('created', 0)}，"
                              f"更新 {summary.get('updated', 0)}，无变化 {summary.get('unchanged', 0)}；"
                              f"用时 {summary.get('seconds', 0)} 秒（任务 #{job.pk}）")
            if summary.get("licence_rows"):
                self.stdout.write(f"许可证：共 {summary['licence_rows']} 行；新增 {summary['licences_created']}，"
                                  f"更新 {summary['licences_updated']}，无变化 {summary['licences_unchanged']}")
            for note in summary.get("notes", []):
                self.stdout.write(f"说明：{note}")
            return
        if not summary:  # the job crashed before it could report
            self.stderr.write(f"导入失败 (import failed): {job.error}")
            sys.exit(1)
        for note in summary.get("notes", []):
            self.stdout.write(f"说明：{note}")
        self.stdout.write(import_outcome_message(summary))
        jsonl, xlsx = report_paths(job.pk, summary.get("report_token", ""))
        if not summary.get("file_problem") and jsonl.exists():
            import json

            self.stdout.write("行号\t列\t值\t原因")
            with jsonl.open(encoding="utf-8") as fh:
                for i, line in enumerate(fh):
                    if i >= opts["max_errors_shown"]:
                        self.stdout.write(f"……其余问题见 {xlsx}")
                        break
                    row, column, value, reason = json.loads(line)
                    self.stdout.write(f"{row}\t{column}\t{value}\t{reason}")
            self.stdout.write(f"问题清单（Excel）：{xlsx}")
        sys.exit(1)
