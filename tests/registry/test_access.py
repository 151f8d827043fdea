"""Access boundary of the registry: staff see the entities of their jurisdiction; anything else is a 404."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import create_user
from tests.registry.factories import create_entity

pytestmark = pytest.mark.django_db


@pytest.fixture
def wendeng_entity(db):
    return create_entity(name="文登区的企业", division="371003")


@pytest.fixture
def rongcheng_entity(db):
    return create_entity(name="荣成市的企业", division="371082")


def login(client, unit, roles=(("handler", "subtree"),)):
    user = create_user(unit=unit, roles=roles)
    client.force_login(user)
    return user


def test_a_county_handler_cannot_open_another_countys_entity(client, org, rongcheng_entity):
    login(client, org.wendeng)
    assert client.get(rongcheng_entity.get_absolute_url()).status_code == 404


def test_a_county_handler_gets_the_same_404_from_the_api(client, org, rongcheng_entity):
    login(client, org.wendeng)
    response = client.get(f"/api/v1/registry/entities/{rongcheng_entity.uscc}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_a_county_handler_does_not_find_another_countys_entity_by_uscc(client, org, wendeng_entity,
                                                                       rongcheng_entity):
    login(client, org.wendeng)
    html = client.get(reverse("registry:entity_list"), {"q": rongcheng_entity.uscc}).content.decode()
    assert "荣成市的企业" not in html
    body = client.get("/api/v1/registry/entities", {"q": "的企业"}).json()
    assert [i["name"] for i in body["items"]] == ["文登区的企业"]


def test_a_county_handler_does_not_export_another_countys_entities(client, org, wendeng_entity, rongcheng_entity):
    import io

    import openpyxl

    login(client, org.wendeng)
    content = b"".join(client.get(reverse("registry:entity_export")).streaming_content)
    names = [r[1] for r in openpyxl.load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(min_row=2,
                                                                                               values_only=True)]
    assert names == ["文登区的企业"]


def test_a_station_sees_its_countys_entities(client, org, wendeng_entity, rongcheng_entity):
    login(client, org.station)
    assert client.get(wendeng_entity.get_absolute_url()).status_code == 200
    assert client.get(rongcheng_entity.get_absolute_url()).status_code == 404


def test_a_city_handler_sees_every_county_of_the_city(client, org, wendeng_entity, rongcheng_entity):
    login(client, org.weihai)
    assert client.get(wendeng_entity.get_absolute_url()).status_code == 200
    assert client.get(rongcheng_entity.get_absolute_url()).status_code == 200


def test_a_user_without_a_role_sees_no_entity(client, org, wendeng_entity):
    login(client, org.wendeng, roles=())
    assert client.get(wendeng_entity.get_absolute_url()).status_code == 404
    assert "文登区的企业" not in client.get(reverse("registry:entity_list")).content.decode()


def test_home_cards_count_only_the_users_jurisdiction(client, org, wendeng_entity, rongcheng_entity):
    from django.apps import apps

    from tests.registry.factories import create_licence

    create_licence(wendeng_entity)
    create_licence(rongcheng_entity)
    create_entity(status="cancelled")
    from django.core.cache import cache

    cache.clear()
    user = create_user(unit=org.wendeng, roles=(("handler", "subtree"),))
    cards = apps.get_app_config("registry").home_cards(user)
    assert [c["value"] for c in cards] == [2, 1, 1]


def test_home_cards_are_kept_for_a_few_minutes_per_jurisdiction(org, wendeng_entity):
    from django.apps import apps
    from django.core.cache import cache

    cache.clear()
    config = apps.get_app_config("registry")
    user = create_user(unit=org.wendeng, roles=(("handler", "subtree"),))
    assert config.home_cards(user)[0]["value"] == 1
    create_entity()
    assert config.home_cards(user)[0]["value"] == 1              # cached for this county
    city_user = create_user(unit=org.weihai, roles=(("handler", "subtree"),))
    assert config.home_cards(city_user)[0]["value"] == 2         # another jurisdiction counts afresh
    cache.clear()
    assert config.home_cards(user)[0]["value"] == 2


def test_the_import_menu_entry_is_only_for_admins_section_heads_and_leaders(org):
    from django.apps import apps

    from jianguan.core.access import visible_menu

    menu = apps.get_app_config("registry").menu
    handler = create_user(unit=org.wendeng, roles=(("handler", "subtree"),))
    head = create_user(unit=org.wendeng, roles=(("section_head", "subtree"),))
    assert [url for _, url in visible_menu(handler, menu)] == ["registry:entity_list"]
    assert [url for _, url in visible_menu(head, menu)] == ["registry:entity_list", "registry:import_upload"]
