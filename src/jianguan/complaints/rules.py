"""Loading the complaints rule files (`rules/complaints/*.yaml`) once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from jianguan.complaints.domain.clock import RuleSet, parse_ruleset

RULE_FILES = ("order-20.yaml", "order-121.yaml")


def rules_dir() -> Path:
    from django.conf import settings

    return Path(settings.JIANGUAN_RULES_DIR) / "complaints"


def _yaml(name: str, directory: Path | None = None) -> Any:
    path = (directory or rules_dir()) / name
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_rulesets(directory: Path | None = None, *, warn_ratio: float | None = None) -> tuple[RuleSet, ...]:
    """Every version of the deadline rules, oldest first."""
    sets = [parse_ruleset(_yaml(name, directory), warn_ratio=warn_ratio) for name in RULE_FILES]
    return tuple(sorted(sets, key=lambda r: r.valid_from))


@lru_cache(maxsize=1)
def get_rulesets() -> tuple[RuleSet, ...]:
    """The rule versions the running site uses (JIANGUAN_COMPLAINTS_WARN_RATIO overrides the 0.7 default)."""
    import os

    ratio = os.environ.get("JIANGUAN_COMPLAINTS_WARN_RATIO")
    return load_rulesets(warn_ratio=float(ratio) if ratio else None)


def get_ruleset(code: str) -> RuleSet:
    return next(r for r in get_rulesets() if r.code == code)


@lru_cache(maxsize=1)
def flag_rules() -> dict[str, Any]:
    return _yaml("flags.yaml")


@lru_cache(maxsize=1)
def intake_rules() -> dict[str, Any]:
    return _yaml("intake.yaml")


def dictionary_path() -> Path:
    return rules_dir() / "dictionary.txt"
