"""Manual labels (人工设置) next to rule labels: entity_label_add / entity_label_remove."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jianguan.core.models import AuditEntry
from jianguan.registry.importer import run_import
from jianguan.registry.models import Entity, EntityLabel, Label
from jianguan.registry.services import LabelError, entity_label_add, entity_label_remove
from tests.registry.importdata import row, uscc, write_csv

TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def supermarket(tmp_path, settings, db):
    settings.MEDIA_ROOT = tmp_path / "media"
    code = uscc(301)
    assert run_import(write_csv(tmp_path / "a.csv", [row(统一社会信用代码=code, 行业代码="5211")]), today=TODAY).ok
    Label.objects.get_or_create(code="key_unit", defaults={"name": "重点单位", "category": "测试"})
    return Entity.objects.get(uscc=code)


def test_a_manual_label_is_added_and_audited(supermarket):
    el = entity_label_add(supermarket, "key_unit", None, today=TODAY, reason="节前重点检查")
    assert (el.source, el.assigned_on) == ("manual", TODAY)
    entry = AuditEntry.objects.filter(object_id=str(supermarket.pk), action="label_add").get()
    assert json.loads(entry.after) == {"label": "key_unit", "source": "manual"} and entry.reason == "节前重点检查"


def test_adding_a_label_the_rules_gave_makes_it_manual_so_it_survives_recomputation(supermarket):
    assert EntityLabel.objects.get(entity=supermarket, label__code="retail").source == "rule"
    entity_label_add(supermarket, "retail", None, today=TODAY)
    assert EntityLabel.objects.get(entity=supermarket, label__code="retail").source == "manual"


def test_a_rule_label_cannot_be_removed_by_hand(supermarket):
    with pytest.raises(LabelError, match="标签“零售经营者”由规则生成，不能手工移除；请修改主体的行业或许可证信息"):
        entity_label_remove(supermarket, "retail", None)
    assert EntityLabel.objects.filter(entity=supermarket, label__code="retail").exists()


def test_a_manual_label_is_removed_and_audited(supermarket):
    entity_label_add(supermarket, "key_unit", None, today=TODAY)
    assert entity_label_remove(supermarket, "key_unit", None) is True
    assert not EntityLabel.objects.filter(entity=supermarket, label__code="key_unit").exists()
    assert AuditEntry.objects.filter(object_id=str(supermarket.pk), action="label_remove").exists()
    assert entity_label_remove(supermarket, "key_unit", None) is False


def test_an_unknown_label_is_named(supermarket):
    with pytest.raises(LabelError, match="标签“no_such”不存在"):
        entity_label_add(supermarket, "no_such", None)


def test_recomputing_after_an_industry_change_swaps_rule_labels_and_keeps_manual_ones(supermarket):
    from jianguan.registry.services import entity_labels_recompute

    entity_label_add(supermarket, "key_unit", None, today=TODAY)
    Entity.objects.filter(pk=supermarket.pk).update(industry_id="6210")
    supermarket.refresh_from_db()
    assert entity_labels_recompute([supermarket], today=TODAY) == 1
    labels = dict(EntityLabel.objects.filter(entity=supermarket).values_list("label__code", "source"))
    assert (labels["catering"], labels["key_unit"], "retail" in labels) == ("rule", "manual", False)
    entry = AuditEntry.objects.filter(object_id=str(supermarket.pk), action="labels_recompute").get()
    before, after = json.loads(entry.before)["labels"], json.loads(entry.after)["labels"]
    assert set(before) - set(after) == {"retail"} and set(after) - set(before) == {"catering"}
