from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistryConfig(AppConfig):
    name = "jianguan.registry"
    label = "registry"
    verbose_name = _("市场主体名录")
    menu: list = []
    menu_order = 10
    demo_steps: list[str] = []

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        post_migrate.connect(_sync_reference_data, sender=self)


def _sync_reference_data(sender, **kwargs):  # type: ignore[no-untyped-def]
    """GB/T 4754-2017 industries and the label catalogue."""
    from jianguan.registry.reference import industries_sync, labels_sync

    industries_sync()
    labels_sync()
