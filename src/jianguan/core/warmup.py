"""Load, once per web process and before its first request, what the first requests would otherwise load.

A fresh web process imported the URL configuration (every app's views and the API), parsed the working-day
calendar and the statutory rules on its first requests — about half a second under the import lock, while its
other threads' requests queued behind it. Under full load that made the first seconds after a start or restart
the slowest of the day. `warm_up()` does it at start instead: it resolves the URL configuration, then calls each
app's `warm_up` hooks (dotted paths on the AppConfig, like `synth_steps`). A hook that fails is logged and
skipped: warming up is an optimisation, never a reason not to serve.
"""

from __future__ import annotations

import logging

from django.apps import apps
from django.urls import get_resolver
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def warm_up() -> list[str]:
    """Run the warm-up; returns the hooks that ran (for the tests and the log)."""
    ran = []
    try:
        get_resolver().url_patterns  # noqa: B018 — the property imports every URL module
        ran.append("urls")
    except Exception:
        logger.exception("warm-up: the URL configuration did not load")
    for cfg in apps.get_app_configs():
        for path in getattr(cfg, "warm_up_steps", ()) or ():
            try:
                import_string(path)()
            except Exception:
                logger.exception("warm-up: %s failed", path)
            else:
                ran.append(path)
    return ran
