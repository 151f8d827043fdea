"""A handler freezes a plan and draws it from the plan page: each button queues a background job and the page
shows its progress (htmx polling) until the job is done, then the plan shows the result."""

from __future__ import annotations

import re

import pytest

from tests.conftest import create_user
from tests.e2e.conftest import login
from tests.inspections.conftest import make_entity, make_inspector, make_plan

PASSWORD = "Correct-horse-42"


def _run_the_worker_once():
    """What the job worker (`jianguan worker` / the serve thread) does: claim the queued job and run it."""
    from jianguan.core.jobs import job_claim_next, job_run

    job = job_claim_next()
    assert job is not None, "the button queued no job"
    return job_run(job)


@pytest.mark.django_db(transaction=True)
def test_freeze_and_draw_run_as_background_jobs_with_progress_on_the_plan_page(page, live_server, org):
    from types import SimpleNamespace

    from jianguan.inspections import draws
    from jianguan.inspections.models import InspectionPlan

    staff = SimpleNamespace(
        handler=create_user(
            unit=org.wendeng, roles=(("handler", "subtree"),), username="e2e_handler", password=PASSWORD
        ),
        head=create_user(
            unit=org.wendeng, roles=(("section_head", "subtree"),), username="e2e_head", password=PASSWORD
        ),
    )
    for _ in range(8):
        make_entity(labels=("food_business",))
    for _ in range(3):
        make_inspector(org.wendeng)
    plan = make_plan(org, staff, ratios={"B": "0.25"})
    page.on("dialog", lambda dialog: dialog.accept())  # "确定冻结？"
    login(page, live_server, "e2e_handler", PASSWORD)
    page.goto(f"{live_server.url}/staff/inspections/plans/{plan.pk}/")

    page.get_by_role("button", name="冻结候选名单并公开承诺值").click()
    page.wait_for_url(re.compile(r"\?job=\d+$"))
    progress = page.locator("[data-testid=job-progress]")
    assert "排队中" in progress.inner_text()  # the request only queued the job
    assert page.get_by_role("button", name="冻结候选名单并公开承诺值").count() == 0
    assert InspectionPlan.objects.get(pk=plan.pk).status == "approved"

    job = _run_the_worker_once()
    assert job.status == "succeeded", job.error
    # the partial polls every second and picks up the finished job without a reload
    page.locator("[data-testid=job-progress]", has_text="已完成").wait_for(timeout=15_000)
    page.get_by_role("link", name="查看结果").click()
    page.wait_for_load_state("networkidle")
    plan.refresh_from_db()
    assert page.locator("[data-testid=commitment]").inner_text() == plan.commitment

    draws.plan_randomness_enter(plan, "福彩3D 2026054 417", actor=staff.handler)
    draws.plan_randomness_enter(plan, "福彩3D 2026054 417", actor=staff.head)
    page.reload()
    page.get_by_role("button", name="抽取检查对象并选派检查人员").click()
    page.wait_for_url(re.compile(r"\?job=\d+$"))
    job = _run_the_worker_once()
    assert job.status == "succeeded", job.error
    page.locator("[data-testid=job-progress]", has_text="已完成").wait_for(timeout=15_000)
    page.get_by_role("link", name="查看结果").click()
    page.wait_for_load_state("networkidle")
    plan.refresh_from_db()
    assert plan.status == "drawn" and plan.visits_count == job.result["visits"] > 0
    assert f"合并为 {plan.visits_count} 次联合检查" in page.locator("[data-testid=merge-summary]").inner_text()
    assert page.console_errors == []
