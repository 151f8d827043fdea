"""Back-office and portal pages: scope (another county's record → 404), forms with Chinese errors, imports."""

import io
import json

import pytest

from tests.conftest import create_user
from tests.inspections.conftest import TODAY, make_plan


def _login(client, user):
    client.force_login(user)
    return client


def _drawn(org, staff):
    from jianguan.inspections import assignment, draws

    plan = draws.plan_freeze(make_plan(org, staff, ratios={"B": "0.1"}), actor=staff.handler, today=TODAY)
    draws.plan_randomness_enter(plan, "7", actor=staff.handler)
    plan = draws.plan_randomness_enter(plan, "7", actor=staff.head)
    plan = draws.plan_draw(plan, actor=staff.handler)
    assignment.plan_assign(plan, actor=staff.handler, today=TODAY)
    return plan


def test_plan_pages_render_for_the_owning_county_and_are_404_for_another(org, staff, food_world, client):
    plan = _drawn(org, staff)
    visit = plan.visits.first()
    _login(client, staff.head)
    for url in (f"/staff/inspections/plans/{plan.pk}/", f"/staff/inspections/plans/{plan.pk}/visits/",
                f"/staff/inspections/plans/{plan.pk}/rejections/", f"/staff/inspections/visits/{visit.pk}/",
                "/staff/inspections/", "/staff/inspections/publication/", "/staff/inspections/items/",
                "/staff/inspections/inspectors/"):
        assert client.get(url).status_code == 200, url
    assert plan.commitment in client.get(f"/staff/inspections/plans/{plan.pk}/").content.decode()
    _login(client, staff.rc_head)
    for url in (f"/staff/inspections/plans/{plan.pk}/", f"/staff/inspections/visits/{visit.pk}/",
                f"/staff/inspections/plans/{plan.pk}/export.zip", f"/staff/inspections/visits/{visit.pk}/notice.docx"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/staff/inspections/plans/{plan.pk}/action/assign/").status_code == 404


def test_the_staff_export_zip_holds_the_four_files_and_verifies(org, staff, food_world, client, tmp_path):
    import subprocess
    import sys
    import zipfile

    plan = _drawn(org, staff)
    response = _login(client, staff.head).get(f"/staff/inspections/plans/{plan.pk}/export.zip")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as zf:
        assert sorted(zf.namelist()) == sorted(f"draw-{plan.pk}/{n}" for n in (
            "candidates.csv", "manifest.json", "draw.json", "verify_draw.py"))
        zf.extractall(tmp_path)
    out = subprocess.run([sys.executable, str(tmp_path / f"draw-{plan.pk}" / "verify_draw.py"),
                          str(tmp_path / f"draw-{plan.pk}")], capture_output=True, text=True)
    assert (out.returncode, out.stdout.strip()) == (0, "MATCH")


def test_an_inspector_sees_only_their_own_visits_and_records_results_on_the_mobile_page(org, staff, food_world,
                                                                                         client):
    from jianguan.inspections.models import Inspector, Visit

    plan = _drawn(org, staff)
    visit, other = plan.visits.order_by("number")[:2]
    member = visit.team.first().inspector
    user = create_user(unit=org.wendeng, roles=(("inspector", "own"),), username="insp")
    Inspector.objects.filter(pk=member.pk).update(user=user)
    _login(client, user)
    assert visit.number in client.get("/staff/inspections/visits/mine/").content.decode()
    if not other.team.filter(inspector=member).exists():
        assert client.get(f"/staff/inspections/visits/{other.pk}/").status_code == 404
    url = f"/staff/inspections/visits/{visit.pk}/"
    vi = visit.items.get()
    bad = client.post(url, {"visit_date": "2026-04-02", f"result_{vi.pk}": ""})
    assert bad.status_code == 400 and "请选择该事项的检查结果" in bad.content.decode()
    bad = client.post(url, {"visit_date": "2026-04-02", "end_date": "2026-04-01", f"result_{vi.pk}": "no_problem"})
    assert "检查结束日期不能早于检查日期" in bad.content.decode()
    ok = client.post(url, {"visit_date": "2026-04-02", f"result_{vi.pk}": "no_problem", f"note_{vi.pk}": ""})
    assert ok.status_code == 302
    assert Visit.objects.get(pk=visit.pk).status == "completed"


def test_workflow_buttons_show_errors_in_chinese(org, staff, food_world, client):
    plan = make_plan(org, staff, approve=False)
    _login(client, staff.handler)
    resp = client.post(f"/staff/inspections/plans/{plan.pk}/action/freeze/")
    assert resp.status_code == 400 and "计划尚未批准，不能冻结和抽取" in resp.content.decode()
    assert client.post(f"/staff/inspections/plans/{plan.pk}/action/approve/").status_code == 404  # handler
    _login(client, staff.head)
    assert client.post(f"/staff/inspections/plans/{plan.pk}/action/approve/", {"reason": "同意"}).status_code == 302
    assert client.post(f"/staff/inspections/plans/{plan.pk}/action/freeze/").status_code == 302
    resp = client.post(f"/staff/inspections/plans/{plan.pk}/action/randomness/", {"value": ""})
    assert "请输入公开随机数" in resp.content.decode()


def test_task_form_refuses_a_ratio_out_of_range_next_to_the_field(org, staff, food_world, client):
    from jianguan.inspections.models import InspectionItem

    plan = make_plan(org, staff, approve=False)
    _login(client, staff.handler)
    item = InspectionItem.objects.get(code="SCJG-SP-01")
    resp = client.post(f"/staff/inspections/plans/{plan.pk}/tasks/", {
        "name": "x", "department": item.department_id, "items": [item.pk], "scope_divisions": "371003",
        "period_start": "2026-04-01", "period_end": "2026-05-01", "ratio_b": "1.2"})
    assert resp.status_code == 400 and "比例必须是 0 到 1 之间的小数" in resp.content.decode()
    assert plan.tasks.count() == 1


def _xlsx(rows):
    from openpyxl import Workbook

    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_item_import_is_all_or_nothing_with_a_row_report(org, staff, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jianguan.inspections.models import InspectionItem
    from jianguan.inspections.services import ITEM_COLUMNS, items_import_excel

    good = ["X-01", "测试事项", "samr", "一般", "登记注册", "依据", "甲；乙", '{"kinds": ["enterprise"]}',
            "0", "0.05", "0.1", "0.2", "365"]
    bad = ["X-02", "坏事项", "nosuch", "普通", "", "", "", "{}", "0", "2", "0.1", "0.2", "-1"]
    before = InspectionItem.objects.count()
    report = items_import_excel(_xlsx([ITEM_COLUMNS, good, bad]), actor=staff.head)
    assert not report.ok and InspectionItem.objects.count() == before
    row, msg = report.errors[0]
    assert row == 3
    for text in ("部门代码“nosuch”不存在", "事项类别应为“一般”或“重点”", "没有设置检查对象规则", "B类比例",
                 "最短间隔天数应为非负整数"):
        assert text in msg
    _login(client, staff.head)
    resp = client.post("/staff/inspections/items/", {"file": SimpleUploadedFile("i.xlsx", _xlsx([ITEM_COLUMNS, good]))})
    assert resp.status_code == 302
    item = InspectionItem.objects.get(code="X-01")
    assert item.check_points == ["甲", "乙"] and str(item.ratio_b) == "0.0500"
    exported = client.get("/staff/inspections/items/?format=xlsx")
    assert exported["Content-Type"].startswith("application/vnd.openxmlformats")
    assert items_import_excel(exported.content, actor=staff.head).ok  # round trip
    assert items_import_excel(b"not excel", actor=staff.head).errors[0][1].startswith("无法读取文件")


def test_inspector_import_checks_every_row(org, staff):
    from jianguan.inspections.models import Inspector
    from jianguan.inspections.services import INSPECTOR_COLUMNS, inspectors_import_excel

    rows = [INSPECTOR_COLUMNS, ["王敏", "samr", "371003-samr", "A001", "食品安全、登记注册", "在岗", ""],
            ["李强", "tax", "371003-tax", "A001", "税务稽查", "出差", "nobody"]]
    report = inspectors_import_excel(_xlsx(rows), actor=staff.head)
    assert not report.ok and Inspector.objects.count() == 0
    msg = report.errors[0][1]
    assert "执法证号 A001 在文件中重复" in msg and "状态应为" in msg and "系统账号“nobody”不存在" in msg
    report = inspectors_import_excel(_xlsx(rows[:2]), actor=staff.head)
    assert report.ok and Inspector.objects.get(cert_no="A001").qualifications == ["食品安全", "登记注册"]


def test_portal_shows_commitment_before_randomness_and_files_verify(org, staff, food_world, client, tmp_path):
    from jianguan.inspections import draws
    from jianguan.inspections.domain.verify import verify_dir

    plan = draws.plan_freeze(make_plan(org, staff, ratios={"B": "0.1"}), actor=staff.handler, today=TODAY)
    page = client.get(f"/draws/{plan.pk}/").content.decode()
    assert plan.commitment in page and "尚未产生" in page
    strata = len(json.loads(plan.manifest_json)["strata"])
    assert f"{plan.candidates_count} 行，{strata} 个分层" in page
    assert f"/draws/{plan.pk}/files/draw.json" not in page
    assert client.get(f"/draws/{plan.pk}/files/draw.json").status_code == 404
    draws.plan_randomness_enter(plan, "7", actor=staff.handler)
    plan = draws.plan_randomness_enter(plan, "7", actor=staff.head)
    draws.plan_draw(plan, actor=staff.handler)
    assert f"/draws/{plan.pk}/files/draw.json" in client.get(f"/draws/{plan.pk}/").content.decode()
    for name in ("candidates.csv", "manifest.json", "draw.json", "verify_draw.py"):
        resp = client.get(f"/draws/{plan.pk}/files/{name}")
        assert resp.status_code == 200
        body = b"".join(resp.streaming_content) if resp.streaming else resp.content
        (tmp_path / name).write_bytes(body)
    assert verify_dir(tmp_path) == (True, "MATCH")
    assert client.get("/draws/").status_code == 200
    assert client.get(f"/draws/{plan.pk}/files/secret.txt").status_code == 404


def test_draft_plans_are_not_on_the_portal(org, staff, food_world, client):
    plan = make_plan(org, staff)
    assert client.get(f"/draws/{plan.pk}/").status_code == 404


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
def test_notice_downloads(org, staff, food_world, client, fmt):
    visit = _drawn(org, staff).visits.first()
    _login(client, staff.head)
    resp = client.get(f"/staff/inspections/visits/{visit.pk}/notice.{fmt}")
    assert resp.status_code == 200 and len(resp.content) > 1000


def test_api_lists_plans_in_scope_only(org, staff, food_world, client):
    plan = _drawn(org, staff)
    _login(client, staff.head)
    assert [p["id"] for p in client.get("/api/v1/inspections/plans").json()] == [plan.pk]
    assert client.get(f"/api/v1/inspections/plans/{plan.pk}/draw").json()["seed"] == plan.seed
    assert len(client.get(f"/api/v1/inspections/plans/{plan.pk}/visits").json()) == plan.visits_count
    _login(client, staff.rc_head)
    assert client.get("/api/v1/inspections/plans").json() == []
    assert client.get(f"/api/v1/inspections/plans/{plan.pk}").status_code == 404


def test_the_entity_page_shows_its_inspections_tab(org, staff, food_world, client):
    plan = _drawn(org, staff)
    visit = plan.visits.first()
    _login(client, staff.head)
    resp = client.get(visit.entity.get_absolute_url())
    assert resp.status_code == 200 and visit.number in resp.content.decode()


def test_freeze_and_draw_jobs_run_the_services(org, staff, food_world):
    from jianguan.core.jobs import job_run_now
    from jianguan.inspections import draws

    plan = make_plan(org, staff, ratios={"B": "0.1"})
    job = job_run_now("inspections.freeze", "冻结", {"plan": plan.pk, "user": staff.handler.pk,
                                                    "today": "2026-03-02"}, user=staff.handler)
    assert job.status == "succeeded", job.error
    draws.plan_randomness_enter(plan, "7", actor=staff.handler)
    draws.plan_randomness_enter(plan, "7", actor=staff.head)
    job = job_run_now("inspections.draw", "抽取", {"plan": plan.pk, "user": staff.handler.pk,
                                                  "today": "2026-03-02"}, user=staff.handler)
    assert job.status == "succeeded" and job.result["assigned"] == 2
    job = job_run_now("inspections.draw", "抽取", {"plan": plan.pk, "user": staff.handler.pk,
                                                  "today": "2026-03-02"}, user=staff.handler)
    assert job.status == "failed" and "不能重新抽取" in job.error


def test_home_cards_count_visits_to_inspect_and_results_to_publish(org, staff, food_world, client):
    from jianguan.inspections import services
    from jianguan.inspections.models import Inspector

    plan = _drawn(org, staff)
    visit = plan.visits.first()
    user = create_user(unit=org.wendeng, roles=(("inspector", "own"),), username="insp2")
    member = visit.team.first().inspector_id
    Inspector.objects.filter(pk=member).update(user=user)
    from jianguan.inspections.selectors import home_counts

    mine = plan.visits.filter(team__inspector_id=member).count()
    assert mine >= 1 and home_counts(user)["my_open"] == mine
    vi = visit.items.get()
    services.visit_record_results(visit, results={vi.pk: ("no_problem", "")}, visit_date=TODAY, actor=user)
    assert home_counts(user)["my_open"] == mine - 1
    assert home_counts(staff.head)["to_publish"] == 1 and home_counts(staff.rc_head)["to_publish"] == 0
    _login(client, staff.head)
    assert "待公示检查结果" in client.get("/staff/").content.decode()


def test_publishing_from_the_queue_returns_to_the_queue_but_never_to_another_site(org, staff, food_world, client):
    from jianguan.inspections import services

    plan = _drawn(org, staff)
    v1, v2 = plan.visits.order_by("number")[:2]
    for v in (v1, v2):
        vi = v.items.get()
        services.visit_record_results(v, results={vi.pk: ("no_problem", "")}, visit_date=TODAY, actor=staff.head)
    _login(client, staff.head)
    resp = client.post(f"/staff/inspections/visits/{v1.pk}/publish/", {"next": "/staff/inspections/publication/"})
    assert resp["Location"] == "/staff/inspections/publication/"
    resp = client.post(f"/staff/inspections/visits/{v2.pk}/publish/", {"next": "https://evil.example/"})
    assert resp["Location"] == f"/staff/inspections/visits/{v2.pk}/"
    assert set(plan.visits.values_list("status", flat=True)) == {"published"}
    _login(client, staff.rc_head)
    assert client.post(f"/staff/inspections/visits/{v1.pk}/publish/").status_code == 404


def _run_queued_job():
    from jianguan.core.jobs import job_claim_next, job_run

    job = job_claim_next()
    assert job is not None, "no job was queued"
    return job_run(job)


def test_freeze_and_draw_buttons_queue_background_jobs_and_the_plan_page_shows_their_progress(
        org, staff, food_world, client):
    from jianguan.core.models import Job
    from jianguan.inspections import draws
    from jianguan.inspections.models import InspectionPlan

    plan = make_plan(org, staff, ratios={"B": "0.1"})
    _login(client, staff.handler)
    resp = client.post(f"/staff/inspections/plans/{plan.pk}/action/freeze/")
    job = Job.objects.get(kind="inspections.freeze")
    assert resp.status_code == 302 and resp.url.endswith(f"/plans/{plan.pk}/?job={job.pk}")
    assert InspectionPlan.objects.get(pk=plan.pk).status == "approved"  # nothing done in the request
    page = client.get(resp.url).content.decode()
    assert 'data-testid="job-progress"' in page and "hx-get" in page  # polls while queued
    assert "冻结候选名单并公开承诺值</button>" not in page  # no second click while it runs
    again = client.post(f"/staff/inspections/plans/{plan.pk}/action/freeze/")
    assert again.status_code == 400 and "该计划已有正在执行的后台任务" in again.content.decode()
    assert Job.objects.filter(kind="inspections.freeze").count() == 1

    job = _run_queued_job()
    assert job.status == "succeeded", job.error
    assert job.result["url"] == f"/staff/inspections/plans/{plan.pk}/"
    plan.refresh_from_db()
    assert plan.status == "frozen" and plan.commitment and job.result["commitment"] == plan.commitment

    # The draw needs the randomness first: refused at once, no job queued
    resp = client.post(f"/staff/inspections/plans/{plan.pk}/action/draw/")
    assert resp.status_code == 400 and "公开随机数尚未由两名工作人员录入确认" in resp.content.decode()
    assert not Job.objects.filter(kind="inspections.draw").exists()
    draws.plan_randomness_enter(plan, "7", actor=staff.handler)
    draws.plan_randomness_enter(plan, "7", actor=staff.head)
    resp = client.post(f"/staff/inspections/plans/{plan.pk}/action/draw/")
    assert resp.status_code == 302
    job = _run_queued_job()
    assert job.status == "succeeded" and job.result["assigned"] == job.result["visits"] > 0
    plan.refresh_from_db()
    assert plan.status == "drawn" and plan.visits.filter(status="assigned").count() == job.result["visits"]
    page = client.get(resp.url).content.decode()
    assert 'data-testid="job-progress"' in page and "hx-get" not in page  # finished: no more polling
    assert "查看结果" in page


def test_a_job_of_another_plan_is_not_shown_on_this_plan_page(org, staff, food_world, client):
    from jianguan.core.jobs import job_submit

    plan = make_plan(org, staff)
    other = make_plan(org, staff)
    job = job_submit("inspections.freeze", "冻结", {"plan": other.pk, "user": staff.handler.pk,
                                                   "today": TODAY.isoformat()}, user=staff.handler)
    _login(client, staff.handler)
    page = client.get(f"/staff/inspections/plans/{plan.pk}/?job={job.pk}").content.decode()
    assert 'data-testid="job-progress"' not in page
    assert 'data-testid="job-progress"' in client.get(f"/staff/inspections/plans/{other.pk}/").content.decode()
