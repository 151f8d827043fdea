"""Rows of a registry import file (市场主体导入表): headers, cell parsing and per-row validation. Pure Python.

A row is checked on its own here (codes, enum values, dates, lengths, the division being known and in the
importer's jurisdiction); what needs the whole file or the database (duplicates, conflicts with stored
records) is the importer's business. Every problem is a :class:`RowError` naming the row, the column, the
value and the reason in Chinese, so the operator can fix the file and submit it again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from jianguan.registry.domain.uscc import validate_uscc

# (Chinese header, field) in template order. The fields are the Entity model's column names.
ENTITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("统一社会信用代码", "uscc"),
    ("名称", "name"),
    ("主体类型", "kind"),
    ("企业类型", "subtype"),
    ("登记状态", "status"),
    ("状态日期", "status_date"),
    ("登记机关", "registration_authority"),
    ("行政区划代码", "division_id"),
    ("乡镇（街道）", "street"),
    ("道路", "road"),
    ("门牌号", "house_number"),
    ("住所", "address"),
    ("行业代码", "industry_id"),
    ("成立日期", "established_on"),
    ("注册资本（万元）", "registered_capital"),
    ("法定代表人（经营者）", "legal_representative"),
    ("经营范围", "business_scope"),
    ("联系电话", "phone"),
)
ENTITY_HEADERS: tuple[str, ...] = tuple(h for h, _ in ENTITY_COLUMNS)
ENTITY_FIELDS: tuple[str, ...] = tuple(f for _, f in ENTITY_COLUMNS)
HEADER_OF: dict[str, str] = {f: h for h, f in ENTITY_COLUMNS}
REQUIRED_FIELDS = frozenset({"uscc", "name", "kind", "status", "registration_authority", "division_id", "address",
                             "industry_id", "established_on", "legal_representative"})

KIND_VALUES: dict[str, str] = {"企业": "enterprise", "个体工商户": "individual", "农民专业合作社": "cooperative"}
# 存续 and 在业 are the same state in the registration system's two vocabularies.
STATUS_VALUES: dict[str, str] = {"存续": "active", "在业": "active", "歇业": "suspended", "吊销": "revoked",
                                 "注销": "cancelled", "迁出": "moved_out"}
# USCC positions 1–2 issued by 市场监管 (authority 9) for each kind (GB 32100-2015).
KIND_BY_USCC_TYPE: dict[str, str] = {"91": "enterprise", "92": "individual", "93": "cooperative"}
KIND_LABEL: dict[str, str] = {v: k for k, v in KIND_VALUES.items()}

MAX_LENGTHS: dict[str, int] = {"name": 200, "subtype": 32, "registration_authority": 100, "street": 64, "road": 64,
                               "house_number": 64, "address": 255, "legal_representative": 64, "phone": 20,
                               "business_scope": 4000}
CAPITAL_MAX = Decimal("99999999999999.99")  # max_digits=16, decimal_places=2
EARLIEST_DATE = dt.date(1949, 10, 1)
_PHONE_RE = re.compile(r"^[0-9+\-()（） 转,，/]+$")
_DATE_RES = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
)
_EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in the file: row number as the spreadsheet shows it (header = 1), column header, value, reason."""

    row: int
    column: str
    value: str
    reason: str

    def as_list(self) -> list[Any]:
        return [self.row, self.column, self.value, self.reason]


class FileProblem(Exception):  # noqa: N818 — it is a problem report, not a programming error
    """A problem with the file as a whole (encoding, headers, sheet, size); message in Chinese."""


def normalize_header(text: Any) -> str:
    """Header text compared loosely: no spaces, half-width brackets read as full-width, no asterisk marks."""
    s = "" if text is None else str(text)
    s = s.replace("(", "（").replace(")", "）").replace("*", "").replace("＊", "")
    return "".join(s.split())


def map_headers(cells: Sequence[Any], columns: Sequence[tuple[str, str]] = ENTITY_COLUMNS,
                required: frozenset[str] = REQUIRED_FIELDS) -> dict[str, int]:
    """Field → column index for a header row; raises FileProblem naming missing or repeated headers."""
    wanted = {normalize_header(h): f for h, f in columns}
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        field = wanted.get(normalize_header(cell))
        if field is None:
            continue
        if field in found:
            raise FileProblem(f"表头“{dict((f, h) for h, f in columns)[field]}”出现了两次（第 {found[field] + 1} 列和第 "
                              f"{i + 1} 列），请删除重复的列")
        found[field] = i
    missing = [h for h, f in columns if f in required and f not in found]
    if missing:
        raise FileProblem("缺少必需的表头：" + "、".join(missing) + "。请使用导入模板，表头须在第一行")
    return found


