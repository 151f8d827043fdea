"""Credit repair (SAMR Order 107): tiers and waiting periods, the 7-working-day deadline, approval effects."""

from __future__ import annotations

import datetime as dt

import pytest

from jianguan.credit.models import CreditRepair, Penalty
from jianguan.credit.public import record_section
from jianguan.credit.selectors import repair_deadline
from jianguan.credit.services import CreditError, credit_repair_apply, credit_repair_decide
from tests.credit.factories import create_abnormal, create_penalty, create_serious
from tests.registry.factories import create_entity

pytestmark = pytest.mark.django_db


def apply(entity, item_type, item_id, applied_on, **kw):
    return credit_repair_apply(entity, item_type=item_type, item_id=item_id, applied_on=applied_on,
                               statement=kw.pop("statement", "已缴纳罚款并完成整改"), applicant_kind="enterprise",
                               **kw)


def test_the_decision_is_due_seven_working_days_after_the_application(org):
    entity = create_entity()
    penalty = create_penalty(entity, unit=org.wendeng, published_on=dt.date(2025, 11, 3))
    repair = apply(entity, "penalty", penalty.pk, dt.date(2026, 3, 2))  # Mon
    assert (repair.tier, repair.decide_by) == ("general", dt.date(2026, 3, 11))  # Wed of the next week


def test_a_general_penalty_can_be_repaired_only_after_three_months_of_publication(org):
    entity = create_entity()
    penalty = create_penalty(entity, unit=org.wendeng, published_on=dt.date(2026, 1, 15))
    with pytest.raises(CreditError, match="该信息最短公示期至 2026-04-15 届满，届满后方可申请信用修复。"):
        apply(entity, "penalty", penalty.pk, dt.date(2026, 4, 14))
    assert not CreditRepair.objects.exists()
    assert apply(entity, "penalty", penalty.pk, dt.date(2026, 4, 15)).waiting_until == dt.date(2026, 4, 15)


def test_a_serious_list_entry_can_be_repaired_only_after_one_year(org):
    entity = create_entity()
    listing = create_serious(entity, unit=org.wendeng, entered_on=dt.date(2025, 9, 1))
    with pytest.raises(CreditError, match="最短公示期至 2026-09-01 届满"):
        apply(entity, "serious", listing.pk, dt.date(2026, 8, 31))
    assert apply(entity, "serious", listing.pk, dt.date(2026, 9, 1)).tier == "serious"


def test_an_application_without_a_statement_is_refused(org):
    entity = create_entity()
    penalty = create_penalty(entity, unit=org.wendeng, published_on=dt.date(2025, 1, 3))
    with pytest.raises(CreditError, match="请填写申请理由及整改情况。"):
        apply(entity, "penalty", penalty.pk, dt.date(2026, 3, 2), statement=" ")


def test_an_item_of_another_entity_cannot_be_repaired(org):
    mine, other = create_entity(), create_entity()
    penalty = create_penalty(other, unit=org.wendeng, published_on=dt.date(2025, 1, 3))
    with pytest.raises(CreditError, match="未找到该主体正在公示的行政处罚信息。"):
        apply(mine, "penalty", penalty.pk, dt.date(2026, 3, 2))


def test_a_second_pending_application_for_the_same_item_is_refused(org):
    entity = create_entity()
    penalty = create_penalty(entity, unit=org.wendeng, published_on=dt.date(2025, 1, 3))
    apply(entity, "penalty", penalty.pk, dt.date(2026, 3, 2))
    with pytest.raises(CreditError, match="该事项已有待审核的信用修复申请，请勿重复提交。"):
        apply(entity, "penalty", penalty.pk, dt.date(2026, 3, 3))


def test_the_deadline_warns_two_working_days_before_and_flags_a_breach(org):
    entity = create_entity()
    penalty = create_penalty(entity, unit=org.wendeng, published_on=dt.date(2025, 1, 3))
    repair = apply(entity, "penalty", penalty.pk, dt.date(2026, 3, 2))  # due Wed 2026-03-11
    assert repair_deadline(repair, dt.date(2026, 3, 6)).state == "ok"  # Fri: 3 working days left
    assert repair_deadline(repair, dt.date(2026, 3, 9)) .state == "due_soon"  # Mon: 2 left
    assert repair_deadline(repair, dt.date(2026, 3, 12)).state == "overdue"


def test_approving_a_penalty_repair_stops_its_publication_on_the_public_record(org, wendeng_section_head):
    entity = create_entity()
    penalty = create_penalty(entity, unit=org.wendeng, published_on=dt.date(2026, 1, 5),
                             decision_number="文市监处罚〔2026〕77号")
    assert [p.decision_number for p in record_section(entity)["context"]["penalties"]] == ["文市监处罚〔2026〕77号"]
    repair = apply(entity, "penalty", penalty.pk, dt.date(2026, 4, 7))
    credit_repair_decide(repair, approve=True, reason="整改到位", decided_on=dt.date(2026, 4, 10),
                         actor=wendeng_section_head)
    assert Penalty.objects.get().public_until == dt.date(2026, 4, 10)
    assert record_section(entity)["context"]["penalties"] == []


def test_approving_an_abnormal_listing_repair_removes_it_and_hides_it_from_the_public_history(org,
                                                                                              wendeng_section_head):
    entity = create_entity()
    listing = create_abnormal(entity, unit=org.wendeng, entered_on=dt.date(2025, 7, 10))
    repair = apply(entity, "abnormal", listing.pk, dt.date(2026, 3, 2))
    credit_repair_decide(repair, approve=True, reason="已补报年报", decided_on=dt.date(2026, 3, 4),
                         actor=wendeng_section_head)
    listing.refresh_from_db()
    assert listing.removed_on == dt.date(2026, 3, 4) and listing.repaired
    assert record_section(entity)["context"]["abnormal"] == []


def test_a_refused_repair_changes_nothing_and_needs_a_reason(org, wendeng_section_head):
    entity = create_entity()
    listing = create_abnormal(entity, unit=org.wendeng, entered_on=dt.date(2025, 7, 10))
    repair = apply(entity, "abnormal", listing.pk, dt.date(2026, 3, 2))
    with pytest.raises(CreditError, match="请填写审核意见。"):
        credit_repair_decide(repair, approve=False, reason="", decided_on=dt.date(2026, 3, 4),
                             actor=wendeng_section_head)
    credit_repair_decide(repair, approve=False, reason="年报仍未补报", decided_on=dt.date(2026, 3, 4),
                         actor=wendeng_section_head)
    listing.refresh_from_db()
    assert listing.removed_on is None and CreditRepair.objects.get().status == "rejected"


def test_another_countys_section_head_cannot_decide(org, rongcheng_section_head):
    entity = create_entity()
    listing = create_abnormal(entity, unit=org.wendeng, entered_on=dt.date(2025, 7, 10))
    repair = apply(entity, "abnormal", listing.pk, dt.date(2026, 3, 2))
    with pytest.raises(CreditError, match="不在您的管辖范围内"):
        credit_repair_decide(repair, approve=True, reason="同意", decided_on=dt.date(2026, 3, 4),
                             actor=rongcheng_section_head)
    assert CreditRepair.objects.get().status == "pending"
