"""Who may see which market entities: the registry is scoped by the entity's GB/T 2260 division.

An entity outside the user's jurisdiction answers exactly like a missing one (`Http404`).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from jianguan.core.access import data_scope, get_in_scope_or_404
from jianguan.core.models import User
from jianguan.registry.models import Entity


def entity_scope_q(user: User) -> Q:
    """Condition selecting the entities registered in the user's jurisdiction."""
    return data_scope(user).divisions_q("division_id")


def access_entity_list(user: User) -> QuerySet[Entity]:
    """All entities the user may see (nothing for a user without a role)."""
    return Entity.objects.filter(entity_scope_q(user))


def access_entity(user: User, uscc: str) -> Entity:
    """One entity by USCC, or `Http404` when it does not exist or lies outside the user's jurisdiction."""
    return get_in_scope_or_404(Entity.objects.select_related("division", "industry"), entity_scope_q(user),
                               uscc=uscc.strip().upper())
