"""REST API of the registry: list with filters and paging, detail by USCC, structured errors, OpenAPI."""

from __future__ import annotations

import pytest

from jianguan.api.auth import api_key_create
from tests.conftest import create_user
from tests.registry.factories import add_label, create_annual_report, create_entity, create_licence

pytestmark = pytest.mark.django_db

LIST = "/api/v1/registry/entities"


@pytest.fixture
def handler(org, client):
    user = create_user(unit=org.wendeng, roles=(("handler", "subtree"),))
    client.force_login(user)
    return user


def test_the_list_returns_entities_with_paging_information(client, handler):
    for i in range(3):
        create_entity(name=f"文登商店{i}")
    body = client.get(LIST, {"page_size": 2}).json()
    assert [i["name"] for i in body["items"]] == ["文登商店0", "文登商店1"]  # ordered by USCC
    assert body["count"] == 3 and body["count_capped"] is False and body["has_next"] is True
    second = client.get(LIST, {"page_size": 2, "page": 2}).json()
    assert len(second["items"]) == 1 and second["has_next"] is False
    assert {i["uscc"] for i in body["items"]}.isdisjoint({i["uscc"] for i in second["items"]})


def test_the_list_filters_like_the_staff_page(client, handler):
    canteen = create_entity(name="文登一中食堂", industry="6210")
    add_label(canteen, "catering")
    create_licence(canteen)
    create_entity(name="文登百货")
    for params in ({"q": "一中"}, {"industry": "H"}, {"label": "catering"}, {"licence": "food_business"}):
        body = client.get(LIST, params).json()
        assert [i["name"] for i in body["items"]] == ["文登一中食堂"], params
    item = client.get(LIST, {"q": "一中"}).json()["items"][0]
    assert item["industry"] == "6210" and item["industry_name"] == "正餐服务" and item["division"] == "371003"


def test_a_bad_filter_is_a_structured_400_with_the_chinese_reason(client, handler):
    response = client.get(LIST, {"industry": "9999", "q": "华"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_filter" and body["message"] == "查询条件有误"
    fields = {d["field"]: d["msg"] for d in body["details"]}
    assert fields["q"] == "名称关键词至少输入 2 个字，或输入统一社会信用代码。"
    assert fields["industry"].startswith("行业代码不存在：9999")


def test_a_page_size_over_100_is_a_validation_error(client, handler):
    response = client.get(LIST, {"page_size": 500})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_the_detail_gives_the_whole_record(client, handler):
    e = create_entity(name="文登海鲜酒楼", industry="6210")
    create_licence(e, number="JY0001")
    add_label(e, "catering")
    create_annual_report(e, 2024)
    body = client.get(f"{LIST}/{e.uscc}").json()
    assert body["uscc"] == e.uscc and body["name"] == "文登海鲜酒楼"
    assert body["licences"][0]["number"] == "JY0001"
    assert body["labels"][0]["code"] == "catering"
    assert body["annual_reports"] == [{"year": 2024, "filed_on": "2025-04-20", "on_time": True}]


def test_an_unknown_uscc_is_a_structured_404(client, handler):
    response = client.get(f"{LIST}/91371003MA00000000")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found" and response.json()["message"] == "未找到该市场主体"


def test_the_api_needs_a_session_or_a_key(client):
    response = client.get(LIST)
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_an_api_key_sees_its_units_jurisdiction_only(client, org):
    user = create_user(unit=org.rongcheng, roles=(("handler", "subtree"),))
    _, plain = api_key_create(org.rongcheng, "对接系统", user)
    create_entity(name="荣成企业", division="371082")
    wendeng = create_entity(name="文登企业")
    body = client.get(LIST, HTTP_X_API_KEY=plain).json()
    assert [i["name"] for i in body["items"]] == ["荣成企业"]
    assert client.get(f"{LIST}/{wendeng.uscc}", HTTP_X_API_KEY=plain).status_code == 404


def test_the_openapi_schema_documents_both_endpoints_and_their_errors(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert set(schema["paths"][LIST]["get"]["responses"]) == {"200", "400"}
    assert set(schema["paths"][LIST + "/{uscc}"]["get"]["responses"]) == {"200", "404"}
    params = {p["name"] for p in schema["paths"][LIST]["get"]["parameters"]}
    assert {"q", "division", "industry", "label", "status", "licence", "kind", "page", "page_size"} <= params
