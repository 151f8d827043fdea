"""Each web process loads the URL configuration and the apps' rules before its first request (core/warmup.py)."""

from __future__ import annotations

import logging

from django.apps import apps

from jianguan.complaints import rules as complaint_rules
from jianguan.core.calendar_service import get_calendar
from jianguan.core.warmup import warm_up


def test_warm_up_loads_the_urls_the_calendar_and_the_complaint_rules():
    get_calendar.cache_clear()
    complaint_rules.get_rulesets.cache_clear()
    ran = warm_up()
    assert ran[0] == "urls"
    assert {"jianguan.core.calendar_service.get_calendar", "jianguan.complaints.rules.get_rulesets"} <= set(ran)
    assert get_calendar.cache_info().currsize == 1 and complaint_rules.get_rulesets.cache_info().currsize == 1


def test_a_failing_hook_is_logged_and_the_others_still_run(monkeypatch, caplog):
    core = apps.get_app_config("core")
    monkeypatch.setattr(core, "warm_up_steps", ["jianguan.core.no_such_module.load",
                                                "jianguan.core.calendar_service.get_calendar"], raising=False)
    with caplog.at_level(logging.ERROR, logger="jianguan.core.warmup"):
        ran = warm_up()
    assert "jianguan.core.no_such_module.load" not in ran
    assert "jianguan.core.calendar_service.get_calendar" in ran
    assert "jianguan.core.no_such_module.load failed" in caplog.text
