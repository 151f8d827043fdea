"""The vectorised (Polars) checks of a CSV block give exactly what the row-by-row check gives (pure: no database).

``EntityRowValidator.check_many(..., text_cells=True)`` accepts plainly valid rows column by column and sends every
other row through ``check``. These tests build blocks mixing clean rows with every kind of awkward cell and compare
the two paths value for value and error for error.
"""

from __future__ import annotations

import datetime as dt
import random

from jianguan.registry.domain.rows import (
    ENTITY_HEADERS,
    DivisionRef,
    EntityRowValidator,
    _vector_accept,
    map_headers,
)
from jianguan.registry.domain.uscc import make_uscc

DIVISIONS = {"371003": DivisionRef(True), "371082": DivisionRef(True), "370000": DivisionRef(True),
             "371081": DivisionRef(False, "2014 撤市设区，改为 371003 文登区"), "371000": DivisionRef(True),
             "110101": DivisionRef(True)}
INDUSTRIES = {"F": "section", "52": "division", "521": "group", "5211": "class", "0111": "class", "6110": "class"}
TODAY = dt.date(2026, 11, 20)


def validator(headers: tuple[str, ...] = ENTITY_HEADERS) -> EntityRowValidator:
    return EntityRowValidator(divisions=DIVISIONS, uscc_division_exists=lambda c: c in DIVISIONS,
                              industries=INDUSTRIES, in_scope=lambda d: d.startswith("3710"), today=TODAY,
                              headers=map_headers(headers))


def code(n: int, kind: str = "1", division: str = "371003") -> str:
    body = f"{n:08d}"[-8:]
    return make_uscc("9", kind, division, body)


def clean(n: int) -> dict[str, str]:
    kind = ("1", "企业") if n % 3 else ("2", "个体工商户")
    return {"统一社会信用代码": code(n, kind[0]), "名称": f"威海市文登区好运来{n}号超市", "主体类型": kind[1],
            "企业类型": "有限责任公司" if kind[0] == "1" else "", "登记状态": "存续", "状态日期": "",
            "登记机关": "威海市文登区市场监督管理局", "行政区划代码": "371003", "乡镇（街道）": "龙山街道",
            "道路": "峰山路", "门牌号": f"{n % 300}号", "住所": "山东省威海市文登区龙山街道峰山路12号",
            "行业代码": "5211", "成立日期": "2015-06-18", "注册资本（万元）": "50" if kind[0] == "1" else "",
            "法定代表人（经营者）": "王建国", "经营范围": "日用百货销售", "联系电话": "0631-8451234"}


# Awkward values per column: some valid in an unusual form (check() accepts them), most invalid.
AWKWARD: dict[str, list[str]] = {
    "统一社会信用代码": [code(7).lower(), " " + code(8), code(9) + "\u3000", code(10)[:17], code(11)[:17] + "0",
                   code(12, division="371081"), code(13, division="999999"), "=A1", "",
                   code(14).replace(code(14)[8], "I", 1), code(15, "3"), code(16, division="100000"),
                   make_uscc("5", "1", "371003", "12345678")],
    "名称": ["", "名" * 200, "名" * 201, "=CONCAT(A1)", "=", " 前后有空格 ", "\t制表符"],
    "主体类型": ["企业", "个体工商户", "农民专业合作社", "公司", "", " 企业"],
    "企业类型": ["x" * 32, "x" * 33, ""],
    "登记状态": ["在业", "歇业", "吊销", "注销", "迁出", "营业", "", "存续\u00a0"],
    "状态日期": ["2016-01-01", "2016/1/1", "2010-01-01", "2023-02-29", "2026-11-21", "2026-11-20", "20160101",
             "2016-1-1", "明天", "2016-01-01 00:00:00", "1949-09-30"],
    "登记机关": ["", "机" * 100, "机" * 101],
    "行政区划代码": ["371082", "371081", "37100", "110101", "370000", "", "abcdef",
               "\uff13\uff17\uff11\uff10\uff10\uff13"],  # the last in full-width digits
    "住所": ["", "址" * 255, "址" * 256],
    "行业代码": ["0111", "521", "5299", "F", "111", "", "5211 ", "\uff16\uff11\uff11\uff10"],
    "成立日期": ["1949-10-01", "1949-09-30", "2026-11-20", "2026-11-21", "2015/6/18", "2015年6月18日", "",
             "2015-06-31", "0000-01-01", "42000", "2015-6-18"],
    "注册资本（万元）": ["0", "0.5", "12.34", "12.345", "-1", "007", "1,000", "1e3", "99999999999999.99",
                  "100000000000000", "五十", "12.", ".5", "0.00", "+5"],
    "法定代表人（经营者）": ["", "王" * 64, "王" * 65],
    "经营范围": ["范" * 4000, "范" * 4001],
    "联系电话": ["13806310000", "0631-845 1234（转）", "电话", "1" * 20, "1" * 21, "+86(631)8451234", "1/2"],
}


def as_cells(row: dict[str, str], headers: tuple[str, ...] = ENTITY_HEADERS) -> list[str]:
    return [row.get(h, "") for h in headers]


def both(rows: list[list[str]], headers: tuple[str, ...] = ENTITY_HEADERS):
    v = validator(headers)
    numbered = list(enumerate(rows, 2))
    return v.check_many(numbered, text_cells=True), [v.check(n, c) for n, c in numbered]


def test_clean_rows_are_accepted_by_the_vectorised_checks_with_the_same_values():
    rows = [as_cells(clean(n)) for n in range(500)]
    accepted = _vector_accept(validator(), list(enumerate(rows, 2)))
    assert all(values is not None for values in accepted)
    fast, slow = both(rows)
    assert fast == slow
    assert all(values is not None and errors == [] for values, errors in fast)


def test_every_awkward_cell_gives_the_same_result_as_the_row_by_row_check():
    rows = []
    for header, values in AWKWARD.items():
        for value in values:
            row = clean(1000 + len(rows))
            row[header] = value
            rows.append(as_cells(row))
    rows += [as_cells(clean(n)) for n in range(100)]  # a block large enough for the vectorised path
    fast, slow = both(rows)
    for got, expected, cells in zip(fast, slow, rows, strict=True):
        assert got == expected, cells
    # Both accepted and refused rows are among them, and the vectorised path left the awkward ones to check().
    assert sum(values is None for values, _e in slow) > 50
    accepted = _vector_accept(validator(), list(enumerate(rows, 2)))
    assert sum(a is not None for a in accepted) >= 100


def test_random_mixtures_of_awkward_cells_agree():
    rng = random.Random(20261122)
    rows = []
    for n in range(3000):
        row = clean(5000 + n)
        for header in rng.sample(list(AWKWARD), rng.choice((0, 0, 1, 2, 3))):
            row[header] = rng.choice(AWKWARD[header])
        rows.append(as_cells(row))
    fast, slow = both(rows)
    assert fast == slow
    assert sum(values is not None for values, _e in fast) > 1000


def test_short_rows_missing_optional_columns_and_reordered_headers_agree():
    headers = tuple(reversed([h for h in ENTITY_HEADERS if h not in ("经营范围", "联系电话", "企业类型")]))
    rows = [as_cells(clean(n), headers) for n in range(200)]
    rows[5] = rows[5][:4]  # a short line in the CSV
    rows[6] = [*rows[6], "extra", "cells"]
    fast, slow = both(rows, headers)
    assert fast == slow
    assert fast[5][0] is None and fast[6][0] is not None
