import datetime as dt

from tests.inspections.conftest import make_plan


def test_a_plan_goes_from_approval_to_assigned_visits(org, staff, food_world):
    from jianguan.inspections import services

    plan = make_plan(org, staff, ratios={"B": "0.25"})
    plan = services.plan_freeze(plan, actor=staff.handler, today=dt.date(2026, 3, 2))
    assert plan.status == "frozen"
    services.plan_randomness_enter(plan, "2026030 12345", actor=staff.handler)
    plan = services.plan_randomness_enter(plan, "2026030 12345", actor=staff.head)
    plan = services.plan_draw(plan, actor=staff.handler)
    assert plan.selections_count == 5
    result = services.plan_assign(plan, actor=staff.handler, today=dt.date(2026, 3, 2))
    assert not result.failures, result.failures
