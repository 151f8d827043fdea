from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditConfig(AppConfig):
    name = "jianguan.credit"
    label = "credit"
    verbose_name = _("信用监管")
    menu: list = []
    menu_order = 20
