"""Loading the credit rule files from `settings.JIANGUAN_RULES_DIR / "credit"`."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from jianguan.credit.domain.model import ModelError, RiskModel, model_in_force, parse_model


def rules_dir() -> Path:
    return Path(settings.JIANGUAN_RULES_DIR) / "credit"


def load_model_file(path: Path) -> RiskModel:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ModelError(path.name, "(file)", f"YAML 格式错误：{exc}") from None
    return parse_model(data, path.name)


@lru_cache(maxsize=4)
def _load_models(directory: str) -> tuple[RiskModel, ...]:
    return tuple(load_model_file(p) for p in sorted(Path(directory).glob("risk-model-*.yaml")))


def load_models() -> tuple[RiskModel, ...]:
    """Every model version published under rules/credit (validated; the first invalid file raises)."""
    return _load_models(str(rules_dir()))


def model_for_month(month: dt.date) -> RiskModel:
    return model_in_force(load_models(), month)


def model_by_version(version: str) -> RiskModel | None:
    return next((m for m in load_models() if m.version == version), None)


@lru_cache(maxsize=4)
def _lists_rules(directory: str) -> dict[str, Any]:
    return yaml.safe_load((Path(directory) / "lists.yaml").read_text(encoding="utf-8"))


def lists_rules() -> dict[str, Any]:
    return _lists_rules(str(rules_dir()))


def clear_caches() -> None:
    _load_models.cache_clear()
    _lists_rules.cache_clear()
