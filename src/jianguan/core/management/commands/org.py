"""`jianguan org …` — organisation set-up: divisions, departments, the bureau tree, users, API keys."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jianguan.api.auth import api_key_create
from jianguan.core.models import Division, Unit, User
from jianguan.core.services import departments_sync, divisions_sync, org_bootstrap


class Command(BaseCommand):
    help = "组织机构 (organisation): sync-reference 同步区划与部门；bootstrap 建立全省局所体系；api-key 生成单位密钥"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("sync-reference", help="同步 GB/T 2260 行政区划与部门配置 (sync divisions and departments)")
        boot = sub.add_parser("bootstrap", help="按行政区划建立省、市、县局及监管所、12315中心 (create the unit tree)")
        boot.add_argument("--province", default="370000", help="省级区划代码 (province code), 默认 370000 山东省")
        boot.add_argument("--partner-county", action="append", default=[],
                          help="为该县级区划建立协作部门单位，可重复 (create partner-department units; repeatable)")
        key = sub.add_parser("api-key", help="为单位生成 API 密钥（只显示一次）(create a unit API key, shown once)")
        key.add_argument("--unit", required=True, help="单位代码 (unit code), 如 371003-12315 或 371003-samr")
        key.add_argument("--user", required=True, help="密钥代表的用户名 (username the key acts as)")
        key.add_argument("--name", default="machine client")

    def handle(self, *args: Any, **opts: Any) -> None:
        action = opts["action"]
        if action == "sync-reference":
            n = divisions_sync()
            d = departments_sync()
            self.stdout.write(f"行政区划 {n} 条；新增部门 {d} 个 (divisions {n}; departments added {d})")
        elif action == "bootstrap":
            if not Division.objects.filter(code=opts["province"], level="province").exists():
                self.stderr.write(f"未知的省级区划代码 {opts['province']} (unknown province code)")
                sys.exit(2)
            s = org_bootstrap(opts["province"], partner_counties=opts["partner_county"])
            self.stdout.write(f"新建：局 {s.bureaus}，监管所 {s.stations}，12315中心 {s.intake_centres}，"
                              f"协作部门单位 {s.partner_units}")
        elif action == "api-key":
            unit = Unit.objects.filter(code=opts["unit"]).first()
            user = User.objects.filter(username=opts["user"]).first()
            if unit is None or user is None:
                self.stderr.write("单位或用户不存在 (unknown unit or user)")
                sys.exit(2)
            _, plain = api_key_create(unit, opts["name"], user)
            self.stdout.write(plain)
