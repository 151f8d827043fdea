"""`jianguan audit verify` — walk the hash chain and name the first broken entry."""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from jianguan.core.audit import audit_verify


class Command(BaseCommand):
    help = "审计链工具 (audit trail tools): verify — 校验哈希链，指出第一条被篡改、插入或删除的记录"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify",
                       help="校验审计哈希链；发现断裂时以非零状态退出 (verify the chain; exit 1 on any break)")

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.monotonic()
        result = audit_verify()
        took = time.monotonic() - started
        if result.ok:
            self.stdout.write(f"OK：审计链完整，共校验 {result.checked} 条记录（{took:.1f} 秒）"
                              f" (audit chain intact: {result.checked} entries)")
            return
        brk = result.first_break
        assert brk is not None
        self.stderr.write(f"BROKEN：{brk.message} ({brk.message_en}); 已校验 {result.checked} 条完好记录")
        sys.exit(1)
