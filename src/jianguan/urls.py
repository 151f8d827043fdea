from importlib.util import find_spec

from django.conf import settings
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from jianguan.api.api import api
from jianguan.core.views import healthz

# Public pages of each module live in `<app>/public_urls.py` (namespace "<app>_public"), mounted here.
PUBLIC_MOUNTS = {"registry": "enterprises/", "credit": "credit/", "inspections": "draws/",
                 "complaints": "complaints/"}

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", RedirectView.as_view(url=settings.STATIC_URL + "img/favicon.svg", permanent=True)),
    path("api/v1/", api.urls),
    path("api/docs", RedirectView.as_view(url="/api/v1/docs", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    # gettext() for the modules' chart scripts (labels from locale/<lang>/LC_MESSAGES/djangojs.po)
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("staff/", include("jianguan.core.urls")),
    path("staff/registry/", include("jianguan.registry.urls")),
    path("staff/credit/", include("jianguan.credit.urls")),
    path("staff/inspections/", include("jianguan.inspections.urls")),
    path("staff/complaints/", include("jianguan.complaints.urls")),
    path("open311/v2/", include("jianguan.complaints.open311_urls")),
    path("", include("jianguan.portal.urls")),
]
for _app, _prefix in PUBLIC_MOUNTS.items():
    if find_spec(f"jianguan.{_app}.public_urls") is not None:
        urlpatterns.append(path(_prefix, include((f"jianguan.{_app}.public_urls", f"{_app}_public"))))

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
