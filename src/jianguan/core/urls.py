from django.contrib.auth import views as auth_views
from django.urls import path

from jianguan.core import views

app_name = "core"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("audit/", views.audit_list_view, name="audit_list"),
    path("units/", views.unit_list, name="unit_list"),
]
