"""Template context for the back office: the left menu and the top bar."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest

from jianguan.core.access import data_scope, visible_menu


def backoffice(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    sections = []
    # `menu` / `menu_order` are optional attributes that our own AppConfig subclasses declare
    menus = [(c, getattr(c, "menu", None)) for c in apps.get_app_configs()]
    configs = sorted(((c, menu) for c, menu in menus if menu), key=lambda cm: getattr(cm[0], "menu_order", 100))
    for cfg, menu in configs:
        entries = visible_menu(user, menu)
        if entries:
            sections.append({"title": cfg.verbose_name, "entries": entries})
    scope = data_scope(user)
    return {
        "menu_sections": sections,
        "user_unit": user.unit,
        "user_roles": sorted({a.get_role_display() for a in user.roles.all()}),
        "scope_everything": scope.everything,
    }
