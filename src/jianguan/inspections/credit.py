"""Feature provider for the credit risk classification: inspections that found problems in the last 3 years."""

from __future__ import annotations

import datetime as dt

import polars as pl

from jianguan.inspections.models import Visit, VisitItem
from jianguan.inspections.rules import result_codes


def features(as_of: dt.date) -> pl.DataFrame:
    """`entity_id`, `inspections_with_problems_3y`: visits ended within 3 years before `as_of` (inclusive) with
    at least one item whose result code counts as a problem. Only entities with such visits are listed."""
    problem = [c for c, rc in result_codes().items() if rc.problem]
    try:
        since = as_of.replace(year=as_of.year - 3)
    except ValueError:  # 29 February
        since = as_of.replace(year=as_of.year - 3, day=28)
    visit_ids = (VisitItem.objects.filter(result_code__in=problem, visit__end_date__gt=since,
                                          visit__end_date__lte=as_of,
                                          visit__status__in=[Visit.Status.COMPLETED, Visit.Status.PUBLISHED])
                 .values_list("visit_id", "visit__entity_id").distinct())
    counts: dict[int, int] = {}
    for _vid, entity_id in visit_ids:
        counts[entity_id] = counts.get(entity_id, 0) + 1
    return pl.DataFrame({"entity_id": list(counts), "inspections_with_problems_3y": list(counts.values())},
                        schema={"entity_id": pl.Int64, "inspections_with_problems_3y": pl.Int64})
