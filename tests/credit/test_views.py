"""Pages: the risk class stays internal, jurisdiction boundaries, forms with errors in Chinese, the portal form."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from jianguan.credit.classification import classification_run
from jianguan.credit.models import AbnormalListing, CreditRepair
from tests.conftest import create_user
from tests.credit.factories import create_abnormal, create_penalty, create_serious
from tests.registry.factories import create_entity

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def classified(org):
    entity = create_entity(name="失信公司", established_on=dt.date(2016, 1, 5))
    create_serious(entity, unit=org.wendeng, entered_on=dt.date(2026, 5, 6))
    create_penalty(entity, unit=org.wendeng, severity="heavy", decided_on=dt.date(2026, 4, 1),
                   published_on=dt.date(2026, 4, 8), decision_number="文市监处罚〔2026〕12号")
    classification_run(dt.date(2026, 10, 1), today=TODAY)
    return entity


def test_the_public_record_shows_lists_and_penalties_but_never_the_risk_class(client, classified):
    response = client.get(f"/enterprises/{classified.uscc}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "严重违法失信名单" in html and "文市监处罚〔2026〕12号" in html
    for internal in ("风险分类", "信用风险", "D 信用风险高", "分值", "risk_class", "严重违法失信名单直接判定D类"):
        assert internal not in html


def test_the_staff_entity_page_shows_the_class_with_its_factors(client, classified, wendeng_handler):
    client.force_login(wendeng_handler)
    html = client.get(classified.get_absolute_url()).content.decode()
    assert 'data-testid="risk-class"' in html and "在严重违法失信名单" in html and "2026-10" in html


def test_the_distribution_page_counts_only_the_users_jurisdiction(client, classified, org):
    create_entity(division="371082")
    classification_run(dt.date(2026, 10, 1), today=TODAY)
    rongcheng = create_user(unit=org.rongcheng, roles=(("leader", "subtree"),))
    client.force_login(rongcheng)
    response = client.get(reverse("credit:distribution") + "?month=2026-10")
    totals = response.context["data"]["totals"]
    assert totals == {"A": 0, "B": 0, "C": 1, "D": 0}  # no annual reports: C; the Wendeng D is not counted
    assert 'id="credit-chart-data"' in response.content.decode()


def test_the_distribution_page_explains_a_bad_month(client, org, wendeng_handler):
    client.force_login(wendeng_handler)
    html = client.get(reverse("credit:distribution") + "?month=2026-13").content.decode()
    assert "月份格式应为 YYYY-MM，例如 2026-10。" in html


def test_starting_a_classification_of_a_future_month_from_the_page_is_refused(client, org):
    leader = create_user(unit=org.wendeng, roles=(("leader", "subtree"),))
    client.force_login(leader)
    from django.utils import timezone

    future = (timezone.localdate().replace(day=1) + dt.timedelta(days=40)).strftime("%Y-%m")
    html = client.post(reverse("credit:runs"), {"month": future}).content.decode()
    assert "不能对未来月份" in html


def test_starting_a_classification_queues_a_job_and_shows_its_progress(client, org):
    from jianguan.core.models import Job

    leader = create_user(unit=org.wendeng, roles=(("leader", "subtree"),))
    client.force_login(leader)
    response = client.post(reverse("credit:runs"), {"month": "2026-10"})
    job = Job.objects.get(kind="credit.classify")
    assert response.status_code == 302 and response["Location"].endswith(f"?job={job.pk}")
    assert 'data-testid="job-progress"' in client.get(response["Location"]).content.decode()


def test_removing_another_countys_listing_is_not_found(client, org, rongcheng_section_head):
    listing = create_abnormal(create_entity(), unit=org.wendeng)
    client.force_login(rongcheng_section_head)
    assert client.get(reverse("credit:abnormal_remove", args=[listing.pk])).status_code == 404
    assert client.post(reverse("credit:abnormal_remove", args=[listing.pk]),
                       {"removed_on": "2026-11-20", "removal_decision_number": "X",
                        "removal_reason": "x"}).status_code == 404


def test_entering_a_listing_without_a_reason_shows_the_error_next_to_the_field(client, org, wendeng_handler):
    entity = create_entity()
    client.force_login(wendeng_handler)
    html = client.post(reverse("credit:abnormal_enter"), {
        "uscc": entity.uscc, "ground": "unreachable", "decision_number": "文市监异〔2026〕9号",
        "entered_on": "2026-11-20", "reason": ""}).content.decode()
    assert "这个字段是必填项。" in html and not AbnormalListing.objects.exists()


def test_entering_a_listing_for_an_entity_outside_the_jurisdiction_is_refused(client, org, rongcheng_section_head):
    entity = create_entity(division="371003")
    client.force_login(rongcheng_section_head)
    html = client.post(reverse("credit:abnormal_enter"), {
        "uscc": entity.uscc, "ground": "unreachable", "decision_number": "荣市监异〔2026〕9号",
        "entered_on": "2026-11-20", "reason": "无法联系"}).content.decode()
    assert f"未找到统一社会信用代码为 {entity.uscc} 的市场主体，或该主体不在您的管辖范围内。" in html
    assert not AbnormalListing.objects.exists()


def test_the_abnormal_list_page_shows_only_the_jurisdiction(client, org, rongcheng_section_head):
    create_abnormal(create_entity(name="文登异常"), unit=org.wendeng)
    create_abnormal(create_entity(name="荣成异常", division="371082"), unit=org.rongcheng)
    client.force_login(rongcheng_section_head)
    html = client.get(reverse("credit:abnormal_list")).content.decode()
    assert "荣成异常" in html and "文登异常" not in html


def test_an_enterprise_applies_for_repair_on_the_portal_and_gets_a_receipt(client, org):
    entity = create_entity()
    create_penalty(entity, unit=org.wendeng, published_on=dt.date(2025, 6, 3), decision_number="文市监处罚〔2025〕5号")
    response = client.post("/credit/repair/", {
        "uscc": entity.uscc, "item_type": "penalty", "item_ref": "文市监处罚〔2025〕5号",
        "statement": "已缴清罚款，完成整改", "contact_name": "王经理", "contact_phone": "13863100000"})
    repair = CreditRepair.objects.get()
    assert response.status_code == 302 and repair.applicant_kind == "enterprise"
    receipt = client.get(response["Location"]).content.decode()
    assert "信用修复申请回执" in receipt and "风险" not in receipt


def test_the_portal_form_explains_a_wrong_uscc_and_an_unknown_decision_number(client, org):
    entity = create_entity()
    html = client.post("/credit/repair/", {
        "uscc": entity.uscc, "item_type": "penalty", "item_ref": "不存在的文号",
        "statement": "已整改", "contact_name": "王经理", "contact_phone": "13863100000"}).content.decode()
    assert "未找到该主体这一文号的记录，请核对决定书文号。" in html
    html = client.post("/credit/repair/", {
        "uscc": "91371003MA00000000", "item_type": "penalty", "item_ref": "x",
        "statement": "已整改", "contact_name": "王经理", "contact_phone": "13863100000"}).content.decode()
    assert 'class="field-error"' in html and not CreditRepair.objects.exists()


def test_a_receipt_with_a_wrong_token_is_not_found(client, org):
    entity = create_entity()
    penalty = create_penalty(entity, unit=org.wendeng, published_on=dt.date(2025, 6, 3))
    from jianguan.credit.services import credit_repair_apply

    repair = credit_repair_apply(entity, item_type="penalty", item_id=penalty.pk, statement="已整改",
                                 applied_on=dt.date(2026, 3, 2), applicant_kind="enterprise")
    assert client.get(f"/credit/repair/{repair.pk}/0000/").status_code == 404
