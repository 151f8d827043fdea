"""The demo step builds a frozen, drawn, partly inspected and published plan whose export verifies."""

import io

import pytest

from tests.inspections.conftest import make_entity


@pytest.mark.slow
def test_demo_step_builds_a_verifiable_partly_completed_plan(db, settings, tmp_path):
    from jianguan.core.demo import DemoContext, build_organisation
    from jianguan.inspections.demo import PLAN_NAME, build_plan
    from jianguan.inspections.domain.verify import verify_dir
    from jianguan.inspections.export import export_to_dir
    from jianguan.inspections.models import InspectionPlan, Inspector

    out = io.StringIO()
    ctx = DemoContext(seed=2026, small=True, out=out)
    build_organisation(ctx)
    for i in range(60):
        labels = ("food_business", "employer") if i % 2 else ("catering", "employer")
        make_entity(labels=labels, kind="enterprise")
    build_plan(ctx)
    plan = InspectionPlan.objects.get(name=PLAN_NAME)
    assert plan.status in ("in_progress", "completed", "published"), out.getvalue()
    statuses = set(plan.visits.values_list("status", flat=True))
    assert "published" in statuses and "assigned" in statuses
    assert Inspector.objects.filter(user__username="wendeng_inspector").exists()
    assert "抽取文件核验：MATCH" in out.getvalue()
    export_to_dir(plan, tmp_path)
    assert verify_dir(tmp_path) == (True, "MATCH")
    build_plan(ctx)  # idempotent
    assert InspectionPlan.objects.filter(name=PLAN_NAME).count() == 1
