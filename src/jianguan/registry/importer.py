"""Registry import (市场主体批量导入): read an .xlsx or .csv file, validate every row, then upsert in one transaction.

Two passes keep memory bounded whatever the file size: pass 1 streams the file (openpyxl read-only / the csv
module), validates each row and spools the normalised rows to a temporary file, keeping in memory only the USCCs
seen (for duplicates) and the first errors; pass 2 reads the spool back and writes in bulk inside one transaction
(``services.registry_import_write``). One bad row anywhere means nothing is written and every bad row is reported.

A large CSV file of entities takes a third way (``import_worker``): a second process checks it while this one writes
the rows that pass inside the one transaction, which is rolled back if the check finds anything (decision 0004).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import html
import io
import logging
import marshal
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.utils.translation import gettext as _

from jianguan.core.process import rare_collections
from jianguan.registry.domain.rows import (
    ENTITY_COLUMNS,
    ENTITY_FIELDS,
    ENTITY_HEADERS,
    HEADER_OF,
    KIND_VALUES,
    LICENCE_COLUMNS,
    LICENCE_FIELDS,
    LICENCE_HEADERS,
    LICENCE_REQUIRED,
    LICENCE_SHEET,
    LICENCE_TYPES,
    REQUIRED_FIELDS,
    STATUS_VALUES,
    DivisionRef,
    EntityRowValidator,
    FileProblem,
    LicenceRowValidator,
    RowError,
    known_headers,
    licence_column,
    looks_like_header,
    map_headers,
)

logger = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 100_000
CHUNK = 5_000
VALIDATION_BLOCK = 20_000  # rows checked together (vectorised for CSV files)
HEADER_SEARCH_ROWS = 10
DEFAULT_MAX_BYTES = {"cli": 2 * 1024**3, "web": 200 * 1024**2}
MAX_BYTES_ENV = "JIANGUAN_IMPORT_MAX_BYTES"
PREFERRED_SHEETS = ("市场主体", "主体信息", "导入")
# What each kind of sheet holds: (columns, required fields, preferred sheet names).
SHEETS: dict[str, tuple[tuple[tuple[str, str], ...], frozenset[str], tuple[str, ...]]] = {
    "entity": (ENTITY_COLUMNS, REQUIRED_FIELDS, PREFERRED_SHEETS),
    "licence": (LICENCE_COLUMNS, LICENCE_REQUIRED, (LICENCE_SHEET,)),
}


class NoHeader(FileProblem):
    """The file (or workbook) holds no sheet with this kind of header row. ``found``: how many of the template's
    headers its nearest row held (0: none), so that of two kinds tried the nearer one is reported."""

    def __init__(self, message: str, found: int = 0) -> None:
        super().__init__(message)
        self.found = found


STATUS_LABEL = {"active": "存续（在业）", "suspended": "歇业", "revoked": "吊销", "cancelled": "注销",
                "moved_out": "迁出"}


def _near_miss(cells: Sequence[Any], columns: Sequence[tuple[str, str]], required: frozenset[str],
               where: str) -> NoHeader | None:
    """For a row that holds some of the template's headers but too few to be the header row (a short file made by
    hand, say): the refusal naming which it found and which required ones are missing, instead of "no header"."""
    found, missing = known_headers(cells, columns, required)
    if not found or not missing:
        return None
    return NoHeader(_("%(where)s有表头“%(found)s”，但缺少必需的表头：%(missing)s。请使用导入模板，表头须在同一行")
                    % {"where": where, "found": "”“".join(found), "missing": "、".join(missing)}, len(found))


def import_max_bytes(channel: str = "cli") -> int:
    """Size limit of an import file: $JIANGUAN_IMPORT_MAX_BYTES, else 2 GiB on the command line, 200 MB on the web."""
    value = os.environ.get(MAX_BYTES_ENV, "").strip()
    if value:
        try:
            return int(value)
        except ValueError:
            pass
    return DEFAULT_MAX_BYTES[channel]


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


# ---------------------------------------------------------------------------------------------------------------
# readers


class RowSource:
    """Rows of the data sheet after its header row: ``headers`` (field → column) and ``rows()`` → (row no., cells)."""

    kind = ""
    notes: list[str]
    headers: dict[str, int]

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        raise NotImplementedError

    def progress(self) -> tuple[int, int | None]:
        return 0, None

    def close(self) -> None:
        pass


class _CountingReader(io.RawIOBase):
    """A raw binary stream that remembers how many bytes were read (for the progress bar)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.fh.readinto(b)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0


