"""Demo step of the credit module: the monthly cycle for the two months before the demo's today."""

from __future__ import annotations

from typing import Any

from jianguan.credit.domain.months import previous_month


def monthly_cycle(ctx: Any) -> None:
    """信用风险分类（上两个月）与名录到期处理 (credit classification for the last two months, list sweep)"""
    from jianguan.core.jobs import job_run_now
    from jianguan.credit.models import ClassificationRun
    from jianguan.credit.services import lists_sweep

    october = previous_month(ctx.today.replace(day=1))
    september = previous_month(october)
    for month in (september, october):
        if ClassificationRun.objects.filter(month=month, status="succeeded").exists():
            ctx.say(f"{month:%Y-%m} 已分类，跳过\n")
            continue
        job = job_run_now("credit.classify", f"{month:%Y-%m} 信用风险分类",
                          {"month": f"{month:%Y-%m}", "today": ctx.today.isoformat()})
        if job.status != "succeeded":
            ctx.say(f"{month:%Y-%m} 分类失败：{job.error}\n")
            return
        counts = job.result["counts"]
        ctx.say(f"{month:%Y-%m} 信用风险分类：" + "，".join(f"{c} {counts.get(c, 0)}" for c in "ABCD") + "\n")
    swept = lists_sweep(as_of=ctx.today, actor=None)
    ctx.say("名录到期处理：" + "，".join(f"{k} {v}" for k, v in swept.items()) + "\n")
