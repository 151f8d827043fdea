"""The draw (jianguan-draw-v1) as the public sees it: reproducible, order-free, exact, and strict on bad input."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from jianguan.inspections.domain.draw import (
    ALGORITHM,
    DrawInputError,
    StratumDraw,
    build_manifest,
    candidates_csv,
    canonical_json,
    commitment_of,
    draw_all,
    draw_json,
    draw_stratum,
    replace_deregistered,
    seed_of,
    sha256_hex,
    take_count,
    ticket,
    validate_ratio,
)

COMMITMENT = sha256_hex("a committed manifest")
SEED = seed_of(COMMITMENT, "20260301 福彩3D 417")


def make_candidates(n: int, county: str = "371081") -> list[str]:
    return [f"91{county}MA{i:08d}" for i in range(n)]


# --- the properties the public relies on -------------------------------------------------------------------


def test_draw_does_not_depend_on_the_order_of_the_candidate_list():
    candidates = make_candidates(1_000)
    first = draw_stratum(SEED, "S", candidates, Decimal("0.05"))
    again = draw_stratum(SEED, "S", list(reversed(candidates)), Decimal("0.05"))
    assert first.selected == again.selected and len(first.selected) == 50
    assert first.alternates == again.alternates


def test_the_same_inputs_give_the_same_draw():
    candidates = make_candidates(300)
    assert draw_stratum(SEED, "S", candidates, Decimal("0.1")) == draw_stratum(SEED, "S", candidates, Decimal("0.1"))


def test_changing_the_randomness_changes_the_selection():
    candidates = make_candidates(1_000)
    first = draw_stratum(SEED, "S", candidates, Decimal("0.05"))
    other = draw_stratum(seed_of(COMMITMENT, "20260301 福彩3D 418"), "S", candidates, Decimal("0.05"))
    assert {u for u, _ in first.selected} != {u for u, _ in other.selected}


def test_selected_are_the_lowest_tickets_in_ascending_order_followed_by_the_alternates():
    candidates = make_candidates(200)
    result = draw_stratum(SEED, "S", candidates, Decimal("0.05"), alternates=None)
    expected = sorted((ticket(SEED, u), u) for u in candidates)
    assert [(u, t) for t, u in expected] == list(result.selected + result.alternates)
    assert result.take == 10 and len(result.alternates) == 190 and result.alternates_complete


def test_ticket_is_sha256_of_seed_colon_uscc():
    assert ticket(SEED, "91371081MA00000001") == sha256_hex(f"{SEED}:91371081MA00000001")


def test_seed_is_sha256_of_commitment_colon_stripped_randomness():
    assert seed_of(COMMITMENT, "  417 \n") == sha256_hex(f"{COMMITMENT}:417")


def test_default_keeps_a_bounded_prefix_of_the_alternates():
    result = draw_stratum(SEED, "S", make_candidates(2_000), Decimal("0.01"))
    assert result.take == 20 and len(result.alternates) == 50 and not result.alternates_complete
    full = draw_stratum(SEED, "S", make_candidates(2_000), Decimal("0.01"), alternates=None)
    assert full.alternates[:50] == result.alternates and full.selected == result.selected


def test_draw_all_is_sorted_by_stratum_and_each_stratum_is_drawn_on_its_own():
    strata = {"b": (make_candidates(30, "371082"), Decimal("0.1")), "a": (make_candidates(20), Decimal("0.5"))}
    results = draw_all(SEED, strata)
    assert [r.stratum for r in results] == ["a", "b"]
    assert results[1] == draw_stratum(SEED, "b", make_candidates(30, "371082"), Decimal("0.1"))
    assert [r.take for r in results] == [10, 3]


def test_an_entity_in_several_strata_has_the_same_ticket_in_each_and_each_stratum_draws_as_if_alone():
    # strata of one plan share entities (an entity is a candidate of every item whose rule it matches)
    shared = make_candidates(40)
    strata = {"a": (shared[:30], Decimal("0.1")), "b": (shared[10:], Decimal("0.2")),
              "c": (shared[::3] + make_candidates(5, "371082"), Decimal("0.3"))}
    results = draw_all(SEED, strata, alternates=None)
    for result in results:
        alone = draw_stratum(SEED, result.stratum, strata[result.stratum][0], strata[result.stratum][1],
                             alternates=None)
        assert result == alone
        assert all(t == ticket(SEED, u) for u, t in (*result.selected, *result.alternates))
    with pytest.raises(DrawInputError, match="分层 b 中统一社会信用代码 91371081MA00000012 重复"):
        draw_all(SEED, {"a": (shared, Decimal("0.1")), "b": ([*shared[10:], shared[12]], Decimal("0.1"))})


# --- take = ceil(ratio x n), exactly -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "n", "take"),
    [
        pytest.param("0.05", 21, 2, id="0.05 of 21 -> 2 (1.05 rounds up)"),
        pytest.param("0.1", 10, 1, id="0.1 of 10 -> exactly 1, no float error"),
        pytest.param("0.3333", 3, 1, id="0.3333 of 3 -> 1 (0.9999 rounds up)"),
        pytest.param("0.05", 20, 1, id="0.05 of 20 -> exactly 1"),
        pytest.param("0", 50, 0, id="0 -> nothing"),
        pytest.param("1", 7, 7, id="1 -> everyone"),
        pytest.param("0.0000000000000000000000000000001", 10**30, 1, id="beyond the decimal context precision"),
        pytest.param("0.1000000000000000000000000000001", 10, 2, id="29 significant digits still exact"),
    ],
)
def test_take_is_the_exact_ceiling_of_ratio_times_candidates(ratio, n, take):
    assert take_count(Decimal(ratio), n) == take


def test_a_float_ratio_is_refused_because_it_is_not_exact():
    with pytest.raises(DrawInputError, match="抽查比例必须是十进制数"):
        validate_ratio(0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("ratio", ["1.01", "-0.01", "2"])
def test_a_ratio_outside_zero_to_one_is_refused_with_a_chinese_message(ratio):
    with pytest.raises(DrawInputError, match=r"抽查比例必须在 0 到 1 之间（ratio must be between 0 and 1）"):
        validate_ratio(ratio)


@pytest.mark.parametrize("ratio", ["five percent", "", "NaN", "Infinity", "0.05%"])
def test_a_ratio_that_is_not_a_decimal_is_refused(ratio):
    with pytest.raises(DrawInputError, match="抽查比例不是有效的十进制数"):
        validate_ratio(ratio)


def test_a_ratio_string_is_read_exactly_and_negative_zero_becomes_zero():
    assert validate_ratio(" 0.050 ") == Decimal("0.050")
    assert str(validate_ratio("-0")) == "0"


# --- bad input ------------------------------------------------------------------------------------------------


def test_an_empty_stratum_is_refused_naming_the_stratum():
    with pytest.raises(DrawInputError, match="分层 食品-A-371081 没有候选对象"):
        draw_stratum(SEED, "食品-A-371081", [], Decimal("0.05"))


def test_an_empty_stratum_is_refused_when_writing_the_candidates():
    with pytest.raises(DrawInputError, match="分层 B 没有候选对象"):
        candidates_csv({"A": ["1"], "B": []})


def test_a_duplicate_uscc_in_a_stratum_is_refused():
    with pytest.raises(DrawInputError, match="分层 S 中统一社会信用代码 X1 重复"):
        draw_stratum(SEED, "S", ["X1", "X2", "X1"], Decimal("0.5"))
    with pytest.raises(DrawInputError, match="分层 S 中统一社会信用代码 X1 重复"):
        candidates_csv({"S": ["X1", "X2", "X1"]})


def test_the_same_uscc_may_appear_in_two_strata():
    data = candidates_csv({"A": ["X1"], "B": ["X1"]})
    assert data == b"stratum,uscc\nA,X1\nB,X1\n"


@pytest.mark.parametrize("stratum", ["a,b", "a\nb", 'a"b', ""])
def test_a_stratum_name_with_a_separator_is_refused(stratum):
    with pytest.raises(DrawInputError, match="分层名称不能为空，也不能含逗号、引号或换行"):
        candidates_csv({stratum: ["X1"]})


@pytest.mark.parametrize("uscc", ["X,1", "X\n1", "X\r", ""])
def test_a_uscc_with_a_separator_is_refused(uscc):
    with pytest.raises(DrawInputError, match="分层 S 的统一社会信用代码不能为空"):
        candidates_csv({"S": ["A", uscc, "Z"]})


@pytest.mark.parametrize("randomness", ["", "   ", "12\n34", "12\x0034"])
def test_empty_or_control_character_randomness_is_refused(randomness):
    with pytest.raises(DrawInputError, match="公开随机数"):
        seed_of(COMMITMENT, randomness)


def test_a_commitment_that_is_not_a_sha256_is_refused():
    with pytest.raises(DrawInputError, match="commitment 必须是 64 位小写十六进制"):
        seed_of("ABC", "417")


def test_a_manifest_whose_counts_do_not_add_up_to_the_csv_is_refused():
    data = candidates_csv({"A": ["X1", "X2"]})
    with pytest.raises(DrawInputError, match=r"candidates\.csv 有 2 行，各分层候选数合计 3"):
        build_manifest("P1", data, {"A": Decimal("0.5")}, {"A": 3})


def test_a_manifest_with_a_stratum_missing_a_ratio_is_refused():
    data = candidates_csv({"A": ["X1"], "B": ["X2"]})
    with pytest.raises(DrawInputError, match=r"比例与候选数的分层不一致.*B"):
        build_manifest("P1", data, {"A": Decimal("0.5")}, {"A": 1, "B": 1})


# --- files ------------------------------------------------------------------------------------------------------


def test_candidates_csv_is_sorted_by_stratum_then_uscc_with_unix_line_ends():
    data = candidates_csv({"B": ["b2", "b1"], "A": ["a9", "a10"]})
    assert data == b"stratum,uscc\nA,a10\nA,a9\nB,b1\nB,b2\n"


def test_candidates_csv_does_not_depend_on_the_order_of_strata_or_candidates():
    forward = {"A": make_candidates(50), "B": make_candidates(20, "371082")}
    backward = {"B": list(reversed(forward["B"])), "A": list(reversed(forward["A"]))}
    assert candidates_csv(forward) == candidates_csv(backward)


def test_canonical_json_sorts_keys_has_no_spaces_and_keeps_chinese():
    assert canonical_json({"b": 1, "a": ["分层", 2]}) == '{"a":["分层",2],"b":1}'.encode()


def test_manifest_lists_strata_sorted_with_ratios_as_decimal_strings():
    data = candidates_csv({"B": ["X1"], "A": ["X2", "X3"]})
    manifest = build_manifest("P1", data, {"B": Decimal("1"), "A": Decimal("5E-2")}, {"A": 2, "B": 1})
    assert manifest == {
        "algorithm": ALGORITHM,
        "plan": "P1",
        "candidates_sha256": sha256_hex(data),
        "strata": [
            {"stratum": "A", "candidates": 2, "ratio": "0.05"},
            {"stratum": "B", "candidates": 1, "ratio": "1"},
        ],
    }
    assert commitment_of(manifest) == sha256_hex(canonical_json(manifest))


# --- alternates ---------------------------------------------------------------------------------------------------


def _stratum(selected: list[str], alternates: list[str], candidates: int | None = None) -> StratumDraw:
    n = candidates if candidates is not None else len(selected) + len(alternates)
    return StratumDraw(
        stratum="S",
        candidates=n,
        ratio=Decimal(len(selected)) / n,
        take=len(selected),
        selected=tuple((u, f"t{u}") for u in selected),
        alternates=tuple((u, f"t{u}") for u in alternates),
    )


def test_a_deregistered_entity_is_replaced_by_the_first_alternate():
    effective, used = replace_deregistered([_stratum(["s1", "s2"], ["a1", "a2"])], {"s2"})
    assert used == [{"stratum": "S", "replaced": "s2", "by": "a1", "reason": "已注销"}]
    assert [e["uscc"] for e in effective] == ["a1", "s1"]  # sorted by ticket


def test_alternates_are_used_in_ticket_order_and_a_deregistered_alternate_is_replaced_in_turn():
    _, used = replace_deregistered([_stratum(["s1", "s2"], ["a1", "a2", "a3"])], {"s1", "a1", "s2"})
    assert [(u["replaced"], u["by"]) for u in used] == [("s1", "a1"), ("a1", "a2"), ("s2", "a3")]


def test_when_every_alternate_is_used_the_entity_is_dropped_with_no_replacement():
    effective, used = replace_deregistered([_stratum(["s1", "s2"], ["a1"])], {"s1", "a1"})
    assert [(u["replaced"], u["by"]) for u in used] == [("s1", "a1"), ("a1", None)]
    assert [e["uscc"] for e in effective] == ["s2"]


def test_running_out_of_the_kept_prefix_of_alternates_is_an_error_not_a_silent_drop():
    with pytest.raises(DrawInputError, match="分层 S 保留的候补已用完"):
        replace_deregistered([_stratum(["s1"], ["a1"], candidates=10)], {"s1", "a1"})


def test_draw_json_lists_the_original_selection_and_the_replacements():
    candidates = make_candidates(40)
    draws = draw_all(SEED, {"S": (candidates, Decimal("0.05"))})
    _, used = replace_deregistered(draws, {draws[0].selected[0][0]})
    document = draw_json(COMMITMENT, " 20260301 福彩3D 417 ", SEED, draws, used)
    assert set(document) == {"commitment", "randomness", "seed", "strata", "selected", "alternates_used"}
    assert document["randomness"] == "20260301 福彩3D 417"
    assert document["strata"] == [{"stratum": "S", "candidates": 40, "ratio": "0.05", "take": 2}]
    assert [s["uscc"] for s in document["selected"]] == [u for u, _ in draws[0].selected]
    assert document["alternates_used"][0]["by"] == draws[0].alternates[0][0]
    json.dumps(document)  # serialisable as is


def test_draw_json_refuses_a_seed_that_does_not_follow_from_commitment_and_randomness():
    draws = draw_all(SEED, {"S": (make_candidates(5), Decimal("0.5"))})
    with pytest.raises(DrawInputError, match="种子与承诺值、随机数不符"):
        draw_json(COMMITMENT, "another value", SEED, draws, [])
