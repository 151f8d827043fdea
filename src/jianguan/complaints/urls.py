from django.urls import path

from jianguan.complaints import dashboard, views

app_name = "complaints"

urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("new/", views.case_create, name="case_create"),
    path("suggest/", views.suggest, name="suggest"),
    path("due/", views.due_view, name="due_list"),
    path("on-time/", views.league_view, name="league"),
    path("import/", views.import_view, name="import"),
    path("dashboard/", dashboard.dashboard_view, name="dashboard"),
    path("odr-codes/", views.odr_codes_view, name="odr_codes"),
    path("dashboard/text/", dashboard.dashboard_text_view, name="dashboard_text"),
    path("c/<str:tracking_number>/", views.case_detail, name="case_detail"),
    path("c/<str:tracking_number>/<str:action>/", views.case_action, name="case_action"),
]
