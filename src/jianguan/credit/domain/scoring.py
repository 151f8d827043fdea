"""Scoring a month's feature table with a risk model: score, class, per-factor contributions and facts.

Input: a Polars DataFrame with `entity_id` and numeric feature columns (missing columns count as 0; decaying
features may come with age buckets `<feature>@0`, `@1` … of 12 months each). Output: one row per entity with
`risk_class`, `score`, `contributions` and `facts` (compact JSON text, only non-zero factors, in model order) and
`hard_rule`. Deterministic: the same input gives byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from jianguan.credit.domain.features import BUCKET_MONTHS, BUCKET_SEPARATOR, KNOWN_FEATURES, bucket_column
from jianguan.credit.domain.model import CLASSES, Factor, RiskModel

MAX_BUCKETS = 10


def _buckets(columns: set[str], feature: str) -> list[int]:
    return [k for k in range(MAX_BUCKETS) if bucket_column(feature, k) in columns]


def decay_weight(bucket: int, half_life_months: float) -> float:
    """Weight of events in age bucket k (k*12 … k*12+12 months old), taken at the bucket's middle."""
    return 0.5 ** ((bucket * BUCKET_MONTHS + BUCKET_MONTHS / 2) / half_life_months)


def _value_expr(factor: Factor, columns: set[str]) -> pl.Expr:
    buckets = _buckets(columns, factor.feature)
    if factor.half_life_months and buckets:
        terms = [pl.col(bucket_column(factor.feature, k)).cast(pl.Float64).fill_null(0)
                 * decay_weight(k, factor.half_life_months) for k in buckets]
        return pl.sum_horizontal(terms)
    if factor.feature in columns:
        return pl.col(factor.feature).cast(pl.Float64).fill_null(0)
    return pl.lit(0.0)


def _num_text(expr: pl.Expr) -> pl.Expr:
    """Numbers as JSON text: integers without a decimal point, others rounded to 4 places."""
    as_float = expr.cast(pl.Float64)
    return (pl.when(as_float == as_float.round(0))
            .then(as_float.cast(pl.Int64).cast(pl.String))
            .otherwise(as_float.round(4).cast(pl.String)))


def missing_features(model: RiskModel, columns: set[str]) -> list[str]:
    """Features the model uses that no provider produced (scored as 0, explained as 数据暂缺)."""
    return [f for f in model.features if f not in columns and not _buckets(columns, f)]


