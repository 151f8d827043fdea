"""Reads for the platform core."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import QuerySet

from jianguan.core.access import data_scope
from jianguan.core.models import AuditEntry, Job, User


def home_cards(user: User) -> list[dict[str, Any]]:
    """Counts for the home page, contributed by every installed module for the user's scope."""
    cards: list[dict[str, Any]] = []
    configs = sorted((c for c in apps.get_app_configs() if hasattr(c, "home_cards")),
                     key=lambda c: getattr(c, "menu_order", 100))
    for cfg in configs:
        cards.extend(cfg.home_cards(user))
    return cards


def job_list_for(user: User) -> QuerySet[Job]:
    qs = Job.objects.select_related("created_by", "unit")
    scope = data_scope(user)
    if scope.everything:
        return qs
    return qs.filter(scope.units_q(unit_field="unit", owner_field="created_by")) | qs.filter(created_by=user)


def audit_list(filters: dict[str, str]) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.order_by("-seq")
    if filters.get("object_type"):
        qs = qs.filter(object_type=filters["object_type"])
    if filters.get("object_id"):
        qs = qs.filter(object_id=filters["object_id"])
    if filters.get("actor"):
        qs = qs.filter(actor_name__contains=filters["actor"])
    if filters.get("action"):
        qs = qs.filter(action=filters["action"])
    return qs
