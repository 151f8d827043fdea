"""WSGI entry point: the Django application, with the lean route for API-key intake in front (api/fast.py)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jianguan.settings")
django_application = get_wsgi_application()

from jianguan.api.fast import application as _with_lean_intake  # noqa: E402 — needs the settings above
from jianguan.core.warmup import warm_up  # noqa: E402

application = _with_lean_intake(django_application)
warm_up()
