"""Factories for credit tests: penalties, listings, users of the Wendeng/Rongcheng bureaus."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

_seq = itertools.count(1)


def create_penalty(entity, *, unit, severity: str = "general", decided_on: dt.date = dt.date(2026, 3, 2),
                   published_on: dt.date | None = None, **overrides: Any):
    from jianguan.credit.models import Penalty

    n = next(_seq)
    fields: dict[str, Any] = {"decision_number": f"文市监处罚〔2026〕{n}号", "violation": "销售过期食品",
                              "amount": 5000, "published_on": published_on}
    fields.update(overrides)
    return Penalty.objects.create(entity=entity, unit=unit, severity=severity, decided_on=decided_on, **fields)


def create_abnormal(entity, *, unit, entered_on: dt.date = dt.date(2025, 7, 10), ground: str = "annual_report",
                    **overrides: Any):
    from jianguan.credit.models import AbnormalListing

    n = next(_seq)
    fields: dict[str, Any] = {"decision_number": f"文市监异〔2025〕{n}号", "reason": "未按期报送年报"}
    fields.update(overrides)
    return AbnormalListing.objects.create(entity=entity, unit=unit, ground=ground, entered_on=entered_on, **fields)


def create_serious(entity, *, unit, entered_on: dt.date = dt.date(2025, 5, 6), **overrides: Any):
    from jianguan.credit.domain.months import add_years
    from jianguan.credit.models import SeriousListing

    n = next(_seq)
    fields: dict[str, Any] = {"decision_number": f"文市监严〔2025〕{n}号", "reason": "因较重违法行为受到行政处罚"}
    fields.update(overrides)
    return SeriousListing.objects.create(entity=entity, unit=unit, entered_on=entered_on,
                                         earliest_removal_on=add_years(entered_on, 1),
                                         auto_removal_on=add_years(entered_on, 3), **fields)
