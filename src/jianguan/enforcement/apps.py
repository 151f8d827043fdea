from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EnforcementConfig(AppConfig):
    name = "jianguan.enforcement"
    label = "enforcement"
    verbose_name = _("行政执法")
    menu: list = []
    menu_order = 50
