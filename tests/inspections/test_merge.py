"""The merge of a draw's selections into visits (`draws._merge`, in columns) against the rule written one entity at a
time: the same visits, numbers, periods and items, in the same order, on random plans with overlapping, nested,
disjoint and equal task periods."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

from jianguan.inspections.draws import _merge


def _by_entity(plan: Any, periods: dict[int, tuple[dt.date, dt.date]], selections: pl.DataFrame,
               strata: pl.DataFrame) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """The rule as first written: each entity's strata sorted by (task start, task), a stratum joining the last
    visit when its task's period overlaps the visit's, the visit's period narrowing to the overlap."""
    by_id = {row[0]: row for row in strata.select("id", "task_id", "item_id", "risk_class", "is_slice").iter_rows()}
    by_entity: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for stratum_id, entity_id in zip(selections["stratum_id"].to_list(), selections["entity_id"].to_list(),
                                     strict=True):
        by_entity[entity_id].append(by_id[stratum_id])
    separate = sum(len({st[1] for st in sts}) for sts in by_entity.values())
    visits: list[tuple[Any, ...]] = []
    items: dict[tuple[str, int, int], list[Any]] = {}
    seq = 0
    for entity_id in sorted(by_entity):
        sts = sorted(by_entity[entity_id], key=lambda st: (periods[st[1]][0], st[1]))
        clusters: list[tuple[dt.date, dt.date, list[tuple[Any, ...]]]] = []
        for st in sts:
            begin, finish = periods[st[1]]
            if clusters and begin <= clusters[-1][1] and finish >= clusters[-1][0]:
                start, end, members = clusters[-1]
                clusters[-1] = (max(start, begin), min(end, finish), [*members, st])
            else:
                clusters.append((begin, finish, [st]))
        for start, end, members in clusters:
            seq += 1
            number = f"{plan.year}-{plan.pk:04d}-{seq:05d}"
            visits.append((entity_id, number, start, end))
            for stratum_id, task_id, item_id, risk_class, is_slice in members:
                key = (number, task_id, item_id)
                if key in items:
                    items[key][-1] = items[key][-1] or is_slice
                    continue
                items[key] = [number, task_id, item_id, stratum_id, risk_class, is_slice]
    return visits, [tuple(row) for row in items.values()], separate


def _random_plan(rng: random.Random) -> tuple[dict[int, tuple[dt.date, dt.date]], pl.DataFrame, pl.DataFrame]:
    year = dt.date(2027, 1, 1)
    periods = {}
    for task in range(1, rng.randint(2, 8)):
        begin = year + dt.timedelta(days=rng.choice([0, 0, 31, 90, 120, 200]))
        periods[100 + task] = (begin, begin + dt.timedelta(days=rng.choice([0, 30, 60, 180, 364])))
    strata = []
    for sid in range(1, rng.randint(2, 40)):
        strata.append((sid, rng.choice(list(periods)), rng.randint(1, 5), rng.choice("ABCD"), rng.random() < 0.2))
    strata_frame = pl.DataFrame(strata, orient="row", schema={"id": pl.Int64, "task_id": pl.Int64,
                                                              "item_id": pl.Int64, "risk_class": pl.String,
                                                              "is_slice": pl.Boolean})
    selections = [(sid, rng.randint(1, 30)) for sid, *_rest in strata for _k in range(rng.randint(1, 8))]
    return periods, strata_frame, pl.DataFrame(selections, orient="row",
                                               schema={"stratum_id": pl.Int64, "entity_id": pl.Int64})


@pytest.mark.parametrize("seed", range(60))
def test_the_merge_in_columns_is_the_rule_one_entity_at_a_time(seed):
    rng = random.Random(seed)
    periods, strata, selections = _random_plan(rng)
    plan = SimpleNamespace(year=2027, pk=rng.randint(1, 20_000))
    visits, items, separate = _by_entity(plan, periods, selections, strata)
    merged = _merge(plan, periods, selections, strata)
    assert merged.visits.rows() == visits
    assert merged.items.rows() == items
    assert merged.separate == separate
