"""Who may see and act on complaints and reports: scope by the assigned unit, plus the intake unit for clerks.

A case outside the user's scope answers exactly like a missing one (`Http404`).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from jianguan.complaints.models import Case
from jianguan.core.access import can_write, data_scope, has_role
from jianguan.core.models import Role, User

HANDLING_ROLES = (Role.HANDLER, Role.SECTION_HEAD, Role.LEADER, Role.ADMIN)
APPROVER_ROLES = (Role.SECTION_HEAD, Role.LEADER, Role.ADMIN)
DISPATCH_ROLES = (Role.INTAKE_CLERK, Role.ADMIN)
# Roles that may see a reporter's identity once the case is in their scope (art. 37: those handling it).
IDENTITY_ROLES = (Role.HANDLER, Role.SECTION_HEAD, Role.LEADER, Role.INTAKE_CLERK, Role.ADMIN)


class NotAllowed(Exception):
    """The user sees the case but may not take this action (wrong role or not the handling unit)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def case_scope_q(user: User) -> Q:
    """Cases assigned to a unit in the user's scope, or registered by an intake unit in it."""
    scope = data_scope(user)
    return scope.units_q("unit") | scope.units_q("intake_unit")


def case_queryset(user: User) -> QuerySet[Case]:
    return Case.objects.filter(case_scope_q(user))


def access_case(user: User, tracking_number: str, *, for_update: bool = False) -> Case:
    """The case if the user may see it, else Http404."""
    qs = case_queryset(user).select_related("unit", "intake_unit", "handler", "entity")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    try:
        return qs.get(tracking_number=tracking_number)
    except Case.DoesNotExist:
        raise Http404 from None


def is_dispatcher(user: User, case: Case) -> bool:
    """An intake clerk whose scope covers the intake unit that registered the case."""
    return has_role(user, *DISPATCH_ROLES) and data_scope(user).covers_unit(case.intake_unit)


def is_handling_staff(user: User, case: Case) -> bool:
    """Staff of the assigned unit (or above it) with a handling role."""
    return (case.unit is not None and has_role(user, *HANDLING_ROLES) and can_write(user)
            and data_scope(user).covers_unit(case.unit))


def require_dispatcher(user: User, case: Case) -> None:
    if not is_dispatcher(user, case):
        raise NotAllowed(
            "只有登记（分派）机构的登记员可以分派；"
            "承办单位不具备处理权限的，应退回分派机构，不得自行移送（第四十一条）"
        )


def require_handler(user: User, case: Case) -> None:
    if not is_handling_staff(user, case):
        raise NotAllowed("您不是该件承办单位的承办人员，不能办理此操作")


def require_approver(user: User, case: Case) -> None:
    if not (case.unit is not None and has_role(user, *APPROVER_ROLES) and data_scope(user).covers_unit(case.unit)):
        raise NotAllowed("延长期限须经承办单位负责人批准（科室负责人或局领导）")


def can_see_identity(user: User, case: Case) -> bool:
    """Art. 37: the complainant/reporter identity is for the staff handling the case and roles that need it."""
    if not has_role(user, *IDENTITY_ROLES):
        return False
    scope = data_scope(user)
    if case.unit is not None and scope.covers_unit(case.unit):
        return True
    return is_dispatcher(user, case)
