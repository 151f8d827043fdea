"""Staff pages and the portal: intake form, list masking, detail with deadlines, actions, access boundaries."""

from __future__ import annotations

import datetime as dt

import pytest

from jianguan.complaints import services as svc
from jianguan.complaints.models import Case
from jianguan.core.models import AuditEntry
from tests.complaints.conftest import create_entity, intake_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def case_in_wendeng(staff, org, now):
    entity = create_entity()
    [case] = svc.case_register(intake_data(kind="report", respondent_uscc=entity.uscc), actor=staff.clerk, now=now)
    return svc.case_assign(case, org.wendeng, actor=staff.clerk)


def form_data(**kw):
    d = {"kind": "complaint", "channel": "12315_hotline", "received_at": "2026-09-30T10:00",
         "complainant_name": "李丽华", "complainant_phone": "13812345678", "complainant_address": "文登区天福路1号",
         "respondent_name": "某超市", "respondent_address": "文登区世纪大道1号", "request": "退款",
         "facts": "买到过期牛奶"}
    d.update(kw)
    return d


def test_clerk_registers_a_complaint_and_lands_on_its_page_with_the_deadline(client, staff):
    client.force_login(staff.clerk)
    r = client.post("/staff/complaints/new/", form_data(), follow=True)
    case = Case.objects.get()
    assert r.status_code == 200 and case.accept_due == dt.date(2026, 10, 15)
    assert "2026-10-15" in r.content.decode() and case.category == "food"


def test_intake_form_shows_the_field_error_in_chinese_and_writes_nothing(client, staff):
    client.force_login(staff.clerk)
    r = client.post("/staff/complaints/new/", form_data(complainant_phone="12345"))
    assert r.status_code == 200 and "电话号码格式不正确" in r.content.decode()
    assert Case.objects.count() == 0


def test_list_masks_the_reporter_identity(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    html = client.get("/staff/complaints/").content.decode()
    assert case_in_wendeng.tracking_number in html
    assert "138****5678" in html and "13812345678" not in html and "李丽华" not in html


def test_another_countys_handler_gets_404_for_the_case(client, staff, case_in_wendeng):
    client.force_login(staff.rongcheng_handler)
    assert client.get(case_in_wendeng.get_absolute_url()).status_code == 404
    assert client.post(case_in_wendeng.get_absolute_url() + "no_case/", {"reason": "x"}).status_code == 404


def test_revealing_the_reporter_identity_is_audited(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    html = client.get(case_in_wendeng.get_absolute_url() + "?reveal=1").content.decode()
    assert "13812345678" in html
    assert AuditEntry.objects.filter(action="view_personal_data", object_id=str(case_in_wendeng.pk)).count() == 1


def test_staff_without_a_handling_role_cannot_reveal_the_reporter(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_inspector)
    html = client.get(case_in_wendeng.get_absolute_url() + "?reveal=1").content.decode()
    assert "13812345678" not in html
    assert not AuditEntry.objects.filter(action="view_personal_data").exists()


def test_detail_shows_deadlines_and_the_timeline(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    html = client.get(case_in_wendeng.get_absolute_url()).content.decode()
    assert "2026-10-27" in html and 'data-testid="timeline"' in html and "assign" in html


def test_an_action_outside_the_state_shows_a_chinese_error(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    r = client.post(case_in_wendeng.get_absolute_url() + "accept/", {"on": "2026-10-09"}, follow=True)
    assert "只有投诉可以受理调解" in r.content.decode()


def test_handler_returns_the_case_to_the_dispatcher(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    client.post(case_in_wendeng.get_absolute_url() + "return/", {"reason": "不属本局管辖"})
    case_in_wendeng.refresh_from_db()
    assert case_in_wendeng.status == "registered" and case_in_wendeng.unit is None


def test_due_list_and_league_table_render(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    due = client.get("/staff/complaints/due/").content.decode()
    assert case_in_wendeng.tracking_number in due  # verify_by 2026-10-27 is long past today
    league = client.get("/staff/complaints/on-time/?from=2026-10-01&to=2026-10-31")
    assert league.status_code == 200 and "0.0%" in league.content.decode()


def test_list_export_is_an_excel_file_with_masked_identity(client, staff, case_in_wendeng):
    import io

    from openpyxl import load_workbook

    client.force_login(staff.wendeng_handler)
    r = client.get("/staff/complaints/?format=xlsx")
    ws = load_workbook(io.BytesIO(r.content)).active
    values = [c.value for c in ws[2]]
    assert case_in_wendeng.tracking_number in values and "138****5678" in values


def test_portal_submission_gives_a_tracking_number_and_progress_needs_the_phone_digits(client, org):
    r = client.post("/complaints/", {"kind": "complaint", "complainant_name": "王芳",
                                     "complainant_phone": "13912345678",
                                     "complainant_address": "文登区米山路2号", "respondent_name": "某健身房",
                                     "respondent_address": "文登区文山路3号", "request": "退还预付卡余额",
                                     "facts": "健身房闭店，预付卡余额无法退还"}, follow=True)
    case = Case.objects.get()
    assert case.channel == "portal" and case.tracking_number in r.content.decode()
    ok = client.get("/complaints/progress/", {"tracking_number": case.tracking_number, "phone_last4": "5678"})
    assert "待分派" in ok.content.decode()
    wrong = client.get("/complaints/progress/", {"tracking_number": case.tracking_number, "phone_last4": "0000"})
    assert 'data-testid="not-found"' in wrong.content.decode() and "王芳" not in wrong.content.decode()


def test_portal_form_reports_missing_fields_in_chinese(client, org):
    r = client.post("/complaints/", {"kind": "complaint", "facts": "有问题"})
    html = r.content.decode()
    assert "请填写投诉人真实姓名（第十条）" in html and Case.objects.count() == 0


def test_dashboard_renders_and_exports_a_table(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    r = client.get("/staff/complaints/dashboard/?from=2026-01-01&to=2026-11-20")
    assert r.status_code == 200 and "举报按期核查率" in r.content.decode()
    x = client.get("/staff/complaints/dashboard/?from=2026-01-01&to=2026-11-20&export=channel")
    assert x["Content-Type"].startswith("application/vnd.openxmlformats")
    text = client.get("/staff/complaints/dashboard/text/?from=2026-01-01&to=2026-11-20")
    assert text.status_code == 200 and "热词" in text.content.decode()
    w = client.get("/staff/complaints/dashboard/?from=2026-01-01&to=2026-11-20&export=hot_words")
    assert w["Content-Type"].startswith("application/vnd.openxmlformats")


def test_entity_page_has_a_complaints_tab_with_masked_identity(client, staff, case_in_wendeng):
    client.force_login(staff.wendeng_handler)
    r = client.get(case_in_wendeng.entity.get_absolute_url())
    html = r.content.decode()
    assert r.status_code == 200
    assert case_in_wendeng.tracking_number in html and "13812345678" not in html
