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
from itertools import repeat
from typing import Any

from jianguan.registry.domain.uscc import ALPHABET, ENTITY_TYPE_NAMES, NATIONAL_DIVISION, validate_uscc

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
# USCC positions 1-2 issued by 市场监管 (authority 9) for each kind (GB 32100-2015).
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


class FileProblem(Exception):
    """A problem with the file as a whole (encoding, headers, sheet, size); message in Chinese."""


def normalize_header(text: Any) -> str:
    """Header text compared loosely: no spaces, half-width brackets read as full-width, no asterisk marks."""
    s = "" if text is None else str(text)
    s = s.replace("(", "（").replace(")", "）").replace("*", "").replace("\uff0a", "")
    return "".join(s.split())


def known_headers(cells: Sequence[Any], columns: Sequence[tuple[str, str]] = ENTITY_COLUMNS,
                  required: frozenset[str] = REQUIRED_FIELDS) -> tuple[list[str], list[str]]:
    """(the template's headers found among ``cells``, the required ones not found), in the template's order: for a
    row that holds some headers but too few to be taken for the header row (:func:`looks_like_header`)."""
    present = {normalize_header(c) for c in cells}
    found = [h for h, _f in columns if normalize_header(h) in present]
    missing = [h for h, f in columns if f in required and normalize_header(h) not in present]
    return found, missing


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
            header = dict((f, h) for h, f in columns)[field]
            raise FileProblem(f"表头“{header}”出现了两次（第 {found[field] + 1} 列和第 {i + 1} 列），请删除重复的列")
        found[field] = i
    missing = known_headers(cells, columns, required)[1]
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


# Fast acceptance of a well-formed USCC (the common case in a large file). It accepts exactly the codes for which
# validate_uscc reports no problem (tests/registry/test_rows.py checks the two agree); anything it does not accept
# goes through validate_uscc, which explains what is wrong.
_USCC_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_VALUE = {c: (ord(c) - 48 if c.isdigit() else ord(c) - 55) for c in ALPHABET}
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_USCC_TYPES = frozenset(a + t for a, t in ENTITY_TYPE_NAMES)


