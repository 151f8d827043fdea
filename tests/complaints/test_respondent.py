"""The ODR enterprise's view: staff issue a hashed, revocable, audited code; the enterprise sees only its ODR-stage
complaints (no report, no reporter, complainant masked) and records the outcome within the ODR period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jianguan.complaints import respondent
from jianguan.complaints import services as svc
from jianguan.complaints.models import Case, OdrAccessCode
from jianguan.core.models import AuditEntry
from tests.complaints.conftest import create_entity, intake_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def odr(org, staff):
    """An ODR enterprise with one complaint in the ODR stage, one report and one non-ODR complaint against it."""
    entity = create_entity(odr=True, name="威海ODR示范超市有限公司")
    received = timezone.now() - dt.timedelta(hours=2)
    [complaint] = svc.case_register(intake_data(respondent_uscc=entity.uscc, received_at=received,
                                                complainant_name="李丽华", complainant_phone="13812345678",
                                                complainant_address="威海市文登区天福路1号"), actor=staff.clerk)
    complaint = svc.case_assign(complaint, org.wendeng, actor=staff.clerk, handler=staff.wendeng_handler)
    [report] = svc.case_register(intake_data(kind="report", respondent_uscc=entity.uscc, received_at=received,
                                            complainant_name="赵举报", complainant_phone="13900001111",
                                            facts="举报该超市销售过期食品，货架上有多种过期商品。"), actor=staff.clerk)
    svc.case_assign(report, org.wendeng, actor=staff.clerk)
    assert complaint.status == Case.Status.ODR and complaint.odr_due is not None
    return entity, complaint, report


def test_staff_issue_a_code_that_is_stored_only_as_a_hash_and_audited(odr, staff):
    entity, _c, _r = odr
    code, plain = respondent.odr_code_issue(entity, actor=staff.wendeng_handler)
    assert len(plain) == 19 and plain not in code.code_hash and code.hint == plain.replace("-", "")[-4:]
    assert respondent.odr_code_check(plain) == code
    assert respondent.odr_code_check(plain.lower().replace("-", " ")) == code  # as typed from paper
    assert respondent.odr_code_check("AAAA-BBBB-CCCC-DDDD") is None
    entry = AuditEntry.objects.get(action="odr_code_issue")
    assert entry.actor_id == staff.wendeng_handler.pk and plain not in entry.after and plain not in entry.reason
    # a new code revokes the old one; the old one no longer opens anything
    code2, plain2 = respondent.odr_code_issue(entity, actor=staff.wendeng_head)
    assert respondent.odr_code_check(plain) is None and respondent.odr_code_check(plain2) == code2
    assert OdrAccessCode.objects.get(pk=code.pk).revoked_by == staff.wendeng_head
    respondent.odr_code_revoke(code2, actor=staff.wendeng_handler, reason="企业更换联系人")
    assert respondent.odr_code_check(plain2) is None
    assert AuditEntry.objects.filter(action="odr_code_revoke").count() == 2


def test_only_staff_of_the_enterprises_jurisdiction_issue_codes_and_only_to_odr_enterprises(odr, staff):
    entity, _c, _r = odr
    with pytest.raises(respondent.OdrError, match="辖区"):
        respondent.odr_code_issue(entity, actor=staff.rongcheng_handler)
    with pytest.raises(respondent.OdrError, match="辖区"):
        respondent.odr_code_issue(entity, actor=staff.wendeng_inspector)
    with pytest.raises(respondent.OdrError, match="未登记为在线消费纠纷解决"):
        respondent.odr_code_issue(create_entity(odr=False), actor=staff.wendeng_handler)
    assert not OdrAccessCode.objects.exists()


def test_the_respondent_sees_only_its_odr_complaints_never_a_report_or_an_identity(odr, staff, client):
    entity, complaint, report = odr
    _code, plain = respondent.odr_code_issue(entity, actor=staff.wendeng_handler)
    other = create_entity(odr=True)
    [theirs] = svc.case_register(intake_data(respondent_uscc=other.uscc, received_at=timezone.now()),
                                 actor=staff.clerk)
    svc.case_assign(theirs, staff.wendeng_handler.unit, actor=staff.clerk)
    assert client.get("/complaints/odr/cases/").status_code == 302  # no code, no page
    r = client.post("/complaints/odr/", {"code": plain})
    assert r.status_code == 302 and r["Location"].endswith("/complaints/odr/cases/")
    body = client.get("/complaints/odr/cases/").content.decode()
    assert complaint.tracking_number in body and entity.name in body
    assert report.tracking_number not in body and "赵举报" not in body and "13900001111" not in body
    assert "过期食品" not in body  # the report's facts
    assert theirs.tracking_number not in body
    assert "李丽华" not in body and "13812345678" not in body and "天福路" not in body
    assert "李**" in body and "138****5678" in body
    assert AuditEntry.objects.filter(action="odr_code_use").exists()


def test_a_wrong_code_is_refused_with_a_clear_message(client):
    r = client.post("/complaints/odr/", {"code": "ABCD-EFGH-JKMN-PQRS"})
    assert r.status_code == 400 and "访问码不正确或已失效" in r.content.decode()


def test_the_respondent_records_settled_with_an_amount(odr, staff, client):
    entity, complaint, _r = odr
    _code, plain = respondent.odr_code_issue(entity, actor=staff.wendeng_handler)
    client.post("/complaints/odr/", {"code": plain})
    bad = client.post("/complaints/odr/cases/", {"tracking_number": complaint.tracking_number, "outcome": "settled",
                                                 "amount": "12,3.4.5"})
    assert bad.status_code == 409 and "金额格式不正确" in bad.content.decode()
    assert Case.objects.get(pk=complaint.pk).status == Case.Status.ODR  # nothing half-written
    ok = client.post("/complaints/odr/cases/", {"tracking_number": complaint.tracking_number, "outcome": "settled",
                                                "amount": "128.50"})
    assert ok.status_code == 200 and "已登记为“已和解”" in ok.content.decode()
    case = Case.objects.get(pk=complaint.pk)
    assert (case.status, case.result, case.amount_recovered) == (Case.Status.CLOSED, Case.Result.ODR_SETTLED,
                                                                 Decimal("128.50"))
    # the enterprise, not a member of staff, is on record as having recorded the outcome
    entry = AuditEntry.objects.get(action="odr_outcome", object_id=str(complaint.pk))
    assert entry.actor_id is None and entity.name in entry.reason and "ODR访问码" in entry.reason
    again = client.post("/complaints/odr/cases/", {"tracking_number": complaint.tracking_number,
                                                   "outcome": "not_settled"})
    assert again.status_code == 409 and "已不在企业协商" in again.content.decode()


def test_not_settled_returns_the_complaint_to_the_bureau(odr, staff):
    entity, complaint, _r = odr
    code, _plain = respondent.odr_code_issue(entity, actor=staff.wendeng_handler)
    case = respondent.odr_respondent_outcome(code, complaint.tracking_number, settled=False)
    assert case.status == Case.Status.ASSIGNED and case.amount_recovered is None


def test_after_the_odr_period_nothing_can_be_recorded(odr, staff):
    entity, complaint, _r = odr
    code, _plain = respondent.odr_code_issue(entity, actor=staff.wendeng_handler)
    with pytest.raises(respondent.OdrError, match="期限已于"):
        respondent.odr_respondent_outcome(code, complaint.tracking_number, settled=True, amount=Decimal(10),
                                          today=complaint.odr_due + dt.timedelta(days=1))
    assert Case.objects.get(pk=complaint.pk).status == Case.Status.ODR


def test_a_report_cannot_be_reached_even_by_its_tracking_number(odr, staff):
    entity, _c, report = odr
    code, _plain = respondent.odr_code_issue(entity, actor=staff.wendeng_handler)
    with pytest.raises(respondent.OdrError, match="找不到该投诉"):
        respondent.odr_respondent_outcome(code, report.tracking_number, settled=False)


def test_revoking_a_code_ends_an_open_session(odr, staff, client):
    entity, complaint, _r = odr
    code, plain = respondent.odr_code_issue(entity, actor=staff.wendeng_handler)
    client.post("/complaints/odr/", {"code": plain})
    assert client.get("/complaints/odr/cases/").status_code == 200
    respondent.odr_code_revoke(code, actor=staff.wendeng_handler)
    assert client.get("/complaints/odr/cases/").status_code == 302
    r = client.post("/complaints/odr/cases/", {"tracking_number": complaint.tracking_number, "outcome": "not_settled"})
    assert r.status_code == 302 and Case.objects.get(pk=complaint.pk).status == Case.Status.ODR


def test_staff_page_issues_codes_and_shows_who_issued_them(odr, staff, client):
    entity, _c, _r = odr
    client.force_login(staff.wendeng_handler)
    r = client.post("/staff/complaints/odr-codes/", {"uscc": entity.uscc})
    body = r.content.decode()
    assert r.status_code == 200 and 'data-testid="odr-plain-code"' in body
    code = OdrAccessCode.objects.get(entity=entity, revoked_at__isnull=True)
    assert staff.wendeng_handler.display_name in body and code.hint in body
    # Rongcheng staff see nothing of Wendeng's codes and cannot issue for its enterprises
    client.force_login(staff.rongcheng_handler)
    other = client.get("/staff/complaints/odr-codes/").content.decode()
    assert entity.name not in other
    r = client.post("/staff/complaints/odr-codes/", {"uscc": entity.uscc}, follow=True)
    assert "辖区内找不到" in r.content.decode()
    assert OdrAccessCode.objects.filter(entity=entity).count() == 1


def test_the_demo_prints_a_working_access_code_for_the_enterprise_with_odr_complaints(odr, staff):
    import io
    import re

    from jianguan.complaints.demo import odr_access_code
    from jianguan.core.demo import DemoContext

    entity, _c, _r = odr
    out = io.StringIO()
    odr_access_code(DemoContext(seed=1, small=True, out=out))
    printed = re.search(r"访问码 ([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})", out.getvalue())
    assert printed and entity.uscc in out.getvalue(), out.getvalue()
    code = respondent.odr_code_check(printed.group(1))
    assert code is not None and code.entity == entity and respondent.can_issue(code.issued_by, entity)
