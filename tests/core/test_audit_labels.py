"""Audit entries show what their action code means, in the reader's language; the code stays beside it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

from jianguan.core.audit import audit_record, audit_timeline
from jianguan.core.audit_labels import action_label
from tests.conftest import create_user


@pytest.mark.parametrize(("action", "object_type", "label"), [
    ("create", "registry.entity", "创建"),
    ("credit.abnormal_enter", "registry.entity", "列入经营异常名录"),
    ("randomness:confirm", "inspections.inspectionplan", "复核确认公开随机数"),
    ("status:frozen", "inspections.inspectionplan", "状态改为“已冻结（承诺已公开）”"),
    ("status:closed", "complaints.case", "状态改为“已办结”"),
    ("status:frozen", "some.other", "状态改为“frozen”"),  # a status of a type nobody named: its value
    ("受理", "complaints.case", "受理"),  # recorded in Chinese by the workflow itself
    ("something.new", "", "something.new"),  # a code nobody registered: as it is
])
def test_each_action_code_has_its_label(action, object_type, label):
    with translation.override("zh-hans"):
        assert action_label(action, object_type) == label


def test_labels_follow_the_readers_language():
    with translation.override("en"):
        assert action_label("credit.abnormal_enter") == "Add to List of Abnormal Operations"
        assert action_label("randomness:enter", "inspections.inspectionplan") == "Enter public randomness"
        assert action_label("status:frozen", "inspections.inspectionplan").startswith("Status changed to “")


def test_the_audit_log_and_a_records_timeline_show_the_label_with_the_code(client, org):
    user = create_user(unit=org.wendeng, roles=(("admin", "subtree"),))
    audit_record(user, "label_add", actor=user, after={"label": "食品经营"})
    entry = audit_timeline(user._meta.label_lower, user.pk).last()
    assert entry.action == "label_add"
    client.force_login(user)
    body = client.get("/staff/audit/?action=label_add").content.decode()
    assert "添加标签" in body and "<code class=\"muted\">label_add</code>" in body
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = client.get("/staff/audit/?action=label_add").content.decode()
    assert "Label added" in body and "添加标签" not in body


def test_a_yes_or_no_is_said_as_such_even_where_the_field_has_numbered_choices():
    from django.db import models

    from jianguan.core.templatetags.audit import _shown

    field = models.IntegerField(choices=[(0, "零"), (1, "一")])
    with translation.override("zh-hans"):
        assert _shown(True, field) == "是" and _shown(False, None) == "否"
        assert _shown(1, field) == "一"  # a number is still read as its choice