def uscc_quick_valid(code: str, division_exists: Callable[[str], bool]) -> bool:
    """True only for a code that validate_uscc accepts (same rules, one pass, no messages)."""
    if len(code) != 18 or code[:2] not in _USCC_TYPES:
        return False
    value = _USCC_VALUE
    try:
        total = sum(value[c] * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
        org = sum(_ORG_VALUE[c] * w for c, w in zip(code[8:16], _ORG_WEIGHTS, strict=True))
    except KeyError:
        return False
    if ALPHABET[(31 - total) % 31] != code[17]:
        return False
    c9 = 11 - org % 11
    if code[16] != ("X" if c9 == 10 else "0" if c9 == 11 else str(c9)):
        return False
    division = code[2:8]
    if not (division.isdigit() and division.isascii()):
        return False
    return division == NATIONAL_DIVISION or division_exists(division)


class EntityRowValidator:
    """Turns one raw row into the Entity column values, or into the list of its problems.

    ``divisions``: division code → DivisionRef for the 行政区划代码 column (a stored Division is required);
    ``uscc_division_exists``: the lookup for positions 3-8 of the USCC (historical codes accepted);
    ``industries``: industry code → level; ``in_scope``: whether the importer's jurisdiction covers a division;
    ``today``: dates after it are rejected.
    """

    def __init__(self, *, divisions: Mapping[str, DivisionRef], uscc_division_exists: Callable[[str], bool],
                 industries: Mapping[str, str], in_scope: Callable[[str], bool], today: dt.date,
                 headers: Mapping[str, int]) -> None:
        self.divisions = divisions
        self.industries = industries
        self.in_scope = in_scope
        self.today = today
        self.today_iso = today.isoformat()
        self.headers = headers
        self._uscc_div_cache: dict[str, bool] = {}
        self._uscc_div = uscc_division_exists
        self._division_cache: dict[str, str | None] = {}   # code → reason, or None when fine
        self._date_cache: dict[str, str] = {}              # text → ISO date, or "!reason"
        self._cols = tuple(headers.get(f, -1) for f in ENTITY_FIELDS)
        self._width = max(self._cols) + 1
        self._industry_classes = frozenset(code for code, level in industries.items() if level == "class")

    def _uscc_division_exists(self, code: str) -> bool:
        hit = self._uscc_div_cache.get(code)
        if hit is None:
            hit = self._uscc_div_cache[code] = bool(self._uscc_div(code))
        return hit

    def _division_problem(self, d: str) -> str | None:
        if d in self._division_cache:
            return self._division_cache[d]
        ref = self.divisions.get(d)
        if len(d) != 6 or not d.isdigit():
            reason: str | None = "应为 6 位数字的行政区划代码（GB/T 2260）"
        elif ref is None:
            reason = "行政区划代码不存在"
        elif not ref.current:
            reason = "该行政区划代码已停用" + (f"（{ref.note}）" if ref.note else "") + "，请填写现行代码"
        elif not self.in_scope(d):
            reason = "不在本单位管辖范围内"
        else:
            reason = None
        if len(self._division_cache) < 10_000:
            self._division_cache[d] = reason
        return reason

    def _date(self, v: Any) -> str | None:
        """ISO date, None for empty, or "!reason"."""
        if isinstance(v, str):
            hit = self._date_cache.get(v)
            if hit is not None:
                return hit
        try:
            parsed = parse_date(v)
        except ValueError as exc:
            out: str | None = "!" + str(exc)
        else:
            if parsed is None:
                return None
            iso = parsed.isoformat()
            if iso > self.today_iso:
                out = f"!日期晚于今天（{self.today_iso}）"
            elif parsed < EARLIEST_DATE:
                out = "!日期早于 1949-10-01"
            else:
                out = iso
        if isinstance(v, str) and len(self._date_cache) < 100_000:
            self._date_cache[v] = out  # type: ignore[assignment]
        return out

    def check(self, rowno: int, cells: Sequence[Any]) -> tuple[tuple[Any, ...] | None, list[RowError]]:
        """(values in ENTITY_FIELDS order with dates as ISO text and capital as text, []) or (None, errors)."""
        errors: list[RowError] = []
        n = len(cells)
        raw: list[Any] = []
        for i, idx in enumerate(self._cols):
            v = cells[idx] if 0 <= idx < n else None
            if v is None:
                raw.append(None)
                continue
            if v.__class__ is not str:
                if isinstance(v, str):
                    v = str(v)
                else:
                    raw.append(v)
                    continue
            v = v.strip()
            if not v:
                v = None
            elif v[0] == "=" and len(v) > 1:
                errors.append(RowError(rowno, ENTITY_HEADERS[i], v, "单元格是公式，请复制后“选择性粘贴为数值”再导入"))
                v = None
            raw.append(v)
        uscc, kind, status, status_date, division = raw[0], raw[2], raw[4], raw[5], raw[7]
        industry, established_on, capital, phone = raw[12], raw[13], raw[14], raw[17]

        def err(field: str, reason: str, value: Any) -> None:
            errors.append(RowError(rowno, HEADER_OF[field], cell_text(value), reason))

        for i in _REQUIRED_INDEXES:
            if raw[i] is None and not any(e.column == ENTITY_HEADERS[i] for e in errors):
                errors.append(RowError(rowno, ENTITY_HEADERS[i], "", "必填项为空"))

        texts: list[str] = []
        for i in _TEXT_INDEXES:
            v = raw[i]
            if v is None:
                texts.append("")
                continue
            s = v if v.__class__ is str else cell_text(v)
            limit = _TEXT_LIMITS[i]
            if len(s) > limit:
                err(ENTITY_FIELDS[i], f"超过 {limit} 个字符（实际 {len(s)} 个）", s)
            texts.append(s)

        code = None
        if isinstance(uscc, (int, float)) and not isinstance(uscc, bool):
            err("uscc", "统一社会信用代码被 Excel 存成了数字，末尾几位已丢失；请把该列设为文本格式后重新填写", uscc)
        elif uscc is not None:
            text = uscc if uscc.__class__ is str else cell_text(uscc)
            if uscc_quick_valid(text, self._uscc_division_exists):
                code = text
            else:
                norm = "".join(c.upper() if "a" <= c <= "z" else c for c in text)
                problems = validate_uscc(norm, self._uscc_division_exists)
                if problems:
                    err("uscc", "；".join(p.message for p in problems), text)
                else:
                    code = norm

        kind_code = None
        if kind is not None:
            kind_code = KIND_VALUES.get(kind if kind.__class__ is str else cell_text(kind))
            if kind_code is None:
                err("kind", "应为 企业、个体工商户 或 农民专业合作社", kind)
            elif code is not None:
                expected = KIND_BY_USCC_TYPE.get(code[:2])
                if expected is None:
                    err("uscc", f"前两位“{code[:2]}”不是市场监管部门登记的市场主体"
                                "（企业 91、个体工商户 92、农民专业合作社 93）", code)
                elif expected != kind_code:
                    err("kind", f"与统一社会信用代码前两位“{code[:2]}”（{KIND_LABEL[expected]}）不一致", kind)

        status_code = None
        if status is not None:
            status_code = STATUS_VALUES.get(status if status.__class__ is str else cell_text(status))
            if status_code is None:
                err("status", "应为 存续、在业、歇业、吊销、注销 或 迁出", status)

        division_code = None
        if division is not None:
            d = division if division.__class__ is str else cell_text(division)
            reason = self._division_problem(d)
            if reason:
                err("division_id", reason, d)
            else:
                division_code = d

        # 行业代码: a GB/T 4754 class (4 digits). A number cell lost its leading zero: 111 is 0111.
        industry_code = None
        if industry is not None:
            if industry.__class__ is str:
                code4 = industry.upper()
            elif isinstance(industry, (int, float)) and not isinstance(industry, bool) and \
                    float(industry).is_integer():
                code4 = f"{int(industry):04d}"
            else:
                code4 = cell_text(industry)
            level = self.industries.get(code4)
            if level is None:
                err("industry_id", "行业代码不存在（GB/T 4754-2017）", industry)
            elif level != "class":
                err("industry_id", "行业代码须细化到小类（4 位数字）", industry)
            else:
                industry_code = code4

        est = sd = None
        if established_on is not None:
            est = self._date(established_on)
            if est and est[0] == "!":
                err("established_on", est[1:], established_on)
                est = None
        if status_date is not None:
            sd = self._date(status_date)
            if sd and sd[0] == "!":
                err("status_date", sd[1:], status_date)
                sd = None
            elif sd and est and sd < est:
                err("status_date", f"状态日期早于成立日期（{est}）", status_date)

        cap_text = None
        if capital is not None:
            try:
                cap = parse_decimal(capital)
            except ValueError as exc:
                err("registered_capital", str(exc), capital)
            else:
                if cap is None:
                    pass
                elif cap < 0:
                    err("registered_capital", "注册资本不能为负数", capital)
                elif cap > CAPITAL_MAX:
                    err("registered_capital", "数值过大", capital)
                elif cap != cap.quantize(_CENT):
                    err("registered_capital", "最多保留 2 位小数", capital)
                else:
                    cap_text = str(cap.quantize(_CENT))

        phone_text = ""
        if phone is not None:
            p = phone if phone.__class__ is str else cell_text(phone)
            if not _PHONE_RE.match(p):
                err("phone", "联系电话只能包含数字和 + - ( ) 空格", p)
            elif len(p) > MAX_LENGTHS["phone"]:
                err("phone", f"超过 {MAX_LENGTHS['phone']} 个字符", p)
            else:
                phone_text = p

        if errors:
            return None, errors
        (t_name, t_subtype, t_authority, t_street, t_road, t_house, t_address, t_legal, t_scope) = texts
        return (code, t_name, kind_code, t_subtype, status_code, sd, t_authority, division_code, t_street, t_road,
                t_house, t_address, industry_code, est, cap_text, t_legal, t_scope, phone_text), []


    def check_many(self, rows: Sequence[tuple[int, Sequence[Any]]], *, text_cells: bool = False
                   ) -> list[tuple[tuple[Any, ...] | None, list[RowError]]]:
        """:meth:`check` for a block of rows, in order. With ``text_cells`` (every cell is a ``str``, as from a CSV
        file) the rows are first checked column by column in Polars: a row that passes every vectorised test gets
        exactly the values :meth:`check` would give it; any other row (a problem, or an unusual but valid form such
        as a lower-case code or a date written 2020/1/5) goes through :meth:`check`, which explains or accepts it."""
        fast: list[tuple[Any, ...] | None] = _vector_accept(self, rows) if text_cells and len(rows) >= 64 else []
        check = self.check
        if not fast:
            return [check(rowno, cells) for rowno, cells in rows]
        return [(values, []) if values is not None else check(rowno, cells)
                for values, (rowno, cells) in zip(fast, rows, strict=True)]


# ---------------------------------------------------------------------------------------------------------------
# vectorised acceptance of clean rows (Polars)

# A cell the fast path leaves to check(): leading/trailing white space (Python's str.strip set, which is wider
# than Rust's), or a leading "=" (a formula). check() strips and reports these cells itself.
_PY_SPACE = "\\s\\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_UNUSUAL_CELL = f"^[={_PY_SPACE}]|[{_PY_SPACE}]$"
_USCC_FAST_RE = "^[0-9A-HJ-NP-RTUWXY]{18}$"
_ISO_DATE_RE = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_CAPITAL_FAST_RE = r"^(0|[1-9][0-9]{0,13})(\.[0-9]{1,2})?$"


def _vector_accept(v: EntityRowValidator, rows: Sequence[tuple[int, Sequence[Any]]]) -> list[tuple[Any, ...] | None]:
    """For each row, the values check() would return when the row is plainly valid, else None (check it alone)."""
    import polars as pl

    width = v._width
    cols = v._cols
    short = [len(cells) < width for _rowno, cells in rows]
    table = list(zip(*[cells if len(cells) >= width else [""] * width for _rowno, cells in rows], strict=False))
    n = len(rows)
    data = {}
    for i, idx in enumerate(cols):
        data[ENTITY_FIELDS[i]] = pl.Series(table[idx] if idx >= 0 else [""] * n, dtype=pl.String)
    df = pl.DataFrame(data).with_columns(pl.all().replace("", None), __short=pl.Series(short, dtype=pl.Boolean))

    c = pl.col
    ok = ~c("__short")
    for f in ENTITY_FIELDS:
        ok = ok & ~c(f).str.contains(_UNUSUAL_CELL).fill_null(False)
    for f in REQUIRED_FIELDS:
        ok = ok & c(f).is_not_null()
    for f in _TEXT_FIELDS:
        ok = ok & (c(f).str.len_chars() <= MAX_LENGTHS[f]).fill_null(True)

    # 统一社会信用代码: alphabet and length, type 91/92/93 matching 主体类型, both check characters, positions 3-8.
    code = c("uscc")
    ok = ok & code.str.contains(_USCC_FAST_RE).fill_null(False)
    total = pl.lit(0, dtype=pl.Int64)
    for pos, weight in enumerate(_USCC_WEIGHTS):
        total = total + code.str.slice(pos, 1).replace_strict(_USCC_VALUE, default=0, return_dtype=pl.Int64) * weight
    check31 = ((31 - total % 31) % 31).replace_strict(dict(enumerate(ALPHABET)), default="", return_dtype=pl.String)
    org = pl.lit(0, dtype=pl.Int64)
    for pos, weight in enumerate(_ORG_WEIGHTS, 8):
        org = org + code.str.slice(pos, 1).replace_strict(_ORG_VALUE, default=0, return_dtype=pl.Int64) * weight
    check11 = (11 - org % 11).replace_strict({10: "X", 11: "0", **{k: str(k) for k in range(1, 10)}}, default="",
                                             return_dtype=pl.String)
    ok = ok & (code.str.slice(17, 1) == check31).fill_null(False) & (code.str.slice(16, 1) == check11).fill_null(False)
    kind = c("kind").replace_strict(KIND_VALUES, default=None, return_dtype=pl.String)
    uscc_kind = code.str.slice(0, 2).replace_strict(KIND_BY_USCC_TYPE, default=None, return_dtype=pl.String)
    ok = ok & (kind == uscc_kind).fill_null(False)
    uscc_divisions = df.get_column("uscc").str.slice(2, 6).drop_nulls().unique().to_list()
    good_uscc_divisions = [d for d in uscc_divisions if d.isdigit() and d.isascii()
                           and (d == NATIONAL_DIVISION or v._uscc_division_exists(d))]
    ok = ok & code.str.slice(2, 6).is_in(good_uscc_divisions).fill_null(False)

    status = c("status").replace_strict(STATUS_VALUES, default=None, return_dtype=pl.String)
    ok = ok & status.is_not_null()
    divisions = df.get_column("division_id").drop_nulls().unique().to_list()
    ok = ok & c("division_id").is_in([d for d in divisions if v._division_problem(d) is None]).fill_null(False)
    ok = ok & c("industry_id").is_in(sorted(v._industry_classes)).fill_null(False)

    # Dates written YYYY-MM-DD that exist, from 1949-10-01 to today; 状态日期 not before 成立日期.
    earliest, today = EARLIEST_DATE.isoformat(), v.today_iso
    for f, required in (("established_on", True), ("status_date", False)):
        d = c(f)
        good = (d.str.contains(_ISO_DATE_RE) & d.str.to_date("%Y-%m-%d", strict=False).is_not_null()
                & (d >= earliest) & (d <= today))
        ok = ok & (good.fill_null(False) if required else (good | d.is_null()).fill_null(False))
    ok = ok & (c("status_date").is_null() | (c("status_date") >= c("established_on"))).fill_null(False)

    capital = c("registered_capital")
    ok = ok & capital.str.contains(_CAPITAL_FAST_RE).fill_null(True)
    capital_text = (pl.when(~capital.str.contains(".", literal=True)).then(capital + ".00")
                    .when(capital.str.contains(r"\.[0-9]$")).then(capital + "0").otherwise(capital))
    phone = c("phone")
    ok = ok & (phone.str.contains(_PHONE_RE.pattern) & (phone.str.len_chars() <= MAX_LENGTHS["phone"])).fill_null(True)

    out = df.select(
        ok.alias("__ok"), kind.alias("kind"), status.alias("status"), capital_text.alias("registered_capital"))
    accepted = out.get_column("__ok").to_list()
    if not any(accepted):
        return accepted
    # Values in ENTITY_FIELDS order: the cells as read (they needed no stripping), mapped enums, capital with 2 places.
    columns: list[Any] = []
    for i, f in enumerate(ENTITY_FIELDS):
        if f in ("kind", "status", "registered_capital"):
            columns.append(out.get_column(f).to_list())
        elif f in ("status_date", "established_on"):
            columns.append(df.get_column(f).to_list())
        elif cols[i] >= 0:
            columns.append(table[cols[i]])  # text: an empty cell is "" already, as check() gives it
        else:
            columns.append(repeat("", n))
    return [values if good else None for values, good in zip(zip(*columns, strict=True), accepted, strict=True)]


_CENT = Decimal("0.01")
_REQUIRED_INDEXES = tuple(i for i, f in enumerate(ENTITY_FIELDS) if f in REQUIRED_FIELDS)
_TEXT_FIELDS = ("name", "subtype", "registration_authority", "street", "road", "house_number", "address",
                "legal_representative", "business_scope")
_TEXT_INDEXES = tuple(ENTITY_FIELDS.index(f) for f in _TEXT_FIELDS)
_TEXT_LIMITS = {ENTITY_FIELDS.index(f): MAX_LENGTHS[f] for f in _TEXT_FIELDS}
assert ENTITY_FIELDS == ("uscc", "name", "kind", "subtype", "status", "status_date", "registration_authority",
                         "division_id", "street", "road", "house_number", "address", "industry_id", "established_on",
                         "registered_capital", "legal_representative", "business_scope", "phone")


# ---------------------------------------------------------------------------------------------------------------
# the optional 许可证 sheet (or CSV): one licence per row, tied to an entity by its USCC

LICENCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("统一社会信用代码", "uscc"),
    ("许可证类型", "type"),
    ("许可证编号", "number"),
    ("发证机关", "issuer"),
    ("有效期自", "valid_from"),
    ("有效期至", "valid_to"),
    ("状态", "status"),
)
LICENCE_HEADERS: tuple[str, ...] = tuple(h for h, _ in LICENCE_COLUMNS)
LICENCE_FIELDS: tuple[str, ...] = tuple(f for _, f in LICENCE_COLUMNS)
LICENCE_REQUIRED = frozenset({"uscc", "type", "number", "issuer", "valid_from"})
LICENCE_SHEET = "许可证"
# Chinese names as in registry.models.Licence.Type / Licence.Status.
LICENCE_TYPES: dict[str, str] = {"食品经营许可证": "food_business", "食品生产许可证": "food_production",
                                 "特种设备使用登记证": "special_equipment", "药品经营许可证": "drug_business",
                                 "医疗器械经营许可证": "medical_device", "工业产品生产许可证": "industrial_product"}
