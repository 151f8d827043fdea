"""Inspector assignment, results with their consequences, publication, notices, evidence, credit feature."""

import datetime as dt

import pytest

from tests.inspections.conftest import TODAY, make_plan


def _drawn(org, staff, **kw):
    from jianguan.inspections import draws

    plan = draws.plan_freeze(make_plan(org, staff, **kw), actor=staff.handler, today=TODAY)
    draws.plan_randomness_enter(plan, "7", actor=staff.handler)
    plan = draws.plan_randomness_enter(plan, "7", actor=staff.head)
    return draws.plan_draw(plan, actor=staff.handler)


def _assigned(org, staff, **kw):
    from jianguan.inspections import assignment

    plan = _drawn(org, staff, **kw)
    result = assignment.plan_assign(plan, actor=staff.handler, today=TODAY)
    assert not result.failures, result.failures
    return plan


def test_teams_have_two_inspectors_and_one_from_each_department_of_a_joint_visit(org, staff, food_world):
    from jianguan.inspections.models import Visit

    tasks = [{"name": "食品", "items": ("SCJG-SP-01",), "department": "samr", "ratios": {"B": "0.2"}},
             {"name": "税务", "items": ("SW-01",), "department": "tax", "ratios": {"B": "1"}}]
    plan = _assigned(org, staff, tasks=tasks)
    for visit in Visit.objects.filter(plan=plan).prefetch_related("team__inspector__department", "items__item"):
        team = [m.inspector for m in visit.team.all()]
        assert len(team) >= 2 and visit.status == "assigned"
        needed = {vi.item.department.code for vi in visit.items.all()}
        assert needed <= {i.department.code for i in team}


def test_too_few_eligible_inspectors_assigns_nothing_and_names_the_visit_and_constraint(org, staff, food_world):
    from jianguan.inspections import assignment
    from jianguan.inspections.models import Inspector, Visit, VisitInspector

    Inspector.objects.filter(department__code="tax").update(status="leave")
    tasks = [{"name": "食品", "items": ("SCJG-SP-01",), "department": "samr", "ratios": {"B": "0.2"}},
             {"name": "税务", "items": ("SW-01",), "department": "tax", "ratios": {"B": "0.1"}}]
    plan = _drawn(org, staff, tasks=tasks)
    result = assignment.plan_assign(plan, actor=staff.handler, today=TODAY)
    assert result.failures and not result.teams
    assert VisitInspector.objects.count() == 0
    assert set(Visit.objects.filter(plan=plan).values_list("status", flat=True)) == {"unassigned"}
    plan.refresh_from_db()
    first = plan.assignment_error["failures"][0]
    assert first["constraint"] == "inactive" and first["visit"].startswith("2026-")
    failed = Visit.objects.select_related("entity").get(number=first["visit"])
    assert (first["entity"], first["uscc"], first["label"]) == (failed.entity.name, failed.entity.uscc, "非在岗")
    assert [f["visit"] for f in plan.assignment_error["failures"]] == [f.task_id for f in result.failures]
    assert "没有符合条件的 tax 检查人员" in first["message"] and "非在岗 3 人" in first["message"]
    # once the register is fixed, assignment can run again
    Inspector.objects.filter(department__code="tax").update(status="active")
    assert not assignment.plan_assign(plan, actor=staff.handler, today=TODAY).failures
    plan.refresh_from_db()
    assert plan.assignment_error == {}


def test_recusal_keeps_a_conflicted_inspector_off_the_visit_and_is_logged(org, staff, food_world):
    from jianguan.inspections import services
    from jianguan.inspections.models import AssignmentRejection, Inspector, VisitInspector

    target = food_world["food"]
    for inspector in Inspector.objects.filter(department__code="samr"):
        for e in target[:10]:
            if inspector.pk % 2:
                services.inspector_conflict_declare(inspector, e, "亲属在该企业任职", declared_on=TODAY,
                                                    actor=staff.head)
    plan = _assigned(org, staff, ratios={"B": "0.5"})
    conflicted = {(i, e) for i, e in Inspector.objects.filter(conflicts__isnull=False)
                  .values_list("pk", "conflicts__entity_id")}
    for vi in VisitInspector.objects.filter(visit__plan=plan).select_related("visit"):
        assert (vi.inspector_id, vi.visit.entity_id) not in conflicted
    assert AssignmentRejection.objects.filter(plan=plan, constraint="recusal").exists()


def _record(visit, staff, codes, day=dt.date(2026, 4, 10)):
    from jianguan.inspections import services

    results = {vi.pk: (code, "说明") for vi, code in zip(visit.items.order_by("pk"), codes, strict=False)}
    return services.visit_record_results(visit, results=results, visit_date=day, actor=staff.handler)


