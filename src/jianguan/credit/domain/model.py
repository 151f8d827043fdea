"""The risk model file (rules/credit/risk-model-*.yaml): parsing, validation and choosing the version in force.

Pure Python: the caller reads the files; every error names the file and the field in plain Chinese.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jianguan.credit.domain.features import KNOWN_FEATURES

CLASSES = ("A", "B", "C", "D")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class ModelError(ValueError):
    """An invalid risk-model file; the message names the file and field."""

    def __init__(self, source: str, field_path: str, message: str) -> None:
        self.source, self.field_path = source, field_path
        super().__init__(f"{source}: {field_path}: {message}")


@dataclass(frozen=True)
class Factor:
    name: str
    feature: str
    points: float
    description: str
    cap: float | None = None
    half_life_months: float | None = None
    window_months: int | None = None


@dataclass(frozen=True)
class HardRule:
    name: str
    feature: str
    min_value: float
    risk_class: str
    description: str


@dataclass(frozen=True)
class Band:
    risk_class: str
    lower: float  # inclusive; -inf for the first band
    upper: float  # exclusive; +inf for the last band


@dataclass(frozen=True)
class RiskModel:
    version: str
    effective_month: dt.date
    sources: tuple[str, ...]
    factors: tuple[Factor, ...]
    hard_rules: tuple[HardRule, ...]
    bands: tuple[Band, ...]
    parameters: Mapping[str, Any] = field(default_factory=dict)
    source_file: str = ""

    def classify(self, score: float) -> str:
        for band in self.bands:
            if band.lower <= score < band.upper:
                return band.risk_class
        raise AssertionError("bands cover the real line")  # guaranteed by validation

    @property
    def features(self) -> list[str]:
        names = [f.feature for f in self.factors] + [r.feature for r in self.hard_rules]
        return list(dict.fromkeys(names))


def parse_month(text: str) -> dt.date:
    m = _MONTH.match(str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(text)
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def _number(source: str, path: str, value: Any, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ModelError(source, path, f"应为数字，实际为 {value!r}")
    return float(value)


def _text(source: str, path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ModelError(source, path, "缺少或为空")
    return value.strip()


def parse_model(data: Any, source: str) -> RiskModel:
    """Validate one parsed YAML document; raise ModelError on the first problem."""
    if not isinstance(data, dict):
        raise ModelError(source, "(file)", "文件内容应为映射（mapping）")
    version = _text(source, "version", data.get("version"))
    if "effective_month" not in data or data["effective_month"] in (None, ""):
        raise ModelError(source, "effective_month", "缺少生效月份（格式 YYYY-MM）")
    try:
        effective = parse_month(data["effective_month"])
    except ValueError:
        raise ModelError(source, "effective_month", f"生效月份格式应为 YYYY-MM，实际为 {data['effective_month']!r}") \
            from None
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and s.strip() for s in sources):
        raise ModelError(source, "sources", "应列出模型依据的文件（至少一项）")

    raw_factors = data.get("factors")
    if not isinstance(raw_factors, list) or not raw_factors:
        raise ModelError(source, "factors", "应至少有一个因素")
    factors: list[Factor] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_factors):
        path = f"factors[{i}]"
        if not isinstance(raw, dict):
            raise ModelError(source, path, "应为映射")
        unknown_keys = set(raw) - {"name", "feature", "points", "cap", "decay_half_life_months", "window_months",
                                   "description"}
        if unknown_keys:
            raise ModelError(source, f"{path}.{sorted(unknown_keys)[0]}", "未知字段")
        name = _text(source, f"{path}.name", raw.get("name"))
        if name in seen:
            raise ModelError(source, f"{path}.name", f"因素名称重复：{name}")
        seen.add(name)
        feature = _text(source, f"{path}.feature", raw.get("feature"))
        if feature not in KNOWN_FEATURES:
            raise ModelError(source, f"{path}.feature", f"未知因素特征 {feature!r}（不在特征目录 KNOWN_FEATURES 中）")
        points = _number(source, f"{path}.points", raw.get("points"))
        cap = _number(source, f"{path}.cap", raw.get("cap"), allow_none=True)
        if cap is not None and cap <= 0:
            raise ModelError(source, f"{path}.cap", "上限应为正数（按分值绝对值封顶）")
        half_life = _number(source, f"{path}.decay_half_life_months", raw.get("decay_half_life_months"),
                            allow_none=True)
        if half_life is not None and half_life <= 0:
            raise ModelError(source, f"{path}.decay_half_life_months", "半衰期应为正数（月）")
        window = raw.get("window_months")
        if window is not None and (not isinstance(window, int) or isinstance(window, bool) or window <= 0):
            raise ModelError(source, f"{path}.window_months", "窗口期应为正整数（月）")
        description = _text(source, f"{path}.description", raw.get("description"))
        factors.append(Factor(name, feature, float(points or 0), description, cap, half_life, window))

    hard_rules: list[HardRule] = []
    for i, raw in enumerate(data.get("hard_rules") or []):
        path = f"hard_rules[{i}]"
        if not isinstance(raw, dict):
            raise ModelError(source, path, "应为映射")
        name = _text(source, f"{path}.name", raw.get("name"))
        feature = _text(source, f"{path}.feature", raw.get("feature"))
        if feature not in KNOWN_FEATURES:
            raise ModelError(source, f"{path}.feature", f"未知因素特征 {feature!r}（不在特征目录 KNOWN_FEATURES 中）")
        min_value = _number(source, f"{path}.min_value", raw.get("min_value", 1))
        cls = raw.get("class")
        if cls not in CLASSES:
            raise ModelError(source, f"{path}.class", f"应为 A/B/C/D 之一，实际为 {cls!r}")
        description = _text(source, f"{path}.description", raw.get("description"))
        hard_rules.append(HardRule(name, feature, float(min_value or 0), cls, description))

    bands = _parse_thresholds(data.get("thresholds"), source)
    parameters = data.get("feature_parameters") or {}
    if not isinstance(parameters, dict):
        raise ModelError(source, "feature_parameters", "应为映射")
    return RiskModel(version, effective, tuple(s.strip() for s in sources), tuple(factors), tuple(hard_rules),
                     bands, parameters, source)


def _parse_thresholds(raw: Any, source: str) -> tuple[Band, ...]:
    """Bands [min, max) in class order A→D; the first has no min, the last no max, each min = previous max."""
    if not isinstance(raw, list) or [r.get("class") if isinstance(r, dict) else None for r in raw] != list(CLASSES):
        raise ModelError(source, "thresholds", "应依次列出 A、B、C、D 四档分值区间（class, min, max）")
    bands: list[Band] = []
    for i, r in enumerate(raw):
        path = f"thresholds[{i}]"
        lo = _number(source, f"{path}.min", r.get("min"), allow_none=True)
        hi = _number(source, f"{path}.max", r.get("max"), allow_none=True)
        if i == 0 and lo is not None:
            raise ModelError(source, f"{path}.min", "A 档不应设下限（包含所有更低分值）")
        if i == len(CLASSES) - 1 and hi is not None:
            raise ModelError(source, f"{path}.max", "D 档不应设上限（包含所有更高分值）")
        if i > 0 and lo is None:
            raise ModelError(source, f"{path}.min", "缺少下限")
        if i < len(CLASSES) - 1 and hi is None:
            raise ModelError(source, f"{path}.max", "缺少上限")
        lower = -math.inf if lo is None else lo
        upper = math.inf if hi is None else hi
        if lower >= upper:
            raise ModelError(source, path, f"下限 {lo} 应小于上限 {hi}")
        if bands:
            prev = bands[-1]
            if lower < prev.upper:
                raise ModelError(source, f"{path}.min", f"与 {prev.risk_class} 档重叠（{prev.risk_class} 档上限为 "
                                                        f"{prev.upper:g}，本档下限为 {lower:g}）")
            if lower > prev.upper:
                raise ModelError(source, f"{path}.min", f"与 {prev.risk_class} 档之间有空档（{prev.upper:g} 至 "
                                                        f"{lower:g} 的分值无法分类）")
        bands.append(Band(r["class"], lower, upper))
    return tuple(bands)


def model_in_force(models: Iterable[RiskModel], month: dt.date) -> RiskModel:
    """The latest model whose effective month is not after `month`."""
    eligible = [m for m in models if m.effective_month <= month]
    if not eligible:
        raise LookupError(f"{month:%Y-%m} 没有已生效的风险分类模型")
    latest = max(m.effective_month for m in eligible)
    same = [m for m in eligible if m.effective_month == latest]
    if len(same) > 1:
        files = "、".join(sorted(m.source_file for m in same))
        raise LookupError(f"多个模型文件的生效月份都是 {latest:%Y-%m}：{files}")
    return same[0]
