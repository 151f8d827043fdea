"""System checks that turn a misconfiguration into a readable message."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.db import connections


@register()
def database_reachable(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """DATABASE_URL must point at a database we can open (a missing SQLite folder, a PostgreSQL that is down)."""
    try:
        with connections["default"].cursor() as cur:
            cur.execute("SELECT 1")
    except Exception as exc:  # any driver error becomes one clear message
        url = settings.DATABASE_URL
        shown = url.split("@")[-1] if "@" in url else url
        return [Error(f"无法打开数据库 (cannot open the database) {shown}: {exc}",
                      hint="检查环境变量 DATABASE_URL：SQLite 文件所在目录须存在；PostgreSQL 须已启动且数据库已创建。",
                      id="jianguan.E001")]
    return []
