"""消费投诉信息公示 on the public record: counts and amounts of the last 12 months, never a report or personal data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jianguan.complaints import respondent
from jianguan.complaints import services as svc
from jianguan.complaints.public_record import complaints_public
from jianguan.complaints.rules import get_ruleset
from tests.complaints.conftest import create_entity, intake_data

pytestmark = pytest.mark.django_db

PERSONAL = ["李丽华", "13812345678", "天福路", "赵举报", "13900001111", "米山路", "张志强", "13700002222", "海滨路"]


@pytest.fixture
def history(org, staff):
    """Against one ODR entity: an agreement (¥300), a termination, one in mediation, one ODR settlement (¥50),
    and a report with its reporter."""
    entity = create_entity(odr=True, name="威海公示测试商贸有限公司")
    today = timezone.localdate()
    recent = timezone.now() - dt.timedelta(days=40)

    def complaint(received, name="李丽华", phone="13812345678", address="威海市文登区天福路1号"):
        [c] = svc.case_register(intake_data(respondent_uscc=entity.uscc, received_at=received, complainant_name=name,
                                            complainant_phone=phone, complainant_address=address,
                                            facts="在该店购买的牛奶已过期，与商家协商未果。"), actor=staff.clerk)
        return svc.case_assign(c, org.wendeng, actor=staff.clerk, handler=staff.wendeng_handler)

    h = staff.wendeng_handler
    a = svc.complaint_accept(complaint(recent), actor=h, on=recent.date() + dt.timedelta(days=1))
    svc.complaint_agreement(a, actor=h, amount=Decimal("300.00"), on=recent.date() + dt.timedelta(days=5))
    t = svc.complaint_accept(complaint(recent, "张志强", "13700002222", "威海市文登区海滨路9号"), actor=h,
                             on=recent.date() + dt.timedelta(days=1))
    svc.complaint_terminate(t, actor=h, ground=get_ruleset(t.rule_code).termination_grounds[2].code,
                            on=recent.date() + dt.timedelta(days=6))
    svc.complaint_accept(complaint(recent), actor=h, on=recent.date() + dt.timedelta(days=2))
    just_now = timezone.now() - dt.timedelta(hours=3)
    [o] = svc.case_register(intake_data(respondent_uscc=entity.uscc, received_at=just_now), actor=staff.clerk)
    o = svc.case_assign(o, org.wendeng, actor=staff.clerk, handler=h)
    code, _plain = respondent.odr_code_issue(entity, actor=h)
    respondent.odr_respondent_outcome(code, o.tracking_number, settled=True, amount=Decimal("50"))
    [r] = svc.case_register(intake_data(kind="report", respondent_uscc=entity.uscc, received_at=recent,
                                        complainant_name="赵举报", complainant_phone="13900001111",
                                        complainant_address="威海市文登区米山路2号",
                                        facts="举报该店销售过期食品，举报人要求保密。"), actor=staff.clerk)
    svc.case_assign(r, org.wendeng, actor=staff.clerk)
    return entity, today


def test_the_figures_count_accepted_complaints_agreements_odr_settlements_and_amounts(history):
    entity, today = history
    f = complaints_public(entity.pk, today=today)
    assert (f["accepted"], f["agreement"], f["terminated"], f["mediating"], f["odr_settled"]) == (3, 1, 1, 1, 1)
    assert f["recovered"] == Decimal("350.00")
    assert f["by_category"] and sum(n for _label, n in f["by_category"]) == 3
    # a year later, all of it has left the window
    later = complaints_public(entity.pk, today=today + dt.timedelta(days=400))
    assert (later["accepted"], later["odr_settled"], later["recovered"]) == (0, 0, Decimal(0))


def test_the_public_record_shows_the_section_without_reports_or_personal_data(history, client):
    entity, _today = history
    body = client.get(f"/enterprises/{entity.uscc}/").content.decode()
    assert 'data-testid="public-section-complaints"' in body and "消费投诉信息公示" in body
    assert "350.00" in body
    for text in [*PERSONAL, "举报人要求保密", "过期食品", "牛奶已过期"]:
        assert text not in body, text
    for prefix in ("T", "J"):  # no tracking number of any case either
        assert f'>{prefix}20' not in body


def test_an_entity_without_complaints_shows_zeroes(org, client):
    entity = create_entity()
    body = client.get(f"/enterprises/{entity.uscc}/").content.decode()
    assert 'data-testid="complaints-public"' in body
