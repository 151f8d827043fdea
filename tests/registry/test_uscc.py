"""Tests for jianguan.registry.domain.uscc (统一社会信用代码, GB 32100-2015).

Pure tests: no Django.  Run with ``pytest tests/registry/test_uscc.py -p no:django``.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from jianguan.registry.domain.uscc import (
    ALPHABET,
    AUTHORITY_NAMES,
    ENTITY_TYPE_NAMES,
    ENTITY_TYPE_NAMES_EN,
    FORBIDDEN_LETTERS,
    UsccProblem,
    describe_uscc,
    is_valid_uscc,
    make_uscc,
    normalize_uscc,
    org_code_check_char,
    uscc_check_char,
    validate_uscc,
)

# Small division lookup for the fault cases.  371081 (文登市) was abolished when
# it became 371003 (威海市文登区); the caller's lookup accepts historical codes.
DIVISIONS = frozenset({"110000", "110108", "370000", "371003", "371081", "370102"})
# GB/T 2260 codes the real examples below were registered under.
REAL_DIVISIONS = frozenset(
    {
        "440300",
        "310000",
        "310115",
        "310120",
        "340600",
        "340603",
        "620105",
        "152201",
        "120000",
    }
)
division_exists = DIVISIONS.__contains__
real_division_exists = (DIVISIONS | REAL_DIVISIONS).__contains__

# 小米科技有限责任公司 (Beijing, Haidian 110108) — see REAL_VALID below.
XIAOMI = "91110108551385082Q"


def with_checks(first16: str) -> str:
    """Complete 16 characters with a correct org-code check char and final check char."""
    first17 = first16 + org_code_check_char(first16[8:16])
    return first17 + uscc_check_char(first17)


def replace_at(code: str, position: int, char: str) -> str:
    """Replace the character at 1-based ``position``."""
    return code[: position - 1] + char + code[position:]


def codes(problems: list[UsccProblem]) -> list[str]:
    return [p.code for p in problems]


# ---------------------------------------------------------------------------
# real, published codes (each passes stdnum's final check and the GB 11714 check)

REAL_VALID = [
    # 华为技术有限公司 — zh.wikipedia.org "華為" infobox (機構代碼).
    pytest.param("914403001922038216", id="real-huawei"),
    # 深圳市腾讯计算机系统有限公司 — check-china.com/example_report/en/8 (business licence page).
    pytest.param("91440300708461136T", id="real-tencent-computer-systems"),
    # 腾讯科技（深圳）有限公司 — chinacheckup.com USCC article, quoted in python-stdnum issue #207
    # and its tests/test_cn_uscc.doctest.  Org-code check char is 'X'.
    pytest.param("9144030071526726XG", id="real-tencent-technology-org-check-X"),
    # 中国石油化工股份有限公司 — same chinacheckup.com source.
    pytest.param("91110000710926094P", id="real-sinopec"),
    # 宝山钢铁股份有限公司 — same chinacheckup.com source.
    pytest.param("91310000631696382C", id="real-baosteel"),
    # 小米科技有限责任公司 — widely published (invoice/tax headers); in DIVISIONS' 110108.
    pytest.param(XIAOMI, id="real-xiaomi-haidian"),
    # 清华大学 (事业单位 registered at national level, division 100000) — 发票抬头/纳税人识别号
    # published in several Tsinghua lab handbooks on GitHub.
    pytest.param(
        "12100000400000624D", id="real-tsinghua-public-institution-national-division"
    ),
    # The following are from python-stdnum tests/test_cn_uscc.doctest ("found online":
    # creditchina.gov.cn, credit.fgw.sh.gov.cn and a Gansu credit portal, see issue #207).
    pytest.param("121200004013590816", id="real-stdnum-public-institution-tianjin"),
    pytest.param("91310115MA1K3BTP2B", id="real-stdnum-post2015-MA-body"),
    pytest.param("9131012056010553X5", id="real-stdnum-org-check-X-final-digit"),
    pytest.param("9115220107837941X1", id="real-stdnum-org-check-X-inner-mongolia"),
    pytest.param("91620105L015101280", id="real-stdnum-L-body"),
    pytest.param("91340600MA2PBM9HXD", id="real-stdnum-enterprise-huaibei"),
    pytest.param("92340603MA2PBMCG0U", id="real-stdnum-individual-business-92"),
    pytest.param(
        "92340603MA2UK2ECXU", id="real-stdnum-individual-business-92-org-check-X"
    ),
]


@pytest.mark.parametrize("code", REAL_VALID)
def test_real_published_codes_are_valid(code: str) -> None:
    assert stdnum_uscc.is_valid(code)  # sanity: stdnum's final-check agrees
    assert validate_uscc(code, real_division_exists) == []
    assert is_valid_uscc(code, real_division_exists)


# ---------------------------------------------------------------------------
# valid after normalisation / special divisions

OTHER_VALID = [
    pytest.param("9144030071526726xg", real_division_exists, id="lowercase-accepted"),
    pytest.param(
        " \t" + XIAOMI + "\n",
        division_exists,
        id="surrounding-ascii-whitespace-stripped",
    ),
    pytest.param(
        "\u3000" + XIAOMI + "\u3000",
        division_exists,
        id="surrounding-ideographic-space-stripped",
    ),
    pytest.param(
        make_uscc("9", "1", "371081", "MA3C7B2K"),
        division_exists,
        id="historical-division-371081-accepted",
    ),
    pytest.param(
        "12100000400000624D",
        lambda d: False,
        id="national-division-100000-needs-no-lookup",
    ),
    pytest.param(
        make_uscc("Y", "1", "370102", "00000000"),
        division_exists,
        id="authority-Y-type-1",
    ),
    pytest.param(
        make_uscc("N", "2", "371003", "L0000001"),
        division_exists,
        id="authority-N-village-collective",
    ),
    pytest.param(
        make_uscc("A", "9", "110000", "12345678"),
        division_exists,
        id="authority-A-other",
    ),
]


@pytest.mark.parametrize(("code", "lookup"), OTHER_VALID)
def test_other_valid_inputs(code: str, lookup) -> None:
    assert validate_uscc(code, lookup) == []


def test_normalize_only_strips_and_uppercases_ascii() -> None:
    assert normalize_uscc("  9144030071526726xg\u3000") == "9144030071526726XG"
    # full-width letters are left alone (and then rejected by validate_uscc)
    assert normalize_uscc("ａ") == "ａ"  # noqa: RUF001 -- deliberately full-width input


@pytest.mark.parametrize(("authority", "entity_type"), sorted(ENTITY_TYPE_NAMES))
def test_every_table_pair_builds_a_valid_code(authority: str, entity_type: str) -> None:
    code = make_uscc(authority, entity_type, "370000", "MA3C7B2K")
    assert validate_uscc(code, division_exists) == []


# ---------------------------------------------------------------------------
# single-fault variations: (input, expected problem codes, fragments of the message)

_ORG_WRONG = replace_at(XIAOMI, 17, "3")
_ORG_WRONG = _ORG_WRONG[:17] + uscc_check_char(
    _ORG_WRONG[:17]
)  # only the org check is wrong

FAULTS = [
    pytest.param("", ["empty"], ["为空"], id="empty"),
    pytest.param("   ", ["empty"], ["为空"], id="whitespace-only"),
    pytest.param(XIAOMI[:17], ["length"], ["17 位", "18 位"], id="length-17"),
    pytest.param(XIAOMI + "0", ["length"], ["19 位", "18 位"], id="length-19"),
    pytest.param(
        "91110108551385082", ["length"], ["17 位"], id="length-missing-check-char"
    ),
    pytest.param(
        replace_at(XIAOMI, 1, "９"),  # noqa: RUF001 -- deliberately full-width digit
        ["fullwidth"],
        ["第 1 位", "“９”", "全角"],  # noqa: RUF001 -- expected message quotes the full-width digit
        id="fullwidth-digit",
    ),
    pytest.param(
        replace_at(XIAOMI, 18, "Ｑ"),  # noqa: RUF001 -- deliberately full-width letter
        ["fullwidth"],
        ["第 18 位", "“Ｑ”", "全角"],  # noqa: RUF001 -- expected message quotes the full-width letter
        id="fullwidth-letter",
    ),
    pytest.param(
        XIAOMI[:8] + " " + XIAOMI[8:],
        ["separator"],
        ["第 9 位", "空格"],
        id="internal-space",
    ),
    pytest.param(
        XIAOMI[:16] + "-" + XIAOMI[16:],
        ["separator"],
        ["第 17 位", "连字符", "“-”"],
        id="gb11714-hyphen-form",
    ),
    pytest.param(
        XIAOMI[:8] + "\u3000" + XIAOMI[8:],
        ["separator"],
        ["第 9 位", "U+3000"],
        id="internal-ideographic-space",
    ),
    *[
        pytest.param(
            replace_at(XIAOMI, 9, letter),
            ["alphabet"],
            ["第 9 位", f"“{letter}”", "I、O、Z、S、V"],
            id=f"forbidden-{letter}",
        )
        for letter in FORBIDDEN_LETTERS
    ],
    pytest.param(
        replace_at(XIAOMI, 12, "o"),
        ["alphabet"],
        ["第 12 位", "“O”"],
        id="forbidden-lowercase-o",
    ),
    pytest.param(
        replace_at(XIAOMI, 1, "I"),
        ["alphabet"],
        ["第 1 位", "“I”"],
        id="forbidden-letter-in-authority",
    ),
    pytest.param(
        replace_at(XIAOMI, 10, "*"),
        ["alphabet"],
        ["第 10 位", "“*”", "大写字母"],
        id="punctuation",
    ),
    pytest.param(
        replace_at(XIAOMI, 3, "京"),
        ["alphabet"],
        ["第 3 位", "“京”"],
        id="chinese-character",
    ),
    pytest.param(
        replace_at(XIAOMI, 5, "\u200b"),
        ["alphabet"],
        ["第 5 位", "U+200B"],
        id="zero-width-space",
    ),
    pytest.param(
        replace_at(replace_at(XIAOMI, 9, "I"), 11, "S"),
        ["alphabet"],
        ["第 9 位", "第 11 位"],
        id="two-forbidden-letters-both-named",
    ),
    pytest.param(
        with_checks("B1110108" + "55138508"),
        ["authority"],
        ["第 1 位", "登记管理部门", "“B”"],
        id="authority-B",
    ),
    pytest.param(
        with_checks("01110108" + "55138508"),
        ["authority"],
        ["第 1 位", "“0”"],
        id="authority-0",
    ),
    pytest.param(
        with_checks("94110108" + "55138508"),
        ["entity_type"],
        ["第 2 位", "机构类别", "“4”", "个体工商户"],
        id="type-94-not-for-authority-9",
    ),
    pytest.param(
        with_checks("99110108" + "55138508"),
        ["entity_type"],
        ["第 2 位", "“9”"],
        id="type-99-not-for-authority-9",
    ),
    pytest.param(
        with_checks("Y2110108" + "55138508"),
        ["entity_type"],
        ["第 2 位", "“2”", "“Y”"],
        id="type-Y2",
    ),
    pytest.param(
        with_checks("A2110108" + "55138508"),
        ["entity_type"],
        ["“A”", "军队事业单位"],
        id="type-A2",
    ),
    pytest.param(
        with_checks("1A110108" + "55138508"),
        ["entity_type"],
        ["第 2 位", "“A”"],
        id="type-letter-for-authority-1",
    ),
    pytest.param(
        with_checks("9111A108" + "55138508"),
        ["division_format"],
        ["第 3–8 位", "11A108", "6 位数字"],
        id="division-with-letter",
    ),
    pytest.param(
        make_uscc("9", "1", "990000", "55138508"),
        ["division_unknown"],
        ["第 3–8 位", "990000", "不存在"],
        id="division-unknown-990000",
    ),
    pytest.param(
        _ORG_WRONG,
        ["org_code_check"],
        ["第 9–17 位", "551385083", "第 17 位应为“2”"],
        id="org-code-check-wrong",
    ),
    pytest.param(
        XIAOMI[:17] + "R",
        ["check_char"],
        ["第 18 位", "“R”", "应为“Q”"],
        id="final-check-wrong",
    ),
    pytest.param(
        XIAOMI[:17] + "0",
        ["check_char"],
        ["第 18 位", "“0”"],
        id="final-check-wrong-digit",
    ),
    # A code that circulates as an example but is not a real/valid USCC.
    pytest.param(
        "91110000100003447X",
        ["org_code_check", "check_char"],
        ["100003447"],
        id="bogus-example-both-checks",
    ),
]


@pytest.mark.parametrize(("code", "expected", "fragments"), FAULTS)
def test_single_fault_is_reported(
    code: str, expected: list[str], fragments: list[str]
) -> None:
    problems = validate_uscc(code, division_exists)
    assert codes(problems) == expected
    assert not is_valid_uscc(code, division_exists)
    text = " ".join(p.message for p in problems)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    for p in problems:
        assert p.message_en and p.message != p.message_en


def test_historical_division_rejected_when_lookup_does_not_know_it() -> None:
    code = make_uscc("9", "1", "371081", "MA3C7B2K")
    current_only = (DIVISIONS - {"371081"}).__contains__
    assert codes(validate_uscc(code, current_only)) == ["division_unknown"]


def test_content_problems_are_all_reported_together() -> None:
    code = make_uscc("9", "1", "990000", "55138508")
    code = replace_at(
        code, 17, "9" if code[16] != "9" else "8"
    )  # break org check; final now also wrong
    code = code[:17] + ("Q" if uscc_check_char(code[:17]) != "Q" else "R")
    assert codes(validate_uscc(code, division_exists)) == [
        "division_unknown",
        "org_code_check",
        "check_char",
    ]


def test_structural_problems_stop_at_the_first() -> None:
    # bad authority, bad type, letter in division, forbidden letter, wrong length: only one reported
    assert codes(validate_uscc("BX11A1085513850I2Q0", division_exists)) == ["length"]
    assert codes(validate_uscc("BX11A108551385082Q", division_exists)) == ["authority"]
    assert codes(validate_uscc("9411A108551385082Q", division_exists)) == [
        "entity_type"
    ]


def test_lookup_not_called_for_structurally_bad_code() -> None:
    def exploding(_: str) -> bool:
        raise AssertionError("division lookup must not be called")

    assert codes(validate_uscc("94110108551385082Q", exploding)) == ["entity_type"]


def test_problem_is_frozen() -> None:
    problem = validate_uscc("", division_exists)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.code = "x"  # type: ignore[misc]


# ---------------------------------------------------------------------------
# check characters, make_uscc, describe_uscc, the table


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param("19220382", "1", id="huawei"),
        pytest.param("71526726", "X", id="tencent-technology-10-is-X"),
        pytest.param("40000062", "4", id="tsinghua"),
        pytest.param("00000000", "0", id="sum-0-gives-11-written-0"),
        pytest.param("MA2PBMCG", "0", id="letters-A10-to-Z35"),
        pytest.param("PDY00001", "X", id="gb11714-self-defined-range-10-is-X"),
    ],
)
def test_org_code_check_char(body: str, expected: str) -> None:
    assert org_code_check_char(body) == expected


def test_org_code_check_char_accepts_letters_usc_excludes() -> None:
    # GB 11714 itself allows every Latin letter (I=18, O=24, …); only the USCC excludes some.
    assert org_code_check_char("IIIIIIII") in "0123456789X"


@pytest.mark.parametrize(
    "bad", ["1234567", "123456789", "1234567a", "1234567-", "１2345678"]  # noqa: RUF001 -- deliberately full-width digit
)
def test_org_code_check_char_rejects_bad_bodies(bad: str) -> None:
    with pytest.raises(ValueError):
        org_code_check_char(bad)


def test_uscc_check_char_matches_real_codes() -> None:
    for param in REAL_VALID:
        code = str(param.values[0])
        assert uscc_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(
    "bad", ["9144030071526726", "914403007152672I6", "9144030071526726 "]
)
def test_uscc_check_char_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_char(bad)


def test_make_uscc_reproduces_real_code() -> None:
    assert make_uscc("9", "1", "440300", "19220382") == "914403001922038216"
    assert make_uscc("9", "2", "340603", "MA2PBMCG") == "92340603MA2PBMCG0U"


@pytest.mark.parametrize(
    ("parts", "what"),
    [
        pytest.param(("9", "4", "110000", "12345678"), "type", id="bad-type"),
        pytest.param(("B", "1", "110000", "12345678"), "authority", id="bad-authority"),
        pytest.param(("9", "1", "11000", "12345678"), "division", id="short-division"),
        pytest.param(
            ("9", "1", "11A000", "12345678"), "division", id="letter-division"
        ),
        pytest.param(("9", "1", "110000", "1234567"), "body", id="short-body"),
        pytest.param(
            ("9", "1", "110000", "1234567I"), "body", id="forbidden-letter-body"
        ),
    ],
)
def test_make_uscc_rejects_bad_parts(
    parts: tuple[str, str, str, str], what: str
) -> None:
    with pytest.raises(ValueError):
        make_uscc(*parts)


def test_describe_uscc() -> None:
    d = describe_uscc(" 9144030071526726xg ")
    assert d == {
        "code": "9144030071526726XG",
        "authority": "9",
        "authority_name": "工商/市场监管",
        "authority_name_en": "Industry and commerce (market regulation)",
        "entity_type": "1",
        "entity_type_name": "企业",
        "entity_type_name_en": "Enterprise",
        "division": "440300",
        "is_national_division": False,
        "org_code": "71526726X",
        "org_code_display": "71526726-X",
        "check_char": "G",
    }
    assert describe_uscc("12100000400000624D")["entity_type_name"] == "事业单位"
    assert describe_uscc("12100000400000624D")["is_national_division"] is True
    assert describe_uscc("92340603MA2PBMCG0U")["entity_type_name"] == "个体工商户"


def test_describe_uscc_unknown_parts_give_none_and_wrong_length_raises() -> None:
    d = describe_uscc("B4110108551385082Q")
    assert d["authority_name"] is None and d["entity_type_name"] is None
    with pytest.raises(ValueError):
        describe_uscc("123")


def test_entity_type_table_matches_gb32100_xg1() -> None:
    by_authority: dict[str, str] = {}
    for authority, entity_type in sorted(ENTITY_TYPE_NAMES):
        by_authority[authority] = by_authority.get(authority, "") + entity_type
    assert by_authority == {
        "1": "1239",
        "2": "19",
        "3": "123459",
        "4": "19",
        "5": "1239",
        "6": "129",
        "7": "129",
        "8": "19",
        "9": "123",
        "A": "19",
        "N": "1239",
        "Y": "1",
    }
    assert set(AUTHORITY_NAMES) == set(by_authority)
    assert set(ENTITY_TYPE_NAMES_EN) == set(ENTITY_TYPE_NAMES)
    assert len(ENTITY_TYPE_NAMES) == 36


# ---------------------------------------------------------------------------
# properties

valid_parts = st.tuples(
    st.sampled_from(sorted(ENTITY_TYPE_NAMES)),
    st.sampled_from(sorted(DIVISIONS)),
    st.text(alphabet=ALPHABET, min_size=8, max_size=8),
)
valid_codes = valid_parts.map(lambda p: make_uscc(p[0][0], p[0][1], p[1], p[2]))
# replacements: the USCC alphabet plus forbidden/odd characters
replacement_chars = st.sampled_from(ALPHABET + FORBIDDEN_LETTERS + "iozsv*- 京９\u200b")


@given(valid_parts)
def test_make_uscc_output_validates_and_describes(parts) -> None:
    (authority, entity_type), division, body = parts
    code = make_uscc(authority, entity_type, division, body)
    assert validate_uscc(code, division_exists) == []
    d = describe_uscc(code)
    assert (
        d["authority"],
        d["entity_type"],
        d["division"],
        str(d["org_code"])[:8],
    ) == (
        authority,
        entity_type,
        division,
        body,
    )
    if authority.isdigit():  # stdnum rejects A/N/Y authorities outright
        assert stdnum_uscc.is_valid(code)


@given(valid_codes, st.integers(min_value=1, max_value=18), replacement_chars)
def test_any_single_character_change_invalidates(
    code: str, position: int, char: str
) -> None:
    if char.upper() == code[position - 1]:
        return  # not a change once normalised
    assert validate_uscc(replace_at(code, position, char), division_exists) != []


@given(valid_codes, st.sampled_from(ALPHABET))
def test_changing_the_final_char_is_always_a_check_char_problem(
    code: str, char: str
) -> None:
    if char == code[17]:
        return
    assert codes(validate_uscc(code[:17] + char, division_exists)) == ["check_char"]


@given(valid_codes, st.integers(min_value=1, max_value=17))
def test_adjacent_transposition_invalidates(code: str, position: int) -> None:
    a, b = code[position - 1], code[position]
    if a == b:
        return
    swapped = code[: position - 1] + b + a + code[position + 1 :]
    assert validate_uscc(swapped, division_exists) != []


@given(st.text(max_size=40))
def test_validate_never_raises_on_arbitrary_text(text: str) -> None:
    problems = validate_uscc(text, division_exists)
    assert all(
        isinstance(p, UsccProblem) and p.message and p.message_en for p in problems
    )
    assert is_valid_uscc(text, division_exists) == (problems == [])
