"""Open311 GeoReport v2 (mount at `open311/v2/` in jianguan/urls.py)."""

from django.urls import path

from jianguan.complaints import open311

app_name = "open311"

urlpatterns = [
    path("services.json", open311.services_list, name="services"),
    path("services/<str:code>.json", open311.service_definition, name="service"),
    path("requests.json", open311.requests_view, name="requests"),
    path("requests/<str:request_id>.json", open311.request_detail, name="request"),
]
