"""The `jianguan` console script: Django management commands under one name.

`jianguan workdays add 2025-09-28 7` is `django-admin workdays add 2025-09-28 7` with Jianguan's settings.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else ["jianguan", *argv])
    args[0] = "jianguan"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
