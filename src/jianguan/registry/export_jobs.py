"""Excel export of a registry search: written in constant memory; large exports run as a background job.

The job kind "registry.export" is registered when this module is imported (RegistryConfig.ready imports it,
so both the web process and `jianguan worker` know it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import xlsxwriter
from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from jianguan.core.jobs import JobContext, JobError, job_handler
from jianguan.core.models import User
from jianguan.registry.models import Entity
from jianguan.registry.selectors import EntityFilters, entity_search

# Above this many rows the export is queued as a background job instead of being streamed to the browser.
SYNC_EXPORT_LIMIT = 50_000
CHUNK = 5_000

COLUMNS: list[tuple[str, str, int]] = [
    ("uscc", "统一社会信用代码", 22),
    ("name", "名称", 36),
    ("kind", "主体类型", 14),
    ("subtype", "企业类型", 14),
    ("status", "登记状态", 12),
    ("status_date", "状态日期", 12),
    ("division_id", "行政区划代码", 12),
    ("division__name", "行政区划", 12),
    ("address", "住所（经营场所）", 40),
    ("industry_id", "行业代码", 10),
    ("industry__name", "行业名称", 20),
    ("established_on", "成立日期", 12),
    ("registered_capital", "注册资本（万元）", 14),
    ("legal_representative", "法定代表人（经营者）", 14),
    ("phone", "联系电话", 14),
    ("registration_authority", "登记机关", 28),
]


def export_path(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / f"registry-entities-{job_id}.xlsx"


def entities_write_xlsx(qs: QuerySet[Entity], out: str | IO[bytes],
                        progress: Callable[[int], None] | None = None) -> int:
    """Write the entities of `qs` to an .xlsx workbook at `out`; returns the number of rows written.

    Every text cell is written with `write_string`, so a name such as "=HYPERLINK(…)" stays text (no formula
    injection into the official's spreadsheet).
    """
    kinds, statuses = dict(Entity.Kind.choices), dict(Entity.Status.choices)
    workbook = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False,
                                         "strings_to_urls": False, "strings_to_numbers": False})
    try:
        sheet = workbook.add_worksheet("市场主体")
        bold = workbook.add_format({"bold": True, "bg_color": "#F0F3F8"})
        date_fmt = workbook.add_format({"num_format": "yyyy-mm-dd"})
        for col, (_, title, width) in enumerate(COLUMNS):
            sheet.set_column(col, col, width)
            sheet.write_string(0, col, title, bold)
        sheet.freeze_panes(1, 0)
        fields = [c[0] for c in COLUMNS]
        n = 0
        for n, row in enumerate(qs.values_list(*fields).iterator(chunk_size=CHUNK), start=1):
            for col, value in enumerate(row):
                name = fields[col]
                if value is None or value == "":
                    continue
                if name == "kind":
                    sheet.write_string(n, col, str(kinds.get(value, value)))
                elif name == "status":
                    sheet.write_string(n, col, str(statuses.get(value, value)))
                elif isinstance(value, dt.date):
                    sheet.write_datetime(n, col, dt.datetime.combine(value, dt.time()), date_fmt)
                elif name == "registered_capital":
                    sheet.write_number(n, col, float(value))
                else:
                    sheet.write_string(n, col, str(value))
            if progress is not None and n % CHUNK == 0:
                progress(n)
        if n:
            sheet.autofilter(0, 0, n, len(COLUMNS) - 1)
    finally:
        workbook.close()
    return n


@job_handler("registry.export")
def export_entities_job(ctx: JobContext) -> dict[str, Any]:
    """Background export of a registry search, in the scope of the user who asked for it."""
    job = ctx.job
    user = User.objects.filter(pk=job.created_by_id).first() if job.created_by_id else None
    if user is None or not user.is_active:
        raise JobError("提交导出的用户不存在或已停用，无法确定数据范围。")
    filters = EntityFilters(**{k: str(v) for k, v in (ctx.params.get("filters") or {}).items()
                               if k in EntityFilters.__dataclass_fields__})
    qs = entity_search(user, filters)
    ctx.progress("统计导出行数", total=qs.count())
    path = export_path(job.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    rows = entities_write_xlsx(qs, str(tmp), progress=lambda n: ctx.progress(done=n))
    tmp.replace(path)
    ctx.progress("导出完成", done=rows, total=rows, counts={"导出行数": rows}, force=True)
    return {"url": reverse("registry:export_download", args=[job.pk]), "rows": rows}
