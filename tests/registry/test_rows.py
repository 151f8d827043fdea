"""Row parsing and validation of the registry import (pure: no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jianguan.registry.domain.rows import (
    ENTITY_HEADERS,
    DivisionRef,
    EntityRowValidator,
    FileProblem,
    map_headers,
    parse_date,
    parse_decimal,
    uscc_quick_valid,
)
from jianguan.registry.domain.uscc import ALPHABET, make_uscc, validate_uscc

DIVISIONS = {"371003": DivisionRef(True), "371082": DivisionRef(True),
             "371081": DivisionRef(False, "2014 撤市设区，改为 371003 文登区"), "371000": DivisionRef(True)}
INDUSTRIES = {"F": "section", "52": "division", "521": "group", "5211": "class", "0111": "class"}
TODAY = dt.date(2026, 11, 20)
CODE = make_uscc("9", "1", "371003", "MA3C4D5E")


def known(code: str) -> bool:
    return code in DIVISIONS


def validator(**kw):
    args = {"divisions": DIVISIONS, "uscc_division_exists": known, "industries": INDUSTRIES,
            "in_scope": lambda d: d.startswith("3710"), "today": TODAY,
            "headers": map_headers(ENTITY_HEADERS)}
    args.update(kw)
    return EntityRowValidator(**args)


def cells(**over):
    base = {"统一社会信用代码": CODE, "名称": "威海市文登区好运来超市有限公司", "主体类型": "企业",
            "企业类型": "有限责任公司",
            "登记状态": "存续", "状态日期": None, "登记机关": "威海市文登区市场监督管理局", "行政区划代码": "371003",
            "乡镇（街道）": "", "道路": "", "门牌号": "", "住所": "山东省威海市文登区峰山路12号", "行业代码": "5211",
            "成立日期": "2015-06-18", "注册资本（万元）": "50", "法定代表人（经营者）": "王建国", "经营范围": "",
            "联系电话": ""}
    base.update({{"注册资本": "注册资本（万元）"}.get(k, k): v for k, v in over.items()})
    return [base[h] for h in ENTITY_HEADERS]


def reasons(**over):
    _values, errors = validator().check(7, cells(**over))
    return [(e.column, e.reason) for e in errors]


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("2020-01-05", dt.date(2020, 1, 5), id="ISO"),
    pytest.param("2020/1/5", dt.date(2020, 1, 5), id="slashes, no padding"),
    pytest.param("2020.01.05", dt.date(2020, 1, 5), id="dots"),
    pytest.param("2020年1月5日", dt.date(2020, 1, 5), id="Chinese"),
    pytest.param("20200105", dt.date(2020, 1, 5), id="8 digits as text"),
    pytest.param(20200105, dt.date(2020, 1, 5), id="8 digits as a number"),
    pytest.param(43835, dt.date(2020, 1, 5), id="Excel serial number without date format"),
    pytest.param(dt.datetime(2020, 1, 5, 0, 0), dt.date(2020, 1, 5), id="date cell"),
    pytest.param("2020-01-05 00:00:00", dt.date(2020, 1, 5), id="datetime text at midnight"),
    pytest.param("", None, id="empty"),
])
def test_dates_are_read_from_the_forms_offices_use(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize(("value", "reason"), [
    pytest.param("2023-02-29", "日期不存在", id="29 Feb in a common year"),
    pytest.param("5/1/2020", "无法识别的日期，请写成 2020-01-05 的形式", id="US order"),
    pytest.param("去年", "无法识别的日期，请写成 2020-01-05 的形式", id="words"),
    pytest.param(43835.5, "不是日期（含小数）", id="fractional serial"),
])
def test_bad_dates_say_why(value, reason):
    with pytest.raises(ValueError, match=reason):
        parse_date(value)


def test_capital_accepts_thousands_separators_and_number_cells():
    assert parse_decimal("1,234.5") == Decimal("1234.5")
    assert parse_decimal(88.5) == Decimal("88.5")
    with pytest.raises(ValueError, match="不是数字（只填数字，单位为万元）"):
        parse_decimal("50万元")


def test_headers_match_loosely_but_missing_ones_are_named():
    loose = ["统一社会信用代码 ", "名称", "主体类型", "登记状态", "登记机关", "行政区划代码", "住所", "行业代码",
             "成立日期", "法定代表人(经营者)"]
    assert map_headers(loose)["legal_representative"] == 9
    with pytest.raises(FileProblem, match="缺少必需的表头：住所、行业代码"):
        map_headers([h for h in loose if h not in ("住所", "行业代码")])


def test_a_repeated_header_is_a_file_problem():
    with pytest.raises(FileProblem, match="表头“名称”出现了两次（第 2 列和第 3 列）"):
        map_headers(["统一社会信用代码", "名称", "名称"])


def test_a_good_row_becomes_entity_values():
    values, errors = validator().check(2, cells(注册资本=" 50 ", 状态日期="2016/1/1"))
    assert errors == []
    assert values[:6] == (CODE, "威海市文登区好运来超市有限公司", "enterprise", "有限责任公司", "active", "2016-01-01")
    assert values[13:15] == ("2015-06-18", "50.00")


@pytest.mark.parametrize(("over", "expected"), [
    pytest.param({"名称": ""}, [("名称", "必填项为空")], id="required"),
    pytest.param({"登记状态": "营业"}, [("登记状态", "应为 存续、在业、歇业、吊销、注销 或 迁出")], id="status"),
    pytest.param({"行政区划代码": "37100"}, [("行政区划代码", "应为 6 位数字的行政区划代码（GB/T 2260）")],
                 id="5 digits"),
    pytest.param({"行政区划代码": "371081"},
                 [("行政区划代码", "该行政区划代码已停用（2014 撤市设区，改为 371003 文登区），请填写现行代码")],
                 id="retired"),
    pytest.param({"行业代码": "521"}, [("行业代码", "行业代码须细化到小类（4 位数字）")], id="group level"),
    pytest.param({"行业代码": "5299"}, [("行业代码", "行业代码不存在（GB/T 4754-2017）")], id="unknown class"),
    pytest.param({"成立日期": "2026-11-21"}, [("成立日期", "日期晚于今天（2026-11-20）")],
                 id="Saturday after a Friday today"),
    pytest.param({"状态日期": "2010-01-01"}, [("状态日期", "状态日期早于成立日期（2015-06-18）")],
                 id="status before founding"),
    pytest.param({"注册资本": "-1"}, [("注册资本（万元）", "注册资本不能为负数")], id="negative capital"),
    pytest.param({"注册资本": "1.234"}, [("注册资本（万元）", "最多保留 2 位小数")], id="three decimals"),
    pytest.param({"联系电话": "打电话"}, [("联系电话", "联系电话只能包含数字和 + - ( ) 空格")],
                 id="phone"),
    pytest.param({"名称": "名" * 201}, [("名称", "超过 200 个字符（实际 201 个）")], id="too long"),
    pytest.param({"主体类型": "个体工商户"},
                 [("主体类型", "与统一社会信用代码前两位“91”（企业）不一致")], id="kind vs code"),
])
def test_each_bad_cell_is_reported_with_its_column_and_reason(over, expected):
    assert reasons(**over) == expected


def test_a_row_outside_scope_is_bad():
    assert reasons(行政区划代码="371082") == []
    v = validator(in_scope=lambda d: d == "371003")
    _values, errors = v.check(3, cells(行政区划代码="371082"))
    assert [(e.row, e.column, e.value, e.reason) for e in errors] == [
        (3, "行政区划代码", "371082", "不在本单位管辖范围内")]


def test_a_code_from_another_registration_authority_is_not_a_market_entity():
    code = make_uscc("5", "1", "371003", "MA3C4D5E")  # 社会团体
    assert reasons(统一社会信用代码=code) == [
        ("统一社会信用代码", "前两位“51”不是市场监管部门登记的市场主体（企业 91、个体工商户 92、农民专业合作社 93）")]


def test_several_problems_in_one_row_are_all_reported():
    assert [c for c, _r in reasons(名称="", 行业代码="x", 成立日期="昨天")] == ["名称", "行业代码", "成立日期"]


def test_a_formula_is_reported_as_such():
    assert reasons(名称="=A1") == [("名称", "单元格是公式，请复制后“选择性粘贴为数值”再导入")]


codes = st.text(alphabet=ALPHABET + "IOSVZ-", min_size=16, max_size=19)  # normalised input: no lower case


@settings(max_examples=400, deadline=None)
@given(st.one_of(codes, st.builds(lambda b, d: make_uscc("9", "1", d, b),
                                  st.text(alphabet=ALPHABET, min_size=8, max_size=8),
                                  st.sampled_from(["371003", "371081", "100000", "999999"]))))
def test_the_quick_check_accepts_exactly_what_validate_uscc_accepts(code):
    assert uscc_quick_valid(code, known) == (validate_uscc(code, known) == [])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=8, max_size=8), st.integers(0, 16), st.sampled_from(ALPHABET))
def test_the_quick_check_rejects_any_single_character_change(body, pos, ch):
    good = make_uscc("9", "2", "371003", body)
    bad = good[:pos] + ch + good[pos + 1:]
    assert uscc_quick_valid(bad, known) == (validate_uscc(bad, known) == [])


def test_a_uscc_that_excel_turned_into_a_number_is_explained():
    assert reasons(统一社会信用代码=9.137100312345679e17) == [
        ("统一社会信用代码", "统一社会信用代码被 Excel 存成了数字，末尾几位已丢失；请把该列设为文本格式后重新填写")]