def detect_encoding(sample: bytes) -> tuple[str, str | None]:
    """(Python codec, note for the report) for the start of a CSV file; FileProblem if it is not text."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", _("文件为 UTF-16 编码，已自动识别")
    if b"\x00" in sample:
        raise FileProblem(_("文件不是文本格式的 CSV（含二进制内容）。请上传 .xlsx 或 UTF-8 编码的 .csv 文件"))
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030", _("文件为 GBK（GB18030）编码，已自动按 GBK 读取；建议今后另存为 UTF-8 编码")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None and best.encoding:
        return best.encoding, _("文件编码识别为 %(enc)s，已按该编码读取，请核对报告中的文字是否正常") % {
            "enc": best.encoding}
    raise FileProblem(_("无法识别文件编码。请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后重新导入"))


class CsvSource(RowSource):
    kind = "csv"

    def __init__(self, path: Path, kind: str = "entity") -> None:
        self.columns, self.required, _sheets = SHEETS[kind]
        self.path = path
        self.size = path.stat().st_size
        self.notes = []
        self._fh = path.open("rb")
        sample = self._fh.read(256 * 1024)
        self._fh.seek(0)
        self.encoding, note = detect_encoding(sample)
        if note:
            self.notes.append(note)
        self._counter = _CountingReader(self._fh)
        self._text = io.TextIOWrapper(io.BufferedReader(self._counter, 1024 * 1024), encoding=self.encoding,
                                      newline="")
        first_line = sample.split(b"\n", 1)[0]
        delimiter = "\t" if first_line.count(b"\t") > first_line.count(b",") else ","
        self._reader = csv.reader(self._text, delimiter=delimiter)
        self._lineno = 0
        self.headers = self._find_header()

    def _next(self) -> list[str] | None:
        try:
            row = next(self._reader)
        except StopIteration:
            return None
        except UnicodeDecodeError:
            raise FileProblem(_("第 %(n)d 行附近的内容无法按 %(enc)s 编码读取，文件可能混用了多种编码。"
                                "请在 Excel 中另存为“CSV UTF-8（逗号分隔）”后重新导入")
                              % {"n": self._reader.line_num + 1, "enc": self.encoding}) from None
        except csv.Error as exc:
            raise FileProblem(_("第 %(n)d 行不是有效的 CSV：%(e)s") % {"n": self._reader.line_num, "e": exc}) from None
        self._lineno += 1
        return row

    def _find_header(self) -> dict[str, int]:
        seen_any = False
        near: NoHeader | None = None
        for _i in range(HEADER_SEARCH_ROWS):
            row = self._next()
            if row is None:
                break
            if any(c.strip() for c in row):
                seen_any = True
            if looks_like_header(row, self.columns):
                self.header_row = self._lineno
                return map_headers(row, self.columns, self.required)
            near = near or _near_miss(row, self.columns, self.required, _("第 %(n)d 行") % {"n": self._lineno})
        if not seen_any:
            raise FileProblem(_("文件是空的，没有表头也没有数据"))
        raise near or NoHeader(_("前 %(n)d 行中没有找到导入表头（如“统一社会信用代码”“名称”）。请使用导入模板")
                               % {"n": HEADER_SEARCH_ROWS})

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        while True:
            row = self._next()
            if row is None:
                return
            if not any(row):
                continue
            yield self._lineno, row

    def progress(self) -> tuple[int, int | None]:
        """(lines read, estimated lines in the file from the bytes read so far)."""
        read = self._counter.count
        if not read:
            return self._lineno, None
        return self._lineno, max(self._lineno, int(self._lineno * self.size / read))

    def close(self) -> None:
        self._fh.close()


_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\s+ref="([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?"')
_FORMULA_RE = re.compile(rb'<(?:\w+:)?c\s+r="([A-Z]+)(\d+)"[^>]*>\s*'
                         rb'<(?:\w+:)?f(?:\s[^>]*)?(?:/>|>([^<]*)</(?:\w+:)?f>)')
# Workbooks up to this size are read with python-calamine (fast, but it holds the whole sheet in memory, about
# 12 times the file size); larger ones stream through openpyxl's read-only parser so memory stays bounded.
XLSX_IN_MEMORY_MAX_BYTES = 40 * 1024 * 1024


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@dataclass
class SheetScan:
    merged: list[tuple[str, int, int]]          # (A1:B2, first row, last row)
    formulas: dict[tuple[int, int], str]        # (row, 0-based column) → formula text


def scan_sheet_xml(archive: zipfile.ZipFile, member: str) -> SheetScan:
    """Merged ranges and formula cells of a worksheet, found by scanning its XML (no parse, bounded memory)."""
    merged: set[tuple[str, int, int]] = set()
    formulas: dict[tuple[int, int], str] = {}
    tail = b""
    with archive.open(member) as src:
        while True:
            chunk = src.read(4 * 1024 * 1024)
            if not chunk:
                break
            data = tail + chunk
            if b"mergeCell" in data:
                for m in _MERGE_RE.finditer(data):
                    c1, r1, c2, r2 = m.groups()
                    ref = f"{c1.decode()}{r1.decode()}" + (f":{c2.decode()}{r2.decode()}" if c2 else "")
                    merged.add((ref, int(r1), int(r2 or r1)))
            if b"<f>" in data or b"<f " in data or b":f>" in data or b":f " in data:
                for m in _FORMULA_RE.finditer(data):
                    col, row, text = m.groups()
                    if len(formulas) < MAX_REPORTED_ERRORS:
                        formulas[(int(row), _column_index(col.decode()))] = (
                            html.unescape(text.decode("utf-8", "replace")) if text else "（共享公式）")
            tail = data[-16384:]
    return SheetScan(sorted(merged, key=lambda x: x[1]), formulas)


class XlsxSource(RowSource):
    kind = "xlsx"

    def __init__(self, path: Path, kind: str = "entity") -> None:
        import openpyxl

        columns, required, preferred = SHEETS[kind]
        self.notes = []
        self._calamine: Any = None
        try:
            self.wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
        except Exception as exc:  # zip, XML or openpyxl errors: the file is not a readable workbook
            raise FileProblem(_("无法打开 Excel 文件（%(e)s）。请确认文件是 .xlsx 格式且未损坏、未加密")
                              % {"e": type(exc).__name__}) from None
        sheets = list(self.wb.worksheets)
        sheets.sort(key=lambda ws: 0 if ws.title in preferred else 1)
        near: NoHeader | None = None
        for ws in sheets:
            if not hasattr(ws, "_worksheet_path"):
                continue  # chart sheets
            for i, row in enumerate(ws.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True), 1):
                if looks_like_header(row, columns):
                    self.ws, self.header_row = ws, i
                    self.headers = map_headers(row, columns, required)
                    break
                near = near or _near_miss(row, columns, required,
                                          _("工作表“%(sheet)s”第 %(n)d 行") % {"sheet": ws.title, "n": i})
            else:
                continue
            break
        else:
            names = "、".join(ws.title for ws in self.wb.worksheets)
            self.wb.close()
            raise near or NoHeader(_("工作簿中没有找到含导入表头的工作表（已查看：%(names)s）。请把数据放在导入模板的"
                                     "“市场主体”工作表中，表头在第一行") % {"names": names})
        if len(self.wb.worksheets) > 1 and kind == "entity":
            self.notes.append(_("读取的工作表：%(name)s") % {"name": self.ws.title})
        scan = scan_sheet_xml(self.wb._archive, self.ws._worksheet_path)
        merged = [m for m in scan.merged if m[2] >= self.header_row]
        if merged:
            refs = "、".join(m[0] for m in merged[:10]) + ("等" if len(merged) > 10 else "")
            self.wb.close()
            raise FileProblem(_("工作表“%(sheet)s”含合并单元格（%(refs)s）。合并后只有左上角单元格有值，"
                                "请取消合并并在每一行填写完整后再导入") % {"sheet": self.ws.title, "refs": refs})
        self.formulas = scan.formulas
        self.total_rows = self.ws.max_row
        self._rowno = self.header_row
        if path.stat().st_size <= XLSX_IN_MEMORY_MAX_BYTES:
            from python_calamine import CalamineWorkbook

            try:
                self._calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(self.ws.title)
            except Exception:  # calamine cannot read it: the streaming reader still can
                self._calamine = None

    def _raw_rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        sheet = self._calamine
        if sheet is None:
            yield from enumerate(self.ws.iter_rows(min_row=self.header_row + 1, values_only=True),
                                 self.header_row + 1)
            return
        start = sheet.start
        if start is None:
            return
        r0, c0 = start
        pad = [None] * c0
        for i, row in enumerate(sheet.iter_rows(), r0 + 1):
            if i > self.header_row:
                yield i, (pad + row) if c0 else row

    def rows(self) -> Iterator[tuple[int, Sequence[Any]]]:
        formulas = self.formulas
        for i, row in self._raw_rows():
            self._rowno = i
            if not any(c is not None and c != "" for c in row):
                continue
            if formulas:
                row = list(row)
                for (r, c), text in formulas.items():
                    if r == i and c < len(row):
                        row[c] = "=" + text.lstrip("=") if text else "=（公式）"
            yield i, row

    def progress(self) -> tuple[int, int | None]:
        return self._rowno, self.total_rows

    def close(self) -> None:
        self._calamine = None
        self.wb.close()


def open_source(path: Path, kind: str = "entity") -> RowSource:
    """Open an import file by its content (xlsx is a zip, else CSV text); FileProblem when it cannot be read."""
    with path.open("rb") as fh:
        magic = fh.read(8)
    if not magic:
        raise FileProblem(_("文件是空的（0 字节）"))
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileProblem(_("这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 后再导入"))
    if magic.startswith(b"PK"):
        return XlsxSource(path, kind)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        raise FileProblem(_("文件扩展名是 .xlsx，但内容不是 Excel 工作簿，文件可能已损坏"))
    return CsvSource(path, kind)


# ---------------------------------------------------------------------------------------------------------------
# the pipeline


@dataclass
class ImportResult:
    """What an import found and did; ``errors`` holds the first MAX_REPORTED_ERRORS problems."""

    file_name: str = ""
    dry_run: bool = False
    rows: int = 0
    bad_rows: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_problem: str = ""
    notes: list[str] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    licence_rows: int = 0
    licences: tuple[int, int, int] = (0, 0, 0)  # created, updated, unchanged
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.file_problem and not self.error_count

    def add_errors(self, errs: list[RowError]) -> None:
        self.error_count += len(errs)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(errs[:room])

    def summary(self) -> dict[str, Any]:
        return {"file_name": self.file_name, "dry_run": self.dry_run, "ok": self.ok, "rows": self.rows,
                "bad_rows": self.bad_rows, "error_count": self.error_count, "file_problem": self.file_problem,
                "notes": self.notes, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "licence_rows": self.licence_rows, "licences_created": self.licences[0],
                "licences_updated": self.licences[1], "licences_unchanged": self.licences[2],
                "seconds": round(self.seconds, 2), "errors_truncated": self.error_count > len(self.errors)}


Progress = Callable[[str, int, "int | None", dict[str, Any]], None]


def _no_progress(step: str, done: int, total: int | None, counts: dict[str, Any]) -> None:
    pass


@dataclass
class Lookups:
    """Reference data a row is checked against, read once per import (plain data: a validation process gets a copy).

    The packaged GB/T 2260 table lists county codes only for some provinces; under a city whose counties the table
    does not hold (``counties_held`` lists the cities whose counties it does), a USCC's positions 3-8 are checked
    down to the province only (see the report of the import)."""

    divisions: dict[str, DivisionRef]
    industries: dict[str, str]
    counties_held: frozenset[str]

    def uscc_division_exists(self, code: str) -> bool:
        if code in self.divisions:
            return True
        return code[:4] not in self.counties_held and code[:2] + "0000" in self.divisions


def load_lookups() -> Lookups:
    from jianguan.core.models import Division
    from jianguan.registry.models import Industry

    divisions = {code: DivisionRef(current, note) for code, current, note in
                 Division.objects.values_list("code", "current", "note")}
    counties = Division.objects.filter(level="county").values_list("code", flat=True)
    return Lookups(divisions, dict(Industry.objects.values_list("code", "level")),
                   frozenset(c[:4] for c in counties))


def _existing_statuses(usccs: list[str]) -> dict[str, str]:
    """uscc → status of the stored entities among ``usccs`` (plain SQL: the ORM's per-value work cost more than
    the query on a large file)."""
    from django.db import connection

    from jianguan.registry.models import Entity
    from jianguan.registry.services import fetch_where_in

    q = connection.ops.quote_name
    with connection.cursor() as cur:
        return dict(fetch_where_in(cur, f"SELECT {q('uscc')}, {q('status')} "  # noqa: S608 (model identifiers)
                                        f"FROM {q(Entity._meta.db_table)}", "uscc", usccs))


I_USCC = ENTITY_FIELDS.index("uscc")
I_STATUS = ENTITY_FIELDS.index("status")


def validate_file(path: Path, *, in_scope: Callable[[str], bool], today: dt.date, result: ImportResult,
                  spool: BinaryIO | None, licence_spool: BinaryIO | None = None, progress: Progress = _no_progress,
                  lookups: Lookups | None = None) -> tuple[int, int]:
    """Pass 1: check every row (the entity sheet, then the optional 许可证 sheet), spooling valid rows in marshalled
    chunks while the file is still clean. Returns (entities spooled, licences spooled); fills ``result``."""
    lk = lookups or load_lookups()
    entity_source: RowSource | None = None
    licence_source: RowSource | None = None
    try:
        entity_source = open_source(path, "entity")
    except NoHeader as exc:
        missing: FileProblem = exc
    try:
        try:
            licence_source = open_source(path, "licence")
        except NoHeader as other:
            if entity_source is None:  # neither kind: name the nearer (a short licence file as a licence file)
                raise (other if other.found > getattr(missing, "found", 0) else missing) from None
        seen: dict[str, int] = {}
        n_entities = n_licences = 0
        if entity_source is not None:
            result.notes.extend(entity_source.notes)
            n_entities = _validate_entities(entity_source, seen, in_scope=in_scope, today=today, result=result,
                                            spool=spool, progress=progress, lookups=lk)
        elif licence_source is not None:
            result.notes.extend(licence_source.notes)
        if licence_source is not None:
            n_licences = _validate_licences(licence_source, seen, in_scope=in_scope, result=result,
                                            spool=licence_spool, progress=progress, lookups=lk)
        if result.rows + result.licence_rows == 0:
            raise FileProblem(_("文件只有表头，没有数据行"))
        # Conflicts found per chunk come after the row's own checks: list the entity sheet, then licences, by row.
        result.errors.sort(key=lambda e: (e.column.startswith("【"), e.row))
        return n_entities, n_licences
    finally:
        for src in (entity_source, licence_source):
            if src is not None:
                src.close()


def _spool_write(spool: BinaryIO, rows: list[tuple[Any, ...]]) -> None:
    # Format 2 writes no back-references: a third of the time of the default format for rows of distinct strings.
    data = marshal.dumps(rows, 2)
    spool.write(len(data).to_bytes(8, "little"))
    spool.write(data)


Chunk = list[tuple[int, tuple[Any, ...]]]  # (row number, validated values in ENTITY_FIELDS order)


def refuse_revivals(pending: Chunk, result: ImportResult,
                    statuses: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    """The rows of ``pending`` that may be written: an entity the system holds as cancelled (注销) cannot come back
    through an import; such rows become errors in ``result``. ``statuses`` (uscc → stored status) is read here
    unless the caller has it."""
    existing = statuses if statuses is not None else _existing_statuses([v[I_USCC] for _, v in pending])
    good = []
    for rowno, values in pending:
        old = existing.get(values[I_USCC])
        if old == "cancelled" and values[I_STATUS] != "cancelled":
            result.bad_rows += 1
            result.add_errors([RowError(rowno, HEADER_OF["status"], _status_text(values[I_STATUS]),
                                        _("该市场主体在系统中已注销，不能通过导入恢复为其他状态"))])
        else:
            good.append(values)
    return good


@rare_collections()  # wherever it runs: in the checking process of a large file (import_worker) too
def validate_entity_rows(source: RowSource, seen: dict[str, int], *, in_scope: Callable[[str], bool],
                         today: dt.date, result: ImportResult, sink: Callable[[Chunk], None], progress: Progress,
                         lookups: Lookups, chunk: int = CHUNK) -> None:
    """Check every row of an entity sheet against itself, the lookups and the rows before it (duplicates), and hand
    the rows that pass to ``sink`` CHUNK at a time; errors go to ``result``. Nothing here reads the database, so a
    second process can run it (``import_worker``) while this one writes."""
    validator = EntityRowValidator(divisions=lookups.divisions, uscc_division_exists=lookups.uscc_division_exists,
                                   industries=lookups.industries, in_scope=in_scope, today=today,
                                   headers=source.headers)
    pending: Chunk = []
    bad_rows = rows = 0
    check_many = validator.check_many
    uscc_col = source.headers["uscc"]

    def checked() -> Iterator[tuple[int, Sequence[Any], tuple[Any, ...] | None, list[RowError]]]:
        # Rows are checked a block at a time: CSV cells are all text, so a block goes through the vectorised checks.
        # The first block is one chunk, so that a writer waiting for rows (``import_worker``) gets them soon.
        text_cells = source.kind == "csv"
        block: list[tuple[int, Sequence[Any]]] = []
        size = chunk
        for item in source.rows():
            block.append(item)
            if len(block) >= size:
                size = VALIDATION_BLOCK
                for (rowno, cells), (values, errors) in zip(block, check_many(block, text_cells=text_cells),
                                                            strict=True):
                    yield rowno, cells, values, errors
                block = []
        for (rowno, cells), (values, errors) in zip(block, check_many(block, text_cells=text_cells), strict=True):
            yield rowno, cells, values, errors

    for rowno, cells, values, errors in checked():
        rows += 1
        if values is not None:
            code = values[I_USCC]
            first = seen.get(code)
            if first is not None:
                errors = [RowError(rowno, HEADER_OF["uscc"], code,
                                   _("与第 %(n)d 行的统一社会信用代码重复") % {"n": first})]
            else:
                seen[code] = rowno
        elif uscc_col < len(cells) and (code := str(cells[uscc_col] or "").strip().upper()) and code not in seen:
            seen[code] = rowno  # a bad row still names its entity: its licences are not "unknown entity" too
        if errors:
            bad_rows += 1
            result.add_errors(errors)
        else:
            pending.append((rowno, values))  # type: ignore[arg-type]
            if len(pending) >= chunk:
                sink(pending)
                pending = []
        if rows % 10_000 == 0:
            done, total = source.progress()
            progress(_("校验"), done, total, {_("已校验行数"): rows, _("有问题的行"): result.bad_rows + bad_rows})
    if pending:
        sink(pending)
    result.rows = rows
    result.bad_rows += bad_rows


def _validate_entities(source: RowSource, seen: dict[str, int], *, in_scope: Callable[[str], bool], today: dt.date,
                       result: ImportResult, spool: BinaryIO | None, progress: Progress, lookups: Lookups) -> int:
    """Pass 1 for an entity sheet in this process: valid rows not refused by the database are spooled while the
    file is still clean. Returns how many were spooled."""
    spooled = 0

    def to_spool(pending: Chunk) -> None:
        nonlocal spooled
        good = refuse_revivals(pending, result)
        if spool is not None and not result.error_count:
            _spool_write(spool, good)
            spooled += len(good)

    validate_entity_rows(source, seen, in_scope=in_scope, today=today, result=result, sink=to_spool,
                         progress=progress, lookups=lookups)
    return spooled


L_USCC, L_TYPE, L_NUMBER = LICENCE_FIELDS.index("uscc"), LICENCE_FIELDS.index("type"), LICENCE_FIELDS.index("number")


def _validate_licences(source: RowSource, entities_in_file: dict[str, int], *, in_scope: Callable[[str], bool],
                       result: ImportResult, spool: BinaryIO | None, progress: Progress, lookups: Lookups) -> int:
    from jianguan.registry.models import Entity, Licence

    validator = LicenceRowValidator(uscc_division_exists=lookups.uscc_division_exists, headers=source.headers)
    seen: dict[tuple[str, str], int] = {}
    pending: list[tuple[int, tuple[Any, ...]]] = []
    spooled = bad_rows = rows = 0

    def flush() -> None:
        nonlocal spooled, bad_rows
        if not pending:
            return
        outside = sorted({v[L_USCC] for _, v in pending if v[L_USCC] not in entities_in_file})
        stored: dict[str, str] = {}
        for k in range(0, len(outside), 2000):
            stored.update(Entity.objects.filter(uscc__in=outside[k:k + 2000]).values_list("uscc", "division_id"))
        numbers = sorted({v[L_NUMBER] for _, v in pending})
        holders: dict[tuple[str, str], tuple[str, str]] = {}
        for k in range(0, len(numbers), 2000):
            for typ, number, uscc, name in Licence.objects.filter(number__in=numbers[k:k + 2000]).values_list(
                    "type", "number", "entity__uscc", "entity__name"):
                holders[(typ, number)] = (uscc, name)
        good = []
        for rowno, v in pending:
            errs = []
            code = v[L_USCC]
            if code not in entities_in_file:
                division = stored.get(code)
                if division is None:
                    errs.append(RowError(rowno, licence_column("uscc"), code,
                                         _("该市场主体既不在本文件的市场主体表中，也不在系统中")))
                elif not in_scope(division):
                    errs.append(RowError(rowno, licence_column("uscc"), code, _("不在本单位管辖范围内")))
            holder = holders.get((v[L_TYPE], v[L_NUMBER]))
            if holder is not None and holder[0] != code:
                errs.append(RowError(rowno, licence_column("number"), v[L_NUMBER],
                                     _("该许可证编号已属于另一市场主体：%(uscc)s %(name)s") % {
                                         "uscc": holder[0], "name": holder[1]}))
            if errs:
                bad_rows += 1
                result.add_errors(errs)
            else:
                good.append(v)
        if spool is not None and not result.error_count:
            _spool_write(spool, good)
            spooled += len(good)
        pending.clear()

    for rowno, cells in source.rows():
        rows += 1
        values, errors = validator.check(rowno, cells)
        if values is not None:
            key = (values[L_TYPE], values[L_NUMBER])
            first = seen.get(key)
            if first is not None:
                errors = [RowError(rowno, licence_column("number"), values[L_NUMBER],
                                   _("与许可证表第 %(n)d 行的许可证重复") % {"n": first})]
            else:
                seen[key] = rowno
        if errors:
            bad_rows += 1
            result.add_errors(errors)
        else:
            pending.append((rowno, values))  # type: ignore[arg-type]
            if len(pending) >= CHUNK:
                flush()
        if rows % 10_000 == 0:
            progress(_("校验许可证"), rows, None, {_("已校验许可证行数"): rows})
    flush()
    result.licence_rows = rows
    result.bad_rows += bad_rows
    return spooled


def _status_text(code: str) -> str:
    return {v: k for k, v in STATUS_VALUES.items() if k != "在业"}.get(code, code)


def read_spool(spool: BinaryIO) -> Iterator[list[tuple[Any, ...]]]:
    spool.seek(0)
    while True:
        size = spool.read(8)
        if len(size) < 8:
            return
        yield marshal.loads(spool.read(int.from_bytes(size, "little")))  # noqa: S302 (our own temporary file)


def _checked_beside_the_write(path: Path, size: int) -> bool:
    """Whether a second process checks the file while this one writes (``import_worker``): a large CSV file of
    entities. Workbooks (whose cells are checked one by one, and which may hold a licence sheet) and small files
    are checked first and written after."""
    from jianguan.registry.import_worker import PIPELINE_MIN_BYTES

    if size < PIPELINE_MIN_BYTES:
        return False
    try:
        source = open_source(path, "entity")
    except FileProblem:
        return False  # the sequential path reports it
    source.close()
    return source.kind == "csv"


def run_import(path: str | Path, *, actor: Any = None, in_scope: Callable[[str], bool] | None = None,
               today: dt.date, dry_run: bool = False, max_bytes: int | None = None,
               progress: Progress = _no_progress, file_name: str = "") -> ImportResult:
    """Validate the whole file; if every row is good (and not a dry run), upsert all of it in one transaction.
    A large CSV file is checked by a second process while the rows that pass are written (``import_worker``)."""
    import time

    from jianguan.registry.services import registry_import_write

    began = time.monotonic()
    path = Path(path)
    result = ImportResult(file_name=file_name or path.name, dry_run=dry_run)
    limit = max_bytes if max_bytes is not None else import_max_bytes("cli")
    try:
        size = path.stat().st_size
    except OSError:
        result.file_problem = _("文件不存在或无法读取：%(p)s") % {"p": path}
        return result
    if size > limit:
        result.file_problem = _("文件大小 %(size)s 超过导入上限 %(limit)s。请拆分文件后分批导入"
                                "（上限可由环境变量 %(env)s 调整）") % {
            "size": human_size(size), "limit": human_size(limit), "env": MAX_BYTES_ENV}
        return result
    if not dry_run and _checked_beside_the_write(path, size):
        from jianguan.registry.import_worker import WorkerFailed, write_while_checking

        progress(_("校验"), 0, None, {})
        try:
            with rare_collections():
                write_while_checking(path, result, actor=actor, in_scope=in_scope, today=today,
                                     lookups=load_lookups(), progress=progress)
            result.seconds = time.monotonic() - began
            return result
        except WorkerFailed as exc:
            # Nothing was committed (the write's transaction rolled back): check and write in this process instead.
            logger.warning("registry import %s: %s; checking in this process instead", path.name, exc)
            result = ImportResult(file_name=result.file_name, dry_run=dry_run)
    scope_check = in_scope or (lambda code: True)
    tmpdir = Path(settings.MEDIA_ROOT) / "imports" / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=tmpdir) as spool, tempfile.TemporaryFile(dir=tmpdir) as licence_spool, \
            rare_collections():
        try:
            n_entities, _n_licences = validate_file(path, in_scope=scope_check, today=today, result=result,
                                                   spool=spool, licence_spool=licence_spool, progress=progress)
        except FileProblem as exc:
            result.file_problem = str(exc)
            result.errors.sort(key=lambda e: (e.column.startswith("【"), e.row))
            result.seconds = time.monotonic() - began
            return result
        tally = {_("已校验行数"): result.rows + result.licence_rows, _("有问题的行"): result.bad_rows}
        if result.ok and not dry_run:
            progress(_("写入数据库（全部写入后一次提交）"), 0, n_entities, tally)
        else:
            progress(_("校验完成"), result.rows, result.rows, tally)
        if result.ok:
            counts = registry_import_write(read_spool(spool), read_spool(licence_spool), total=n_entities,
                                           actor=actor, dry_run=dry_run, today=today, progress=progress,
                                           reason=_("批量导入：%(f)s") % {"f": result.file_name})
            (result.created, result.updated, result.unchanged), result.licences = counts
    result.seconds = time.monotonic() - began
    return result


# ---------------------------------------------------------------------------------------------------------------
# template and report files


def template_xlsx() -> bytes:
    """The import template: headers on the first sheet, an explanation of each column on the second."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = wb.add_format({"num_format": "@"})
    ws = wb.add_worksheet("市场主体")
    for i, h in enumerate(ENTITY_HEADERS):
        ws.write_string(0, i, h, head)
        ws.set_column(i, i, max(12, len(h) * 2 + 2), text)
    ws.freeze_panes(1, 0)
    lic = wb.add_worksheet(LICENCE_SHEET)
    for i, h in enumerate(LICENCE_HEADERS):
        lic.write_string(0, i, h, head)
        lic.set_column(i, i, max(14, len(h) * 2 + 2), text)
    lic.freeze_panes(1, 0)
    notes = wb.add_worksheet("填写说明")
    notes.write_row(0, 0, ["列", "是否必填", "说明"], head)
    explain = {
        "uscc": "18 位统一社会信用代码，半角大写字母和数字；系统按 GB 32100 校验",
        "kind": "、".join(KIND_VALUES),
        "subtype": "如 有限责任公司、股份有限公司、个人独资企业、合伙企业",
        "status": "存续、在业、歇业、吊销、注销、迁出（存续与在业均视为存续）",
        "status_date": "日期，如 2024-03-01；不晚于今天，不早于成立日期",
        "division_id": "GB/T 2260 六位现行行政区划代码，须在本单位管辖范围内",
        "industry_id": "GB/T 4754-2017 小类代码（4 位数字，如 5211）；请设为文本格式以保留开头的 0",
        "established_on": "日期，如 2020-01-05（也可写 2020/1/5 或 2020年1月5日）",
        "registered_capital": "数字，单位万元，最多 2 位小数",
        "phone": "数字及 + - ( ) 空格",
    }
    from jianguan.registry.domain.rows import REQUIRED_FIELDS

    for r, (h, f) in enumerate(ENTITY_COLUMNS, 1):
        notes.write_row(r, 0, [h, "必填" if f in REQUIRED_FIELDS else "选填", explain.get(f, "文本")])
    r0 = len(ENTITY_COLUMNS) + 2
    notes.write(r0, 0, "同一文件中统一社会信用代码不能重复；已存在的主体按统一社会信用代码更新。"
                       "任一行有误则整份文件都不导入，系统会列出所有有问题的行。")
    notes.write(r0 + 1, 0, "“许可证”工作表可选：每行一张许可证，按统一社会信用代码对应市场主体"
                           "（本文件中的或系统中已有的），按许可证类型和编号更新。许可证类型："
                           + "、".join(LICENCE_TYPES) + "；状态：有效、已过期、已吊销、已注销"
                           "（空白视为有效）。许可证编号不能属于另一市场主体。")
    notes.set_column(0, 0, 22)
    notes.set_column(2, 2, 80)
    wb.close()
    return buf.getvalue()


