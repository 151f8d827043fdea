"""POST /api/v1/complaints with an API key, Idempotency-Key, structured errors; the Open311 facade."""

from __future__ import annotations

import json

import pytest

from jianguan.complaints.models import Case, IdempotencyKey
from tests.complaints.conftest import create_entity

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_key(staff, org):
    from jianguan.api.auth import api_key_create

    _key, plain = api_key_create(org.intake, "12315平台对接", staff.clerk)
    return plain


def body(**kw):
    b = {"kind": "complaint", "received_at": "2026-09-30T10:00:00+08:00",
         "complainant": {"name": "李丽华", "phone": "13812345678", "address": "威海市文登区天福路1号"},
         "respondent": {"name": "某超市", "address": "文登区世纪大道1号"},
         "facts": "购买的牛奶已过期", "request": "退款"}
    b.update(kw)
    return b


def post(client, key, data, **headers):
    return client.post("/api/v1/complaints", data=json.dumps(data), content_type="application/json",
                       HTTP_X_API_KEY=key, **headers)


def test_posting_a_complaint_returns_the_tracking_number_and_accept_by(client, api_key):
    r = post(client, api_key, body())
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["deadlines"] == {"accept_by": "2026-10-15"} and out["tracking_number"].startswith("T20260930")
    assert Case.objects.get().channel == "api"


def test_posting_a_report_returns_verify_by(client, api_key):
    r = post(client, api_key, body(kind="report"))
    assert r.status_code == 201 and r.json()["deadlines"] == {"verify_by": "2026-10-27"}


def test_a_repeated_idempotency_key_returns_the_first_result_without_a_second_case(client, api_key):
    first = post(client, api_key, body(), HTTP_IDEMPOTENCY_KEY="abc-1")
    again = post(client, api_key, body(), HTTP_IDEMPOTENCY_KEY="abc-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() and Case.objects.count() == 1 and IdempotencyKey.objects.count() == 1


def test_an_idempotency_key_reused_for_a_different_body_is_a_conflict(client, api_key):
    post(client, api_key, body(), HTTP_IDEMPOTENCY_KEY="abc-2")
    r = post(client, api_key, body(facts="另一件事"), HTTP_IDEMPOTENCY_KEY="abc-2")
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"complainant": {"name": "", "phone": "13812345678", "address": "x"}}, "complainant.name", "真实姓名"),
    ({"complainant": {"name": "李", "phone": "12345", "address": "x"}}, "complainant.phone", "电话号码格式不正确"),
    ({"received_at": "2030-01-01T10:00:00+08:00"}, "received_at", "不能晚于当前时间"),
    ({"respondent": {"name": "x", "address": "y", "uscc": "913710000000000000"}}, "respondent.uscc",
     "统一社会信用代码"),
])
def test_bad_submissions_get_a_structured_422_in_chinese_and_nothing_is_written(client, api_key, change, field,
                                                                                 message):
    r = post(client, api_key, body(**change))
    assert r.status_code == 422
    details = {d["field"]: d["msg"] for d in r.json()["details"]}
    assert message in details[field]
    assert Case.objects.count() == 0


def test_without_a_key_the_api_answers_401(client):
    r = client.post("/api/v1/complaints", data=json.dumps(body()), content_type="application/json")
    assert r.status_code == 401


def test_another_countys_case_is_not_found_through_the_api(client, staff, org, api_key):
    from jianguan.api.auth import api_key_create
    from jianguan.complaints import services as svc

    tn = post(client, api_key, body(respondent={"uscc": create_entity().uscc})).json()["tracking_number"]
    svc.case_assign(Case.objects.get(), org.wendeng, actor=staff.clerk)
    _k, rc_key = api_key_create(org.rongcheng, "荣成", staff.rongcheng_handler)
    assert client.get(f"/api/v1/complaints/{tn}", HTTP_X_API_KEY=rc_key).status_code == 404
    _k, wd_key = api_key_create(org.wendeng, "文登", staff.wendeng_handler)
    r = client.get(f"/api/v1/complaints/{tn}", HTTP_X_API_KEY=wd_key)
    assert r.status_code == 200 and r.json()["complainant_phone"] == "138****5678"


def test_open311_lists_services_mapped_to_categories(client):
    r = client.get("/open311/v2/services.json")
    codes = [s["service_code"] for s in r.json()]
    assert r.status_code == 200 and "food" in codes and "prepaid" in codes


def test_open311_post_and_get_a_request(client, api_key):
    r = client.post("/open311/v2/requests.json", {
        "api_key": api_key, "service_code": "food", "description": "外卖里有异物", "last_name": "李",
        "first_name": "丽华", "phone": "13812345678", "attribute[respondent_name]": "某餐馆",
        "attribute[respondent_address]": "文登区某路1号", "attribute[request]": "赔偿",
        "attribute[complainant_address]": "文登区天福路1号"})
    assert r.status_code == 201, r.content
    rid = r.json()[0]["service_request_id"]
    one = client.get(f"/open311/v2/requests/{rid}.json", {"api_key": api_key}).json()[0]
    assert (one["service_code"], one["status"]) == ("food", "open")
    listed = client.get("/open311/v2/requests.json", {"api_key": api_key, "status": "open"}).json()
    assert [x["service_request_id"] for x in listed] == [rid]


def test_open311_post_missing_art10_fields_is_a_400_with_a_chinese_description(client, api_key):
    r = client.post("/open311/v2/requests.json", {"api_key": api_key, "service_code": "food",
                                                   "description": "外卖里有异物"})
    assert r.status_code == 400 and "真实姓名" in r.json()[0]["description"]
    assert Case.objects.count() == 0
