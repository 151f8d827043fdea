"""SynthContext: the year window and the per-step random generators."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl

from jianguan.synth.context import SynthContext, year_before


def test_year_window_is_the_twelve_months_before_today():
    assert year_before(dt.date(2026, 11, 20)) == (dt.date(2025, 11, 20), dt.date(2026, 11, 19))


def test_year_window_from_29_february_starts_on_28_february():
    assert year_before(dt.date(2028, 2, 29)) == (dt.date(2027, 2, 28), dt.date(2028, 2, 28))


def test_context_defaults_to_the_demo_today_and_reports_lines():
    out = io.StringIO()
    ctx = SynthContext(seed=1, scale="county", divisions=["371003"], entities=pl.DataFrame(), out=out)
    assert ctx.today == dt.date(2026, 11, 20) and ctx.year_start == dt.date(2025, 11, 20)
    ctx.say("投诉 120 件")
    assert out.getvalue() == "  投诉 120 件\n"


def test_each_named_step_gets_its_own_reproducible_random_numbers():
    ctx = SynthContext(seed=7, scale="county", divisions=["371003"], entities=pl.DataFrame())
    a, b = ctx.rng("complaints").random(3), ctx.rng("complaints").random(3)
    c = ctx.rng("inspections").random(3)
    assert (a == b).all() and not (a == c).all()
