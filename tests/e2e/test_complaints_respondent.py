"""An ODR enterprise, with the code a handler issued it, settles a complaint on the portal — and never sees a report
or a reporter's identity."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.complaints.conftest import create_entity, intake_data
from tests.conftest import create_unit, create_user
from tests.e2e.conftest import login

PASSWORD = "Correct-horse-42"


@pytest.mark.django_db(transaction=True)
def test_a_handler_issues_a_code_and_the_enterprise_settles_its_complaint(page, browser, live_server):
    from jianguan.complaints import services as svc
    from jianguan.complaints.models import Case

    weihai = create_unit("371000-samr", division="371000", name="威海市市场监督管理局")
    intake = create_unit("371000-12315", division="371000", kind="intake", parent=weihai,
                         name="威海市12315投诉举报中心")
    wendeng = create_unit("371003-samr", division="371003", parent=weihai, name="威海市文登区市场监督管理局")
    clerk = create_user(unit=intake, roles=(("intake_clerk", "subtree"),), username="e2e_clerk", password=PASSWORD)
    handler = create_user(unit=wendeng, roles=(("handler", "subtree"),), username="e2e_handler", password=PASSWORD)
    entity = create_entity(odr=True, name="威海浏览器测试超市有限公司")
    received = timezone.now() - dt.timedelta(hours=1)
    [complaint] = svc.case_register(intake_data(respondent_uscc=entity.uscc, received_at=received,
                                                complainant_name="李丽华", complainant_phone="13812345678"),
                                    actor=clerk)
    svc.case_assign(complaint, wendeng, actor=clerk, handler=handler)
    [report] = svc.case_register(intake_data(kind="report", respondent_uscc=entity.uscc, received_at=received,
                                            complainant_name="赵举报", complainant_phone="13900001111",
                                            facts="举报该超市销售过期食品。"), actor=clerk)
    svc.case_assign(report, wendeng, actor=clerk)

    # The handler issues the code on the staff page; it is shown once.
    login(page, live_server, "e2e_handler", PASSWORD)
    page.goto(f"{live_server.url}/staff/complaints/odr-codes/")
    page.fill("[data-testid=odr-uscc]", entity.uscc)
    page.click("[data-testid=odr-issue]")
    page.wait_for_load_state("networkidle")
    plain = page.locator("[data-testid=odr-plain-code]").inner_text().strip()
    assert len(plain) == 19
    assert handler.display_name in page.locator("[data-testid=odr-codes]").inner_text()

    # The enterprise, in a browser of its own (no staff session), opens its ODR page with the code.
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    ent = context.new_page()
    errors: list[str] = []
    ent.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "400" not in msg.text else None)
    ent.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        ent.goto(f"{live_server.url}/complaints/odr/")
        ent.fill("#id_code", "WRONG-CODE-0000-0000")
        ent.click("[data-testid=odr-login]")
        assert "访问码不正确" in ent.locator("[data-testid=odr-error]").inner_text()
        ent.fill("#id_code", plain.lower())
        ent.click("[data-testid=odr-login]")
        ent.wait_for_load_state("networkidle")
        assert entity.name in ent.locator("[data-testid=odr-entity]").inner_text()
        body = ent.locator("body").inner_text()
        assert complaint.tracking_number in body and "李**" in body and "138****5678" in body
        for secret in (report.tracking_number, "赵举报", "13900001111", "过期食品", "李丽华", "13812345678"):
            assert secret not in body, secret
        card = ent.locator("[data-testid=odr-case]").filter(has_text=complaint.tracking_number)
        card.locator("input[value=settled]").check()
        card.locator("input[name=amount]").fill("128.50")
        card.locator("[data-testid=odr-submit]").click()
        ent.wait_for_load_state("networkidle")
        assert "已和解" in ent.locator("[data-testid=odr-done]").inner_text()
        assert ent.locator("[data-testid=odr-empty]").count() == 1
    finally:
        context.close()
    case = Case.objects.get(pk=complaint.pk)
    assert (case.status, case.result, case.amount_recovered) == ("closed", "odr_settled", Decimal("128.50"))
    assert page.console_errors == [] and errors == []
