"""`jianguan uscc check CODE…` — check 统一社会信用代码 (GB 32100) from the command line."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jianguan.registry.domain.uscc import normalize_uscc, validate_uscc


def _division_lookup() -> Any:
    """The importer's lookup (historical codes accepted); the packaged table when the database is not set up."""
    try:
        from jianguan.registry.importer import load_lookups

        lookup = load_lookups().uscc_division_exists
        if lookup("110000"):
            return lookup
    except Exception:  # noqa: S110 — no database yet: fall back to the packaged table below
        pass
    from jianguan.core.domain.divisions import load_divisions

    table = load_divisions()
    counties_held = {c[:4] for c, d in table.items() if d.level == "county"}
    return lambda code: code in table or (code[:4] not in counties_held and code[:2] + "0000" in table)


class Command(BaseCommand):
    help = "统一社会信用代码 (USCC): check CODE… 逐个校验，有无效代码时退出码为 1"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        check = sub.add_parser("check", help="校验一个或多个统一社会信用代码 (validate codes)")
        check.add_argument("codes", nargs="+", metavar="CODE")

    def handle(self, *args: Any, **opts: Any) -> None:
        lookup = _division_lookup()
        bad = 0
        for code in opts["codes"]:
            problems = validate_uscc(code, lookup)
            shown = normalize_uscc(code) or code
            if problems:
                bad += 1
                self.stdout.write(f"{shown} invalid: " + "；".join(p.message for p in problems))
            else:
                self.stdout.write(f"{shown} valid")
        if bad:
            sys.exit(1)
