from django.urls import path

from jianguan.credit import views

app_name = "credit"

urlpatterns = [
    path("", views.distribution, name="distribution"),
    path("runs/", views.runs, name="runs"),
    path("abnormal/", views.abnormal_list_view, name="abnormal_list"),
    path("abnormal/new/", views.abnormal_enter, name="abnormal_enter"),
    path("abnormal/<int:pk>/remove/", views.abnormal_remove, name="abnormal_remove"),
    path("abnormal/batches/", views.batch_list, name="batch_list"),
    path("abnormal/batches/<int:pk>/", views.batch_detail, name="batch_detail"),
    path("serious/", views.serious_list_view, name="serious_list"),
    path("serious/new/", views.serious_enter, name="serious_enter"),
    path("serious/<int:pk>/remove/", views.serious_remove, name="serious_remove"),
    path("repairs/", views.repair_list_view, name="repair_list"),
    path("repairs/new/", views.repair_new, name="repair_new"),
    path("repairs/<int:pk>/", views.repair_detail, name="repair_detail"),
]
