"""The risk-model file: the shipped default is valid; each kind of bad file is refused naming file and field."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from jianguan.credit.domain.model import ModelError, model_in_force, parse_model

RULES = Path(__file__).resolve().parents[2] / "rules" / "credit"
DEFAULT = yaml.safe_load((RULES / "risk-model-v1.yaml").read_text(encoding="utf-8"))


def bad(**changes):
    data = copy.deepcopy(DEFAULT)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def test_the_shipped_default_model_is_valid_and_covers_every_score():
    model = parse_model(DEFAULT, "risk-model-v1.yaml")
    assert model.version == "v1" and model.effective_month == dt.date(2025, 1, 1)
    assert [model.classify(s) for s in (-100, -0.01, 0, 14.99, 15, 34.99, 35, 1000)] == \
        ["A", "A", "B", "B", "C", "C", "D", "D"]
    assert any("2024〕72号" in s for s in model.sources)


def test_a_factor_with_an_unknown_feature_is_refused_naming_the_factor():
    data = copy.deepcopy(DEFAULT)
    data["factors"][2]["feature"] = "on_abnormal_lsit"
    with pytest.raises(ModelError) as err:
        parse_model(data, "risk-model-v2.yaml")
    assert str(err.value) == ("risk-model-v2.yaml: factors[2].feature: 未知因素特征 'on_abnormal_lsit'"
                              "（不在特征目录 KNOWN_FEATURES 中）")


def test_overlapping_thresholds_are_refused():
    data = bad(thresholds=[{"class": "A", "max": 0}, {"class": "B", "min": 0, "max": 20},
                           {"class": "C", "min": 15, "max": 35}, {"class": "D", "min": 35}])
    with pytest.raises(ModelError, match=r"risk-model-v2.yaml: thresholds\[2\].min: 与 B 档重叠"):
        parse_model(data, "risk-model-v2.yaml")


def test_a_gap_between_thresholds_is_refused():
    data = bad(thresholds=[{"class": "A", "max": 0}, {"class": "B", "min": 0, "max": 15},
                           {"class": "C", "min": 16, "max": 35}, {"class": "D", "min": 35}])
    with pytest.raises(ModelError, match=r"thresholds\[2\].min: 与 B 档之间有空档（15 至 16 的分值无法分类）"):
        parse_model(data, "f.yaml")


def test_thresholds_out_of_class_order_are_refused():
    data = bad(thresholds=[{"class": "B", "max": 0}, {"class": "A", "min": 0, "max": 15},
                           {"class": "C", "min": 15, "max": 35}, {"class": "D", "min": 35}])
    with pytest.raises(ModelError, match="thresholds: 应依次列出 A、B、C、D"):
        parse_model(data, "f.yaml")


def test_a_missing_effective_month_is_refused():
    with pytest.raises(ModelError) as err:
        parse_model(bad(effective_month=None), "risk-model-v2.yaml")
    assert str(err.value) == "risk-model-v2.yaml: effective_month: 缺少生效月份（格式 YYYY-MM）"


def test_an_effective_month_that_is_not_a_month_is_refused():
    with pytest.raises(ModelError, match="effective_month: 生效月份格式应为 YYYY-MM，实际为 '2025-13'"):
        parse_model(bad(effective_month="2025-13"), "f.yaml")


def test_a_hard_rule_with_an_unknown_class_is_refused():
    data = copy.deepcopy(DEFAULT)
    data["hard_rules"][0]["class"] = "E"
    with pytest.raises(ModelError, match=r"hard_rules\[0\].class: 应为 A/B/C/D 之一"):
        parse_model(data, "f.yaml")


def test_points_must_be_numbers():
    data = copy.deepcopy(DEFAULT)
    data["factors"][0]["points"] = "12"
    with pytest.raises(ModelError, match=r"factors\[0\].points: 应为数字"):
        parse_model(data, "f.yaml")


def test_the_model_in_force_is_the_latest_effective_on_or_before_the_month():
    v1 = parse_model(DEFAULT, "risk-model-v1.yaml")
    v2 = parse_model(bad(version="v2", effective_month="2026-10"), "risk-model-v2.yaml")
    assert model_in_force([v2, v1], dt.date(2026, 9, 1)).version == "v1"
    assert model_in_force([v2, v1], dt.date(2026, 10, 1)).version == "v2"
    with pytest.raises(LookupError, match="2024-12 没有已生效的风险分类模型"):
        model_in_force([v1, v2], dt.date(2024, 12, 1))


def test_two_versions_effective_the_same_month_are_ambiguous():
    v1 = parse_model(DEFAULT, "risk-model-v1.yaml")
    v1b = parse_model(bad(version="v1b"), "risk-model-v1b.yaml")
    with pytest.raises(LookupError, match="多个模型文件的生效月份都是 2025-01"):
        model_in_force([v1, v1b], dt.date(2026, 1, 1))
