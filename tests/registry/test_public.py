"""Public portal of the registry: search by name or USCC, and the printable public record without personal data."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jianguan.registry.selectors import entity_public_record, entity_search_public, mask_person_name
from tests.registry.factories import create_annual_report, create_entity, create_licence

pytestmark = pytest.mark.django_db

SEARCH = reverse("registry_public:search")


def record_url(entity) -> str:
    return reverse("registry_public:record", args=[entity.uscc])


def test_anyone_can_search_by_name_without_logging_in(client):
    create_entity(name="文登华联商厦")
    create_entity(name="荣成海鲜酒楼", division="371082")
    html = client.get(SEARCH, {"q": "华联"}).content.decode()
    assert "文登华联商厦" in html and "荣成海鲜酒楼" not in html
    assert "共 1 条" in html


def test_public_search_by_uscc_finds_the_entity_in_any_county(client):
    e = create_entity(division="371082")
    html = client.get(SEARCH, {"q": e.uscc}).content.decode()
    assert record_url(e) in html


def test_public_search_with_one_character_asks_for_more(client):
    html = client.get(SEARCH, {"q": "华"}).content.decode()
    assert "名称关键词至少输入 2 个字，或输入统一社会信用代码。" in html
    assert 'class="field-error"' in html


def test_public_search_that_finds_nothing_says_so(client):
    html = client.get(SEARCH, {"q": "不存在的公司"}).content.decode()
    assert "未找到符合条件的市场主体" in html


def test_the_public_record_shows_registration_licences_and_annual_reports(client):
    e = create_entity(name="文登海鲜酒楼", industry="6210")
    create_licence(e, number="JY23710030012345")
    create_annual_report(e, 2024)
    create_annual_report(e, 2023, filed_on=None, on_time=False)
    html = client.get(record_url(e)).content.decode()
    assert "文登海鲜酒楼" in html and e.uscc in html
    assert "6210 正餐服务" in html
    assert "JY23710030012345" in html and "食品经营许可证" in html
    assert "按时报送" in html and "未报送" in html
    assert "王建国" in html  # an enterprise's legal representative is public


def test_the_public_record_never_shows_a_phone_number(client):
    e = create_entity(phone="13906310000")
    html = client.get(record_url(e)).content.decode()
    assert "13906310000" not in html
    assert not hasattr(entity_public_record(e.uscc), "phone")


def test_an_individual_business_operators_name_is_masked_in_search_and_record(client):
    e = create_entity(kind="individual", name="文登区张记小吃店", legal_representative="张三丰")
    assert "张三丰" not in client.get(record_url(e)).content.decode()
    assert "张**" in client.get(record_url(e)).content.decode()
    assert "张三丰" not in client.get(SEARCH, {"q": "张记"}).content.decode()
    assert entity_search_public("张记").items[0].legal_representative == "张**"


@pytest.mark.parametrize(("name", "masked"), [("张三丰", "张**"), ("欧阳", "欧*"), ("李", "李"), ("", "")])
def test_mask_person_name_keeps_only_the_first_character(name, masked):
    assert mask_person_name(name) == masked


def test_an_unknown_uscc_is_not_found(client):
    assert client.get(reverse("registry_public:record", args=["91371003MA00000000"])).status_code == 404


def test_the_public_record_has_a_print_button_wired_by_a_static_script(client):
    html = client.get(record_url(create_entity())).content.decode()
    assert "data-print" in html and "/static/js/registry.js" in html
    assert "<script>" not in html and "onclick" not in html


def section_for_credit(entity):
    return {"key": "abnormal", "title": "经营异常名录", "template": "registry/_test_section.html",
            "context": {"listed": "否"}}


def test_other_modules_add_sections_to_the_public_record(client, settings, tmp_path, monkeypatch):
    from django.apps import apps

    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "_test_section.html").write_text("是否列入：{{ listed }} {{ entity.uscc }}",
                                                             encoding="utf-8")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    monkeypatch.setattr(apps.get_app_config("credit"), "public_record_sections",
                        [f"{__name__}.section_for_credit"], raising=False)
    e = create_entity()
    html = client.get(record_url(e)).content.decode()
    assert "经营异常名录" in html and f"是否列入：否 {e.uscc}" in html


def test_the_portal_home_links_to_the_enterprise_search(client):
    assert SEARCH in client.get(reverse("portal:home")).content.decode()
