"""Navigation of the public portal, contributed by each module's `portal_links` (label, url name, blurb)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import reverse


def portal(request: HttpRequest) -> dict[str, Any]:
    tiles = []
    for cfg in sorted(apps.get_app_configs(), key=lambda c: getattr(c, "menu_order", 100)):
        for label, url_name, text in getattr(cfg, "portal_links", ()):
            tiles.append({"title": label, "url": reverse(url_name), "text": text})
    return {"portal_tiles": tiles, "portal_links": [(t["title"], t["url"]) for t in tiles]}
