"""Public portal pages of the registry: search by name or USCC and the printable public record.

Only `*_public` selectors are used here: the portal never sees a phone number or a private operator's name.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.module_loading import import_string
from django.utils.safestring import mark_safe

from jianguan.registry.forms import PublicSearchForm
from jianguan.registry.selectors import (
    PublicRecord,
    entity_for_public_hooks,
    entity_public_record,
    entity_search_public,
)


def search(request: HttpRequest) -> HttpResponse:
    form = PublicSearchForm(request.GET or None)
    page = None
    if request.GET and form.is_valid() and form.cleaned_data["q"]:
        page = entity_search_public(form.cleaned_data["q"], request.GET.get("page"))
    return render(request, "registry/public_search.html", {"form": form, "page": page})


def public_record_sections(record: PublicRecord) -> list[dict[str, Any]]:
    """Sections other modules add to the public record (credit lists, inspection results …)."""
    hooks = [(cfg, dotted) for cfg in sorted(apps.get_app_configs(), key=lambda c: getattr(c, "menu_order", 100))
             for dotted in (getattr(cfg, "public_record_sections", None) or ())]
    if not hooks:
        return []
    entity = entity_for_public_hooks(record)
    sections = []
    for _cfg, dotted in hooks:
        section = import_string(dotted)(entity)
        if not section:
            continue
        html = render_to_string(section["template"], {**(section.get("context") or {}), "entity": entity})
        sections.append({"key": section["key"], "title": section["title"], "html": mark_safe(html)})  # noqa: S308
    return sections


def record(request: HttpRequest, uscc: str) -> HttpResponse:
    rec = entity_public_record(uscc)
    if rec is None:
        raise Http404
    return render(request, "registry/public_record.html", {"record": rec, "sections": public_record_sections(rec)})
