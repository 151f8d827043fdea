from django.urls import path

from jianguan.inspections import public

urlpatterns = [
    path("", public.plan_list, name="plan_list"),
    path("<int:pk>/", public.plan_detail, name="plan_detail"),
    path("<int:pk>/files/<str:name>", public.plan_file, name="plan_file"),
]
