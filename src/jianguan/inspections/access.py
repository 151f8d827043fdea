"""Who sees which plans and visits: plans by unit scope; visits by unit scope or, for inspectors, their own."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from jianguan.core.access import can_write, data_scope, has_role
from jianguan.core.models import User
from jianguan.inspections.models import InspectionPlan, Inspector, Visit

APPROVERS = ("leader", "section_head")
PLANNERS = ("leader", "section_head", "handler")
RECORDERS = ("inspector", "partner_inspector")


def plans_for(user: User) -> QuerySet[InspectionPlan]:
    return InspectionPlan.objects.filter(data_scope(user).units_q("unit")).select_related("unit")


def plan_or_404(user: User, pk: int) -> InspectionPlan:
    try:
        return plans_for(user).get(pk=pk)
    except InspectionPlan.DoesNotExist:
        raise Http404 from None


def visits_q(user: User) -> Q:
    scope = data_scope(user)
    q = scope.units_q("unit")
    if scope.own_user_id:
        q |= Q(team__inspector__user_id=scope.own_user_id)
    return q


def visits_for(user: User) -> QuerySet[Visit]:
    ids = Visit.objects.filter(visits_q(user)).values("pk")
    return Visit.objects.filter(pk__in=ids).select_related("entity", "plan", "unit")


def visit_or_404(user: User, pk: int) -> Visit:
    try:
        return visits_for(user).get(pk=pk)
    except Visit.DoesNotExist:
        raise Http404 from None


def inspectors_for(user: User) -> QuerySet[Inspector]:
    scope = data_scope(user)
    q = scope.units_q("unit")
    if scope.own_user_id:
        q |= Q(user_id=scope.own_user_id)
    return Inspector.objects.filter(q).select_related("unit", "department", "user")


def can_plan(user: User) -> bool:
    return can_write(user) and has_role(user, *PLANNERS)


def can_approve(user: User) -> bool:
    return can_write(user) and has_role(user, *APPROVERS)


def can_record(user: User, visit: Visit) -> bool:
    """谁检查、谁录入: a member of the visit's team; or bureau staff entering the paper record in scope."""
    if not can_write(user):
        return False
    if visit.team.filter(inspector__user=user).exists():
        return True
    return has_role(user, *PLANNERS) and data_scope(user).covers_unit(visit.unit)


def can_publish(user: User, visit: Visit) -> bool:
    return can_write(user) and has_role(user, *PLANNERS) and data_scope(user).covers_unit(visit.unit)