def template_csv() -> bytes:
    return ("\ufeff" + ",".join(ENTITY_HEADERS) + "\r\n").encode("utf-8")


def report_xlsx(summary: dict[str, Any], errors: Sequence[Sequence[Any]], out: str | Path | BinaryIO) -> None:
    """The bad-row report as a workbook: one line per problem (行号, 列, 值, 原因)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "in_memory": not isinstance(out, (str, Path))})
    head = wb.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    ws = wb.add_worksheet("问题清单")
    ws.write_row(0, 0, ["行号", "列", "值", "原因"], head)
    for i, e in enumerate(errors, 1):
        ws.write_number(i, 0, e[0])
        ws.write_string(i, 1, str(e[1]))
        ws.write_string(i, 2, str(e[2])[:32000])
        ws.write_string(i, 3, str(e[3]))
    ws.set_column(0, 0, 8)
    ws.set_column(1, 1, 20)
    ws.set_column(2, 2, 30)
    ws.set_column(3, 3, 70)
    ws.freeze_panes(1, 0)
    info = wb.add_worksheet("概况")
    lines = [("文件", summary.get("file_name", "")), ("数据行数", summary.get("rows", 0)),
             ("有问题的行数", summary.get("bad_rows", 0)), ("问题总数", summary.get("error_count", 0))]
    if summary.get("errors_truncated"):
        lines.append(("说明", f"问题过多，仅列出前 {MAX_REPORTED_ERRORS} 条"))
    if summary.get("file_problem"):
        lines.append(("文件问题", summary["file_problem"]))
    for r, (k, v) in enumerate(lines):
        info.write(r, 0, k)
        info.write(r, 1, v)
    info.set_column(0, 0, 14)
    info.set_column(1, 1, 80)
    wb.close()
