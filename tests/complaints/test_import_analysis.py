"""12345 import (all or nothing, row report), analysis tables, hot words, clusters, credit features."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from jianguan.complaints import analysis, credit
from jianguan.complaints import services as svc
from jianguan.complaints.imports import hotline_import
from jianguan.complaints.models import Case
from tests.complaints.conftest import at, create_entity, intake_data

pytestmark = pytest.mark.django_db
HEADER = ["工单编号", "来电时间", "诉求类型", "来电人", "联系电话", "联系地址", "被反映对象", "对象地址",
          "统一社会信用代码", "诉求内容", "具体诉求"]


def xlsx(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    return buf


def good_row(ref="12345-001", **kw):
    row = [ref, "2026-09-30 10:00:00", "投诉", "张伟", "13712345678", "文登区龙山路1号", "某药店", "文登区米山路8号",
           "", "药店销售过期药品", "退款"]
    for k, v in kw.items():
        row[HEADER.index(k)] = v
    return row


def test_a_clean_file_is_imported_with_a_row_report(staff, now):
    report = hotline_import(xlsx([good_row(), good_row("12345-002", 诉求类型="举报")]), actor=staff.clerk, now=now)
    assert (report.error_count, report.created) == (0, 2)
    assert sorted(Case.objects.values_list("kind", flat=True)) == ["complaint", "report"]
    assert all(r.tracking_number for r in report.rows)


def test_one_bad_row_stops_the_whole_import_and_is_named(staff, now):
    rows = [good_row(), good_row("12345-002", 联系电话="555"), good_row("12345-003", 来电时间="昨天")]
    report = hotline_import(xlsx(rows), actor=staff.clerk, now=now)
    assert report.created == 0 and Case.objects.count() == 0
    errors = {r.number: r.errors for r in report.rows if r.errors}
    assert "电话号码格式不正确" in errors[3]["联系电话"] and "来电时间格式不正确" in errors[4]["来电时间"]


def test_a_ticket_imported_twice_is_refused(staff, now):
    hotline_import(xlsx([good_row()]), actor=staff.clerk, now=now)
    report = hotline_import(xlsx([good_row()]), actor=staff.clerk, now=now)
    assert report.created == 0 and "已导入过" in report.rows[0].errors["工单编号"]


def test_a_file_without_the_required_columns_is_refused(staff, now):
    wb = Workbook()
    wb.active.append(["编号", "内容"])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    report = hotline_import(buf, actor=staff.clerk, now=now)
    assert "缺少列" in report.header_error and report.created == 0


def test_hot_words_use_the_domain_dictionary():
    words = dict(analysis.hot_words(["商家拒绝七日无理由退货", "七日无理由退货被拒", "预付卡跑路"]))
    assert words["七日无理由退货"] == 2 and "预付卡" in words


def test_similar_complaints_against_the_same_respondent_are_clustered(staff, now):
    entity = create_entity()
    facts_list = ["超市销售的牛奶已经过期变质", "超市销售牛奶过期变质了", "超市的牛奶过期变质", "停车场收费太贵"]
    for i, facts in enumerate(facts_list):
        svc.case_register(intake_data(respondent_uscc=entity.uscc, facts=facts, complainant_phone=f"1381234560{i}",
                                      complainant_name=f"人{i}", complainant_address=f"地址{i}"),
                          actor=staff.clerk, now=now)
    clusters = analysis.similar_clusters(Case.objects.all(), threshold=0.3)
    assert clusters and clusters[0]["size"] == 3


def test_on_time_rates_follow_the_definition(staff, org, now):
    entity = create_entity()
    for day, closed in (("2026-09-30", dt.date(2026, 10, 9)), ("2026-09-30", dt.date(2026, 10, 20)),
                        ("2026-10-09", None)):
        [c] = svc.case_register(intake_data(respondent_uscc=entity.uscc, received_at=at(f"{day}T10:00:00+08:00"),
                                            complainant_phone=f"139{day[-2:]}{closed.day if closed else 0:06d}"),
                                actor=staff.clerk, now=now)
        c = svc.case_assign(c, org.wendeng, actor=staff.clerk)
        if closed:
            svc.complaint_reject(c, actor=staff.wendeng_handler, ground="16-1", on=closed)
    table = analysis.on_time_rates(staff.wendeng_handler, dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    complaint_row = table.rows[0]
    # due in October: 10-15, 10-15, 10-19 (all three); closed by the deadline: one (10-09 <= 10-15)
    assert complaint_row[1:4] == [3, 1, 33.3]


def test_credit_features_count_accepted_complaints_and_opened_reports(staff, org, now):
    entity = create_entity()
    [c] = svc.case_register(intake_data(respondent_uscc=entity.uscc), actor=staff.clerk, now=now)
    c = svc.case_assign(c, org.wendeng, actor=staff.clerk)
    c = svc.complaint_accept(c, actor=staff.wendeng_handler, on=dt.date(2026, 10, 9))
    svc.complaint_agreement(c, actor=staff.wendeng_handler, amount=Decimal(10), on=dt.date(2026, 10, 12))
    [r] = svc.case_register(intake_data(kind="report", respondent_uscc=entity.uscc), actor=staff.clerk, now=now)
    svc.case_register(intake_data(kind="report", respondent_uscc=entity.uscc), actor=staff.clerk, now=now)
    r = svc.case_assign(r, org.wendeng, actor=staff.clerk)
    svc.report_decide(r, actor=staff.wendeng_handler, open_case=True, reason="立案", on=dt.date(2026, 10, 20))
    df = credit.features(dt.date(2026, 11, 20))
    assert df.to_dicts() == [{"entity_id": entity.pk, "verified_complaints_12m": 1, "verified_reports_12m": 1}]
    assert credit.features(dt.date(2027, 11, 20)).height == 0
