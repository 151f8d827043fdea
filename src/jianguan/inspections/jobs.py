"""Background jobs of random inspections: freezing and drawing a plan (a province plan takes minutes).

The staff buttons queue these jobs (the request returns at once) and the plan page shows their progress.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse

from jianguan.core.jobs import JobContext, JobError, job_handler
from jianguan.core.models import User

FREEZE = "inspections.freeze"
DRAW = "inspections.draw"
KINDS = (FREEZE, DRAW)


def _plan_and_user(ctx: JobContext):  # type: ignore[no-untyped-def]
    from jianguan.inspections.models import InspectionPlan

    plan = InspectionPlan.objects.get(pk=ctx.params["plan"])
    user = User.objects.filter(pk=ctx.params.get("user")).first()
    return plan, user


def _plan_url(plan_id: int) -> str:
    return reverse("inspections:plan_detail", args=[plan_id])


@job_handler(FREEZE)
def freeze_job(ctx: JobContext) -> dict[str, Any]:
    from jianguan.inspections import draws, services

    plan, user = _plan_and_user(ctx)
    ctx.progress("冻结候选名单：按事项选取候选对象", force=True)

    def items_progress(done: int, total: int) -> None:
        ctx.progress(done=done, total=total)

    try:
        plan = draws.plan_freeze(plan, actor=user, today=dt.date.fromisoformat(ctx.params["today"]),
                                    progress=items_progress)
    except services.InspectionError as exc:
        raise JobError(str(exc)) from None
    ctx.progress("候选名单已冻结，承诺值已公开", force=True)
    return {"commitment": plan.commitment, "candidates": plan.candidates_count, "url": _plan_url(plan.pk)}


@job_handler(DRAW)
def draw_job(ctx: JobContext) -> dict[str, Any]:
    from jianguan.inspections import assignment, draws, services

    plan, user = _plan_and_user(ctx)
    try:
        ctx.progress("抽取检查对象并合并联合检查", done=0, total=2, force=True)
        plan = draws.plan_draw(plan, actor=user)
        ctx.progress("随机选派检查人员", done=1, total=2, force=True)
        result = assignment.plan_assign(plan, actor=user, today=dt.date.fromisoformat(ctx.params["today"]))
    except services.InspectionError as exc:
        raise JobError(str(exc)) from None
    ctx.progress("检查人员选派失败，未分配任何检查" if result.failures else "已抽取并选派检查人员", force=True)
    return {"visits": plan.visits_count, "visits_saved": plan.visits_saved, "assigned": len(result.teams),
            "failures": len(result.failures), "url": _plan_url(plan.pk)}
