"""Bulk import of 12345 hotline exports (Excel): every row validated first, then all written or none."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from jianguan.complaints.domain.clock import SHANGHAI
from jianguan.complaints.models import Case
from jianguan.complaints.services import IntakeData, IntakeError, case_register, validate_intake
from jianguan.core.models import User

COLUMNS = {
    "工单编号": "external_ref", "来电时间": "received_at", "诉求类型": "kind", "来电人": "complainant_name",
    "联系电话": "complainant_phone", "联系地址": "complainant_address", "被反映对象": "respondent_name",
    "对象地址": "respondent_address", "统一社会信用代码": "respondent_uscc", "诉求内容": "facts", "具体诉求": "request",
}
REQUIRED = ("工单编号", "来电时间", "诉求类型", "诉求内容")
KINDS = {"投诉": "complaint", "举报": "report", "咨询": "consultation", "求助": "consultation", "建议": "consultation"}
MAX_ROWS = 20000


@dataclass
class RowResult:
    number: int
    reference: str
    errors: dict[str, str] = field(default_factory=dict)
    tracking_number: str = ""


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)
    created: int = 0
    header_error: str = ""

    @property
    def error_count(self) -> int:
        return sum(1 for r in self.rows if r.errors) + (1 if self.header_error else 0)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _received(v: Any) -> dt.datetime | None:
    if isinstance(v, dt.datetime):
        return v.replace(tzinfo=SHANGHAI) if v.tzinfo is None else v
    text = _cell(v)
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    return None


def _read(fh: IO[bytes]) -> list[list[Any]]:
    from openpyxl import load_workbook

    wb = load_workbook(fh, read_only=True, data_only=True)
    ws = wb.worksheets[0]
    return [list(r) for r in ws.iter_rows(values_only=True)]


def hotline_import(fh: IO[bytes], *, actor: User, dry_run: bool = False,
                   now: dt.datetime | None = None) -> ImportReport:
    """Validate every row of a 12345 export; write them all (one transaction) only when none has an error."""
    report = ImportReport()
    now = now or timezone.now()
    try:
        table = _read(fh)
    except Exception:  # openpyxl raises many kinds for a non-Excel file
        report.header_error = "文件无法读取：请上传 12345 系统导出的 .xlsx 文件"
        report.rows.append(RowResult(1, "", {"文件": report.header_error}))
        return report
    if not table:
        report.rows.append(RowResult(1, "", {"文件": "文件是空的"}))
        return report
    header = [_cell(h) for h in table[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        report.header_error = f"缺少列：{'、'.join(missing)}"
        report.rows.append(RowResult(1, "", {"表头": report.header_error}))
        return report
    if len(table) - 1 > MAX_ROWS:
        report.rows.append(RowResult(1, "", {"文件": f"单次最多导入 {MAX_ROWS} 行，请拆分文件"}))
        return report
    idx = {COLUMNS[h]: i for i, h in enumerate(header) if h in COLUMNS}
    datas: list[IntakeData] = []
    seen: set[str] = set()
    refs = [_cell(r[idx["external_ref"]]) for r in table[1:] if len(r) > idx["external_ref"]]
    existing = set(Case.objects.filter(channel=Case.Channel.HOTLINE_12345, external_ref__in=refs)
                   .values_list("external_ref", flat=True))
    for n, raw in enumerate(table[1:], start=2):
        if all(v in (None, "") for v in raw):
            continue
        def get(key: str, raw: list[Any] = raw) -> str:
            return _cell(raw[idx[key]]) if key in idx and idx[key] < len(raw) else ""

        ref = get("external_ref")
        row = RowResult(n, ref)
        report.rows.append(row)
        if not ref:
            row.errors["工单编号"] = "工单编号不能为空"
        elif ref in seen:
            row.errors["工单编号"] = f"工单编号 {ref} 在文件中重复"
        elif ref in existing:
            row.errors["工单编号"] = f"工单编号 {ref} 已导入过"
        seen.add(ref)
        kind = KINDS.get(get("kind"))
        if kind is None:
            row.errors["诉求类型"] = f"诉求类型“{get('kind')}”无法识别，应为 投诉/举报/咨询"
            kind = "complaint"
        received = _received(raw[idx["received_at"]]) if "received_at" in idx else None
        if received is None:
            row.errors["来电时间"] = "来电时间格式不正确，应为 2026-09-30 10:00:00"
            received = now
        data = IntakeData(kind=kind, channel=Case.Channel.HOTLINE_12345, received_at=received, facts=get("facts"),
                          complainant_name=get("complainant_name"), complainant_phone=get("complainant_phone"),
                          complainant_address=get("complainant_address"), respondent_name=get("respondent_name"),
                          respondent_address=get("respondent_address"), respondent_uscc=get("respondent_uscc"),
                          request=get("request") or ("见诉求内容" if kind == "complaint" else ""), external_ref=ref,
                          answer="12345热线已答复" if kind == "consultation" else "")
        errors, _entity = validate_intake(data, now=now)
        labels = {v: k for k, v in COLUMNS.items()}
        for k, v in errors.items():
            row.errors.setdefault(labels.get(k, k), v)
        datas.append(data)
    if report.error_count or dry_run:
        return report
    good = [r for r in report.rows if not r.errors]
    try:
        with transaction.atomic():
            for row, data in zip(good, datas, strict=True):
                cases = case_register(data, actor=actor, now=now)
                row.tracking_number = cases[0].tracking_number
                report.created += 1
    except IntakeError as exc:  # a row that became invalid between validation and writing
        for row in good:
            row.tracking_number = ""
        report.created = 0
        report.rows.append(RowResult(0, "", {"导入": f"写入时出错，已全部撤销：{exc}"}))
    return report