def score_frame(features: pl.DataFrame, model: RiskModel) -> pl.DataFrame:
    """Score every row; see the module docstring for the output columns."""
    columns = set(features.columns)
    contrib_cols, contrib_parts, fact_parts = [], [], []
    facts_done: set[str] = set()
    for i, factor in enumerate(model.factors):
        pts = (_value_expr(factor, columns) * factor.points)
        if factor.cap is not None:
            pts = pts.clip(-factor.cap, factor.cap)
        pts = pts.round(2)
        col = f"__c{i}"
        contrib_cols.append(pts.alias(col))
        contrib_parts.append(pl.when(pl.col(col) != 0)
                             .then(pl.concat_str([pl.lit(json.dumps(factor.name, ensure_ascii=False) + ":"),
                                                  _num_text(pl.col(col))])))
    for feature in model.features:
        if feature in facts_done:
            continue
        facts_done.add(feature)
        buckets = _buckets(columns, feature)
        if feature in columns:
            value = pl.col(feature).cast(pl.Float64).fill_null(0)
        elif buckets:
            value = pl.sum_horizontal([pl.col(bucket_column(feature, k)).cast(pl.Float64).fill_null(0)
                                       for k in buckets])
        else:
            continue
        if buckets:
            text = pl.concat_str([pl.lit("["),
                                  pl.concat_str([_num_text(pl.col(bucket_column(feature, k)).fill_null(0))
                                                 for k in buckets], separator=","),
                                  pl.lit("]")])
        else:
            text = _num_text(value)
        fact_parts.append(pl.when(value != 0).then(pl.concat_str([pl.lit(json.dumps(feature) + ":"), text])))

    hard_cols = []
    for j, rule in enumerate(model.hard_rules):
        buckets = _buckets(columns, rule.feature)
        if rule.feature in columns:
            value = pl.col(rule.feature).cast(pl.Float64).fill_null(0)
        elif buckets:
            value = pl.sum_horizontal([pl.col(bucket_column(rule.feature, k)).cast(pl.Float64).fill_null(0)
                                       for k in buckets])
        else:
            value = pl.lit(0.0)
        hard_cols.append((value >= rule.min_value).alias(f"__h{j}"))
    facts = (pl.lit("{") + pl.concat_str(fact_parts, separator=",", ignore_nulls=True).fill_null("") + pl.lit("}")) \
        if fact_parts else pl.lit("{}")
    out = features.select(pl.col("entity_id"), *contrib_cols, *hard_cols, facts.alias("facts"))

    n = len(model.factors)
    out = out.with_columns(pl.sum_horizontal([pl.col(f"__c{i}") for i in range(n)]).round(2).alias("score"))
    rank = pl.lit(len(CLASSES) - 1, dtype=pl.Int8)
    for band in reversed(model.bands[:-1]):
        rank = pl.when(pl.col("score") < band.upper).then(pl.lit(CLASSES.index(band.risk_class), dtype=pl.Int8)) \
            .otherwise(rank)
    for j, rule in enumerate(model.hard_rules):
        r = pl.lit(CLASSES.index(rule.risk_class), dtype=pl.Int8)
        rank = pl.when(pl.col(f"__h{j}") & (r > rank)).then(r).otherwise(rank)
    hard_text = pl.concat_str([pl.when(pl.col(f"__h{j}")).then(pl.lit(rule.name))
                               for j, rule in enumerate(model.hard_rules)], separator=",", ignore_nulls=True) \
        if model.hard_rules else pl.lit("")
    contributions = (pl.lit("{") + pl.concat_str(contrib_parts, separator=",", ignore_nulls=True).fill_null("")
                     + pl.lit("}"))
    return out.select(
        pl.col("entity_id"),
        rank.replace_strict(list(range(len(CLASSES))), list(CLASSES), return_dtype=pl.String).alias("risk_class"),
        pl.col("score"),
        contributions.alias("contributions"),
        pl.col("facts"),
        hard_text.fill_null("").alias("hard_rule"),
    )


def score_profiles(features: pl.DataFrame, model: RiskModel) -> tuple[list[str], pl.DataFrame]:
    """Score each distinct feature profile once: the feature columns, and one row per distinct combination of
    their values with that combination's output columns (no `entity_id`).

    `score_frame` is row by row (a row's output depends on that row's values alone), so joining this table back
    on the feature columns gives exactly its output. Most entities share a handful of profiles (a city's 1.2 M
    operating entities have a few hundred), so building the JSON texts once per profile instead of once per
    entity saves most of the scoring.
    """
    keys = [c for c in features.columns if c != "entity_id"]
    distinct = features.select(keys).unique(maintain_order=True)
    scored = score_frame(distinct.with_row_index("entity_id"), model).drop("entity_id")
    return keys, pl.concat([distinct, scored], how="horizontal")


@dataclass(frozen=True)
class ExplainedFactor:
    name: str
    description: str
    points: float
    feature: str
    facts: Any
    note: str


def explain(model: RiskModel, contributions: Mapping[str, float], facts: Mapping[str, Any],
            missing: set[str] | frozenset[str] = frozenset()) -> list[ExplainedFactor]:
    """Every factor of the model with its contribution and the facts behind it (0 when it did not apply)."""
    rows = []
    for factor in model.factors:
        if factor.feature in missing:
            note = "数据暂缺 (no data source yet)"
        elif factor.half_life_months:
            note = f"按 {factor.half_life_months:g} 个月半衰期衰减"
        else:
            note = ""
        rows.append(ExplainedFactor(factor.name, factor.description, float(contributions.get(factor.name, 0)),
                                    factor.feature, facts.get(factor.feature, 0), note))
    return rows


def feature_label(feature: str) -> str:
    return KNOWN_FEATURES.get(feature, ("", feature))[1]


__all__ = ["BUCKET_SEPARATOR", "ExplainedFactor", "decay_weight", "explain", "feature_label", "missing_features",
           "score_frame", "score_profiles"]
