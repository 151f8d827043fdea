"""Background jobs of random inspections: freezing and drawing a large (city or province) plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jianguan.core.jobs import JobContext, JobError, job_handler
from jianguan.core.models import User


def _plan_and_user(ctx: JobContext):  # type: ignore[no-untyped-def]
    from jianguan.inspections.models import InspectionPlan

    plan = InspectionPlan.objects.get(pk=ctx.params["plan"])
    user = User.objects.filter(pk=ctx.params.get("user")).first()
    return plan, user


@job_handler("inspections.freeze")
def freeze_job(ctx: JobContext) -> dict[str, Any]:
    from jianguan.inspections import services

    plan, user = _plan_and_user(ctx)
    ctx.progress("冻结候选名单", force=True)
    try:
        plan = services.plan_freeze(plan, actor=user, today=dt.date.fromisoformat(ctx.params["today"]))
    except services.InspectionError as exc:
        raise JobError(str(exc)) from None
    return {"commitment": plan.commitment, "candidates": plan.candidates_count}


@job_handler("inspections.draw")
def draw_job(ctx: JobContext) -> dict[str, Any]:
    from jianguan.inspections import services

    plan, user = _plan_and_user(ctx)
    try:
        ctx.progress("抽取检查对象并合并联合检查", force=True)
        plan = services.plan_draw(plan, actor=user)
        ctx.progress("随机选派检查人员", force=True)
        result = services.plan_assign(plan, actor=user, today=dt.date.fromisoformat(ctx.params["today"]))
    except services.InspectionError as exc:
        raise JobError(str(exc)) from None
    return {"visits": plan.visits_count, "visits_saved": plan.visits_saved, "assigned": len(result.teams),
            "failures": len(result.failures)}
