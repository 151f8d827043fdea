"""Ground truth 'cannot be contacted': a pure, deterministic function of (uscc, seed)."""

from __future__ import annotations

import numpy as np

from jianguan.synth.truth import unreachable, unreachable_mask


def test_vectorised_and_scalar_unreachable_agree(wendeng):
    codes = wendeng.entities["uscc"].head(3000).to_list()
    mask = unreachable_mask(codes, seed=11)
    assert mask.tolist() == [unreachable(c, 11) for c in codes]


def test_about_three_percent_are_unreachable(wendeng):
    share = unreachable_mask(wendeng.entities["uscc"].to_numpy(), seed=11).mean()
    assert 0.02 < share < 0.04


def test_unreachable_depends_on_the_seed_but_not_on_the_call(wendeng):
    codes = wendeng.entities["uscc"].to_numpy()
    a, b = unreachable_mask(codes, 11), unreachable_mask(codes, 12)
    assert np.array_equal(a, unreachable_mask(codes, 11))
    assert not np.array_equal(a, b)
    assert unreachable("91371003MA3C4X7Y0D", 1) == unreachable("91371003MA3C4X7Y0D", 1)


def test_unreachable_entities_mostly_miss_their_annual_reports(wendeng):
    lost = wendeng.entities.filter(unreachable_mask(wendeng.entities["uscc"].to_numpy(), 11))["id"]
    reported = set(wendeng.annual_reports.filter(wendeng.annual_reports["year"] == 2025)["entity_id"].to_list())
    lost_rate = np.mean([i in reported for i in lost.to_list()])
    assert lost_rate < 0.4
