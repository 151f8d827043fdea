"""Import pages, included by the registry URLconf at /staff/registry/import/ (url names `registry:import_*`)."""

from django.urls import path

from jianguan.registry import views_import

urlpatterns = [
    path("", views_import.import_upload, name="import_upload"),
    path("template/", views_import.import_template, name="import_template"),
    path("<int:pk>/", views_import.import_status, name="import_status"),
    path("<int:pk>/report/", views_import.import_report, name="import_report"),
    path("<int:pk>/report.xlsx", views_import.import_report_xlsx, name="import_report_xlsx"),
]
