"""消费投诉信息公示: the complaints section of an enterprise's public record (registry `public_record_sections`).

Art. 38 of Order 121 asks bureaus to publish consumer-complaint information; art. 39 keeps personal data out. The
section shows, for the last `window_months` (rules/complaints/publication.yaml): complaints accepted, how many
closed by a mediation agreement, how many the enterprise settled itself through ODR, the amount recovered for
consumers, and the accepted complaints by category. Never a report (举报), never a consumer's name, phone or
address, never the text of a complaint: only counts and sums are read from the database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from jianguan.complaints.domain.categories import CATEGORY_LABELS
from jianguan.complaints.models import Case
from jianguan.complaints.rules import rules_dir


@lru_cache(maxsize=1)
def publication_rules() -> dict[str, Any]:
    import yaml

    return yaml.safe_load((rules_dir() / "publication.yaml").read_text(encoding="utf-8"))


def _months_back(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    month = m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(y, month, d)
        except ValueError:
            continue
    return dt.date(y, month, 28)


def complaints_public(entity_id: int, *, today: dt.date) -> dict[str, Any]:
    """Counts and sums only (no row of a case leaves this function): the published figures for one entity."""
    rules = publication_rules()
    since = _months_back(today, int(rules["window_months"])) + dt.timedelta(days=1)
    complaints = Case.objects.filter(entity_id=entity_id, kind=Case.Kind.COMPLAINT)
    accepted = complaints.filter(accepted_on__gte=since, accepted_on__lte=today)
    odr = complaints.filter(result=Case.Result.ODR_SETTLED, closed_on__gte=since, closed_on__lte=today)
    a = accepted.aggregate(
        accepted=Count("id"), agreement=Count("id", filter=Q(result=Case.Result.AGREEMENT)),
        terminated=Count("id", filter=Q(result=Case.Result.TERMINATED)),
        mediating=Count("id", filter=Q(status=Case.Status.MEDIATING)),
        recovered=Sum("amount_recovered", filter=Q(result=Case.Result.AGREEMENT)))
    o = odr.aggregate(n=Count("id"), recovered=Sum("amount_recovered"))
    by_category = [(CATEGORY_LABELS.get(r["category"], r["category"]), r["n"]) for r in
                   accepted.values("category").annotate(n=Count("id")).order_by("-n", "category")]
    return {"since": since, "until": today, "accepted": a["accepted"], "agreement": a["agreement"],
            "terminated": a["terminated"], "mediating": a["mediating"], "odr_settled": o["n"],
            "recovered": (a["recovered"] or Decimal(0)) + (o["recovered"] or Decimal(0)),
            "by_category": by_category, "source": rules["source"]}


def record_section(entity: Any) -> dict[str, Any] | None:
    figures = complaints_public(entity.pk, today=timezone.localdate())
    if figures["accepted"] + figures["odr_settled"] < int(publication_rules().get("min_to_publish") or 0):
        return None
    return {"key": "complaints", "title": _("消费投诉信息公示"), "template": "complaints/public_record_section.html",
            "context": {"figures": figures}}
