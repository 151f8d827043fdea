from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jianguan.core"
    label = "core"
    verbose_name = _("平台基础")
    # Left-menu entries this app contributes: (label, url name, roles allowed or None for every staff user).
    menu = [
        (_("工作台"), "core:home", None),
        (_("后台任务"), "core:job_list", None),
        (_("审计日志"), "core:audit_list", ("admin", "auditor", "leader")),
        (_("组织机构"), "core:unit_list", ("admin", "leader", "section_head", "auditor")),
    ]
    menu_order = 0
    demo_steps = ["jianguan.core.demo.build_organisation"]
    # Loaded in each web process before its first request (core/warmup.py).
    warm_up_steps = ["jianguan.core.calendar_service.get_calendar"]

    def home_cards(self, user):  # type: ignore[no-untyped-def]
        from django.urls import reverse

        from jianguan.core.access import access_unit_list, has_role
        from jianguan.core.models import AuditEntry
        from jianguan.core.selectors import job_list_for

        cards = [
            {"label": _("可见单位"), "value": access_unit_list(user).count(), "url": reverse("core:unit_list")},
            {"label": _("运行中的后台任务"),
             "value": job_list_for(user).filter(status__in=["queued", "running"]).count(),
             "url": reverse("core:job_list")},
        ]
        if has_role(user, "admin", "auditor", "leader"):
            cards.append({"label": _("审计记录"), "value": AuditEntry.objects.count(),
                          "url": reverse("core:audit_list")})
        return cards

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from jianguan.core import checks  # noqa: F401  (registers the system checks)

        post_migrate.connect(_sync_reference_data, sender=self)


def _sync_reference_data(sender, **kwargs):  # type: ignore[no-untyped-def]
    """Reference tables every installation needs: GB/T 2260 divisions and the configured departments."""
    from jianguan.core.services import departments_sync, divisions_sync

    divisions_sync()
    departments_sync()
