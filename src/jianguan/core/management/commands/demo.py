"""`jianguan demo [--no-serve]` — build the demo county database, run the monthly cycle, and serve it."""

from __future__ import annotations

import time
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string

from jianguan.core.demo import DEMO_PASSWORD, DemoContext, demo_logins


class Command(BaseCommand):
    help = ("建立演示数据库（文登区等）、运行月度流程，并启动网站 (build the demo database, run the monthly cycle, "
            "serve); --no-serve 只建库 (build only)")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="只建立数据库，不启动网站 (build without serving)")
        parser.add_argument("--seed", type=int, default=2026, help="合成数据随机种子 (synthetic-data seed)")
        parser.add_argument("--small", action="store_true",
                            help="缩小合成数据规模，用于测试 (smaller synthetic data, for tests)")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **opts: Any) -> None:
        db = settings.DATABASES["default"]
        self.stdout.write(f"数据库 (database): {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}")
        if db["ENGINE"].endswith("sqlite3"):
            from pathlib import Path

            Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        ctx = DemoContext(seed=opts["seed"], small=opts["small"], out=self.stdout)
        steps: list[str] = []  # dotted paths of the apps' demo step functions
        for cfg in sorted(apps.get_app_configs(), key=lambda c: getattr(c, "menu_order", 100)):
            steps.extend(getattr(cfg, "demo_steps", ()))
        for path in steps:
            fn = import_string(path)
            started = time.monotonic()
            self.stdout.write(f"· {fn.__doc__.splitlines()[0] if fn.__doc__ else path} …")
            fn(ctx)
            self.stdout.write(f"  完成 (done) {time.monotonic() - started:.1f}s")
        self.stdout.write("\n演示账号 (demo logins) — 密码 (password) 均为: " + DEMO_PASSWORD)
        for username, role, unit in demo_logins():
            self.stdout.write(f"  {username:<28} {role:<16} {unit}")
        if not opts["no_serve"]:
            call_command("serve", port=opts["port"])
