from django.urls import path

from jianguan.inspections import views

app_name = "inspections"

urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("plans/<int:pk>/", views.plan_detail, name="plan_detail"),
    path("plans/<int:pk>/tasks/", views.task_add, name="task_add"),
    path("plans/<int:pk>/action/<slug:action>/", views.plan_action, name="plan_action"),
    path("plans/<int:pk>/export.zip", views.plan_export, name="plan_export"),
    path("plans/<int:pk>/visits/", views.plan_visits, name="plan_visits"),
    path("plans/<int:pk>/rejections/", views.plan_rejections, name="plan_rejections"),
    path("visits/mine/", views.my_visits, name="my_visits"),
    path("visits/<int:pk>/", views.visit_detail, name="visit_detail"),
    path("visits/<int:pk>/evidence/", views.visit_evidence_add, name="visit_evidence_add"),
    path("visits/<int:pk>/evidence/<int:evidence_id>/", views.visit_evidence_file, name="visit_evidence_file"),
    path("visits/<int:pk>/publish/", views.visit_publish, name="visit_publish"),
    path("visits/<int:pk>/notice.<str:fmt>", views.visit_notice, name="visit_notice"),
    path("publication/", views.publication_queue, name="publication_queue"),
    path("items/", views.item_list, name="item_list"),
    path("inspectors/", views.inspector_list, name="inspector_list"),
    path("inspectors/<int:pk>/conflicts/", views.inspector_conflict_add, name="inspector_conflict_add"),
]
