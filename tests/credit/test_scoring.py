"""Scoring a feature table: points, caps, decay, hard rules, missing features, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from jianguan.credit.domain.model import parse_model
from jianguan.credit.domain.scoring import decay_weight, explain, missing_features, score_frame

RULES = Path(__file__).resolve().parents[2] / "rules" / "credit"
MODEL = parse_model(yaml.safe_load((RULES / "risk-model-v1.yaml").read_text(encoding="utf-8")), "v1")


def score(**columns):
    n = len(next(iter(columns.values())))
    frame = pl.DataFrame({"entity_id": list(range(1, n + 1)), **columns})
    return score_frame(frame, MODEL).sort("entity_id").to_dicts()


def test_a_long_standing_entity_with_no_record_is_class_a():
    [row] = score(established_3y_plus=[1])
    assert (row["risk_class"], row["score"]) == ("A", -5.0)
    assert json.loads(row["contributions"]) == {"存续满三年": -5}
    assert json.loads(row["facts"]) == {"established_3y_plus": 1}


def test_a_new_entity_with_no_record_is_class_b():
    [row] = score(established_under_1y=[1])
    assert (row["risk_class"], row["score"]) == ("B", 5.0)


def test_the_serious_list_makes_an_entity_class_d_whatever_its_score():
    [row] = score(on_serious_list=[1], established_3y_plus=[1])
    assert row["score"] == 35.0 and row["risk_class"] == "D"
    assert row["hard_rule"] == "严重违法失信名单直接判定D类"


def test_the_abnormal_list_makes_an_entity_at_least_class_c():
    [row] = score(on_abnormal_list=[1], established_3y_plus=[1])
    assert row["score"] == 10.0 and row["risk_class"] == "C"


def test_an_older_penalty_weighs_less_than_a_recent_one():
    recent, old = score(**{"penalties_general_3y@0": [1, 0], "penalties_general_3y@2": [0, 1]})
    assert recent["score"] == round(8 * decay_weight(0, 18), 2) == 6.35
    assert old["score"] == round(8 * decay_weight(2, 18), 2) == 2.52
    assert json.loads(old["facts"]) == {"penalties_general_3y": [0, 1]}  # buckets present: @0 and @2


def test_a_factor_is_capped():
    [row] = score(verified_complaints_12m=[40])
    assert json.loads(row["contributions"]) == {"投诉经核实": 9}


def test_a_feature_no_module_provides_yet_scores_zero_and_is_explained_as_missing():
    frame = pl.DataFrame({"entity_id": [1], "on_abnormal_list": [0]})
    missing = missing_features(MODEL, set(frame.columns))
    assert "verified_complaints_12m" in missing and "on_abnormal_list" not in missing
    rows = {r.name: r for r in explain(MODEL, {}, {}, set(missing))}
    assert rows["投诉经核实"].note == "数据暂缺 (no data source yet)" and rows["投诉经核实"].points == 0
    assert rows["在经营异常名录"].note == ""


def test_scores_do_not_depend_on_the_order_of_rows():
    data = {"entity_id": [3, 1, 2], "penalties_heavy_3y@1": [1, 0, 2], "on_abnormal_list": [0, 1, 1],
            "verified_reports_12m": [2, 0, 1]}
    forward = score_frame(pl.DataFrame(data), MODEL).sort("entity_id")
    backward = score_frame(pl.DataFrame(data).reverse(), MODEL).sort("entity_id")
    assert forward.equals(backward)


@pytest.mark.parametrize(("value", "expected"), [(0, "B"), (14.99, "B"), (15, "C"), (35, "D")])
def test_class_boundaries_are_half_open(value, expected):
    assert MODEL.classify(value) == expected


def test_scoring_each_distinct_profile_once_gives_every_row_the_same_output_as_scoring_it_alone():
    from jianguan.credit.domain.scoring import score_profiles

    frame = pl.DataFrame({
        "entity_id": [5, 3, 9, 1, 7, 2],
        "established_3y_plus": [1, 1, 0, 1, 0, 1],
        "on_abnormal_list": [0, 0, 1, 0, 1, 0],
        "penalties_heavy_3y@0": [0, 0, 0, 0, 1, 0],
        "penalties_heavy_3y@1": [0, 2, 0, 0, 0, 2],
        "annual_report_missing_2y": [1, 0, 0, 1, 0, 0],
    })
    keys, profiles = score_profiles(frame, MODEL)
    assert set(keys) == set(frame.columns) - {"entity_id"}
    assert profiles.height == 4  # six entities, four distinct combinations of values
    joined = frame.join(profiles, on=keys, how="left", maintain_order="left").select(
        "entity_id", "risk_class", "score", "contributions", "facts", "hard_rule")
    assert joined.to_dicts() == score_frame(frame, MODEL).to_dicts()
