from django.urls import path

from jianguan.registry import views_public

app_name = "registry_public"

urlpatterns = [
    path("", views_public.search, name="search"),
    path("<str:uscc>/", views_public.record, name="record"),
]
