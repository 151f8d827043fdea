from django.urls import path

from jianguan.credit import public

app_name = "credit_public"

urlpatterns = [
    path("repair/", public.repair_apply, name="repair_apply"),
    path("repair/<int:pk>/<str:token>/", public.repair_receipt, name="repair_receipt"),
]
