from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SynthConfig(AppConfig):
    """Deterministic synthetic data (county / city / province); `jianguan synth` and the demo's registry step."""

    name = "jianguan.synth"
    label = "synth"
    verbose_name = _("合成数据")
    menu: list = []
    menu_order = 15
    demo_steps = ["jianguan.synth.demo.load_registry"]
    synth_steps: list[str] = []
