"""`jianguan draw list|export|verify|freeze|randomness|execute|assign|load-items` — random-inspection draws."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jianguan.core.domain.calendar import parse_date


class Command(BaseCommand):
    help = ("双随机抽取 (random-inspection draws): list 列出计划；export --plan ID --out DIR 导出可核验文件；"
            "verify DIR 核验导出；freeze/randomness/execute/assign 演示用的工作流步骤；load-items 载入默认事项清单")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="每行一个计划：ID、状态、名称 (one plan per line: ID status name)")
        ex = sub.add_parser("export", help="导出 candidates.csv、manifest.json、draw.json 和 verify_draw.py")
        ex.add_argument("--plan", required=True, type=int)
        ex.add_argument("--out", required=True)
        ve = sub.add_parser("verify", help="核验导出目录，输出 MATCH 或 MISMATCH: … (exit 0/1)")
        ve.add_argument("dir")
        fr = sub.add_parser("freeze", help="冻结候选名单并公开承诺值 (plan must be approved)")
        fr.add_argument("--plan", required=True, type=int)
        fr.add_argument("--user", required=True, help="操作人用户名")
        fr.add_argument("--today", help="YYYY-MM-DD（默认今天）")
        ra = sub.add_parser("randomness", help="两名工作人员录入公开随机数")
        ra.add_argument("--plan", required=True, type=int)
        ra.add_argument("--value", required=True)
        ra.add_argument("--source", default="")
        ra.add_argument("--officer", action="append", required=True,
                        help="录入人用户名；给两次即完成录入与复核 (give twice: enter and confirm)")
        exe = sub.add_parser("execute", help="抽取、合并联合检查并随机选派检查人员")
        exe.add_argument("--plan", required=True, type=int)
        exe.add_argument("--user", required=True)
        exe.add_argument("--today", help="YYYY-MM-DD（默认今天）")
        asg = sub.add_parser("assign", help="为已抽取计划中待分配的检查重新选派检查人员")
        asg.add_argument("--plan", required=True, type=int)
        asg.add_argument("--user", required=True)
        asg.add_argument("--today")
        sub.add_parser("load-items", help="事项清单为空时载入 rules/inspections/items.yaml")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "verify":
            from jianguan.inspections.domain.verify import verify_command

            code = verify_command(opts["dir"], self.stdout)  # type: ignore[arg-type]
            self.stdout.flush()
            sys.exit(code)
        from jianguan.inspections import assignment, draws, services
        from jianguan.inspections.models import InspectionPlan

        if action == "list":
            for plan in InspectionPlan.objects.order_by("id"):
                self.stdout.write(f"{plan.pk}\t{plan.status}\t{plan}")
            return
        if action == "load-items":
            n = services.items_load_defaults(only_if_empty=True)
            self.stdout.write(f"载入 {n} 个抽查事项")
            return
        try:
            plan = InspectionPlan.objects.get(pk=opts["plan"])
        except InspectionPlan.DoesNotExist:
            raise CommandError(f"计划 {opts['plan']} 不存在") from None
        try:
            if action == "export":
                from jianguan.inspections.export import export_to_dir

                for path in export_to_dir(plan, opts["out"]):
                    self.stdout.write(str(path))
            elif action == "freeze":
                plan = draws.plan_freeze(plan, actor=_user(opts["user"]), today=_today(opts))
                self.stdout.write(f"已冻结：{plan.candidates_count} 个候选，承诺值 {plan.commitment}")
            elif action == "randomness":
                officers = opts["officer"]
                if len(officers) > 2:
                    raise CommandError("最多两名录入人")
                for username in officers:
                    plan = draws.plan_randomness_enter(plan, opts["value"], actor=_user(username),
                                                          source=opts["source"])
                self.stdout.write("随机数已确认" if plan.randomness else "已录入，待另一名工作人员复核")
            elif action in ("execute", "assign"):
                user = _user(opts["user"])
                if action == "execute":
                    plan = draws.plan_draw(plan, actor=user)
                    self.stdout.write(f"已抽取：{plan.selections_count} 个（事项-主体），合并为 {plan.visits_count}"
                                      f" 次检查，节省 {plan.visits_saved} 次")
                result = assignment.plan_assign(plan, actor=user, today=_today(opts))
                if result.failures:
                    for f in result.failures:
                        self.stderr.write(f"分配失败 {f.task_id} [{f.constraint}] {f.message}")
                    raise CommandError("检查人员分配失败，未分配任何检查")
                self.stdout.write(f"已选派检查人员：{len(result.teams)} 次检查")
        except services.InspectionError as exc:
            raise CommandError(str(exc)) from None


def _user(username: str):  # type: ignore[no-untyped-def]
    from jianguan.core.models import User

    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise CommandError(f"用户 {username} 不存在") from None


def _today(opts: dict[str, Any]) -> dt.date:
    from django.utils import timezone

    return parse_date(opts["today"]) if opts.get("today") else timezone.localdate()
