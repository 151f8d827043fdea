"""Staff pages of the registry: search with filters and paging, Excel export, and the entity page with tabs."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from jianguan.core.jobs import job_submit
from jianguan.core.models import Job, User
from jianguan.core.selectors import job_list_for
from jianguan.core.views import timeline_context
from jianguan.registry.export_jobs import SYNC_EXPORT_LIMIT, entities_write_xlsx, export_path
from jianguan.registry.forms import EntitySearchForm
from jianguan.registry.models import Entity
from jianguan.registry.selectors import (
    COUNT_CAP,
    PER_PAGE,
    CappedPage,
    capped_count,
    entity_annual_reports,
    entity_detail,
    entity_labels,
    entity_licences,
    entity_premises,
    entity_search,
    entity_search_page,
)


def _signed_in_user(request: HttpRequest) -> User:
    """The user of a request behind `login_required` (never anonymous there; refused if it ever were)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


@login_required
def entity_list(request: HttpRequest) -> HttpResponse:
    user = _signed_in_user(request)
    form = EntitySearchForm(request.GET or None, user=user)
    valid = form.is_valid() if request.GET else True
    filters = form.filters()
    if valid:
        page = entity_search_page(user, filters, request.GET.get("page"))
    else:  # a wrong filter shows its error, not an unfiltered list
        page = CappedPage(items=[], number=1, per_page=PER_PAGE, count=0, cap=COUNT_CAP)
    return render(request, "registry/entity_list.html", {
        "form": form, "valid": valid, "page": page, "filters": filters,
        "division_choices": form.division_choices(), "export_query": request.GET.urlencode(),
        "sync_export_limit": SYNC_EXPORT_LIMIT,
    })


@login_required
def entity_export(request: HttpRequest) -> HttpResponseBase:
    """The current search as .xlsx: streamed when small, a background job when over SYNC_EXPORT_LIMIT rows."""
    user = _signed_in_user(request)
    form = EntitySearchForm(request.GET or None, user=user)
    if request.GET and not form.is_valid():
        messages.error(request, _("查询条件有误，请修改后再导出。"))
        return redirect(f"{_list_url()}?{request.GET.urlencode()}")
    filters = form.filters()
    qs = entity_search(user, filters)
    if capped_count(qs, SYNC_EXPORT_LIMIT) > SYNC_EXPORT_LIMIT:
        job = job_submit("registry.export", _("导出市场主体名录"), {"filters": filters.as_params()}, user=user)
        messages.info(request, _("导出数据超过 %(n)s 行，已转为后台任务，完成后可在此下载。")
                      % {"n": f"{SYNC_EXPORT_LIMIT:,}"})
        return redirect("core:job_detail", pk=job.pk)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        entities_write_xlsx(qs, path)
        handle = open(path, "rb")  # noqa: SIM115 — FileResponse closes it
    finally:
        os.unlink(path)  # the open handle keeps the data readable; nothing is left on disk
    filename = f"市场主体名录-{timezone.localdate():%Y%m%d}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=filename,
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@login_required
def export_download(request: HttpRequest, job_id: int) -> HttpResponseBase:
    """The file of a finished background export, for whoever may see the job."""
    job = get_object_or_404(job_list_for(_signed_in_user(request)), pk=job_id, kind="registry.export",
                            status=Job.Status.SUCCEEDED)
    path = export_path(job.pk)
    if not path.exists():
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"市场主体名录-任务{job.pk}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _list_url() -> str:
    from django.urls import reverse

    return reverse("registry:entity_list")


def extra_entity_tabs(request: HttpRequest, entity: Entity) -> list[dict[str, Any]]:
    """Tabs contributed by other modules through their AppConfig's `entity_tabs`, rendered in menu order."""
    tabs: list[dict[str, Any]] = []
    configs = sorted(apps.get_app_configs(), key=lambda c: getattr(c, "menu_order", 100))
    for cfg in configs:
        for dotted in getattr(cfg, "entity_tabs", None) or ():
            tab = import_string(dotted)(request, entity)
            if not tab:
                continue
            context = {**(tab.get("context") or {}), "entity": entity}
            html = render_to_string(tab["template"], context, request=request)
            tabs.append({"key": tab["key"], "title": tab["title"], "html": mark_safe(html)})  # noqa: S308
    return tabs


@login_required
def entity_detail_view(request: HttpRequest, uscc: str) -> HttpResponse:
    entity = entity_detail(_signed_in_user(request), uscc)
    base_tabs = [("basic", _("基本信息")), ("premises", _("经营场所")), ("licences", _("许可证")),
                 ("labels", _("标签")), ("reports", _("年度报告")), ("history", _("操作记录"))]
    extra = extra_entity_tabs(request, entity)
    return render(request, "registry/entity_detail.html", {
        "entity": entity,
        "tabs": [*base_tabs, *[(t["key"], t["title"]) for t in extra]],
        "extra_tabs": extra,
        "premises": entity_premises(entity),
        "licences": entity_licences(entity),
        "labels": entity_labels(entity),
        "reports": entity_annual_reports(entity),
        **timeline_context(entity),
    })
