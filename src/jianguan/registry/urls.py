from django.urls import include, path

from jianguan.registry import views

app_name = "registry"

urlpatterns = [
    path("entities/", views.entity_list, name="entity_list"),
    path("entities/export/", views.entity_export, name="entity_export"),
    path("entities/export/<int:job_id>/", views.export_download, name="export_download"),
    path("entities/<str:uscc>/", views.entity_detail_view, name="entity_detail"),
    # Import pages (another module of the registry); its URL names live in this "registry" namespace.
    path("import/", include("jianguan.registry.urls_import")),
]
