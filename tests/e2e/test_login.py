"""Each role signs in and sees its own menu; a wrong password is answered in Chinese."""

from __future__ import annotations

import pytest

from tests.conftest import create_user
from tests.e2e.conftest import login

PASSWORD = "Correct-horse-42"

# role → a menu entry it must see, and one it must not.
ROLE_MENUS = [
    pytest.param("admin", "审计日志", None, id="admin sees the audit trail"),
    pytest.param("leader", "审计日志", None, id="bureau leader sees the audit trail"),
    pytest.param("section_head", "组织机构", "审计日志", id="section head sees units, not the audit trail"),
    pytest.param("handler", "工作台", "审计日志", id="handler sees the workbench, not the audit trail"),
    pytest.param("intake_clerk", "工作台", "组织机构", id="intake clerk does not manage units"),
    pytest.param("inspector", "后台任务", "组织机构", id="inspector sees jobs, not units"),
    pytest.param("partner_inspector", "工作台", "审计日志", id="partner inspector sees the workbench"),
    pytest.param("auditor", "审计日志", None, id="auditor sees the audit trail"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("role", "visible", "hidden"), ROLE_MENUS)
def test_each_role_logs_in_and_sees_its_menu(page, live_server, org, role, visible, hidden):
    unit = org.tax if role == "partner_inspector" else org.wendeng
    user = create_user(unit=unit, roles=[(role, "all" if role in ("admin", "auditor") else "subtree")],
                       username=f"e2e_{role}", password=PASSWORD)
    login(page, live_server, user.username, PASSWORD)
    menu = page.locator("[data-testid=menu]")
    assert menu.get_by_role("link", name=visible).count() == 1
    if hidden:
        assert menu.get_by_role("link", name=hidden).count() == 0
    assert unit.name in page.locator("[data-testid=top-unit]").inner_text()
    assert page.console_errors == []


@pytest.mark.django_db(transaction=True)
def test_wrong_password_shows_the_chinese_error(page, live_server, org):
    create_user(unit=org.wendeng, username="e2e_wrong", password=PASSWORD)
    login(page, live_server, "e2e_wrong", "not-the-password")
    error = page.locator("[data-testid=login-error]")
    assert "用户名或密码错误" in error.inner_text()
    assert page.url.endswith("/staff/login/")


@pytest.mark.django_db(transaction=True)
def test_public_portal_home_is_mobile_friendly(browser, live_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(live_server.url + "/")
    assert "市场监管公众服务平台" in page.locator("h1").inner_text()
    # No horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert errors == []
    context.close()
