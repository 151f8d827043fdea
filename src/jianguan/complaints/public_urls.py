from django.urls import path

from jianguan.complaints import public_views

urlpatterns = [
    path("", public_views.complaint_form, name="form"),
    path("submitted/<str:tracking_number>/", public_views.submitted, name="submitted"),
    path("progress/", public_views.progress, name="progress"),
    path("odr/", public_views.odr_login, name="odr_login"),
    path("odr/cases/", public_views.odr_cases, name="odr_cases"),
    path("odr/logout/", public_views.odr_logout, name="odr_logout"),
]
