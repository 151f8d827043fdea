"""经营异常名录 and 严重违法失信名单: entry and removal with reasons, jurisdiction, candidates, the sweep."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from jianguan.core.models import AuditEntry
from jianguan.credit.models import (
    AbnormalCandidate,
    AbnormalCandidateBatch,
    AbnormalListing,
    SeriousCandidate,
    SeriousListing,
)
from jianguan.credit.services import (
    CreditError,
    abnormal_batch_decide,
    abnormal_candidate_add,
    abnormal_candidates_generate,
    abnormal_listing_enter,
    abnormal_listing_remove,
    lists_sweep,
    serious_listing_enter,
    serious_listing_remove,
)
from tests.credit.factories import create_abnormal, create_penalty, create_serious
from tests.registry.factories import create_annual_report, create_entity

pytestmark = pytest.mark.django_db


def enter(entity, actor, **kw):
    args = {"ground": "unreachable", "decision_number": "文市监异〔2026〕8号", "entered_on": dt.date(2026, 11, 2),
            "reason": "2026年双随机抽查，通过登记的住所无法联系"}
    args.update(kw)
    return abnormal_listing_enter(entity, actor=actor, **args)


def test_a_handler_lists_an_entity_in_their_county_with_decision_number_and_reason(org, wendeng_handler):
    entity = create_entity()
    listing = enter(entity, wendeng_handler)
    assert (listing.ground, listing.unit, listing.removed_on) == ("unreachable", org.wendeng, None)
    entry = AuditEntry.objects.get(action="credit.abnormal_enter")
    assert entry.reason == "2026年双随机抽查，通过登记的住所无法联系"


@pytest.mark.parametrize(("q", "found"), [
    pytest.param("华联超市", ["文登区华联超市"], id="a name substring"),
    pytest.param("联超", ["文登区华联超市"], id="two characters"),
    pytest.param("超", ["文登区华联超市", "文登区联华超市"], id="one character"),
    pytest.param("华联华", [], id="every bigram in some name, the query in none"),
    pytest.param("USCC", ["文登区联华超市"], id="a whole USCC"),
])
def test_the_abnormal_list_is_searched_by_name_or_uscc(org, wendeng_handler, q, found):
    from jianguan.credit.selectors import abnormal_list

    first, second = create_entity(name="文登区华联超市"), create_entity(name="文登区联华超市")
    for entity in (first, second):
        enter(entity, wendeng_handler)
    q = second.uscc if q == "USCC" else q
    assert sorted(x.entity.name for x in abnormal_list(wendeng_handler, q=q)) == found


@pytest.mark.parametrize("reason", ["", "   "])
def test_listing_without_a_reason_is_refused_and_nothing_is_written(org, wendeng_handler, reason):
    with pytest.raises(CreditError, match="请填写列入理由。"):
        enter(create_entity(), wendeng_handler, reason=reason)
    assert not AbnormalListing.objects.exists() and not AuditEntry.objects.filter(action__startswith="credit.").exists()


def test_listing_an_entity_of_another_county_is_refused_and_nothing_is_written(org, rongcheng_section_head):
    entity = create_entity(name="文登的店", division="371003")
    with pytest.raises(CreditError, match="市场主体“文登的店”（371003）不在您的管辖范围内，不能办理。"):
        enter(entity, rongcheng_section_head)
    assert not AbnormalListing.objects.exists() and not AuditEntry.objects.filter(action__startswith="credit.").exists()


def test_an_entity_cannot_be_listed_twice_on_the_same_ground(org, wendeng_handler):
    entity = create_entity(name="重复商行")
    enter(entity, wendeng_handler)
    with pytest.raises(CreditError,
                       match="“重复商行”已因“通过登记的住所或者经营场所无法联系”列入经营异常名录，尚未移出。"):
        enter(entity, wendeng_handler, decision_number="X2")


def test_removal_needs_a_reason_and_keeps_the_entry_in_the_history(org, wendeng_handler):
    listing = enter(create_entity(), wendeng_handler)
    with pytest.raises(CreditError, match="请填写移出原因。"):
        abnormal_listing_remove(listing, removed_on=dt.date(2026, 11, 9), reason="", decision_number="Y1",
                                actor=wendeng_handler)
    abnormal_listing_remove(listing, removed_on=dt.date(2026, 11, 9), reason="已在住所恢复联系",
                            decision_number="文市监移〔2026〕3号", actor=wendeng_handler)
    listing.refresh_from_db()
    assert listing.removed_on == dt.date(2026, 11, 9) and AbnormalListing.objects.count() == 1


def test_removal_by_another_countys_staff_is_refused(org, wendeng_handler, rongcheng_section_head):
    listing = enter(create_entity(), wendeng_handler)
    with pytest.raises(CreditError, match="不在您的管辖范围内"):
        abnormal_listing_remove(listing, removed_on=dt.date(2026, 11, 9), reason="已恢复联系", decision_number="Y",
                                actor=rongcheng_section_head)
    listing.refresh_from_db()
    assert listing.removed_on is None


def test_candidates_cannot_be_generated_before_the_30_june_deadline_has_passed(org):
    with pytest.raises(CreditError,
                       match="2025 年度报告的报送截止日为 2026-06-30，2026-06-30 尚未届满，不能生成候选。"):
        abnormal_candidates_generate(2025, as_of=dt.date(2026, 6, 30), actor=None)
    assert not AbnormalCandidateBatch.objects.exists()


def test_on_1_july_entities_without_a_report_become_candidates_in_one_batch_per_county(org):
    filed = create_entity(name="已年报")
    create_annual_report(filed, 2025)
    missing_wendeng = create_entity(name="文登未年报")
    missing_rongcheng = create_entity(name="荣成未年报", division="371082")
    create_entity(name="2026年新设", established_on=dt.date(2026, 2, 1))
    create_entity(name="已注销", status="cancelled")
    batches = abnormal_candidates_generate(2025, as_of=dt.date(2026, 7, 1), actor=None)
    got = {b.division_id: [c.entity.name for c in b.candidates.all()] for b in batches}
    assert got == {"371003": ["文登未年报"], "371082": ["荣成未年报"]}
    assert missing_wendeng and missing_rongcheng
    # Running again does not propose the same entities twice.
    abnormal_candidates_generate(2025, as_of=dt.date(2026, 7, 2), actor=None)
    assert AbnormalCandidate.objects.count() == 2


def test_a_section_head_approves_a_batch_and_every_candidate_is_listed(org, wendeng_section_head):
    create_entity(name="甲")
    create_entity(name="乙")
    [batch] = abnormal_candidates_generate(2025, as_of=dt.date(2026, 7, 1), actor=None)
    n = abnormal_batch_decide(batch, approve=True, decision_number="文市监异公告〔2026〕1号",
                              decided_on=dt.date(2026, 7, 8), reason="经核查属实", actor=wendeng_section_head)
    assert n == 2
    assert set(AbnormalListing.objects.values_list("ground", "decision_number", "entered_on")) == {
        ("annual_report", "文市监异公告〔2026〕1号", dt.date(2026, 7, 8))}
    assert AbnormalCandidate.objects.filter(listing__isnull=True).count() == 0
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.decided_by == wendeng_section_head


def test_a_handler_cannot_approve_a_batch(org, wendeng_handler):
    create_entity()
    [batch] = abnormal_candidates_generate(2025, as_of=dt.date(2026, 7, 1), actor=None)
    with pytest.raises(CreditError, match="只有科室负责人可以审批候选批次。"):
        abnormal_batch_decide(batch, approve=True, decision_number="X", decided_on=dt.date(2026, 7, 8),
                              reason="同意", actor=wendeng_handler)
    assert not AbnormalListing.objects.exists()


def test_another_countys_section_head_cannot_approve_the_batch(org, rongcheng_section_head):
    create_entity()
    [batch] = abnormal_candidates_generate(2025, as_of=dt.date(2026, 7, 1), actor=None)
    with pytest.raises(CreditError, match="该批次（区划 371003）不在您的管辖范围内，不能审批。"):
        abnormal_batch_decide(batch, approve=True, decision_number="X", decided_on=dt.date(2026, 7, 8),
                              reason="同意", actor=rongcheng_section_head)


def test_a_rejected_batch_lists_nobody_and_cannot_be_decided_again(org, wendeng_section_head):
    create_entity()
    [batch] = abnormal_candidates_generate(2025, as_of=dt.date(2026, 7, 1), actor=None)
    abnormal_batch_decide(batch, approve=False, decision_number="", decided_on=dt.date(2026, 7, 8),
                          reason="年报系统故障，数据待核", actor=wendeng_section_head)
    assert not AbnormalListing.objects.exists()
    with pytest.raises(CreditError, match="该批次已驳回，不能重复审批。"):
        abnormal_batch_decide(batch, approve=True, decision_number="X", decided_on=dt.date(2026, 7, 9),
                              reason="同意", actor=wendeng_section_head)


def test_an_inspection_proposes_an_unreachable_entity_into_the_countys_pending_batch(org):
    entity = create_entity()
    first = abnormal_candidate_add(entity, "unreachable", "抽查任务 2026-17 结果：无法联系", None,
                                   today=dt.date(2026, 9, 3))
    again = abnormal_candidate_add(entity, "unreachable", "抽查任务 2026-18", None, today=dt.date(2026, 9, 4))
    assert first is not None and again is None
    assert first.batch.ground == "unreachable" and first.batch.division_id == "371003"


def test_the_sweep_warns_60_days_before_three_years_on_the_abnormal_list_then_marks_it_due(org):
    listing = create_abnormal(create_entity(), unit=org.wendeng, entered_on=dt.date(2023, 12, 1))
    assert lists_sweep(as_of=dt.date(2026, 10, 1), actor=None)["serious_candidates_warning"] == 0  # 61 days before
    assert lists_sweep(as_of=dt.date(2026, 10, 2), actor=None)["serious_candidates_warning"] == 1  # 60 days before
    candidate = SeriousCandidate.objects.get(abnormal_listing=listing)
    assert (candidate.status, candidate.due_on) == ("warning", dt.date(2026, 12, 1))
    assert lists_sweep(as_of=dt.date(2026, 12, 1), actor=None)["serious_candidates_due"] == 1
    candidate.refresh_from_db()
    assert candidate.status == "due"


def test_the_sweep_removes_a_serious_listing_after_three_years(org):
    listing = create_serious(create_entity(), unit=org.wendeng, entered_on=dt.date(2023, 11, 20))
    assert lists_sweep(as_of=dt.date(2026, 11, 19), actor=None)["serious_auto_removed"] == 0
    assert lists_sweep(as_of=dt.date(2026, 11, 20), actor=None)["serious_auto_removed"] == 1
    listing.refresh_from_db()
    assert listing.removed_on == dt.date(2026, 11, 20) and "届满三年" in listing.removal_reason


def test_the_serious_list_follows_a_heavy_penalty_only(org, wendeng_section_head):
    entity = create_entity()
    general = create_penalty(entity, unit=org.wendeng, severity="general")
    with pytest.raises(CreditError, match="列入严重违法失信名单须依据较重（从重）情节的行政处罚。"):
        serious_listing_enter(entity, decision_number="S1", entered_on=dt.date(2026, 4, 1), reason="较重违法",
                              actor=wendeng_section_head, penalty=general)
    heavy = create_penalty(entity, unit=org.wendeng, severity="heavy")
    listing = serious_listing_enter(entity, decision_number="S1", entered_on=dt.date(2026, 4, 1), reason="较重违法",
                                    actor=wendeng_section_head, penalty=heavy)
    assert (listing.earliest_removal_on, listing.auto_removal_on) == (dt.date(2027, 4, 1), dt.date(2029, 4, 1))


def test_early_removal_from_the_serious_list_is_refused_before_one_year(org, wendeng_section_head):
    listing = create_serious(create_entity(), unit=org.wendeng, entered_on=dt.date(2026, 2, 10))
    with pytest.raises(CreditError, match="列入未满一年，2027-02-10 起方可提前移出。"):
        serious_listing_remove(listing, removed_on=dt.date(2027, 2, 9), reason="已整改", actor=wendeng_section_head)
    serious_listing_remove(listing, removed_on=dt.date(2027, 2, 10), reason="已整改", actor=wendeng_section_head)
    assert SeriousListing.objects.get().removed_on == dt.date(2027, 2, 10)


def test_the_candidates_command_reports_the_batches(org, capsys):
    create_entity()
    call_command("credit", "abnormal-candidates", "--year", "2025", "--as-of", "2026-07-01")
    assert "2025 年度年报未报：生成 1 个候选批次，共 1 户" in capsys.readouterr().out


def test_the_candidates_command_before_the_deadline_exits_2(org, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("credit", "abnormal-candidates", "--year", "2025", "--as-of", "2026-06-01")
    assert exit_.value.code == 2 and "尚未届满" in capsys.readouterr().err
