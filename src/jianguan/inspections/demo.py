"""Demo step: inspectors for both demo counties and a 2026 plan for 文登区 that is frozen, drawn with a fixed
lottery string, merged and assigned, partly inspected and partly published — whose export verifies."""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from typing import Any

from django.db import transaction

from jianguan.core.demo import DEMO_COUNTIES, GIVEN, SURNAMES, DemoContext
from jianguan.core.models import Department, Unit, User
from jianguan.inspections import assignment, draws, services
from jianguan.inspections.models import InspectionItem, InspectionPlan, Inspector, Visit

PLAN_NAME = "2026年度文登区部门联合双随机抽查计划"
# A published lottery draw (体彩大乐透) as the public randomness: fixed so that the demo is reproducible.
LOTTERY = "超级大乐透第26078期开奖号码 05 12 19 27 33 + 02 09"

# (task name, lead department, item codes, ratios (A, B, C, D), partners, period)
TASKS = [
    ("企业公示信息及登记事项抽查", "samr", ["SCJG-DJ-01", "SCJG-DJ-02"], ("0", "0.02", "0.05", "0.10"), [],
     (dt.date(2026, 6, 1), dt.date(2026, 10, 31))),
    ("食品经营及餐饮服务抽查", "samr", ["SCJG-SP-01", "SCJG-SP-03"], ("0", "0.03", "0.08", "0.15"), ["fire"],
     (dt.date(2026, 6, 1), dt.date(2026, 10, 31))),
    ("纳税人发票使用检查", "tax", ["SW-01"], ("0", "0.02", "0.04", "0.08"), [],
     (dt.date(2026, 6, 1), dt.date(2026, 10, 31))),
    ("用人单位劳动保障抽查", "hrss", ["RS-01"], ("0", "0.01", "0.03", "0.06"), [],
     (dt.date(2026, 7, 1), dt.date(2026, 10, 31))),
]
# Generated inspectors per department and county (full demo; the small demo uses a third, at least 4).
STAFF = {"samr": 70, "tax": 24, "hrss": 16, "fire": 30}
# Demo users who are also on the inspector register: (username, department code).
DEMO_INSPECTOR_USERS = [("{slug}_inspector", "samr"), ("{slug}_station_handler", "samr"),
                        ("{slug}_tax_inspector", "tax")]


def _qualifications(dept: str) -> list[str]:
    cats = sorted(set(InspectionItem.objects.filter(department__code=dept).values_list("category", flat=True)))
    return cats


def _cert(county: str, dept: str, n: int) -> str:
    return f"{county}{dept[:3].upper()}{n:05d}"


