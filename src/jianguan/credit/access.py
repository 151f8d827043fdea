"""Who may see and act on credit records: scoped by the entity's division, like the registry.

A record outside the user's jurisdiction answers exactly like a missing one (`Http404`); a service asked to act
on an entity outside it raises `CreditError` and writes nothing.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, Q, QuerySet

from jianguan.core.access import data_scope, get_in_scope_or_404, has_role
from jianguan.core.models import User

M = TypeVar("M", bound=Model)

LIST_ROLES = ("admin", "leader", "section_head", "handler")
APPROVER_ROLES = ("admin", "section_head")
REPAIR_DECIDER_ROLES = ("admin", "leader", "section_head")
CLASSIFY_ROLES = ("admin", "leader", "section_head")


def entity_records_q(user: User, entity_field: str = "entity") -> Q:
    return data_scope(user).divisions_q(f"{entity_field}__division_id")


def access_records(user: User, queryset: QuerySet[M], entity_field: str = "entity") -> QuerySet[M]:
    return queryset.filter(entity_records_q(user, entity_field))


def access_record(user: User, queryset: QuerySet[M], pk: int, entity_field: str = "entity") -> M:
    return get_in_scope_or_404(queryset, entity_records_q(user, entity_field), pk=pk)


def access_batch(user: User, queryset: QuerySet[M], pk: int) -> M:
    return get_in_scope_or_404(queryset, data_scope(user).divisions_q("division_id"), pk=pk)


def covers_entity(user: User | None, division_code: str) -> bool:
    """System actions (user None: CLI, jobs) cover everything."""
    return user is None or data_scope(user).covers_division(division_code)


def can_act_on_lists(user: User) -> bool:
    return has_role(user, *LIST_ROLES)


def can_approve_batches(user: User) -> bool:
    return has_role(user, *APPROVER_ROLES)


def can_decide_repairs(user: User) -> bool:
    return has_role(user, *REPAIR_DECIDER_ROLES)


def can_classify(user: User) -> bool:
    return has_role(user, *CLASSIFY_ROLES)


def can_see_risk(user: User) -> bool:
    """The risk class is internal: staff with any role (auditors included) may read it."""
    return user.is_authenticated and (user.is_superuser or bool(data_scope(user).roles))
