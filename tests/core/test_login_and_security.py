"""Login: Argon2 hashes, a Chinese error for a wrong password, lockout after repeated failures; security headers."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.conftest import create_user

PASSWORD = "Correct-horse-42"


@pytest.fixture(autouse=True)
def _reset_axes(db):
    from axes.utils import reset

    reset()


def test_passwords_are_stored_as_argon2(org):
    user = create_user(unit=org.wendeng, password=PASSWORD)
    assert user.password.startswith("argon2$")


def test_wrong_password_is_answered_in_chinese(client, org):
    create_user(unit=org.wendeng, username="zhang", password=PASSWORD)
    response = client.post("/staff/login/", {"username": "zhang", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_empty_fields_name_the_missing_field(client, org):
    response = client.post("/staff/login/", {"username": "", "password": ""})
    body = response.content.decode()
    assert "请输入用户名。" in body and "请输入密码。" in body


def test_account_is_locked_after_repeated_failures_even_with_the_right_password(client, org):
    create_user(unit=org.wendeng, username="li", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/staff/login/", {"username": "li", "password": "wrong"})
    response = client.post("/staff/login/", {"username": "li", "password": PASSWORD})
    assert response.status_code == 429
    assert "账号已被暂时锁定" in response.content.decode()


def test_a_correct_login_reaches_the_workbench(client, org):
    create_user(unit=org.wendeng, username="wang", password=PASSWORD)
    response = client.post("/staff/login/", {"username": "wang", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert "工作台" in response.content.decode()


def test_staff_pages_require_login(client, db):
    response = client.get("/staff/")
    assert response.status_code == 302 and "/staff/login/" in response["Location"]


def test_sessions_expire(org):
    assert settings.SESSION_COOKIE_AGE <= 12 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_pages_carry_a_csp_without_inline_script_and_frame_denial(client, db):
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_healthz_reports_the_database(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
