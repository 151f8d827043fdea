"""Background jobs of the credit module."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jianguan.core.jobs import JobContext, JobError, job_handler
from jianguan.credit.classification import ClassificationError, classification_run
from jianguan.credit.domain.model import parse_month


@job_handler("credit.classify")
def classify_job(ctx: JobContext) -> dict[str, Any]:
    """Params: month "YYYY-MM", today "YYYY-MM-DD", optional as_of "YYYY-MM-DD"."""
    from django.urls import reverse

    params = ctx.params
    month = parse_month(params["month"])
    today = dt.date.fromisoformat(params["today"])
    as_of = dt.date.fromisoformat(params["as_of"]) if params.get("as_of") else None

    def progress(step: str, done: int, total: int | None) -> None:
        ctx.progress(step, done=done, total=total)

    try:
        outcome = classification_run(month, today=today, as_of=as_of, user=ctx.job.created_by, job=ctx.job,
                                     progress=progress)
    except ClassificationError as exc:
        raise JobError(str(exc)) from None
    ctx.progress(counts=outcome.counts, force=True)
    return {"month": params["month"], "counts": outcome.counts, "model_version": outcome.run.model_version,
            "timings": {k: round(v, 2) for k, v in outcome.timings.items()},
            "url": reverse("credit:distribution") + f"?month={params['month']}"}


@job_handler("credit.abnormal_candidates")
def abnormal_candidates_job(ctx: JobContext) -> dict[str, Any]:
    """Params: year, as_of "YYYY-MM-DD" — run on 1 July: annual reports not filed by 30 June → batches.

    When scheduled (params `scheduled_for`, no `year`): the reports of the year before the scheduled date's year,
    so a 1 July run caught up after downtime in the next January still proposes the right year.
    """
    from jianguan.credit.services import CreditError, abnormal_candidates_generate

    params = ctx.params
    year = int(params["year"]) if params.get("year") else dt.datetime.fromisoformat(
        params["scheduled_for"]).year - 1
    try:
        batches = abnormal_candidates_generate(year, as_of=dt.date.fromisoformat(params["as_of"]),
                                               actor=ctx.job.created_by)
    except CreditError as exc:
        raise JobError(str(exc)) from None
    return {"year": year, "batches": len(batches), "candidates": sum(b.candidates.count() for b in batches)}


@job_handler("credit.lists_sweep")
def lists_sweep_job(ctx: JobContext) -> dict[str, Any]:
    """Params: as_of "YYYY-MM-DD" — daily: serious-list candidates and automatic removals."""
    from jianguan.credit.services import lists_sweep

    return lists_sweep(as_of=dt.date.fromisoformat(ctx.params["as_of"]), actor=ctx.job.created_by)
