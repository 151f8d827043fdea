"""Background jobs of the complaints module: the nightly refresh of the dashboard summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jianguan.core.jobs import JobContext, job_handler

INCREMENTAL_DAYS = 200  # longer than any open case's remaining periods (mediation 60 days + pauses, extensions)


@job_handler("complaints.summary_refresh")
def summary_refresh_job(ctx: JobContext) -> dict[str, Any]:
    """Params: as_of "YYYY-MM-DD" (today), optional full (bool) or days (int). Sundays rebuild in full."""
    from jianguan.complaints.services import today_local
    from jianguan.complaints.summary import summary_rebuild

    params = ctx.params
    today = dt.date.fromisoformat(params["as_of"]) if params.get("as_of") else today_local()
    full = bool(params.get("full")) or (params.get("scheduled") and today.isoweekday() == 7)
    days = None if full else int(params.get("days") or INCREMENTAL_DAYS)
    ctx.progress("统计汇总刷新")
    result = summary_rebuild(today=today, days=days, actor=ctx.job.created_by)
    return {"through": result.through.isoformat(), "rows": result.rows, "seconds": round(result.seconds, 2),
            "full": result.full}