LICENCE_STATUSES: dict[str, str] = {"有效": "valid", "已过期": "expired", "过期": "expired", "已吊销": "revoked",
                                    "吊销": "revoked", "已注销": "cancelled", "注销": "cancelled"}


def licence_column(field: str) -> str:
    """Column name in the report, marked as belonging to the licence sheet."""
    return f"【{LICENCE_SHEET}】{dict((f, h) for h, f in LICENCE_COLUMNS)[field]}"


class LicenceRowValidator:
    """One licence row → (uscc, type, number, issuer, valid_from, valid_to, status) or its problems.

    Whether the entity exists and whether the number belongs to someone else is the importer's business.
    """

    def __init__(self, *, uscc_division_exists: Callable[[str], bool], headers: Mapping[str, int]) -> None:
        self._cols = tuple(headers.get(f, -1) for f in LICENCE_FIELDS)
        self._uscc_div = uscc_division_exists

    def check(self, rowno: int, cells: Sequence[Any]) -> tuple[tuple[Any, ...] | None, list[RowError]]:
        errors: list[RowError] = []
        n = len(cells)
        raw: dict[str, Any] = {}
        for field, idx in zip(LICENCE_FIELDS, self._cols, strict=True):
            v = cells[idx] if 0 <= idx < n else None
            if isinstance(v, str):
                v = v.strip() or None
                if v is not None and v[0] == "=" and len(v) > 1:
                    errors.append(RowError(rowno, licence_column(field), v,
                                           "单元格是公式，请复制后“选择性粘贴为数值”再导入"))
                    v = None
            raw[field] = v

        def err(field: str, reason: str) -> None:
            errors.append(RowError(rowno, licence_column(field), cell_text(raw[field]), reason))

        for field in LICENCE_FIELDS:
            if field in LICENCE_REQUIRED and raw[field] is None and \
                    not any(e.column == licence_column(field) for e in errors):
                err(field, "必填项为空")
        out: dict[str, Any] = {}
        if raw["uscc"] is not None:
            text = cell_text(raw["uscc"])
            norm = "".join(c.upper() if "a" <= c <= "z" else c for c in text)
            if uscc_quick_valid(norm, self._uscc_div):
                out["uscc"] = norm
            else:
                problems = validate_uscc(norm, self._uscc_div)
                if problems:
                    err("uscc", "；".join(p.message for p in problems))
                else:
                    out["uscc"] = norm
        if raw["type"] is not None:
            t = LICENCE_TYPES.get(cell_text(raw["type"]))
            if t is None:
                err("type", "应为 " + "、".join(LICENCE_TYPES))
            out["type"] = t
        for field, limit in (("number", 64), ("issuer", 100)):
            s = cell_text(raw[field]) if raw[field] is not None else ""
            if len(s) > limit:
                err(field, f"超过 {limit} 个字符（实际 {len(s)} 个）")
            out[field] = s
        for field in ("valid_from", "valid_to"):
            try:
                d = parse_date(raw[field])
            except ValueError as exc:
                err(field, str(exc))
                d = None
            else:
                if d is not None and d < EARLIEST_DATE:
                    err(field, "日期早于 1949-10-01")
            out[field] = d.isoformat() if d is not None else None
        if out["valid_from"] and out["valid_to"] and out["valid_to"] < out["valid_from"]:
            err("valid_to", f"有效期至早于有效期自（{out['valid_from']}）")
        if raw["status"] is None:
            out["status"] = "valid"
        else:
            st = LICENCE_STATUSES.get(cell_text(raw["status"]))
            if st is None:
                err("status", "应为 有效、已过期、已吊销 或 已注销")
            out["status"] = st
        if errors:
            return None, errors
        return tuple(out[f] for f in LICENCE_FIELDS), []
