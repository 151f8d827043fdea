from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "jianguan.inspections"
    label = "inspections"
    verbose_name = _("双随机抽查")
    menu: list = []
    menu_order = 30