def looks_like_header(cells: Sequence[Any], columns: Sequence[tuple[str, str]] = ENTITY_COLUMNS) -> bool:
    wanted = {normalize_header(h) for h, _ in columns}
    return sum(1 for c in cells if normalize_header(c) in wanted) >= 3


def cell_text(value: Any) -> str:
    """A cell as the operator sees it, for the report."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_date(value: Any) -> dt.date | None:
    """A date from a date cell, an Excel serial number or text such as 2020-01-05, 2020/1/5, 2020年1月5日.

    Returns None for an empty cell; raises ValueError (Chinese message) for anything else that is not a date.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise ValueError("不是日期")
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("不是日期（含小数）")
        n = int(value)
        if 19000101 <= n <= 29991231:
            return _date_or_error(n // 10000, n // 100 % 100, n % 100)
        if 1 <= n <= 2958465:  # an Excel serial date whose cell lost its date format
            return _EXCEL_EPOCH + dt.timedelta(days=n)
        raise ValueError("不是日期")
    text = str(value).strip()
    if not text:
        return None
    if text.endswith(" 00:00:00"):
        text = text[:-9]
    for rx in _DATE_RES:
        m = rx.match(text)
        if m:
            return _date_or_error(int(m[1]), int(m[2]), int(m[3]))
    raise ValueError("无法识别的日期，请写成 2020-01-05 的形式")


def _date_or_error(y: int, m: int, d: int) -> dt.date:
    try:
        return dt.date(y, m, d)
    except ValueError:
        raise ValueError("日期不存在") from None


def parse_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("不是数字")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip().replace(",", "").replace("，", "")
    if not text:
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError("不是数字（只填数字，单位为万元）") from None
    if not d.is_finite():
        raise ValueError("不是数字（只填数字，单位为万元）")
    return d


@dataclass(frozen=True)
class DivisionRef:
    """What a row needs to know of a GB/T 2260 code."""

    current: bool
    note: str = ""


class EntityRowValidator:
    """Turns one raw row into the Entity column values, or into the list of its problems.

    ``divisions``: division code → DivisionRef for the 行政区划代码 column (a stored Division is required);
    ``uscc_division_exists``: the lookup for positions 3–8 of the USCC (historical codes accepted);
    ``industries``: industry code → level; ``in_scope``: whether the importer's jurisdiction covers a division;
    ``today``: dates after it are rejected.
    """

    def __init__(self, *, divisions: Mapping[str, DivisionRef], uscc_division_exists: Callable[[str], bool],
                 industries: Mapping[str, str], in_scope: Callable[[str], bool], today: dt.date,
                 headers: Mapping[str, int]) -> None:
        self.divisions = divisions
        self.uscc_division_exists = uscc_division_exists
        self.industries = industries
        self.in_scope = in_scope
        self.today = today
        self.headers = headers
        self._scope_cache: dict[str, bool] = {}
        self._date_cache: dict[Any, dt.date | None | str] = {}
        self._cols = [(f, headers.get(f)) for f in ENTITY_FIELDS]

    def check(self, rowno: int, cells: Sequence[Any]) -> tuple[tuple[Any, ...] | None, list[RowError]]:
        """(values in ENTITY_FIELDS order with dates as ISO text and capital as text, []) or (None, errors)."""
        errors: list[RowError] = []
        raw: dict[str, Any] = {}
        n = len(cells)
        for field, idx in self._cols:
            v = cells[idx] if idx is not None and idx < n else None
            if isinstance(v, str):
                v = v.strip()
                if v == "":
                    v = None
                elif v[0] == "=" and len(v) > 1:
                    errors.append(RowError(rowno, HEADER_OF[field], v, "单元格是公式，请复制后“选择性粘贴为数值”再导入"))
                    v = None
            raw[field] = v

        def err(field: str, reason: str, value: Any = None) -> None:
            errors.append(RowError(rowno, HEADER_OF[field], cell_text(raw[field] if value is None else value),
                                   reason))

        for field in REQUIRED_FIELDS:
            if raw[field] is None and not any(e.column == HEADER_OF[field] for e in errors):
                err(field, "必填项为空")

        out: dict[str, Any] = {}
        for field in ("name", "subtype", "registration_authority", "street", "road", "house_number", "address",
                      "legal_representative", "business_scope"):
            v = raw[field]
            if v is None:
                out[field] = ""
                continue
            s = cell_text(v)
            if len(s) > MAX_LENGTHS[field]:
                err(field, f"超过 {MAX_LENGTHS[field]} 个字符（实际 {len(s)} 个）")
            out[field] = s

        # 统一社会信用代码
        code = raw["uscc"]
        if code is not None:
            text = cell_text(code)
            problems = validate_uscc(text, self.uscc_division_exists)
            if problems:
                err("uscc", "；".join(p.message for p in problems), text)
            else:
                out["uscc"] = "".join(c.upper() if "a" <= c <= "z" else c for c in text.strip())

        # 主体类型, checked against USCC positions 1–2
        kind = raw["kind"]
        if kind is not None:
            k = KIND_VALUES.get(cell_text(kind))
            if k is None:
                err("kind", "应为 企业、个体工商户 或 农民专业合作社")
            else:
                out["kind"] = k
                code_ok = out.get("uscc")
                if code_ok:
                    expected = KIND_BY_USCC_TYPE.get(code_ok[:2])
                    if expected is None:
                        err("uscc", f"第 1–2 位“{code_ok[:2]}”不是市场监管部门登记的市场主体"
                                    "（企业 91、个体工商户 92、农民专业合作社 93）", code_ok)
                    elif expected != k:
                        err("kind", f"与统一社会信用代码第 1–2 位“{code_ok[:2]}”（{KIND_LABEL[expected]}）不一致")

        status = raw["status"]
        if status is not None:
            s = STATUS_VALUES.get(cell_text(status))
            if s is None:
                err("status", "应为 存续、在业、歇业、吊销、注销 或 迁出")
            else:
                out["status"] = s

        # 行政区划代码: a stored, current division within the importer's jurisdiction
        div = raw["division_id"]
        if div is not None:
            d = cell_text(div)
            ref = self.divisions.get(d)
            if len(d) != 6 or not d.isdigit():
                err("division_id", "应为 6 位数字的行政区划代码（GB/T 2260）")
            elif ref is None:
                err("division_id", "行政区划代码不存在")
            elif not ref.current:
                err("division_id", "该行政区划代码已停用" + (f"（{ref.note}）" if ref.note else "") + "，请填写现行代码")
            else:
                covered = self._scope_cache.get(d)
                if covered is None:
                    covered = self._scope_cache[d] = self.in_scope(d)
                if not covered:
                    err("division_id", "不在本单位管辖范围内")
                else:
                    out["division_id"] = d

        # 行业代码: a GB/T 4754 class (4 digits). A number cell lost its leading zero: 111 is 0111.
        ind = raw["industry_id"]
        if ind is not None:
            if isinstance(ind, (int, float)) and not isinstance(ind, bool) and float(ind).is_integer():
                code4 = f"{int(ind):04d}"
            else:
                code4 = cell_text(ind).upper()
            level = self.industries.get(code4)
            if level is None:
                err("industry_id", "行业代码不存在（GB/T 4754-2017）")
            elif level != "class":
                err("industry_id", "行业代码须细化到小类（4 位数字）")
            else:
                out["industry_id"] = code4

        for field in ("established_on", "status_date"):
            v = raw[field]
            if v is None:
                out[field] = None
                continue
            try:
                key = v if not isinstance(v, dt.date) else None
                cached = self._date_cache.get(key) if key is not None else None
                if cached is None:
                    parsed = parse_date(v)
                    if key is not None and len(self._date_cache) < 50_000:
                        self._date_cache[key] = parsed
                else:
                    parsed = cached  # type: ignore[assignment]
            except ValueError as exc:
                err(field, str(exc))
                continue
            if parsed is not None and parsed > self.today:
                err(field, f"日期晚于今天（{self.today.isoformat()}）")
            elif parsed is not None and parsed < EARLIEST_DATE:
                err(field, "日期早于 1949-10-01")
            else:
                out[field] = parsed.isoformat() if parsed is not None else None
        est, sd = out.get("established_on"), out.get("status_date")
        if est and sd and sd < est:
            err("status_date", f"状态日期早于成立日期（{est}）")

        try:
            cap = parse_decimal(raw["registered_capital"])
        except ValueError as exc:
            err("registered_capital", str(exc))
        else:
            if cap is None:
                out["registered_capital"] = None
            elif cap < 0:
                err("registered_capital", "注册资本不能为负数")
            elif cap > CAPITAL_MAX:
                err("registered_capital", "数值过大")
            elif cap != cap.quantize(Decimal("0.01")):
                err("registered_capital", "最多保留 2 位小数")
            else:
                out["registered_capital"] = str(cap.quantize(Decimal("0.01")))

        phone = raw["phone"]
        if phone is None:
            out["phone"] = ""
        else:
            p = cell_text(phone)
            if not _PHONE_RE.match(p):
                err("phone", "联系电话只能包含数字和 + - ( ) 空格")
            elif len(p) > MAX_LENGTHS["phone"]:
                err("phone", f"超过 {MAX_LENGTHS['phone']} 个字符")
            else:
                out["phone"] = p

        if errors:
            return None, errors
        return tuple(out[f] for f in ENTITY_FIELDS), []
