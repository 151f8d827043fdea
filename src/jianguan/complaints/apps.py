from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "jianguan.complaints"
    label = "complaints"
    verbose_name = _("投诉举报")
    menu_order = 40
    menu = [
        (_("投诉举报"), "complaints:case_list", None),
        (_("登记"), "complaints:case_create", ("intake_clerk", "admin")),
        (_("临期/超期"), "complaints:due_list", None),
        (_("按期办结率"), "complaints:league", None),
        (_("统计分析"), "complaints:dashboard", None),
        (_("导入12345工单"), "complaints:import", ("intake_clerk", "admin")),
        (_("ODR访问码"), "complaints:odr_codes", ("handler", "section_head", "leader", "admin")),
    ]
    portal_links = [
        (_("投诉举报"), "complaints_public:form", _("消费纠纷投诉、违法行为举报，提交后获得登记编号")),
        (_("投诉举报进度查询"), "complaints_public:progress", _("凭登记编号和手机号后四位查询办理进度")),
        (_("企业在线协商（ODR）"), "complaints_public:odr_login", _("ODR企业凭访问码查看协商中的投诉并登记协商结果")),
    ]
    # The dashboard summary: incremental every night, in full on Sundays (complaints/jobs.py).
    schedules = [("complaints.summary_refresh", "daily", "02:30")]
    synth_steps = ["jianguan.complaints.synth.generate"]
    # Loaded in each web process before its first request (core/warmup.py): every intake needs them.
    warm_up_steps = ["jianguan.complaints.rules.get_rulesets", "jianguan.complaints.rules.flag_rules",
                     "jianguan.complaints.rules.intake_rules"]
    demo_steps = ["jianguan.complaints.demo.odr_access_code"]
    credit_features = "jianguan.complaints.credit.features"
    entity_tabs = ["jianguan.complaints.tabs.entity_tab"]
    public_record_sections = ["jianguan.complaints.public_record.record_section"]

    def ready(self) -> None:
        from jianguan.complaints.models import Case
        from jianguan.core.audit_labels import register_action_labels

        # The workflow's own steps are recorded in Chinese already (受理, 分派 …); these are the other codes.
        register_action_labels({
            "register": _("登记"),
            "clock_pause": _("中止计时"),
            "clock_resume": _("恢复计时"),
            "extension_request": _("申请延长期限"),
            "extension_approve": _("批准延长期限"),
            "extension_refuse": _("不批准延长期限"),
            "mediation_session": _("记录调解"),
            "merge_new_facts": _("并入新情况"),
            "odr_code_issue": _("发放ODR访问码"),
            "odr_code_use": _("使用ODR访问码登录"),
            "odr_code_revoke": _("撤销ODR访问码"),
            "summary_rebuild": _("重建统计汇总"),
        }, statuses={"complaints.case": dict(Case.Status.choices)})

    def home_cards(self, user: Any) -> list[dict[str, Any]]:
        from django.urls import reverse

        from jianguan.complaints.access import case_queryset
        from jianguan.complaints.selectors import OPEN
        from jianguan.complaints.services import today_local

        today = today_local()
        qs = case_queryset(user).filter(OPEN, paused_since__isnull=True)
        url = reverse("complaints:case_list")
        return [
            {"label": _("投诉举报在办"), "value": qs.count(), "url": url},
            {"label": _("投诉举报临期"), "value": qs.filter(next_warn__lte=today, next_due__gte=today).count(),
             "url": f"{url}?due=soon"},
            {"label": _("投诉举报超期"), "value": qs.filter(next_due__lt=today).count(), "url": f"{url}?due=overdue"},
        ]
