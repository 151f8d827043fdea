"""Credit features from complaints and reports: verified complaints and reports in the last 12 months."""

from __future__ import annotations

import datetime as dt

import polars as pl
from django.db.models import Count, Q

from jianguan.complaints.models import Case

# A complaint counts when it was accepted and mediated (not rejected, not a consultation); a report when its
# verification led to a case being opened.
VERIFIED_COMPLAINT = Q(kind=Case.Kind.COMPLAINT, accepted_on__isnull=False)
VERIFIED_REPORT = Q(kind=Case.Kind.REPORT, result=Case.Result.CASE_OPENED)


def features(as_of: dt.date) -> pl.DataFrame:
    """`entity_id`, `verified_complaints_12m`, `verified_reports_12m` for entities with any, as of `as_of`."""
    since = as_of - dt.timedelta(days=365)
    rows = (Case.objects.filter(entity_id__isnull=False, received_on__gt=since, received_on__lte=as_of)
            .filter(VERIFIED_COMPLAINT | VERIFIED_REPORT).values("entity_id")
            .annotate(c=Count("id", filter=VERIFIED_COMPLAINT), r=Count("id", filter=VERIFIED_REPORT)))
    data = list(rows.values_list("entity_id", "c", "r"))
    return pl.DataFrame(
        {"entity_id": [d[0] for d in data], "verified_complaints_12m": [d[1] for d in data],
         "verified_reports_12m": [d[2] for d in data]},
        schema={"entity_id": pl.Int64, "verified_complaints_12m": pl.Int64, "verified_reports_12m": pl.Int64})
