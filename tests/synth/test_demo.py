"""The demo step loads 文登区 and 荣成市 (small in tests) and runs the other modules' steps."""

from __future__ import annotations

import io

import pytest

from jianguan.core.demo import DemoContext
from jianguan.registry.models import Entity
from jianguan.synth import runner
from jianguan.synth.demo import load_registry

CALLS: list = []


def record_step(ctx):
    CALLS.append((ctx.divisions, ctx.entities.height, ctx.load))


@pytest.mark.django_db
def test_demo_step_loads_wendeng_and_rongcheng_and_runs_the_module_steps(monkeypatch):
    CALLS.clear()
    monkeypatch.setattr(runner, "synth_steps", lambda: [f"{__name__}.record_step"])
    ctx = DemoContext(seed=2026, small=True, out=io.StringIO())
    load_registry(ctx)
    assert Entity.objects.filter(division_id="371003").count() == 1500
    assert Entity.objects.filter(division_id="371082").count() == 500
    assert CALLS == [(["371003", "371082"], 2000, True)]
    assert ctx.facts["entities"] == 2000


@pytest.mark.django_db
def test_running_the_demo_step_again_leaves_the_registry_alone(monkeypatch):
    monkeypatch.setattr(runner, "synth_steps", lambda: [])
    ctx = DemoContext(seed=2026, small=True, out=io.StringIO())
    load_registry(ctx)
    load_registry(ctx)
    assert Entity.objects.count() == 2000
    assert "跳过合成数据" in ctx.out.getvalue()


def test_the_synth_app_registers_the_demo_step_after_the_registry():
    from django.apps import apps

    cfg = apps.get_app_config("synth")
    assert cfg.demo_steps == ["jianguan.synth.demo.load_registry"] and cfg.menu_order == 15
