"""The legal and local numbers of random inspections, read from `rules/inspections/*.yaml` (cached)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings


def _load(name: str) -> dict[str, Any]:
    path = Path(settings.JIANGUAN_RULES_DIR) / "inspections" / name
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or "source" not in data or "valid_from" not in data:
        raise ValueError(f"{path}: 缺少 source/valid_from")
    return data


@dataclass(frozen=True)
class ResultCode:
    code: str
    label: str
    problem: bool
    consequence: str = ""


@lru_cache(maxsize=1)
def result_codes() -> dict[str, ResultCode]:
    """Result codes in their published order."""
    return {c["code"]: ResultCode(c["code"], c["label"], bool(c.get("problem")), c.get("consequence", ""))
            for c in _load("result-codes.yaml")["codes"]}


def result_code_choices() -> list[tuple[str, str]]:
    return [(c.code, c.label) for c in result_codes().values()]


@dataclass(frozen=True)
class PublicationRules:
    within_working_days: int
    warn_working_days: int


@lru_cache(maxsize=1)
def publication_rules() -> PublicationRules:
    data = _load("publication.yaml")
    return PublicationRules(int(data["publish_within_working_days"]), int(data["warn_working_days"]))


@dataclass(frozen=True)
class AssignmentRules:
    min_team_size: int
    same_entity_interval_days: int
    workload_cap_per_period: int


@lru_cache(maxsize=1)
def assignment_rules() -> AssignmentRules:
    data = _load("assignment.yaml")
    return AssignmentRules(int(data["min_team_size"]), int(data["same_entity_interval_days"]),
                           int(data["workload_cap_per_period"]))


@lru_cache(maxsize=1)
def default_items() -> list[dict[str, Any]]:
    """The shipped item list, with defaults applied (ratios as Decimal strings)."""
    data = _load("items.yaml")
    defaults = data["defaults"]
    out = []
    for raw in data["items"]:
        base = defaults[raw["kind"]]
        ratios = {k: str(Decimal(str((raw.get("ratios") or {}).get(k, base[k])))) for k in "ABCD"}
        out.append({
            "code": raw["code"], "name": raw["name"], "department": raw["department"], "kind": raw["kind"],
            "category": raw["category"], "legal_basis": raw.get("legal_basis", ""),
            "check_points": list(raw.get("check_points") or []), "target_rule": dict(raw.get("target") or {}),
            "ratios": ratios, "min_interval_days": int(raw.get("min_interval_days", base["min_interval_days"])),
            "source": data["source"],
        })
    return out
