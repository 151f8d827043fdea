"""Portal pages of random inspections (/draws/): commitments, randomness, verifiable files, published results;
and the section on an enterprise's public record."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _

from jianguan.inspections import selectors
from jianguan.inspections.models import InspectionPlan
from jianguan.inspections.rules import result_codes
from jianguan.registry.models import Entity

FILES = {"candidates.csv": "text/csv; charset=utf-8", "manifest.json": "application/json",
         "draw.json": "application/json", "verify_draw.py": "text/x-python; charset=utf-8"}


def _plan_or_404(pk: int) -> InspectionPlan:
    try:
        return selectors.public_plans().get(pk=pk)
    except InspectionPlan.DoesNotExist:
        raise Http404 from None


def plan_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.public_plans(), 30).get_page(request.GET.get("page"))
    return render(request, "inspections/public_plan_list.html", {"page": page})


def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan_or_404(pk)
    codes = result_codes()
    page = Paginator(selectors.plan_results_public(plan), 50).get_page(request.GET.get("page"))
    # counted from the strata stored with the commitment, and drawn known from the seed: the page reads neither the
    # manifest nor draw.json (≈ 8 and 60 MB for a province plan)
    files = [n for n in FILES if n != "draw.json" or plan.seed]
    return render(request, "inspections/public_plan_detail.html", {
        "plan": plan, "page": page, "strata_count": plan.strata.count(), "files": files,
        "result_labels": {c: rc.label for c, rc in codes.items()}})


def plan_file(request: HttpRequest, pk: int, name: str) -> HttpResponseBase:
    """One published file; candidates.csv is streamed from disk (it can be large)."""
    from pathlib import Path

    from django.conf import settings
    from django.http import FileResponse

    from jianguan.inspections.export import small_files
    from jianguan.inspections.services import InspectionError

    plan = _plan_or_404(pk)
    if name == "candidates.csv":
        path = Path(settings.MEDIA_ROOT) / plan.candidates_path
        if not plan.candidates_path or not path.exists():
            raise Http404
        return FileResponse(path.open("rb"), as_attachment=True, filename=name, content_type=FILES[name])
    try:  # the small files exactly as the export writes them
        data = small_files(plan)[name]
    except (InspectionError, KeyError):
        raise Http404 from None
    resp = HttpResponse(data, content_type=FILES[name])
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    return resp


def record_section(entity: Entity) -> dict[str, Any] | None:
    """Published random-inspection results on the enterprise's public record (一公开)."""
    rows = selectors.entity_published_results(entity.pk)
    if not rows:
        return None
    return {"key": "inspections", "title": _("双随机抽查检查结果"), "template": "inspections/_public_record.html",
            "context": {"results": rows}}