def test_results_set_the_publication_due_date_twenty_working_days_after_the_end(org, staff, food_world, calendar):
    plan = _assigned(org, staff)
    visit = plan.visits.first()
    _record(visit, staff, ["no_problem"], day=dt.date(2026, 9, 25))
    visit.refresh_from_db()
    assert visit.status == "completed"
    assert visit.due_date == calendar.add_working_days(dt.date(2026, 9, 25), 20) == dt.date(2026, 10, 29)
    plan.refresh_from_db()
    assert plan.status == "in_progress"


def test_missing_or_invalid_results_are_refused_with_nothing_saved(org, staff, food_world):
    from jianguan.inspections import services

    plan = _assigned(org, staff)
    visit = plan.visits.first()
    with pytest.raises(services.InspectionError, match="以下事项尚未填写检查结果：SCJG-SP-01"):
        services.visit_record_results(visit, results={}, visit_date=TODAY, actor=staff.handler)
    vi = visit.items.get()
    with pytest.raises(services.InspectionError, match="检查结果代码无效：bogus"):
        services.visit_record_results(visit, results={vi.pk: ("bogus", "")}, visit_date=TODAY, actor=staff.handler)
    with pytest.raises(services.InspectionError, match="检查结束日期不能早于检查日期"):
        services.visit_record_results(visit, results={vi.pk: ("no_problem", "")}, visit_date=TODAY,
                                      end_date=TODAY - dt.timedelta(days=1), actor=staff.handler)
    visit.refresh_from_db()
    assert visit.status == "assigned" and visit.items.get().result_code == ""


def test_a_problem_to_follow_up_creates_an_enforcement_lead_once(org, staff, food_world):
    from jianguan.enforcement.models import Lead

    plan = _assigned(org, staff)
    visit = plan.visits.first()
    _record(visit, staff, ["follow_up"])
    _record(visit, staff, ["follow_up"])  # corrected entry: still one lead
    lead = Lead.objects.get()
    assert (lead.source, lead.entity, lead.unit) == ("inspection", visit.entity, org.wendeng)
    assert "发现问题待后续处理" in lead.summary


def test_unreachable_at_the_registered_address_proposes_the_entity_for_the_abnormal_list(org, staff, food_world):
    plan = _assigned(org, staff)
    visit = plan.visits.first()
    _record(visit, staff, ["unreachable"])
    from jianguan.credit.models import AbnormalCandidate

    candidate = AbnormalCandidate.objects.get()
    assert candidate.entity == visit.entity and candidate.batch.ground == "unreachable"


def test_publication_queue_marks_warnings_and_overdue_and_publishing_shows_on_the_public_record(
        org, staff, food_world, client, calendar):
    from jianguan.inspections import selectors, services

    plan = _assigned(org, staff, ratios={"B": "0.15"})
    v1, v2, v3 = plan.visits.order_by("number")[:3]
    _record(v1, staff, ["no_problem"], day=dt.date(2026, 3, 2))
    _record(v2, staff, ["corrected"], day=dt.date(2026, 3, 20))
    _record(v3, staff, ["no_problem"], day=dt.date(2026, 4, 20))
    today = dt.date(2026, 4, 14)
    due2 = calendar.add_working_days(dt.date(2026, 3, 20), 20)
    assert due2 == dt.date(2026, 4, 20)  # Qingming (6 April) is a day off
    rows = {r.visit.pk: r for r in selectors.publication_queue(staff.head, today=today)}
    assert rows[v1.pk].state == "overdue"
    assert rows[v2.pk].state == "warning"
    assert rows[v2.pk].working_days_left == calendar.working_days_between(today, due2) <= 5
    assert rows[v3.pk].state == "ok"
    services.visit_publish(v2, actor=staff.head)
    with pytest.raises(services.InspectionError, match="只有已录入结果的检查可以公示"):
        services.visit_publish(v2, actor=staff.head)
    page = client.get(f"/enterprises/{v2.entity.uscc}/")  # the registry's public record page
    assert page.status_code == 200 and "发现问题经责令已改正" in page.content.decode()
    assert "双随机抽查检查结果" not in client.get(f"/enterprises/{v1.entity.uscc}/").content.decode()
    from jianguan.inspections.public import record_section

    section = record_section(v2.entity)
    assert section["context"]["results"][0]["items"][0]["result"] == "发现问题经责令已改正"
    assert record_section(v1.entity) is None  # not yet published


def test_plan_moves_to_completed_and_published_as_visits_are(org, staff, food_world):
    from jianguan.inspections import services

    plan = _assigned(org, staff, ratios={"B": "0.1"})
    visits = list(plan.visits.all())
    for v in visits:
        _record(v, staff, ["no_problem"])
    plan.refresh_from_db()
    assert plan.status == "completed"
    for v in visits:
        v.refresh_from_db()
        services.visit_publish(v, actor=staff.head)
    plan.refresh_from_db()
    assert plan.status == "published"


