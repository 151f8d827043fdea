"""The synthetic registry generator: valid codes, plausible shares, unique names, determinism."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import polars as pl
import pytest

from jianguan.registry.domain.uscc import make_uscc, validate_uscc
from jianguan.synth.registry import (
    DivisionPlan,
    RegistryGenerator,
    SynthError,
    custom_plan,
    preset_plan,
    uscc_array,
)


def test_every_uscc_validates_and_names_the_registering_division_and_the_kind(ref, wendeng):
    exists = {c for c in ref.divisions}.__contains__
    bad = [u for u in wendeng.entities["uscc"].to_list() if validate_uscc(u, exists)]
    assert bad == []
    prefix = wendeng.entities.select(p=pl.col("uscc").str.slice(0, 8), kind="kind").unique().sort("p")
    assert dict(prefix.iter_rows()) == {"91371003": "enterprise", "92371003": "individual",
                                       "93371003": "cooperative"}


def test_uscc_are_unique_across_a_run_of_two_divisions(ref):
    gen = RegistryGenerator(ref, seed=3)
    chunks = list(gen.chunks([DivisionPlan("371003", 3000), DivisionPlan("371082", 3000)]))
    codes = pl.concat([c.entities["uscc"] for c in chunks])
    assert codes.n_unique() == 6000
    ids = pl.concat([c.entities["id"] for c in chunks]).to_list()
    assert ids == list(range(1, 6001))


def test_vectorised_uscc_equals_make_uscc_row_by_row():
    rnd = random.Random(5)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    bodies = ["".join(rnd.choice(alphabet) for _ in range(8)) for _ in range(500)] + ["MA3C4X7Y", "00000000"]
    types = np.array([ord(rnd.choice("123")) for _ in bodies], dtype=np.uint8)
    raw = np.frombuffer("".join(bodies).encode(), dtype=np.uint8).reshape(len(bodies), 8)
    got = uscc_array(types, "371003", raw).to_list()
    assert got == [make_uscc("9", chr(t), "371003", b) for t, b in zip(types, bodies, strict=True)]


def test_names_are_unique_within_the_division_and_start_with_a_local_name(wendeng):
    names = wendeng.entities["name"]
    assert names.n_unique() == names.len()
    individuals = wendeng.entities.filter(pl.col("kind") == "individual")["name"]
    assert individuals.str.starts_with("文登区").all()
    companies = wendeng.entities.filter(pl.col("subtype") == "有限责任公司")["name"]
    assert companies.str.ends_with("有限公司").all()
    assert companies.str.contains("^(威海|文登)").all()


def test_kind_shares_are_those_of_a_chinese_county(wendeng):
    share = dict(wendeng.entities["kind"].value_counts(normalize=True).iter_rows())
    assert 0.63 < share["individual"] < 0.70
    assert 0.28 < share["enterprise"] < 0.34
    assert 0.012 < share["cooperative"] < 0.03


def test_industry_mix_is_led_by_wholesale_and_retail_then_catering(wendeng):
    section = wendeng.entities["industry_id"].str.slice(0, 2).cast(pl.Int32)
    trade = ((section >= 51) & (section <= 52)).mean()
    food = ((section >= 61) & (section <= 62)).mean()
    assert 0.35 < trade < 0.5
    assert 0.10 < food < 0.2


def test_cooperatives_are_farms_founded_after_the_cooperative_law(wendeng):
    coops = wendeng.entities.filter(pl.col("kind") == "cooperative")
    assert coops["established_on"].min() >= dt.date(2007, 7, 1)
    farming = coops["industry_id"].str.slice(0, 2).is_in(["01", "02", "03", "04", "05"]).mean()
    assert farming > 0.8
    assert coops["name"].str.ends_with("专业合作社").all()


def test_status_dates_follow_establishment_and_suspension_exists_only_since_2022(wendeng):
    e = wendeng.entities
    assert e.filter(pl.col("status") == "active")["status_date"].null_count() == e.filter(
        pl.col("status") == "active").height
    closed = e.filter(pl.col("status") != "active")
    assert closed["status_date"].null_count() == 0
    assert (closed["status_date"] >= closed["established_on"]).all()
    assert (closed["status_date"] <= dt.date(2026, 11, 20)).all()
    assert (e.filter(pl.col("status") == "suspended")["status_date"] >= dt.date(2022, 3, 1)).all()
    share = dict(e["status"].value_counts(normalize=True).iter_rows())
    assert share["active"] > 0.8
    for status in ("cancelled", "revoked", "suspended", "moved_out"):
        assert 0.003 < share[status] < 0.1, status


def test_establishment_dates_span_1990_to_today_and_skew_recent(wendeng):
    years = wendeng.entities["established_on"].dt.year()
    assert years.min() >= 1990 and wendeng.entities["established_on"].max() <= dt.date(2026, 11, 20)
    assert (years >= 2016).mean() > 0.6


def test_only_enterprises_and_cooperatives_have_capital_and_branches_have_none(wendeng):
    e = wendeng.entities
    assert e.filter(pl.col("kind") == "individual")["registered_capital"].null_count() == e.filter(
        pl.col("kind") == "individual").height
    assert e.filter(pl.col("subtype") == "分公司")["registered_capital"].null_count() == e.filter(
        pl.col("subtype") == "分公司").height
    assert e.filter(pl.col("subtype") == "有限责任公司")["registered_capital"].null_count() == 0


def test_phones_are_mobile_numbers_and_people_have_chinese_names(wendeng):
    assert wendeng.entities["phone"].str.contains(r"^1[3-9]\d{9}$").all()
    assert wendeng.entities["legal_representative"].str.contains(r"^[\u4e00-\u9fff]{2,3}$").all()


def test_wendeng_addresses_use_its_real_towns(ref, wendeng):
    streets = set(wendeng.entities["street"].unique().to_list())
    assert streets <= set(ref.towns["371003"])
    assert len(streets) == len(ref.towns["371003"])
    assert wendeng.entities["address"].str.starts_with("山东省威海市文登区").all()


def test_divisions_without_configured_towns_get_generic_towns_and_streets(ref):
    chunk = RegistryGenerator(ref, seed=1).division_chunk(DivisionPlan("370102", 500))
    assert chunk.entities["street"].str.contains("(街道|镇)$").all()
    assert chunk.entities["address"].str.starts_with("山东省济南市历下区").all()
    assert (chunk.entities["registration_authority"] == "济南市历下区市场监督管理局").all()


def test_a_few_percent_have_additional_premises(wendeng):
    owners = wendeng.premises["entity_id"].n_unique()
    assert 0.015 < owners / wendeng.entities.height < 0.045
    assert wendeng.premises["address"].str.starts_with("山东省威海市文登区").all()


def test_catering_and_pharmacies_hold_the_licences_their_trade_needs(wendeng):
    e, lic = wendeng.entities, wendeng.licences
    held = lic.group_by("entity_id").agg(pl.col("type"))
    joined = e.join(held, left_on="id", right_on="entity_id", how="left")
    catering = joined.filter(pl.col("industry_id").str.starts_with("62"))
    assert catering["type"].list.contains("food_business").fill_null(False).all()
    pharmacies = joined.filter(pl.col("industry_id").is_in(["5251", "5252"]))
    assert pharmacies.height > 0 and pharmacies["type"].list.contains("drug_business").fill_null(False).all()
    consultants = joined.filter(pl.col("industry_id").str.starts_with("724"))
    assert consultants["type"].null_count() == consultants.height
    assert lic.select(pl.struct("type", "number").n_unique()).item() == lic.height


def test_licences_of_closed_entities_are_cancelled_and_open_ones_mostly_valid(wendeng):
    lic = wendeng.licences.join(wendeng.entities.select(pl.col("id").alias("entity_id"), "status"), on="entity_id")
    closed = lic.filter(pl.col("status_right").is_in(["cancelled", "revoked", "moved_out"]))
    assert (closed["status"] == "cancelled").all()
    open_ = lic.filter(pl.col("status_right") == "active")
    assert (open_["status"] == "valid").mean() > 0.9
    valid = open_.filter((pl.col("status") == "valid") & pl.col("valid_to").is_not_null())
    assert (valid["valid_to"] >= dt.date(2026, 11, 20)).all()


def test_labels_are_those_the_catalogue_derives(ref, wendeng):
    e = wendeng.entities.head(400)
    lic = wendeng.licences.group_by("entity_id").agg(pl.col("type"))
    lic_of = dict(lic.iter_rows())
    labels = wendeng.entity_labels.group_by("entity_id").agg(pl.col("label_code").sort())
    got = dict(labels.iter_rows())
    sections = dict(zip(ref.classes, ref.sections, strict=True))
    for row in e.iter_rows(named=True):
        expected = ref.labels.derive(industry=row["industry_id"], section=sections[row["industry_id"]],
                                     licences=lic_of.get(row["id"], []), kind=row["kind"],
                                     ecommerce_platform=row["is_ecommerce_platform"])
        assert sorted(expected) == got.get(row["id"], []), row["name"]
    assert (wendeng.entity_labels["source"] == "rule").all()


def test_annual_reports_cover_only_years_the_entity_existed_and_most_are_on_time(wendeng):
    r = wendeng.annual_reports.join(
        wendeng.entities.select(pl.col("id").alias("entity_id"), "established_on", "status", "status_date"),
        on="entity_id")
    assert (r["established_on"].dt.year() <= r["year"]).all()
    assert r["year"].min() >= 2021 and r["year"].max() <= 2025
    due = pl.date(pl.col("year").cast(pl.Int32) + 1, 6, 30)
    checks = r.select(ok=(pl.col("on_time") == (pl.col("filed_on") <= due)),
                      after_year=pl.col("filed_on") >= pl.date(pl.col("year").cast(pl.Int32) + 1, 1, 1))
    assert checks["ok"].all() and checks["after_year"].all()
    assert 0.85 < r["on_time"].mean() < 0.98
    expected = wendeng.entities.filter(pl.col("established_on") < dt.date(2025, 1, 1)).height
    filed_2024 = r.filter(pl.col("year") == 2024).height
    assert 0.8 < filed_2024 / expected < 0.97


def test_few_enterprises_are_platforms_and_some_use_odr(wendeng):
    ent = wendeng.entities.filter(pl.col("kind") == "enterprise")
    assert ent["is_ecommerce_platform"].mean() < 0.01
    assert 0.005 < ent["odr_enabled"].mean() < 0.04
    assert not wendeng.entities.filter(pl.col("kind") != "enterprise")["odr_enabled"].any()


def test_the_same_seed_gives_the_same_registry_and_another_seed_another(ref):
    plan = DivisionPlan("371082", 2000)
    a = RegistryGenerator(ref, seed=9).division_chunk(plan)
    b = RegistryGenerator(ref, seed=9).division_chunk(plan)
    c = RegistryGenerator(ref, seed=10).division_chunk(plan)
    for name, frame in a.tables().items():
        assert frame.equals(b.tables()[name]), name
    assert a.entities["uscc"].to_list() != c.entities["uscc"].to_list()


def test_a_division_gets_the_same_entities_whichever_divisions_run_with_it(ref):
    alone = RegistryGenerator(ref, seed=4).division_chunk(DivisionPlan("371082", 800))
    both = list(RegistryGenerator(ref, seed=4).chunks([DivisionPlan("371003", 500), DivisionPlan("371082", 800)]))
    assert alone.entities.drop("id").equals(both[1].entities.drop("id"))
    assert both[1].entities["id"].min() == 501


def test_county_preset_is_wendeng_with_seventy_thousand(ref):
    assert preset_plan("county", ref) == [DivisionPlan("371003", 70_000)]


def test_city_preset_covers_jinan_bureau_and_every_current_district(ref):
    plan = preset_plan("city", ref)
    assert sum(p.entities for p in plan) == 1_300_000
    codes = [p.code for p in plan]
    assert codes[0] == "370100" and "370102" in codes and "370116" in codes
    assert "370181" not in codes  # 章丘市 became 章丘区 in 2016
    sizes = dict((p.code, p.entities) for p in plan)
    assert sizes["370102"] > sizes["370124"]  # 历下区 (district) weighs more than 平阴县


def test_province_preset_spreads_fifteen_million_over_sixteen_cities(ref):
    plan = preset_plan("province", ref)
    assert sum(p.entities for p in plan) == 15_000_000
    assert len({p.code[:4] for p in plan}) == 16
    assert all(ref.divisions[p.code].current for p in plan)


@pytest.mark.parametrize(("codes", "total", "message"), [
    pytest.param(["379999"], 10, "行政区划代码“379999”不存在", id="unknown code"),
    pytest.param(["371081"], 10, "不是现行区划", id="文登市 abolished 2014"),
    pytest.param(["370000"], 10, "是省级区划", id="province"),
    pytest.param(["371003"], 0, "主体数量必须是正整数", id="zero entities"),
    pytest.param(["371003", "371003"], 10, "行政区划代码有重复", id="duplicate"),
])
def test_custom_plan_rejects_bad_requests_in_chinese(ref, codes, total, message):
    with pytest.raises(SynthError, match=message):
        custom_plan(codes, total, ref)


def test_unknown_scale_is_rejected_in_chinese(ref):
    with pytest.raises(SynthError, match="未知的规模“town”"):
        preset_plan("town", ref)


def test_custom_plan_splits_exactly(ref):
    plan = custom_plan(["371003", "371082"], 1001, ref)
    assert sum(p.entities for p in plan) == 1001 and [p.code for p in plan] == ["371003", "371082"]


@pytest.mark.slow
def test_generating_in_two_processes_gives_the_same_registry(ref):
    plan = [DivisionPlan("371003", 700), DivisionPlan("371082", 500), DivisionPlan("371002", 300)]
    gen = RegistryGenerator(ref, seed=8)
    one = list(gen.chunks(plan, first_ids={"entities": 10}))
    two = list(gen.chunks(plan, first_ids={"entities": 10}, workers=2))
    assert [c.division for c in two] == ["371003", "371082", "371002"]
    for a, b in zip(one, two, strict=True):
        for name, frame in a.tables().items():
            assert frame.equals(b.tables()[name]), name
    assert two[0].entities["id"].min() == 11 and two[2].entities["id"].max() == 1510
