"""Writes for enforcement follow-up records."""

from __future__ import annotations

from jianguan.core.audit import audit_record, snapshot
from jianguan.core.models import Unit, User
from jianguan.enforcement.models import Lead
from jianguan.registry.models import Entity


def lead_create(*, source: str, source_ref: str, unit: Unit, summary: str, entity: Entity | None = None,
                actor: User | None = None) -> Lead:
    """Hand a finding to enforcement; the same source record never creates two leads. Call inside the caller's
    transaction."""
    lead, created = Lead.objects.get_or_create(
        source=source, source_ref=source_ref,
        defaults={"unit": unit, "summary": summary, "entity": entity, "created_by": actor})
    if created:
        audit_record(lead, "create", actor=actor, after=snapshot(lead, ["source", "source_ref", "entity_id",
                                                                       "unit_id", "summary"]))
    return lead