def ensure_inspectors(ctx: DemoContext) -> int:
    created = 0
    for county, slug in DEMO_COUNTIES.items():
        for dept_code, count in STAFF.items():
            dept = Department.objects.get(code=dept_code)
            unit = Unit.objects.filter(code=f"{county}-{dept_code}").first()
            if unit is None:
                continue
            quals = _qualifications(dept_code)
            n = count if not ctx.small else max(4, count // 3)
            for i in range(1, n + 1):
                name = (SURNAMES[(i * 7 + len(dept_code)) % len(SURNAMES)]
                        + GIVEN[(i * 5 + ord(county[-1])) % len(GIVEN)])
                _obj, made = Inspector.objects.get_or_create(
                    cert_no=_cert(county, dept_code, i),
                    defaults={"name": name, "department": dept, "unit": unit, "qualifications": quals,
                              "status": Inspector.Status.ACTIVE if i % 17 else Inspector.Status.LEAVE})
                created += int(made)
        for pattern, dept_code in DEMO_INSPECTOR_USERS:
            user = User.objects.filter(username=pattern.format(slug=slug)).select_related("unit").first()
            if user is None or user.unit is None or hasattr(user, "inspector"):
                continue
            Inspector.objects.create(name=user.full_name.split("（")[0] or user.username,
                                     department=Department.objects.get(code=dept_code), unit=user.unit,
                                     cert_no=_cert(county, dept_code, 900 + len(pattern)),
                                     qualifications=_qualifications(dept_code), user=user)
            created += 1
    return created


def _pick(uscc: str, salt: str) -> float:
    return int(hashlib.sha256(f"{salt}:{uscc}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


RECORD_CAP = 250
PROBLEM_RATE = {"A": 0.04, "B": 0.10, "C": 0.22, "D": 0.38}


def _results_for(visit: Visit, seed: int) -> dict[int, tuple[str, str]]:
    try:
        from jianguan.synth.truth import unreachable
    except ImportError:  # synthetic-world module not installed
        def unreachable(uscc: str, seed: int) -> bool:
            return _pick(uscc, f"unreachable{seed}") < 0.03
    uscc = visit.entity.uscc
    items = list(visit.items.all())
    if unreachable(uscc, seed):
        return {vi.pk: ("unreachable", "现场核查：登记住所无此企业，电话无法接通") for vi in items}
    out = {}
    for vi in items:
        r = _pick(uscc, f"{vi.item_id}")
        rate = PROBLEM_RATE["A" if vi.is_slice else vi.risk_class]
        if r < rate * 0.45:
            out[vi.pk] = ("corrected", "现场责令改正，已整改到位")
        elif r < rate * 0.75:
            out[vi.pk] = ("follow_up", "发现涉嫌违法行为，移交案件承办")
        elif r < rate:
            out[vi.pk] = ("not_disclosed", "")
        elif r > 0.97:
            out[vi.pk] = ("no_activity", "")
        else:
            out[vi.pk] = ("no_problem", "")
    return out


def build_plan(ctx: DemoContext) -> None:
    """双随机抽查：检查人员名录、文登区年度联合抽查计划（冻结、抽取、合并、选派、部分检查和公示）"""
    services.items_load_defaults(only_if_empty=True)
    made = ensure_inspectors(ctx)
    ctx.say(f"执法检查人员 {Inspector.objects.count()} 人（新增 {made}）\n")
    if InspectionPlan.objects.filter(name=PLAN_NAME).exists():
        ctx.say("文登区抽查计划已存在，跳过\n")
        return
    handler = User.objects.get(username="wendeng_handler")
    head = User.objects.get(username="wendeng_section_head")
    leader = User.objects.get(username="wendeng_leader")
    unit = Unit.objects.get(code="371003-samr")
    plan = services.plan_create(name=PLAN_NAME, year=2026, unit=unit, actor=handler)
    for name, dept, codes, ratios, partners, (start, end) in TASKS:
        services.task_create(
            plan, name=name, department=Department.objects.get(code=dept),
            items=list(InspectionItem.objects.filter(code__in=codes)), scope_divisions=["371003"],
            period_start=start, period_end=end, ratios=dict(zip("ABCD", ratios, strict=True)),
            a_slice_ratio="0.02" if not ctx.small else "0.10", actor=handler,
            partner_departments=Department.objects.filter(code__in=partners))
    services.plan_approve(plan, actor=leader, reason="经局务会研究同意")
    try:
        plan = draws.plan_freeze(plan, actor=handler, today=dt.date(2026, 5, 20))
    except services.InspectionError as exc:
        ctx.say(f"冻结失败：{exc}\n")
        return
    ctx.say(f"已冻结：{plan.candidates_count} 个候选，{plan.strata.count()} 个分层，承诺值 {plan.commitment[:16]}…\n")
    draws.plan_randomness_enter(plan, LOTTERY, actor=handler, source="中国体育彩票官方网站公布的开奖号码")
    plan = draws.plan_randomness_enter(plan, LOTTERY, actor=head)
    plan = draws.plan_draw(plan, actor=handler)
    result = assignment.plan_assign(plan, actor=handler, today=dt.date(2026, 5, 25))
    ctx.say(f"抽中 {plan.selections_count} 个（事项-主体），合并为 {plan.visits_count} 次检查，"
            f"节省 {plan.visits_saved} 次；选派 {len(result.teams)} 次检查"
            + (f"，分配失败 {len(result.failures)} 次" if result.failures else "") + "\n")
    if result.failures:
        ctx.say(f"  首个失败：{result.failures[0].message}\n")
        return
    _record_results(ctx, plan, handler)
    with tempfile.TemporaryDirectory() as tmp:
        from jianguan.inspections.domain.verify import verify_dir
        from jianguan.inspections.export import export_to_dir

        export_to_dir(plan, tmp)
        _ok, message = verify_dir(tmp)
    ctx.say(f"抽取文件核验：{message}\n")
    ctx.facts["inspection_plan"] = plan.pk


def _record_results(ctx: DemoContext, plan: InspectionPlan, fallback: User) -> None:
    visits = list(plan.visits.select_related("entity", "unit", "plan").prefetch_related("items", "team__inspector")
                  .order_by("number"))
    recorded = published = 0
    span = (dt.date(2026, 11, 10) - dt.date(2026, 6, 8)).days
    # About half the visits are done; at most RECORD_CAP so that the demo stays quick at county scale.
    for v in visits:
        if recorded >= RECORD_CAP:
            break
        if _pick(v.entity.uscc, "progress") > 0.5:
            continue
        day = dt.date(2026, 6, 8) + dt.timedelta(days=int(_pick(v.entity.uscc, "day") * span))
        if day > v.period_end:
            day = v.period_end
        members = [m.inspector.user for m in v.team.all() if m.inspector.user_id]
        actor = members[0] if members else fallback
        with transaction.atomic():
            services.visit_record_results(v, results=_results_for(v, ctx.seed), visit_date=day, end_date=day,
                                          summary="", actor=actor)
        recorded += 1
        # Older results are mostly published; a few are left overdue for the queue.
        if day < dt.date(2026, 10, 1) and _pick(v.entity.uscc, "publish") < 0.85:
            services.visit_publish(v, actor=fallback)
            published += 1
    ctx.say(f"已录入检查结果 {recorded} 次，已公示 {published} 次\n")


def facts(ctx: DemoContext) -> dict[str, Any]:
    return {"plan": ctx.facts.get("inspection_plan")}
