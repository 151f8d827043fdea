"""The complaints tab on the staff entity page (registry `entity_tabs`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from jianguan.complaints.access import case_queryset
from jianguan.complaints.selectors import case_rows_masked
from jianguan.complaints.services import today_local
from jianguan.complaints.views import _user


def entity_tab(request: HttpRequest, entity: Any) -> dict[str, Any] | None:
    """Complaints and reports against this entity that the user may see, identities masked."""
    qs = case_queryset(_user(request)).filter(entity_id=entity.pk).order_by("-received_at")
    total = qs.count()
    if not total:
        return None
    return {"key": "complaints", "title": f"投诉举报（{total}）", "template": "complaints/_entity_tab.html",
            "context": {"rows": case_rows_masked(qs[:50]), "total": total, "today": today_local()}}
