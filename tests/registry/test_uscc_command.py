"""`jianguan uscc check CODE…`: one line per code, exit status 1 when any is invalid."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from jianguan.registry.domain.uscc import make_uscc

VALID = make_uscc("9", "1", "371003", "MA3C4D5E")


def run(*codes):
    out = io.StringIO()
    try:
        call_command("uscc", "check", *codes, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_a_valid_code_prints_valid_and_exits_zero(db):
    assert run(VALID) == (0, f"{VALID} valid\n")


def test_a_historical_division_in_the_code_is_valid(db):
    code = make_uscc("9", "1", "371081", "MA3C4D5E")  # 文登市, abolished 2014
    assert run(code) == (0, f"{code} valid\n")


def test_an_invalid_code_prints_the_chinese_reason_and_exits_one(db):
    wrong = VALID[:17] + ("0" if VALID[17] != "0" else "1")
    status, out = run(VALID, wrong)
    assert status == 1
    assert out.splitlines() == [f"{VALID} valid",
                                f"{wrong} invalid: 第 18 位校验码“{wrong[17]}”错误，应为“{VALID[17]}”"]


@pytest.mark.parametrize(("code", "reason"), [
    pytest.param("91371003MA3C4D5E", "长度为 16 位，统一社会信用代码应为 18 位", id="short"),
    pytest.param("", "统一社会信用代码为空", id="empty"),
])
def test_structural_problems_are_named(db, code, reason):
    assert run(code) == (1, f"{code} invalid: {reason}\n")


def test_lower_case_input_is_normalised_in_the_output(db):
    assert run(VALID.lower()) == (0, f"{VALID} valid\n")
