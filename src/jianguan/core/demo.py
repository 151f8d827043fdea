"""The demo organisation and its users (one per role in two counties); other apps add their demo steps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction

from jianguan.core.models import Role, RoleAssignment, Scope, Unit, User
from jianguan.core.services import org_bootstrap, user_create

DEMO_PASSWORD = "Jianguan-demo-2026"  # noqa: S105 — printed by `make demo` on purpose
DEMO_COUNTIES = {"371003": "wendeng", "371082": "rongcheng"}
# The demo's "today": the monthly cycle runs for the month before it.
DEMO_TODAY = dt.date(2026, 11, 20)


@dataclass
class DemoContext:
    """Passed to every app's demo step."""

    seed: int
    small: bool
    out: IO[str] | Any
    today: dt.date = DEMO_TODAY
    facts: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        self.out.write(f"  {text}")


# (username suffix, full name, role, scope, unit code suffix); unit code = f"{county}-{suffix}".
COUNTY_STAFF = [
    ("leader", "局长", Role.LEADER, Scope.SUBTREE, "samr"),
    ("section_head", "科长", Role.SECTION_HEAD, Scope.SUBTREE, "samr"),
    ("handler", "承办人", Role.HANDLER, Scope.SUBTREE, "samr"),
    ("clerk", "登记员", Role.INTAKE_CLERK, Scope.SUBTREE, "samr"),
    ("inspector", "检查员", Role.INSPECTOR, Scope.OWN, "samr"),
    ("tax_inspector", "税务检查员", Role.PARTNER_INSPECTOR, Scope.OWN, "tax"),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["建国", "丽华", "志强", "秀英", "海波", "晓燕", "明", "静", "伟", "婷婷", "军", "芳"]


def build_organisation(ctx: DemoContext) -> None:
    """组织机构与演示用户 (organisation and demo users)"""
    with transaction.atomic():
        summary = org_bootstrap("370000", partner_counties=list(DEMO_COUNTIES))
        ctx.say(f"局 {summary.bureaus}，监管所 {summary.stations}，12315中心 {summary.intake_centres}，"
                f"协作部门单位 {summary.partner_units}\n")
        if User.objects.filter(username="admin").exists():
            return
        province = Unit.objects.get(code="370000-samr")
        admin = user_create("admin", DEMO_PASSWORD, full_name="系统管理员", unit=province,
                            roles=[(Role.ADMIN, Scope.ALL)])
        admin.is_staff = admin.is_superuser = True
        admin.save(update_fields=["is_staff", "is_superuser"])
        user_create("auditor", DEMO_PASSWORD, full_name="审计员", unit=province, roles=[(Role.AUDITOR, Scope.ALL)])
        user_create("shandong_leader", DEMO_PASSWORD, full_name="省局领导", unit=province,
                    roles=[(Role.LEADER, Scope.SUBTREE)])
        weihai = Unit.objects.get(code="371000-samr")
        user_create("weihai_leader", DEMO_PASSWORD, full_name="威海市局领导", unit=weihai,
                    roles=[(Role.LEADER, Scope.SUBTREE)])
        user_create("weihai_clerk", DEMO_PASSWORD, full_name="威海12315登记员",
                    unit=Unit.objects.get(code="371000-12315"), roles=[(Role.INTAKE_CLERK, Scope.SUBTREE)])
        n = 0
        for county, slug in DEMO_COUNTIES.items():
            for suffix, title, role, scope, unit_suffix in COUNTY_STAFF:
                unit = Unit.objects.get(code=f"{county}-{unit_suffix}")
                name = SURNAMES[n % len(SURNAMES)] + GIVEN[n % len(GIVEN)]
                n += 1
                user_create(f"{slug}_{suffix}", DEMO_PASSWORD, full_name=f"{name}（{title}）", unit=unit,
                            roles=[(role, scope)], phone=f"1390631{n:04d}")
            station = Unit.objects.filter(code__startswith=f"{county}-station-").order_by("path").first()
            if station is not None:
                name = SURNAMES[n % len(SURNAMES)] + GIVEN[(n + 5) % len(GIVEN)]
                n += 1
                user_create(f"{slug}_station_handler", DEMO_PASSWORD, full_name=f"{name}（监管所承办人）",
                            unit=station, roles=[(Role.HANDLER, Scope.UNIT), (Role.INSPECTOR, Scope.UNIT)])


def demo_logins() -> list[tuple[str, str, str]]:
    rows = []
    for user in User.objects.filter(password__isnull=False).select_related("unit").order_by("id"):
        roles = "、".join(sorted({a.get_role_display() for a in RoleAssignment.objects.filter(user=user)}))
        rows.append((user.username, roles, user.unit.name if user.unit else ""))
    return rows
