"""Helpers for import tests: valid rows built from real codes, written as CSV or xlsx."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

from jianguan.registry.domain.rows import ENTITY_HEADERS, LICENCE_HEADERS
from jianguan.registry.domain.uscc import ALPHABET, make_uscc

_serial = itertools.count(1)


def org_body(n: int) -> str:
    digits = []
    for _ in range(8):
        n, r = divmod(n, len(ALPHABET))
        digits.append(ALPHABET[r])
    return "".join(reversed(digits))


def uscc(n: int | None = None, *, kind: str = "1", division: str = "371003") -> str:
    return make_uscc("9", kind, division, org_body(n if n is not None else next(_serial) + 10_000))


def row(**over: object) -> dict[str, object]:
    """One valid row (a Wendeng supermarket) keyed by Chinese header; override any column (注册资本, 法定代表人 and
    乡镇 stand for the headers with full-width brackets)."""
    base: dict[str, object] = {
        "统一社会信用代码": uscc(), "名称": "威海市文登区好运来超市有限公司", "主体类型": "企业",
        "企业类型": "有限责任公司",
        "登记状态": "存续", "状态日期": "", "登记机关": "威海市文登区市场监督管理局", "行政区划代码": "371003",
        "乡镇（街道）": "龙山街道", "道路": "峰山路", "门牌号": "12号", "住所": "山东省威海市文登区龙山街道峰山路12号",
        "行业代码": "5211", "成立日期": "2015-06-18", "注册资本（万元）": "50", "法定代表人（经营者）": "王建国",
        "经营范围": "日用百货、预包装食品销售", "联系电话": "0631-8451234",
    }
    aliases = {"注册资本": "注册资本（万元）", "法定代表人": "法定代表人（经营者）", "乡镇": "乡镇（街道）"}
    for k, v in over.items():
        k = aliases.get(k, k)
        assert k in base, k
        base[k] = v
    return base


def write_csv(path: Path, rows: list[dict[str, object]], *, encoding: str = "utf-8-sig",
              headers: tuple[str, ...] = ENTITY_HEADERS) -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(headers)
        for r in rows:
            w.writerow([r.get(h, "") for h in headers])
    return path


def write_xlsx(path: Path, rows: list[dict[str, object]], *, sheet: str = "市场主体",
               headers: tuple[str, ...] = ENTITY_HEADERS, merge: str | None = None, title_row: str | None = None,
               extra_sheet_first: bool = False, licences: list[dict[str, object]] | None = None) -> Path:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    if extra_sheet_first:
        other = wb.add_worksheet("说明")
        other.write(0, 0, "本表为导出数据")
    ws = wb.add_worksheet(sheet)
    r0 = 0
    if title_row:
        ws.merge_range(0, 0, 0, 5, title_row)
        r0 = 1
    ws.write_row(r0, 0, headers)
    for i, r in enumerate(rows, r0 + 1):
        for j, h in enumerate(headers):
            v = r.get(h, "")
            if isinstance(v, str) and v.startswith("="):
                ws.write_formula(i, j, v)
            elif v is None or v == "":
                continue
            elif hasattr(v, "year"):
                ws.write_datetime(i, j, v, wb.add_format({"num_format": "yyyy-mm-dd"}))
            elif isinstance(v, (int, float)):
                ws.write_number(i, j, v)
            else:
                ws.write_string(i, j, str(v))
    if merge:
        ws.merge_range(merge, "合并")
    if licences is not None:
        lic = wb.add_worksheet("许可证")
        lic.write_row(0, 0, LICENCE_HEADERS)
        for i, r in enumerate(licences, 1):
            lic.write_row(i, 0, [str(r.get(h, "")) for h in LICENCE_HEADERS])
    wb.close()
    return path


def licence(code: str, **over: object) -> dict[str, object]:
    """One valid licence row (a 食品经营许可证) for the entity with USCC `code`."""
    base: dict[str, object] = {"统一社会信用代码": code, "许可证类型": "食品经营许可证",
                               "许可证编号": "JY13710030012345", "发证机关": "威海市文登区市场监督管理局",
                               "有效期自": "2021-03-01", "有效期至": "2026-02-28", "状态": "有效"}
    for k, v in over.items():
        assert k in base, k
        base[k] = v
    return base
