"""Writes for the platform core: reference data, the unit tree, users and roles. One transaction each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction

from jianguan.core.audit import audit_record, snapshot
from jianguan.core.domain.divisions import full_name, load_divisions
from jianguan.core.models import Department, Division, Role, RoleAssignment, Scope, Unit, User


def _rules_yaml(*parts: str) -> Any:
    path = Path(settings.JIANGUAN_RULES_DIR, *parts)
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def divisions_sync() -> int:
    """Upsert the packaged GB/T 2260 table (current and historical codes). Idempotent."""
    table = load_divisions()
    existing = set(Division.objects.values_list("code", flat=True))
    rows = [Division(code=d.code, name=d.name, level=d.level, parent_id=d.parent or None, current=d.current,
                     full_name=full_name(d.code, table), note=d.note) for d in table.values()]
    with transaction.atomic():
        Division.objects.bulk_create([r for r in rows if r.code not in existing], batch_size=1000)
        Division.objects.bulk_update([r for r in rows if r.code in existing],
                                     ["name", "level", "parent", "current", "full_name", "note"], batch_size=1000)
    return len(rows)


def departments_sync() -> int:
    """Create the configured departments that do not exist yet (names of existing ones are a bureau's to edit)."""
    data = _rules_yaml("organisation", "departments.yaml")
    created = 0
    for order, d in enumerate(data["departments"]):
        _, was_created = Department.objects.get_or_create(
            code=d["code"], defaults={"name": d["name"], "is_market_regulation": bool(d.get("market_regulation")),
                                      "sort_order": order})
        created += was_created
    return created


def _bureau_name(division: Division, table_parent: Division | None) -> str:
    if division.level == "county" and table_parent is not None and division.name.endswith("区"):
        return f"{table_parent.name}{division.name}市场监督管理局"
    return f"{division.name}市场监督管理局"


@dataclass
class OrgSummary:
    bureaus: int = 0
    stations: int = 0
    intake_centres: int = 0
    partner_units: int = 0


def org_bootstrap(province_code: str, *, partner_counties: Iterable[str] = (), actor: User | None = None) -> OrgSummary:
    """Create the bureau tree of a province from the division table: province → cities → counties,
    stations (from rules/organisation/stations.yaml), a 12315 centre per city, and partner-department offices
    in the given counties. Idempotent: existing units are kept."""
    samr = Department.objects.get(code="samr")
    stations_cfg = (_rules_yaml("organisation", "stations.yaml") or {}).get("counties", {})
    summary = OrgSummary()
    suffixes = {d["code"]: d["unit_suffix"] for d in _rules_yaml("organisation", "departments.yaml")["departments"]
                if d.get("unit_suffix")}

    def unit(code: str, name: str, kind: str, division: Division, parent: Unit | None, dept: Department) -> Unit:
        obj, created = Unit.objects.get_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "division": division, "parent": parent, "department": dept})
        if created:
            audit_record(obj, "create", actor=actor, after=snapshot(obj, ["code", "name", "kind", "division_id"]))
            if kind == Unit.Kind.BUREAU:
                summary.bureaus += 1
            elif kind == Unit.Kind.STATION:
                summary.stations += 1
            elif kind == Unit.Kind.INTAKE:
                summary.intake_centres += 1
            else:
                summary.partner_units += 1
        return obj

    with transaction.atomic():
        province = Division.objects.get(code=province_code)
        top = unit(f"{province.code}-samr", f"{province.name}市场监督管理局", Unit.Kind.BUREAU, province, None, samr)
        for city in Division.objects.filter(parent=province, current=True, level="city"):
            city_bureau = unit(f"{city.code}-samr", f"{city.name}市场监督管理局", Unit.Kind.BUREAU, city, top, samr)
            unit(f"{city.code}-12315", f"{city.name}12315投诉举报中心", Unit.Kind.INTAKE, city, city_bureau, samr)
            for county in Division.objects.filter(parent=city, current=True, level="county"):
                county_bureau = unit(f"{county.code}-samr", _bureau_name(county, city), Unit.Kind.BUREAU, county,
                                     city_bureau, samr)
                for st in stations_cfg.get(county.code, []):
                    unit(f"{county.code}-station-{st['name']}", f"{county_bureau.name}{st['name']}",
                         Unit.Kind.STATION, county, county_bureau, samr)
        for code in partner_counties:
            county = Division.objects.get(code=code)
            parent = county.parent
            prefix = f"{parent.name}{county.name}" if county.name.endswith("区") and parent is not None else county.name
            for dept in Department.objects.filter(is_market_regulation=False):
                suffix = suffixes.get(dept.code, "局")
                unit(f"{county.code}-{dept.code}", f"{prefix}{dept.name}{suffix}", Unit.Kind.PARTNER, county, None,
                     dept)
    return summary


def user_create(username: str, password: str, *, full_name: str, unit: Unit,
                roles: Iterable[tuple[str, str]] = (), actor: User | None = None, phone: str = "") -> User:
    """Create a user with role assignments [(role, scope)] in their unit. The password is Argon2-hashed."""
    with transaction.atomic():
        user = User(username=username, full_name=full_name, unit=unit, phone=phone)
        user.set_password(password)
        user.save()
        for role, scope in roles:
            Role(role)
            Scope(scope)
            RoleAssignment.objects.create(user=user, role=role, unit=unit, scope=scope)
        audit_record(user, "create", actor=actor,
                     after={"username": username, "unit": unit.name, "roles": [list(r) for r in roles]})
    return user
