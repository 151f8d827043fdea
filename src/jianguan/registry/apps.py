from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

HOME_CARDS_SECONDS = 300


class RegistryConfig(AppConfig):
    name = "jianguan.registry"
    label = "registry"
    verbose_name = _("市场主体名录")
    menu: list = [
        (_("市场主体"), "registry:entity_list", None),
        (_("导入"), "registry:import_upload", ("admin", "section_head", "leader")),
    ]
    menu_order = 10
    demo_steps: list[str] = []
    portal_links = [
        (_("企业信息查询"), "registry_public:search",
         _("按企业名称或统一社会信用代码查询登记信息、许可证和年报情况。")),
    ]
    # Tabs and public-record sections contributed by other modules are declared on *their* configs.
    entity_tabs: list[str] = []
    public_record_sections: list[str] = []

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        import jianguan.registry.export_jobs  # noqa: F401 — registers the "registry.export" job kind
        from jianguan.core.audit_labels import register_action_labels

        register_action_labels({"label_add": _("添加标签"), "label_remove": _("移除标签"),
                                "labels_recompute": _("按规则重算标签")},
                               keys={"registry.entity": {"labels": _("标签")}})

        post_migrate.connect(_sync_reference_data, sender=self)

    def home_cards(self, user: Any) -> list[dict[str, Any]]:
        """Entities in the user's jurisdiction, of which operating (存续), and valid licences."""
        from django.core.cache import cache
        from django.urls import reverse

        from jianguan.core.access import data_scope
        from jianguan.registry.selectors import entity_counts

        # Counting a city's 1.3 million entities takes seconds: the counts are kept for a few minutes per
        # jurisdiction (the registry changes by import, not by the minute).
        scope = data_scope(user)
        key = "registry:home_cards:" + ("*" if scope.everything else ",".join(scope.division_prefixes))
        counts = cache.get(key)
        if counts is None:
            counts = entity_counts(user)
            cache.set(key, counts, HOME_CARDS_SECONDS)
        url = reverse("registry:entity_list")
        return [
            {"label": _("市场主体"), "value": counts["entities"], "url": url},
            {"label": _("存续（在业）主体"), "value": counts["active"], "url": f"{url}?status=active"},
            {"label": _("有效许可证"), "value": counts["licences"], "url": url},
        ]


def _sync_reference_data(sender, **kwargs):  # type: ignore[no-untyped-def]
    """GB/T 4754-2017 industries and the label catalogue."""
    from jianguan.registry.reference import industries_sync, labels_sync

    industries_sync()
    labels_sync()
