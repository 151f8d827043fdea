"""Who may see and do what in the platform core; the data-scope rules every app's `access` module builds on.

A record outside a user's scope answers exactly like a missing one: `Http404`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from jianguan.core.models import Role, RoleAssignment, Scope, Unit, User

M = TypeVar("M", bound=Model)

READ_ONLY_ROLES = frozenset({Role.AUDITOR})


@dataclass(frozen=True)
class DataScope:
    """The records a user may see, from the union of their role assignments."""

    everything: bool = False
    unit_paths: tuple[str, ...] = ()      # "own unit and below"
    unit_ids: frozenset[int] = frozenset()  # "own unit"
    own_user_id: int | None = None          # "own records"
    division_prefixes: tuple[str, ...] = ()  # jurisdiction of the units above, as GB/T 2260 prefixes
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.everything or self.unit_paths or self.unit_ids or self.own_user_id)

    def units_q(self, unit_field: str = "unit", owner_field: str | None = None) -> Q:
        """Condition on a record's owning unit (and, for "own records", its owner)."""
        if self.everything:
            return Q()
        rel = f"{unit_field}__" if unit_field else ""
        q = Q(pk__in=[])
        for path in self.unit_paths:
            q |= Q(**{f"{rel}path__startswith": path})
        if self.unit_ids:
            q |= Q(**{f"{unit_field or 'pk'}__in": list(self.unit_ids)})
        if owner_field and self.own_user_id:
            q |= Q(**{owner_field: self.own_user_id})
        return q

    def divisions_q(self, division_field: str = "division_id") -> Q:
        """Condition on a record's GB/T 2260 division (registry entities, complaints by place)."""
        if self.everything:
            return Q()
        # A foreign key's column ("division_id") is matched through the related primary key; Django trims the join.
        lookup = f"{division_field[:-3]}__pk__startswith" if division_field.endswith("_id") else \
            f"{division_field}__startswith"
        q = Q(pk__in=[])
        for prefix in self.division_prefixes:
            q |= Q(**{lookup: prefix})
        return q

    def covers_division(self, code: str) -> bool:
        return self.everything or any(code.startswith(p) for p in self.division_prefixes)

    def covers_unit(self, unit: Unit) -> bool:
        return (self.everything or unit.pk in self.unit_ids
                or any(unit.path.startswith(p) for p in self.unit_paths))


def data_scope(user: User) -> DataScope:
    """Compute a user's data scope from their role assignments (superusers see everything)."""
    if not user.is_authenticated or not user.is_active:
        return DataScope()
    cached = getattr(user, "_jianguan_scope", None)
    if cached is not None:
        return cached
    assignments = list(RoleAssignment.objects.filter(user=user).select_related("unit__division"))
    roles = frozenset(a.role for a in assignments)
    if user.is_superuser or any(a.scope == Scope.ALL for a in assignments):
        scope = DataScope(everything=True, roles=roles)
    else:
        paths, ids, prefixes = [], set(), []
        own = None
        for a in assignments:
            if a.scope == Scope.SUBTREE:
                paths.append(a.unit.path)
                prefixes.append(a.unit.division.scope_prefix)
            elif a.scope == Scope.UNIT:
                ids.add(a.unit_id)
                prefixes.append(a.unit.division.scope_prefix)
            elif a.scope == Scope.OWN:
                own = user.pk
        scope = DataScope(unit_paths=tuple(sorted(set(paths))), unit_ids=frozenset(ids), own_user_id=own,
                          division_prefixes=tuple(sorted(set(prefixes))), roles=roles)
    user._jianguan_scope = scope  # type: ignore[attr-defined]
    return scope


def has_role(user: User, *roles: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    return bool(data_scope(user).roles & set(roles))


def can_write(user: User) -> bool:
    """Auditors read; everyone else with a role may act (each workflow checks its own roles too)."""
    scope = data_scope(user)
    return user.is_superuser or bool(scope.roles - READ_ONLY_ROLES)


def get_in_scope_or_404(queryset: QuerySet[M], q: Q, **lookup: object) -> M:
    """Fetch one record the user may see; outside the scope it is simply not found."""
    try:
        return queryset.filter(q).get(**lookup)
    except ObjectDoesNotExist:  # the base of queryset.model.DoesNotExist, which is all .get() raises for "not found"
        raise Http404 from None


def access_unit_list(user: User) -> QuerySet[Unit]:
    """Units the user may see: their own subtree, and partner-department offices within their jurisdiction."""
    scope = data_scope(user)
    units = Unit.objects.select_related("division", "department", "parent")
    if scope.everything:  # Q() | X would collapse to X, so "everything" is not expressed as a condition
        return units
    return units.filter(scope.units_q(unit_field="") | (Q(kind=Unit.Kind.PARTNER) & scope.divisions_q("division_id")))


def visible_menu(user: User, entries: Iterable[tuple[object, str, tuple[str, ...] | None]]) -> list[tuple[object, str]]:
    return [(label, url) for label, url, roles in entries if roles is None or has_role(user, *roles)]
