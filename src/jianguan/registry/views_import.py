"""Staff pages of the registry import: upload, progress, the bad-row report (page and Excel), the template.

Only admins, section heads and leaders import; anyone else gets 404, exactly like a page that does not exist.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _

from jianguan.core.access import has_role
from jianguan.core.jobs import job_submit
from jianguan.core.models import Job
from jianguan.core.selectors import job_list_for
from jianguan.registry.importer import human_size, import_max_bytes, template_csv, template_xlsx
from jianguan.registry.jobs import report_paths

IMPORT_ROLES = ("admin", "section_head", "leader")
ALLOWED_SUFFIXES = (".xlsx", ".csv")
ERRORS_PER_PAGE = 200


def _require_importer(request: HttpRequest) -> None:
    if not has_role(request.user, *IMPORT_ROLES):  # type: ignore[arg-type]
        raise Http404


def _import_job(request: HttpRequest, pk: int) -> Job:
    job = job_list_for(request.user).filter(pk=pk, kind="registry.import").first()  # type: ignore[arg-type]
    if job is None:
        raise Http404
    return job


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("导入文件"), help_text=_("Excel（.xlsx）或 CSV（UTF-8 或 GBK 编码）"),
                           error_messages={"required": _("请选择要导入的文件"), "empty": _("文件是空的（0 字节）")})
    dry_run = forms.BooleanField(label=_("试运行：只校验并统计新增/更新，不写入"), required=False)

    def __init__(self, *args: Any, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if Path(f.name).suffix.lower() not in ALLOWED_SUFFIXES:
            raise forms.ValidationError(_("只能导入 .xlsx 或 .csv 文件；旧版 .xls 请先在 Excel 中另存为 .xlsx"))
        if f.size > self.max_bytes:
            raise forms.ValidationError(_("文件大小 %(size)s 超过网页导入上限 %(limit)s；请拆分文件，或由管理员用命令行"
                                          "导入（上限由环境变量 JIANGUAN_IMPORT_MAX_BYTES 设置）")
                                        % {"size": human_size(f.size), "limit": human_size(self.max_bytes)})
        return f


def _too_large(request: HttpRequest, limit: int) -> str | None:
    """Refuse an oversized upload from its Content-Length, before Django reads the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length > limit + 64 * 1024:  # multipart overhead
        return str(_("文件大小 %(size)s 超过网页导入上限 %(limit)s；请拆分文件，或由管理员用命令行导入"
                     "（上限由环境变量 JIANGUAN_IMPORT_MAX_BYTES 设置）")
                   % {"size": human_size(length), "limit": human_size(limit)})
    return None


@login_required
def import_upload(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    limit = import_max_bytes("web")
    if request.method == "POST":
        problem = _too_large(request, limit)
        if problem:
            form = ImportUploadForm(max_bytes=limit)
            return render(request, "registry/import_upload.html",
                          {"form": form, "file_error": problem, "limit": human_size(limit)}, status=413)
        form = ImportUploadForm(request.POST, request.FILES, max_bytes=limit)
        if form.is_valid():
            f = form.cleaned_data["file"]
            folder = Path(settings.MEDIA_ROOT) / "imports"
            folder.mkdir(parents=True, exist_ok=True)
            suffix = Path(f.name).suffix.lower()
            dest = folder / f"{uuid.uuid4().hex}{suffix}"
            if hasattr(f, "temporary_file_path"):  # large uploads already sit in a temporary file: move it
                shutil.move(f.temporary_file_path(), dest)
            else:
                with dest.open("wb") as out:
                    for chunk in f.chunks(1024 * 1024):
                        out.write(chunk)
            dry = form.cleaned_data["dry_run"]
            title = str(_("导入市场主体：%(name)s") % {"name": f.name}) + (str(_("（试运行）")) if dry else "")
            job = job_submit("registry.import", title[:200],
                             {"path": str(dest), "file_name": f.name, "dry_run": dry, "max_bytes": limit},
                             user=request.user)  # type: ignore[arg-type]
            return redirect("registry:import_status", job.pk)
        return render(request, "registry/import_upload.html", {"form": form, "limit": human_size(limit)})
    recent = job_list_for(request.user).filter(kind="registry.import")[:10]  # type: ignore[arg-type]
    return render(request, "registry/import_upload.html",
                  {"form": ImportUploadForm(max_bytes=limit), "limit": human_size(limit), "recent": recent})


def _errors(job: Job) -> list[list[Any]]:
    token = (job.result or {}).get("report_token")
    if not token:
        return []
    jsonl, _xlsx = report_paths(job.pk, token)
    if not jsonl.exists():
        return []
    with jsonl.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@login_required
def import_status(request: HttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    job = _import_job(request, pk)
    summary = job.result or {}
    errors = _errors(job) if job.finished else []
    return render(request, "registry/import_status.html",
                  {"job": job, "summary": summary, "errors": errors[:ERRORS_PER_PAGE],
                   "more_errors": len(errors) > ERRORS_PER_PAGE})


@login_required
def import_report(request: HttpRequest, pk: int) -> HttpResponse:
    _require_importer(request)
    job = _import_job(request, pk)
    if not job.finished:
        return redirect("registry:import_status", job.pk)
    page = Paginator(_errors(job), ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "registry/import_report.html", {"job": job, "summary": job.result or {}, "page": page})


@login_required
def import_report_xlsx(request: HttpRequest, pk: int) -> FileResponse:
    _require_importer(request)
    job = _import_job(request, pk)
    token = (job.result or {}).get("report_token")
    if not token:
        raise Http404
    _jsonl, xlsx = report_paths(job.pk, token)
    if not xlsx.exists():
        raise Http404
    return FileResponse(xlsx.open("rb"), as_attachment=True, filename=f"导入问题清单-{job.pk}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@login_required
def import_template(request: HttpRequest) -> HttpResponse:
    _require_importer(request)
    if request.GET.get("format") == "csv":
        response = HttpResponse(template_csv(), content_type="text/csv; charset=utf-8")
        name = "市场主体导入模板.csv"
    else:
        response = HttpResponse(template_xlsx(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        name = "市场主体导入模板.xlsx"
    from urllib.parse import quote

    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response
