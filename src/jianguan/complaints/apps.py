from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "jianguan.complaints"
    label = "complaints"
    verbose_name = _("投诉举报")
    menu: list = []
    menu_order = 40
