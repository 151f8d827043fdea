"""The API accepts the browser session or a per-unit API key; errors are structured."""

from __future__ import annotations

from jianguan.api.auth import api_key_create
from jianguan.core.models import ApiKey
from tests.conftest import create_user


def test_api_key_authenticates_as_its_user(client, org):
    user = create_user(unit=org.wendeng)
    _, plain = api_key_create(org.wendeng, "12345 对接", user)
    response = client.get("/api/v1/me", headers={"X-API-Key": plain})
    assert response.status_code == 200
    assert response.json()["user"] == user.username


def test_only_the_hash_of_a_key_is_stored(org):
    user = create_user(unit=org.wendeng)
    key, plain = api_key_create(org.wendeng, "对接", user)
    assert plain not in key.key_hash and len(key.key_hash) == 64


def test_a_revoked_or_wrong_key_is_a_structured_401(client, org):
    from django.utils import timezone

    user = create_user(unit=org.wendeng)
    _, plain = api_key_create(org.wendeng, "对接", user)
    ApiKey.objects.update(revoked_at=timezone.now())
    for key in (plain, "jg_deadbeef_nope", "garbage"):
        response = client.get("/api/v1/me", headers={"X-API-Key": key})
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


def test_session_login_works_for_the_browser(client, org):
    client.force_login(create_user(unit=org.wendeng))
    assert client.get("/api/v1/me").status_code == 200


def test_openapi_schema_and_docs_are_served(client, db):
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Jianguan API"
    assert client.get("/api/docs").status_code == 302
    assert client.get("/api/v1/docs").status_code == 200
