"""The `jianguan` console script: Django management commands under one name.

`jianguan workdays add 2025-09-28 7` is `django-admin workdays add 2025-09-28 7` with Jianguan's settings.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    args = list(sys.argv if argv is None else ["jianguan", *argv])
    args[0] = "jianguan"
    try:
        execute_from_command_line(args)
    except OperationalError as exc:
        url = os.environ.get("DATABASE_URL") or "sqlite:///var/jianguan.sqlite3"
        shown = url.split("@")[-1]
        sys.stderr.write(f"无法打开数据库 {shown}：{exc}\n(cannot open the database; check DATABASE_URL — the SQLite "
                         "folder must exist, PostgreSQL must be running and the database created)\n")
        sys.exit(2)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"配置错误 (configuration error): {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
