"""Intake, routing, handling and the clock as the services run them (SQLite / PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jianguan.complaints import services as svc
from jianguan.complaints.access import NotAllowed
from jianguan.complaints.models import Case, Extension
from jianguan.core.models import AuditEntry
from tests.complaints.conftest import at, create_entity, intake_data

pytestmark = pytest.mark.django_db


def register(staff, now, **kw):
    return svc.case_register(intake_data(**kw), actor=staff.clerk, now=now)


def test_complaint_gets_its_accept_deadline_and_a_tracking_number(staff, now):
    entity = create_entity()
    [case] = register(staff, now, respondent_uscc=entity.uscc)
    assert case.tracking_number.startswith("T20260930") and len(case.tracking_number) == 17
    assert (case.accept_due, case.next_due, case.rule_code) == (dt.date(2026, 10, 15), dt.date(2026, 10, 15),
                                                                "order-121")
    assert case.entity == entity and case.intake_unit.code == "371000-12315"
    assert AuditEntry.objects.filter(object_id=str(case.pk), action="register").exists()


def test_routing_sends_a_respondent_in_a_station_town_to_the_station(staff, now, org):
    entity = create_entity(street="龙山街道")
    [case] = register(staff, now, respondent_uscc=entity.uscc)
    assert case.suggested_unit_code == org.station.code and "第十三条" in case.routing_note


def test_routing_sends_an_ecommerce_platform_to_its_domicile_county_bureau(staff, now, org):
    entity = create_entity(street="龙山街道", platform=True)
    [case] = register(staff, now, respondent_uscc=entity.uscc, kind="report")
    assert case.suggested_unit_code == org.wendeng.code and "第三十一条" in case.routing_note


def test_respondent_is_found_by_name_and_address_without_uscc(staff, now, org):
    entity = create_entity(division="371082", street="崖头街道", name="荣成海味食品店")
    [case] = register(staff, now, respondent_name="荣成海味食品店", respondent_address=entity.address)
    assert case.entity == entity and case.suggested_unit_code == org.rongcheng.code


@pytest.mark.parametrize(("field", "value", "message"), [
    ("complainant_name", "", "请填写投诉人真实姓名（第十条）"),
    ("complainant_phone", "1381234567", "电话号码格式不正确"),
    ("complainant_phone", "", "请填写联系电话"),
    ("complainant_address", "", "请填写投诉人通讯地址（第十条）"),
    ("request", "", "请填写具体的投诉请求（第十条）"),
    ("facts", " ", "事实依据"),
    ("respondent_uscc", "91371003MA3C4XXXXX", "统一社会信用代码无效"),
    ("received_at", at("2026-12-01T10:00:00+08:00"), "收到时间不能晚于当前时间"),
])
def test_bad_input_is_refused_with_a_chinese_message_and_nothing_is_written(staff, now, field, value, message):
    entity = create_entity()
    data = {"respondent_uscc": entity.uscc, field: value}
    with pytest.raises(svc.IntakeError) as err:
        register(staff, now, **data)
    assert message in err.value.errors[field]
    assert Case.objects.count() == 0


def test_a_valid_but_unregistered_uscc_is_refused(staff, now):
    from jianguan.registry.domain.uscc import make_uscc

    with pytest.raises(svc.IntakeError) as err:
        register(staff, now, respondent_uscc=make_uscc("9", "1", "371003", "YYYY0001"))
    assert "在市场主体名录中不存在" in err.value.errors["respondent_uscc"]


@pytest.mark.parametrize(("name", "size", "message"), [
    ("evil.exe", 10, "类型不允许上传"),
    ("big.pdf", 11 * 1024 * 1024, "超过 10 MB"),
])
def test_attachments_of_a_forbidden_type_or_too_large_are_refused(staff, now, name, size, message):
    f = SimpleUploadedFile(name, b"x" * size)
    with pytest.raises(svc.IntakeError) as err:
        register(staff, now, respondent_name="某店", respondent_address="文登区某路", attachments=[f])
    assert message in err.value.errors["attachments"]
    assert Case.objects.count() == 0


@pytest.mark.parametrize("phone", ["13812345678", "+86 138 1234 5678", "0631-5212345", "063185212345"])
def test_mainland_mobile_and_landline_numbers_are_accepted(staff, now, phone):
    [case] = register(staff, now, respondent_name="某店", respondent_address="文登区某路", complainant_phone=phone)
    assert case.complainant_phone.replace("-", "").isdigit()


def test_a_mixed_submission_is_split_into_a_linked_complaint_and_report(staff, now):
    cases = register(staff, now, respondent_name="某店", respondent_address="文登区某路",
                     report_facts="该店还在销售过期食品，涉嫌违法。")
    complaint, report = cases
    assert (complaint.kind, report.kind) == ("complaint", "report")
    complaint.refresh_from_db(), report.refresh_from_db()
    assert complaint.related == report and report.related == complaint
    assert report.verify_due == dt.date(2026, 10, 27)


def test_a_consultation_is_answered_and_closed_at_intake(staff, now):
    [case] = register(staff, now, kind="consultation", complainant_name="", complainant_address="", request="",
                      complainant_phone="", facts="咨询如何办理营业执照", answer="请通过政务服务网登记注册专区办理")
    assert (case.status, case.result, case.next_due) == ("closed", "answered", None)


def test_art17_flags_many_complaints_by_one_person_against_one_operator_but_never_rejects(staff, now):
    entity = create_entity()
    for day in ("2026-09-01", "2026-09-10"):
        register(staff, now, respondent_uscc=entity.uscc, received_at=at(f"{day}T10:00:00+08:00"))
    [case] = register(staff, now, respondent_uscc=entity.uscc)
    flags = list(case.flags.all())
    assert [f.code for f in flags] == ["same_person_same_operator"]
    assert len(flags[0].evidence) == 2 and case.status == "registered"


def test_art17_flags_several_complainants_sharing_a_phone(staff, now):
    register(staff, now, respondent_name="甲店", respondent_address="文登区某路", complainant_name="张三")
    [case] = register(staff, now, respondent_name="乙店", respondent_address="文登区某路", complainant_name="李四")
    assert [f.code for f in case.flags.all()] == ["shared_contact"]


def test_art17_flags_abnormal_quantity(staff, now):
    [case] = register(staff, now, respondent_name="甲店", respondent_address="文登区某路", quantity=50)
    assert [f.code for f in case.flags.all()] == ["abnormal_quantity"]


def assigned_complaint(staff, now, org, **kw):
    entity = create_entity()
    [case] = register(staff, now, respondent_uscc=entity.uscc, **kw)
    return svc.case_assign(case, org.wendeng, actor=staff.clerk)


def test_only_the_dispatcher_assigns_and_a_unit_returns_instead_of_forwarding(staff, now, org):
    case = assigned_complaint(staff, now, org)
    assert case.status == "assigned" and case.unit == org.wendeng
    with pytest.raises(NotAllowed, match="不得自行移送"):
        svc.case_assign(case, org.rongcheng, actor=staff.wendeng_handler)
    case = svc.case_return(case, actor=staff.wendeng_handler, reason="被投诉人实际经营地在荣成")
    assert (case.status, case.unit, case.returned_reason) == ("registered", None, "被投诉人实际经营地在荣成")
    entry = AuditEntry.objects.filter(object_id=str(case.pk), action="return_to_dispatcher").get()
    assert entry.reason == "被投诉人实际经营地在荣成"
    case = svc.case_assign(case, org.rongcheng, actor=staff.clerk)
    assert case.unit == org.rongcheng


def test_returning_without_a_reason_is_refused(staff, now, org):
    case = assigned_complaint(staff, now, org)
    with pytest.raises(svc.WorkflowError, match="请填写退回理由"):
        svc.case_return(case, actor=staff.wendeng_handler, reason=" ")


def test_a_handler_of_another_county_cannot_act(staff, now, org):
    case = assigned_complaint(staff, now, org)
    with pytest.raises(NotAllowed):
        svc.complaint_accept(case, actor=staff.rongcheng_handler, on=dt.date(2026, 10, 9))


def test_rejection_states_the_art16_ground_and_the_art15_remedies(staff, now, org):
    case = assigned_complaint(staff, now, org)
    case = svc.complaint_reject(case, actor=staff.wendeng_handler, ground="16-3", on=dt.date(2026, 10, 9))
    assert case.status == "closed" and case.result == "rejected"
    assert "第十六条第（三）项" in case.decision_text and "向人民法院提起诉讼" in case.decision_text


def test_rejection_without_a_legal_ground_is_refused(staff, now, org):
    case = assigned_complaint(staff, now, org)
    with pytest.raises(svc.WorkflowError, match="第十六条"):
        svc.complaint_reject(case, actor=staff.wendeng_handler, ground="99", on=dt.date(2026, 10, 9))


def test_mediation_period_runs_sixty_days_from_acceptance_and_a_test_pause_moves_it(staff, now, org):
    case = assigned_complaint(staff, now, org, received_at=at("2026-08-05T10:00:00+08:00"))
    case = svc.complaint_accept(case, actor=staff.wendeng_handler, on=dt.date(2026, 8, 10))
    assert (case.status, case.mediation_due, case.final_due) == ("mediating", dt.date(2026, 10, 9),
                                                                 dt.date(2026, 10, 9))
    svc.clock_pause(case, actor=staff.wendeng_handler, reason="牛奶送检", evidence="检验委托书 WH-2026-081",
                    on=dt.date(2026, 8, 20))
    case = svc.clock_resume(case, actor=staff.wendeng_handler, on=dt.date(2026, 8, 30))
    assert case.mediation_due == dt.date(2026, 10, 19)
    assert AuditEntry.objects.filter(object_id=str(case.pk), action="clock_pause",
                                     reason__contains="检验委托书").exists()


def test_a_pause_needs_reason_and_evidence(staff, now, org):
    case = assigned_complaint(staff, now, org)
    case = svc.complaint_accept(case, actor=staff.wendeng_handler, on=dt.date(2026, 10, 9))
    with pytest.raises(svc.WorkflowError, match="理由和依据材料"):
        svc.clock_pause(case, actor=staff.wendeng_handler, reason="送检", evidence="", on=dt.date(2026, 10, 12))


def test_agreement_closes_with_the_amount_recovered(staff, now, org):
    case = assigned_complaint(staff, now, org)
    case = svc.complaint_accept(case, actor=staff.wendeng_handler, on=dt.date(2026, 10, 9))
    svc.mediation_session_add(case, actor=staff.wendeng_handler, held_on=dt.date(2026, 10, 12), mode="phone",
                              notes="经营者同意退款")
    case = svc.complaint_agreement(case, actor=staff.wendeng_handler, amount=Decimal("128.50"),
                                   on=dt.date(2026, 10, 13))
    assert (case.status, case.result, case.amount_recovered, case.next_due) == (
        "closed", "agreement", Decimal("128.50"), None)


def test_termination_needs_an_art23_ground_and_notice_within_seven_working_days(staff, now, org):
    case = assigned_complaint(staff, now, org)
    case = svc.complaint_accept(case, actor=staff.wendeng_handler, on=dt.date(2026, 10, 9))
    case = svc.complaint_terminate(case, actor=staff.wendeng_handler, ground="23-3", on=dt.date(2026, 10, 16))
    assert (case.status, case.notice_due) == ("terminated", dt.date(2026, 10, 27))  # Fri + 7wd -> Tue
    case = svc.termination_notify(case, actor=staff.wendeng_handler, on=dt.date(2026, 10, 20))
    assert case.status == "closed" and case.result == "terminated"


def test_an_action_outside_the_cases_state_is_refused_in_chinese(staff, now, org):
    case = assigned_complaint(staff, now, org)
    with pytest.raises(svc.WorkflowError, match="不能登记调解协议"):
        svc.complaint_agreement(case, actor=staff.wendeng_handler, amount=Decimal(0), on=dt.date(2026, 10, 9))


def test_odr_enterprise_gets_a_window_to_settle_first(staff, now, org):
    entity = create_entity(odr=True)
    [case] = register(staff, now, respondent_uscc=entity.uscc)
    assert case.odr_due == dt.date(2026, 10, 15)
    case = svc.case_assign(case, org.wendeng, actor=staff.clerk)
    assert case.status == "odr"
    case = svc.odr_outcome(case, actor=staff.wendeng_handler, settled=True, amount=Decimal("99"),
                           on=dt.date(2026, 10, 12))
    assert (case.status, case.result) == ("closed", "odr_settled")


def assigned_report(staff, now, org, **kw):
    entity = create_entity()
    [case] = register(staff, now, kind="report", respondent_uscc=entity.uscc, **kw)
    return svc.case_assign(case, org.wendeng, actor=staff.clerk)


def test_report_extension_moves_the_deadline_only_after_the_heads_approval(staff, now, org):
    case = assigned_report(staff, now, org)
    assert case.verify_due == dt.date(2026, 10, 27)
    ext = svc.extension_request(case, actor=staff.wendeng_handler, reason="需调取平台交易数据")
    case.refresh_from_db()
    assert case.verify_due == dt.date(2026, 10, 27)
    with pytest.raises(NotAllowed):
        svc.extension_decide(ext, actor=staff.wendeng_handler, approve=True)
    svc.extension_decide(ext, actor=staff.wendeng_head, approve=True)
    case.refresh_from_db()
    assert case.verify_due == dt.date(2026, 11, 17) and ext.__class__.objects.get().status == Extension.Status.APPROVED
    assert AuditEntry.objects.filter(object_id=str(case.pk), action="extension_approve").exists()


def test_report_verified_opens_an_enforcement_lead(staff, now, org):
    from jianguan.enforcement.models import Lead

    case = assigned_report(staff, now, org)
    case = svc.report_decide(case, actor=staff.wendeng_handler, open_case=True, reason="证据确凿，建议立案",
                             on=dt.date(2026, 10, 20))
    lead = Lead.objects.get()
    assert (lead.source, lead.source_ref, case.lead_id, case.result) == ("report", case.tracking_number, lead.pk,
                                                                         "case_opened")


def test_report_not_opened_needs_a_reason(staff, now, org):
    case = assigned_report(staff, now, org)
    with pytest.raises(svc.WorkflowError, match="理由"):
        svc.report_decide(case, actor=staff.wendeng_handler, open_case=False, reason="", on=dt.date(2026, 10, 20))


def test_a_repeat_report_is_linked_not_handled_again(staff, now, org):
    first = assigned_report(staff, now, org)
    [again] = register(staff, now, kind="report", respondent_uscc=first.respondent_uscc,
                       received_at=at("2026-10-12T10:00:00+08:00"))
    again = svc.report_link_repeat(again, first, actor=staff.clerk)
    first.refresh_from_db()
    assert (again.status, again.result, again.duplicate_of) == ("closed", "repeat", first)
    assert first.verify_due == dt.date(2026, 10, 27)


def test_new_facts_merge_and_restart_the_clock_from_the_last_receipt(staff, now, org):
    first = assigned_report(staff, now, org)
    [more] = register(staff, now, kind="report", respondent_uscc=first.respondent_uscc,
                      received_at=at("2026-10-12T10:00:00+08:00"), facts="补充：该店还销售无标签食品。")
    svc.report_merge(more, first, actor=staff.clerk)
    first.refresh_from_db()
    # Mon 10-12 + 15 working days -> Mon 11-02
    assert first.verify_due == dt.date(2026, 11, 2) and "补充事实" in first.facts


def test_deadline_past_the_calendar_is_left_empty_with_a_note_not_guessed(staff, org):
    [case] = svc.case_register(intake_data(respondent_name="某店", respondent_address="文登区某路",
                                           received_at=at("2026-12-28T10:00:00+08:00")),
                               actor=staff.clerk, now=at("2026-12-29T10:00:00+08:00"))
    assert case.accept_due is None and "2027" in case.clock_note
