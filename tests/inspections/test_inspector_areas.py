"""Inspector areas: an inspector covers the divisions under their unit — a county office its county, a city
bureau every county of its city, the province bureau the whole province — and nobody outside it."""

from __future__ import annotations

import datetime as dt

from tests.conftest import create_unit, create_user
from tests.inspections.conftest import TODAY, make_entity, make_inspector


def test_the_area_of_an_inspector_is_the_division_prefix_of_their_unit(org):
    from jianguan.inspections.assignment import inspector_area

    province = create_unit("370000-samr", division="370000")
    assert inspector_area(province) == "37"
    assert inspector_area(org.weihai) == "3710"
    assert inspector_area(org.wendeng) == "371003"
    assert inspector_area(org.station) == "371003"


def test_a_province_plan_staffs_each_city_from_its_own_city_bureau(org):
    from jianguan.core.models import Department
    from jianguan.inspections import assignment, draws, services
    from jianguan.inspections.models import AssignmentRejection, InspectionItem, VisitInspector

    province = create_unit("370000-samr", division="370000", name="山东省市场监督管理局")
    org.weihai.parent = province
    org.weihai.save()  # Weihai (and its counties) now sit under the province bureau
    jinan = create_unit("370100-samr", division="370100", parent=province, name="济南市市场监督管理局")
    handler = create_user(unit=province, roles=(("handler", "subtree"),), username="p_handler")
    head = create_user(unit=province, roles=(("section_head", "subtree"),), username="p_head")

    wendeng_shops = [make_entity(division="371003", labels=("food_business",)) for _ in range(3)]
    rongcheng_shops = [make_entity(division="371082", labels=("food_business",)) for _ in range(3)]
    jinan_shops = [make_entity(division="370102", labels=("food_business",)) for _ in range(2)]
    weihai_city = {make_inspector(org.weihai).pk for _ in range(2)}  # city level: no county of their own
    jinan_city = {make_inspector(jinan).pk for _ in range(4)}

    plan = services.plan_create(name="2026年全省食品经营抽查", year=2026, unit=province, actor=handler)
    services.task_create(
        plan,
        name="食品经营抽查",
        department=Department.objects.get(code="samr"),
        items=list(InspectionItem.objects.filter(code="SCJG-SP-01")),
        scope_divisions=["370000"],
        period_start=dt.date(2026, 4, 1),
        period_end=dt.date(2026, 6, 30),
        ratios={"B": "1"},
        a_slice_ratio="0",
        actor=handler,
    )
    services.plan_approve(plan, actor=head, reason="同意")
    plan = draws.plan_freeze(plan, actor=handler, today=TODAY)
    draws.plan_randomness_enter(plan, "3815", actor=handler)
    plan = draws.plan_randomness_enter(plan, "3815", actor=head)
    plan, result = assignment.plan_execute(plan, actor=handler, today=TODAY)

    assert result.failures == []
    teams = {}
    for visit_id, inspector_id in VisitInspector.objects.filter(visit__plan=plan).values_list(
        "visit__entity_id", "inspector_id"
    ):
        teams.setdefault(visit_id, set()).add(inspector_id)
    # Both Weihai counties are staffed by the Weihai city bureau, Jinan's shops by Jinan's: never across cities
    for shop in wendeng_shops + rongcheng_shops:
        assert teams[shop.pk] == weihai_city
    for shop in jinan_shops:
        assert len(teams[shop.pk]) == 2 and teams[shop.pk] <= jinan_city
    # Inspectors outside a visit's area are not candidates at all, so never recorded as rejected there
    crossed = AssignmentRejection.objects.filter(
        plan=plan, visit__entity__in=wendeng_shops + rongcheng_shops, inspector_id__in=jinan_city
    )
    assert not crossed.exists()
