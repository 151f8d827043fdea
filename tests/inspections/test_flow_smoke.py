import datetime as dt

from tests.inspections.conftest import make_plan


def test_a_plan_goes_from_approval_to_assigned_visits(org, staff, food_world):
    from jianguan.inspections import assignment, draws

    plan = make_plan(org, staff, ratios={"B": "0.25"})
    plan = draws.plan_freeze(plan, actor=staff.handler, today=dt.date(2026, 3, 2))
    assert plan.status == "frozen"
    draws.plan_randomness_enter(plan, "2026030 12345", actor=staff.handler)
    plan = draws.plan_randomness_enter(plan, "2026030 12345", actor=staff.head)
    plan = draws.plan_draw(plan, actor=staff.handler)
    assert plan.selections_count == 5
    result = assignment.plan_assign(plan, actor=staff.handler, today=dt.date(2026, 3, 2))
    assert not result.failures, result.failures
