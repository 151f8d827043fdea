from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CreditConfig(AppConfig):
    name = "jianguan.credit"
    label = "credit"
    verbose_name = _("信用监管")
    menu: list = [
        (_("风险分类分布"), "credit:distribution", ("admin", "leader", "section_head", "handler", "auditor")),
        (_("分类运行"), "credit:runs", ("admin", "leader", "section_head", "auditor")),
        (_("经营异常名录"), "credit:abnormal_list", None),
        (_("异常名录候选批次"), "credit:batch_list", ("admin", "leader", "section_head", "handler", "auditor")),
        (_("严重违法失信名单"), "credit:serious_list", None),
        (_("信用修复"), "credit:repair_list", ("admin", "leader", "section_head", "handler", "auditor")),
    ]
    menu_order = 20
    # Submitted by the job worker once per period (core.jobs.scheduler_tick), in local time; see docs/operations.md.
    schedules = [
        ("credit.lists_sweep", "daily", "02:00"),  # 3 years abnormal → serious candidate (60-day warning); removals
        ("credit.abnormal_candidates", "yearly", "07-01 03:00"),  # annual reports not filed by 30 June → batches
    ]
    credit_features = "jianguan.credit.features.features"
    entity_tabs = ["jianguan.credit.views.entity_tab"]
    public_record_sections = ["jianguan.credit.public.record_section"]
    synth_steps = ["jianguan.credit.synth.generate"]
    demo_steps = ["jianguan.credit.demo.monthly_cycle"]
    portal_links = [
        (_("信用修复申请"), "credit_public:repair_apply",
         _("被列入经营异常名录、严重违法失信名单或公示行政处罚信息的市场主体，整改后可在线申请信用修复。")),
    ]

    def ready(self) -> None:
        import jianguan.credit.jobs  # noqa: F401 — registers the "credit.classify" job kind
        from jianguan.core.audit_labels import register_action_labels

        register_action_labels({
            "credit.classify": _("信用风险分类"),
            "credit.penalty_record": _("登记行政处罚"),
            "credit.abnormal_candidate_add": _("列为经营异常名录候选"),
            "credit.abnormal_batch_create": _("生成经营异常名录候选批次"),
            "credit.abnormal_batch_decide": _("审批经营异常名录候选批次"),
            "credit.abnormal_enter": _("列入经营异常名录"),
            "credit.abnormal_remove": _("移出经营异常名录"),
            "credit.serious_enter": _("列入严重违法失信名单"),
            "credit.serious_remove": _("移出严重违法失信名单"),
            "credit.serious_auto_remove": _("期满移出严重违法失信名单"),
            "credit.repair_apply": _("申请信用修复"),
            "credit.repair_decide": _("作出信用修复决定"),
            "credit.synth_load": _("载入合成演示数据"),
        })

    def home_cards(self, user: Any) -> list[dict[str, Any]]:
        """Active abnormal and serious listings in scope, and repair applications awaiting a decision."""
        from django.urls import reverse

        from jianguan.credit.models import CreditRepair
        from jianguan.credit.selectors import abnormal_list, repair_list, serious_list

        if not (user.is_superuser or user.roles.exists()):
            return []
        return [
            {"label": _("经营异常名录（在册）"), "value": abnormal_list(user, active=True).count(),
             "url": reverse("credit:abnormal_list")},
            {"label": _("严重违法失信名单（在册）"), "value": serious_list(user, active=True).count(),
             "url": reverse("credit:serious_list")},
            {"label": _("待审核信用修复"), "value": repair_list(user, status=CreditRepair.Status.PENDING).count(),
             "url": reverse("credit:repair_list")},
        ]