def test_credit_feature_counts_visits_with_problems_in_the_last_three_years(org, staff, food_world):
    from jianguan.inspections.credit import features

    plan = _assigned(org, staff, ratios={"B": "0.15"})
    v1, v2, v3 = plan.visits.order_by("number")[:3]
    _record(v1, staff, ["follow_up"], day=dt.date(2026, 4, 1))
    _record(v2, staff, ["no_problem"], day=dt.date(2026, 4, 1))
    _record(v3, staff, ["corrected"], day=dt.date(2026, 5, 1))
    frame = features(dt.date(2026, 4, 30))
    assert frame.columns == ["entity_id", "inspections_with_problems_3y"]
    assert dict(zip(frame["entity_id"], frame["inspections_with_problems_3y"], strict=True)) == {v1.entity_id: 1}
    later = features(dt.date(2029, 4, 2))  # v1 (2026-04-01) is now more than 3 years old, v3 is not
    assert later["entity_id"].to_list() == [v3.entity_id]
    assert features(dt.date(2029, 5, 2)).height == 0


def test_targeting_report_uses_the_a_slice_as_baseline(org, staff, food_world):
    from jianguan.inspections import assignment, draws
    from jianguan.inspections.selectors import targeting_report

    food = food_world["food"]
    classes = {e.pk: "A" for e in food[:8]} | {e.pk: "D" for e in food[8:12]}
    plan = make_plan(org, staff, ratios={"B": "0", "D": "1"}, a_slice="0.5")
    plan = draws.plan_freeze(plan, actor=staff.handler, today=TODAY, classes=classes)
    draws.plan_randomness_enter(plan, "1", actor=staff.handler)
    draws.plan_randomness_enter(plan, "1", actor=staff.head)
    plan = draws.plan_draw(plan, actor=staff.handler)
    assignment.plan_assign(plan, actor=staff.handler, today=TODAY)
    for v in plan.visits.prefetch_related("items"):
        vi = v.items.get()
        _record(v, staff, ["follow_up" if vi.risk_class == "D" or v.entity_id == food[0].id else "no_problem"])
    report = targeting_report(plan)
    rows = {r["key"]: r for r in report["rows"]}
    assert rows["D"]["share"] == 1.0 and rows["D"]["inspected"] == 4
    assert rows["A-slice"]["inspected"] == 4
    assert report["baseline"] == rows["A-slice"]["share"]


def test_notices_render_as_docx_and_pdf(org, staff, food_world):
    import io

    from docx import Document

    from jianguan.inspections.notices import notice_docx, notice_pdf

    visit = _assigned(org, staff).visits.first()
    doc = Document(io.BytesIO(notice_docx(visit)))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "检查通知书" in text and visit.entity.name in text and visit.number in text
    assert notice_pdf(visit).startswith(b"%PDF")


def test_evidence_accepts_photos_and_pdf_and_refuses_other_files(org, staff, food_world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jianguan.inspections import services

    visit = _assigned(org, staff).visits.first()
    ev = services.evidence_add(visit, SimpleUploadedFile("现场.jpg", b"\xff\xd8\xff\xe0" + b"0" * 100),
                               actor=staff.handler)
    assert ev.content_type == "image/jpeg" and ev.size == 104
    with pytest.raises(services.InspectionError, match="只能上传 JPG、PNG 照片或 PDF 文件"):
        services.evidence_add(visit, SimpleUploadedFile("x.exe", b"MZ\x90\x00"), actor=staff.handler)
    big = SimpleUploadedFile("big.pdf", b"%PDF" + b"0" * (10 * 1024 * 1024))
    with pytest.raises(services.InspectionError, match="文件不能超过 10 MB"):
        services.evidence_add(visit, big, actor=staff.handler)
    assert visit.evidence.count() == 1


def test_the_interval_rule_keeps_an_inspector_off_an_entity_they_inspected_recently(org, staff, food_world):
    from jianguan.inspections import assignment
    from jianguan.inspections.models import Inspector

    plan = _assigned(org, staff, ratios={"B": "0.1"})
    v = plan.visits.first()
    _record(v, staff, ["no_problem"], day=dt.date(2026, 3, 5))
    previous = set(v.team.values_list("inspector_id", flat=True))
    # only the previous team is left on the register: every other entity can be staffed, this one cannot
    Inspector.objects.filter(department__code="samr").exclude(pk__in=previous).update(status="retired")
    tasks = [{"name": "公示", "items": ("SCJG-DJ-02",), "department": "samr", "ratios": {"B": "1"}}]
    plan2 = _drawn(org, staff, tasks=tasks)
    result = assignment.plan_assign(plan2, actor=staff.handler, today=TODAY)
    again = plan2.visits.get(entity=v.entity)
    assert [(f.task_id, f.constraint) for f in result.failures] == [(again.number, "interval")]
    assert "检查间隔未满 2 人" in result.failures[0].message
