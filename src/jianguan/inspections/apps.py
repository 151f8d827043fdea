from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "jianguan.inspections"
    label = "inspections"
    verbose_name = _("双随机抽查")
    menu = [
        (_("抽查计划"), "inspections:plan_list", None),
        (_("我的检查"), "inspections:my_visits", ("inspector", "partner_inspector")),
        (_("公示队列"), "inspections:publication_queue", ("admin", "leader", "section_head", "handler", "auditor")),
        (_("抽查事项清单"), "inspections:item_list", None),
        (_("执法检查人员名录库"), "inspections:inspector_list", None),
    ]
    menu_order = 30
    demo_steps = ["jianguan.inspections.demo.build_plan"]
    portal_links = [(_("双随机抽查公示"), "inspections_public:plan_list",
                     _("抽查计划的承诺值、公开随机数、可下载核验的抽取文件和检查结果"))]
    public_record_sections = ["jianguan.inspections.public.record_section"]
    entity_tabs = ["jianguan.inspections.views.entity_tab"]
    credit_features = "jianguan.inspections.credit.features"

    def home_cards(self, user):  # type: ignore[no-untyped-def]
        from django.urls import reverse

        from jianguan.inspections.selectors import home_counts

        counts = home_counts(user)
        cards = []
        if counts.get("my_open") is not None:
            cards.append({"label": _("待我检查"), "value": counts["my_open"], "url": reverse("inspections:my_visits")})
        if counts.get("to_publish") is not None:
            cards.append({"label": _("待公示检查结果"), "value": counts["to_publish"],
                          "url": reverse("inspections:publication_queue")})
            cards.append({"label": _("公示已逾期"), "value": counts["overdue"],
                          "url": reverse("inspections:publication_queue") + "?state=overdue"})
        return cards

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from jianguan.core.audit_labels import register_action_labels
        from jianguan.inspections.models import InspectionPlan

        post_migrate.connect(_load_items, sender=self)
        register_action_labels(AUDIT_ACTIONS,
                               statuses={"inspections.inspectionplan": dict(InspectionPlan.Status.choices)},
                               keys={"inspections.inspectionplan": AUDIT_PLAN_KEYS})


# What the module's audit action codes mean (core.audit_labels); status:<value> comes from the plan's statuses.
AUDIT_ACTIONS = {
    "randomness:enter": _("录入公开随机数"),
    "randomness:confirm": _("复核确认公开随机数"),
    "randomness:reset": _("撤销未确认的公开随机数"),
    "assign": _("选派检查人员"),
    "assign:failed": _("选派检查人员未成功"),
    "declare": _("申报回避"),
    "results": _("录入检查结果"),
    "publish": _("公示检查结果"),
}
# Keys of a plan's audit entries that are no field of the plan (the draw's and the assignment's counts).
AUDIT_PLAN_KEYS = {
    "candidates": _("候选对象数"),
    "selected": _("抽中数"),
    "alternates_used": _("使用替补数"),
    "visits": _("检查次数"),
    "failures": _("未能选派的检查"),
    "rejections": _("被排除的候选人员记录数"),
    "first": _("第一个未能选派的检查"),
    "entered_by": _("录入人（用户编号）"),
    "confirmed_by": _("复核人（用户编号）"),
    "source": _("随机数来源"),
    "scope": _("范围"),
    "items": _("事项"),
}


def _load_items(sender, **kwargs):  # type: ignore[no-untyped-def]
    """The shipped item list, when the list is empty (departments come from core's post_migrate first)."""
    from jianguan.core.models import Department
    from jianguan.inspections.services import items_load_defaults

    if Department.objects.exists():
        items_load_defaults(only_if_empty=True)
