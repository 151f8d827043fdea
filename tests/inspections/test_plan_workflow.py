"""Plans, tasks, freeze, randomness and draw: the workflow and its refusals (nothing half-done)."""

import datetime as dt
import json

import pytest

from tests.inspections.conftest import TODAY, make_entity, make_plan


def _freeze(plan, staff):
    from jianguan.inspections import draws

    return draws.plan_freeze(plan, actor=staff.handler, today=TODAY)


def _randomness(plan, staff, value="大乐透 26078 05 12 19 27 33"):
    from jianguan.inspections import draws

    draws.plan_randomness_enter(plan, value, actor=staff.handler)
    return draws.plan_randomness_enter(plan, value, actor=staff.head)


def test_freezing_writes_candidates_and_a_commitment_that_matches_the_manifest(org, staff, food_world, settings):
    from pathlib import Path

    from jianguan.inspections.domain.draw import commitment_of, sha256_hex

    plan = _freeze(make_plan(org, staff, ratios={"B": "0.25"}), staff)
    data = (Path(settings.MEDIA_ROOT) / plan.candidates_path).read_bytes()
    lines = data.decode().split("\n")
    assert lines[0] == "stratum,uscc"
    assert len([x for x in lines[1:] if x]) == 20  # the 20 food businesses in Wendeng, none from Rongcheng
    assert all(x.startswith(f"T{plan.tasks.get().pk}:SCJG-SP-01:B:371003,") for x in lines[1:] if x)
    manifest = json.loads(plan.manifest_json)
    assert manifest["candidates_sha256"] == sha256_hex(data) == plan.candidates_sha256
    assert commitment_of(manifest) == plan.commitment
    assert plan.commitment_published_at is not None and plan.status == "frozen"


def test_strata_split_by_risk_class_and_the_a_slice_is_its_own_stratum(org, staff, food_world, monkeypatch):
    from jianguan.inspections import draws

    food = food_world["food"]
    classes = {e.pk: "A" for e in food[:6]} | {e.pk: "D" for e in food[6:9]}
    plan = make_plan(org, staff, ratios={"A": "0", "B": "0.1", "C": "0.2", "D": "1"}, a_slice="0.5")
    plan = draws.plan_freeze(plan, actor=staff.handler, today=TODAY, classes=classes)
    strata = {s.key.split(":")[2]: (s.candidates, s.take) for s in plan.strata.all()}
    assert strata == {"A-slice": (6, 3), "B": (11, 2), "D": (3, 3)}  # A ratio 0: no A stratum, only the slice


def test_entities_inspected_within_the_minimum_interval_are_not_candidates(org, staff, food_world):
    from jianguan.inspections import draws, services
    from jianguan.inspections.models import InspectionItem, InspectionPlan, Visit, VisitItem

    first = food_world["food"][0]
    other = make_plan(org, staff, approve=False)
    other = draws.plan_freeze(services.plan_approve(other, actor=staff.head), actor=staff.handler, today=TODAY)
    stratum = other.strata.first()
    visit = Visit.objects.create(plan=other, unit=org.wendeng, entity=first, number="X-1", status="completed",
                                 period_start=dt.date(2025, 10, 1), period_end=dt.date(2025, 10, 30),
                                 end_date=dt.date(2025, 10, 20))
    VisitItem.objects.create(visit=visit, task=stratum.task, item=InspectionItem.objects.get(code="SCJG-SP-01"),
                             stratum=stratum, risk_class="B", result_code="no_problem")
    plan = _freeze(make_plan(org, staff), staff)
    assert plan.candidates_count == 19
    assert InspectionPlan.objects.count() == 2


def test_tasks_sharing_a_target_rule_read_the_registry_once_but_apply_their_own_interval(org, staff, food_world,
                                                                                         monkeypatch):
    from jianguan.inspections import draws, services
    from jianguan.inspections.models import InspectionItem, Visit, VisitItem

    first = food_world["food"][0]
    other = make_plan(org, staff, approve=False)
    other = draws.plan_freeze(services.plan_approve(other, actor=staff.head), actor=staff.handler, today=TODAY)
    stratum = other.strata.first()
    visit = Visit.objects.create(plan=other, unit=org.wendeng, entity=first, number="X-1", status="completed",
                                 period_start=dt.date(2025, 10, 1), period_end=dt.date(2025, 10, 30),
                                 end_date=dt.date(2025, 10, 20))
    VisitItem.objects.create(visit=visit, task=stratum.task, item=InspectionItem.objects.get(code="SCJG-SP-01"),
                             stratum=stratum, risk_class="B", result_code="no_problem")
    # SCJG-SP-01 (a key item: 180 days) in a spring task (the visit of 2025-10-20 is too recent) and a summer one
    tasks = [{"name": "春季", "items": ("SCJG-SP-01",), "department": "samr", "start": dt.date(2026, 4, 1),
              "end": dt.date(2026, 6, 30)},
             {"name": "夏季", "items": ("SCJG-SP-01",), "department": "samr", "start": dt.date(2026, 7, 1),
              "end": dt.date(2026, 9, 30)}]
    plan = make_plan(org, staff, tasks=tasks)
    # the bulk reads go through read_frames (on PostgreSQL COPY or other connections, which Django's query log does
    # not see)
    reads: list[str] = []
    read_frames = draws.read_frames
    monkeypatch.setattr(draws, "read_frames", lambda batch: reads.extend(r.sql for r in batch) or read_frames(batch))
    strata = draws.compute_strata(plan, today=TODAY, classes={})
    assert len([sql for sql in reads if 'FROM "registry_entity"' in sql]) == 1
    by_task = {}
    for s in strata:
        by_task.setdefault(s.task.name, set()).update(s.members)
    assert len(by_task["春季"]) == 19 and first.uscc not in by_task["春季"]
    assert len(by_task["夏季"]) == 20 and first.uscc in by_task["夏季"]


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "abc"])
def test_a_ratio_outside_zero_to_one_is_refused_when_the_task_is_created(org, staff, food_world, ratio):
    from jianguan.inspections import services
    from jianguan.inspections.models import InspectionTask

    with pytest.raises(services.InspectionError, match="B类比例"):
        make_plan(org, staff, ratios={"B": ratio}, approve=False)
    assert InspectionTask.objects.count() == 0


def test_an_item_without_a_target_rule_is_refused(org, staff, food_world):
    from jianguan.inspections import services
    from jianguan.inspections.models import InspectionItem, InspectionPlan

    InspectionItem.objects.filter(code="SCJG-SP-01").update(target_rule={})
    with pytest.raises(services.InspectionError, match="没有设置检查对象规则"):
        make_plan(org, staff, approve=False)
    # …and an item whose rule was emptied after the task was made is refused at freeze, nothing written
    InspectionItem.objects.filter(code="SCJG-SP-01").update(target_rule={"labels": ["food_business"]})
    plan = make_plan(org, staff)
    InspectionItem.objects.filter(code="SCJG-SP-01").update(target_rule={"statuses": ["active"]})
    with pytest.raises(services.InspectionError, match="至少要有标签、行业、许可证或主体类型之一"):
        _freeze(plan, staff)
    plan.refresh_from_db()
    assert plan.status == "approved" and not plan.commitment and not plan.strata.exists()
    assert InspectionPlan.objects.filter(status="frozen").count() == 0


def test_an_item_with_no_candidates_in_scope_is_a_clear_error(org, staff, food_world):
    from jianguan.inspections import services

    plan = make_plan(org, staff, items=("SCJG-TS-01",))  # no special-equipment users in the data
    with pytest.raises(services.InspectionError, match="SCJG-TS-01 在抽查范围内没有候选对象"):
        _freeze(plan, staff)
    plan.refresh_from_db()
    assert plan.status == "approved" and not plan.candidates_path


def test_a_draw_before_approval_is_refused(org, staff, food_world):
    from jianguan.inspections import draws, services

    plan = make_plan(org, staff, approve=False)
    with pytest.raises(services.InspectionError, match="计划尚未批准，不能冻结和抽取"):
        _freeze(plan, staff)
    with pytest.raises(services.InspectionError, match="计划尚未冻结，不能抽取"):
        draws.plan_draw(plan, actor=staff.handler)
    with pytest.raises(services.InspectionError, match="承诺值公开之前不能录入随机数"):
        draws.plan_randomness_enter(plan, "123", actor=staff.handler)


def test_randomness_needs_two_different_officers_and_cannot_be_entered_twice(org, staff, food_world):
    from jianguan.core.models import AuditEntry
    from jianguan.inspections import draws, services

    plan = _freeze(make_plan(org, staff), staff)
    plan = draws.plan_randomness_enter(plan, "0312", actor=staff.handler)
    assert plan.randomness == "" and plan.randomness_pending == "0312"
    with pytest.raises(services.InspectionError, match="两名不同的工作人员"):
        draws.plan_randomness_enter(plan, "0312", actor=staff.handler)
    with pytest.raises(services.InspectionError, match="两次录入的随机数不一致"):
        draws.plan_randomness_enter(plan, "0313", actor=staff.head)
    plan = draws.plan_randomness_enter(plan, "0312", actor=staff.head)
    assert plan.randomness == "0312"
    assert (plan.randomness_entered_by, plan.randomness_confirmed_by) == (staff.handler, staff.head)
    with pytest.raises(services.InspectionError, match="公开随机数已录入并确认，不能再次录入"):
        draws.plan_randomness_enter(plan, "9999", actor=staff.leader)
    plan.refresh_from_db()
    assert plan.randomness == "0312"
    assert AuditEntry.objects.filter(object_type="inspections.inspectionplan", action="randomness:confirm").count() == 1


def test_the_draw_is_reproducible_from_the_commitment_and_randomness_and_cannot_be_redone(org, staff, food_world):
    from jianguan.inspections import draws, services
    from jianguan.inspections.domain.draw import seed_of, ticket

    plan = _randomness(_freeze(make_plan(org, staff, ratios={"B": "0.25"}), staff), staff)
    plan = draws.plan_draw(plan, actor=staff.handler)
    assert plan.status == "drawn" and plan.seed == seed_of(plan.commitment, plan.randomness)
    usccs = sorted(e.uscc for e in food_world["food"])
    expected = sorted(usccs, key=lambda u: ticket(plan.seed, u))[:5]
    assert sorted(plan.selections.values_list("uscc", flat=True)) == sorted(expected)
    with pytest.raises(services.InspectionError, match="不能重新抽取"):
        draws.plan_draw(plan, actor=staff.handler)
    with pytest.raises(services.InspectionError, match="不能重新冻结或重新抽取"):
        draws.plan_freeze(plan, actor=staff.handler, today=TODAY)
    assert plan.selections.count() == 5


def test_a_deregistered_selection_is_replaced_by_the_next_alternate_but_a_suspended_one_stays(org, staff, food_world):
    from jianguan.inspections import draws, services
    from jianguan.inspections.domain.draw import ticket
    from jianguan.registry.models import Entity

    plan = _randomness(_freeze(make_plan(org, staff, ratios={"B": "0.1"}), staff), staff)
    seed = services.draw_domain.seed_of(plan.commitment, plan.randomness)
    order = sorted((e.uscc for e in food_world["food"]), key=lambda u: ticket(seed, u))
    Entity.objects.filter(uscc=order[0]).update(status="cancelled")
    Entity.objects.filter(uscc=order[1]).update(status="suspended")  # 歇业: stays drawn
    plan = draws.plan_draw(plan, actor=staff.handler)
    chosen = set(plan.selections.values_list("uscc", flat=True))
    assert chosen == {order[1], order[2]}
    assert plan.selections.get(uscc=order[2]).replaced_uscc == order[0]
    used = json.loads(plan.draw_json)["alternates_used"]
    assert used == [{"stratum": plan.strata.get().key, "replaced": order[0], "by": order[2],
                     "reason": "已注销/被吊销/被撤销/迁出"}]


def test_when_the_alternates_kept_run_out_the_stratum_is_drawn_again_with_all_of_them(org, staff, food_world,
                                                                                      monkeypatch):
    """The draw keeps only the first few alternates of a stratum; when those are gone too, that stratum is drawn
    again with every candidate, and the result is the protocol's."""
    from jianguan.inspections import draws, services
    from jianguan.inspections.domain.draw import ticket
    from jianguan.registry.models import Entity

    plan = _randomness(_freeze(make_plan(org, staff, ratios={"B": "0.1"}), staff), staff)
    seed = services.draw_domain.seed_of(plan.commitment, plan.randomness)
    order = sorted((e.uscc for e in food_world["food"]), key=lambda u: ticket(seed, u))
    take = plan.strata.get().take
    # the first cut keeps the selected and one alternate (order[take]), both gone below
    monkeypatch.setattr(draws, "_keep_below", lambda take_, count: int(ticket(seed, order[take + 1])[:15], 16))
    Entity.objects.filter(uscc__in=[order[0], order[take]]).update(status="cancelled")
    drawn, ranking = [], draws._draw_strata
    monkeypatch.setattr(draws, "_draw_strata", lambda *args: drawn.append(args[-1]) or ranking(*args))
    plan = draws.plan_draw(plan, actor=staff.handler)
    assert drawn == [set(), {0}]  # drawn again, the stratum complete
    assert set(plan.selections.values_list("uscc", flat=True)) == {*order[1:take], order[take + 1]}
    key = plan.strata.get().key
    assert json.loads(plan.draw_json)["alternates_used"] == [
        {"stratum": key, "replaced": order[0], "by": order[take], "reason": "已注销/被吊销/被撤销/迁出"},
        {"stratum": key, "replaced": order[take], "by": order[take + 1], "reason": "已注销/被吊销/被撤销/迁出"}]


def test_every_workflow_step_is_audited_with_its_reason(org, staff, food_world):
    from jianguan.core.models import AuditEntry
    from jianguan.inspections import draws

    plan = _randomness(_freeze(make_plan(org, staff), staff), staff)
    draws.plan_draw(plan, actor=staff.handler)
    actions = list(AuditEntry.objects.filter(object_type="inspections.inspectionplan", object_id=str(plan.pk))
                   .values_list("action", flat=True))
    assert actions == ["create", "status:approved", "status:frozen", "randomness:enter", "randomness:confirm",
                       "status:drawn"]
    assert AuditEntry.objects.get(object_id=str(plan.pk), action="status:approved").reason == "同意"


def test_a_correction_is_a_new_version_with_a_reason_and_supersedes_on_approval(org, staff, food_world):
    from jianguan.inspections import services

    plan = _freeze(make_plan(org, staff), staff)
    with pytest.raises(services.InspectionError, match="必须填写更正理由"):
        services.plan_correct(plan, reason=" ", actor=staff.handler)
    new = services.plan_correct(plan, reason="范围遗漏龙山街道", actor=staff.handler)
    assert (new.version, new.supersedes, new.status) == (2, plan, "draft")
    assert new.tasks.count() == 1 and new.tasks.get().items.count() == 1
    services.plan_approve(new, actor=staff.head)
    plan.refresh_from_db()
    assert plan.status == "superseded" and plan.commitment  # the old commitment stays published


def test_joint_tasks_drawing_the_same_entity_merge_into_one_visit(org, staff, food_world):
    from jianguan.inspections import draws
    from jianguan.inspections.models import Visit

    tasks = [{"name": "食品", "items": ("SCJG-SP-01",), "department": "samr", "ratios": {"B": "1"}},
             {"name": "税务", "items": ("SW-01",), "department": "tax", "ratios": {"B": "1"}}]
    plan = _randomness(_freeze(make_plan(org, staff, tasks=tasks), staff), staff)
    plan = draws.plan_draw(plan, actor=staff.handler)
    # 20 food businesses (also enterprises) + 10 other enterprises: 50 separate visits become 30
    assert (plan.selections_count, plan.visits_count, plan.visits_saved) == (50, 30, 20)
    joint = Visit.objects.get(plan=plan, entity=food_world["food"][0])
    assert sorted(joint.items.values_list("item__code", flat=True)) == ["SCJG-SP-01", "SW-01"]


def test_tasks_in_different_periods_do_not_merge(org, staff, food_world):
    from jianguan.inspections import draws

    tasks = [{"name": "上半年", "items": ("SCJG-SP-01",), "department": "samr", "ratios": {"B": "1"},
              "start": dt.date(2026, 3, 1), "end": dt.date(2026, 5, 31)},
             {"name": "下半年", "items": ("SCJG-DJ-02",), "department": "samr", "ratios": {"B": "1"},
              "start": dt.date(2026, 7, 1), "end": dt.date(2026, 9, 30)}]
    plan = _randomness(_freeze(make_plan(org, staff, tasks=tasks), staff), staff)
    plan = draws.plan_draw(plan, actor=staff.handler)
    assert plan.visits_saved == 0 and plan.visits_count == 50


def test_draw_list_prints_one_plan_per_line_with_its_id_first(org, staff, food_world):
    from io import StringIO

    from django.core.management import call_command

    plan = make_plan(org, staff)
    out = StringIO()
    call_command("draw", "list", stdout=out)
    assert out.getvalue().splitlines() == [f"{plan.pk}\tapproved\t{plan.name}"]


def test_cli_export_verifies_and_a_tampered_export_names_the_difference(org, staff, food_world, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from jianguan.inspections import draws

    plan = _randomness(_freeze(make_plan(org, staff, ratios={"B": "0.25"}), staff), staff)
    draws.plan_draw(plan, actor=staff.handler)
    out_dir = tmp_path / "export"
    call_command("draw", "export", "--plan", str(plan.pk), "--out", str(out_dir), stdout=StringIO())
    assert sorted(p.name for p in out_dir.iterdir()) == ["candidates.csv", "draw.json", "manifest.json",
                                                         "verify_draw.py"]
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("draw", "verify", str(out_dir), stdout=out)
    assert exit_.value.code == 0 and out.getvalue().strip() == "MATCH"
    draw = json.loads((out_dir / "draw.json").read_text())
    draw["selected"][0]["uscc"] = food_world["plain"][0].uscc
    (out_dir / "draw.json").write_text(json.dumps(draw, ensure_ascii=False))
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("draw", "verify", str(out_dir), stdout=out)
    assert exit_.value.code == 1 and out.getvalue().startswith("MISMATCH: ")


def test_cli_randomness_and_execute_run_the_demo_steps(org, staff, food_world):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    plan = make_plan(org, staff, ratios={"B": "0.25"})
    call_command("draw", "freeze", "--plan", str(plan.pk), "--user", "handler", "--today", "2026-03-02",
                 stdout=StringIO())
    with pytest.raises(CommandError, match="公开随机数尚未由两名工作人员录入确认"):
        call_command("draw", "execute", "--plan", str(plan.pk), "--user", "handler", stdout=StringIO())
    out = StringIO()
    call_command("draw", "randomness", "--plan", str(plan.pk), "--value", "42", "--officer", "handler",
                 "--officer", "head", stdout=out)
    assert "随机数已确认" in out.getvalue()
    out = StringIO()
    call_command("draw", "execute", "--plan", str(plan.pk), "--user", "handler", "--today", "2026-03-02",
                 stdout=out)
    assert "已选派检查人员：5 次检查" in out.getvalue()


def test_entities_outside_scope_or_not_active_are_never_candidates(org, staff, food_world):
    make_entity(labels=("food_business",), status="cancelled")
    plan = _freeze(make_plan(org, staff), staff)
    assert plan.candidates_count == 20


def test_each_target_rule_key_selects_the_entities_it_names_within_the_scope(org, staff):
    """labels (any of), industries (a code prefix or a section letter), valid licences, kinds, statuses (default
    active), all given keys together, and only in the task's scope; risk classes split the strata."""
    from jianguan.core.models import Department
    from jianguan.inspections import draws
    from jianguan.inspections.models import InspectionItem
    from jianguan.registry.models import Licence

    def licence(entity, status):
        Licence.objects.create(entity=entity, type="food_business", number=f"JY{entity.pk:06d}", issuer="文登区",
                               valid_from=dt.date(2024, 1, 1), status=status)

    shop = make_entity(industry="5211", labels=("food_business",))
    licence(shop, "valid")
    stall = make_entity(industry="6210", kind="individual", labels=("catering",))
    farm = make_entity(industry="0511", kind="cooperative")
    closed = make_entity(industry="5212", status="suspended")
    expired = make_entity(industry="5212")
    licence(expired, "expired")
    away = make_entity(industry="5211", division="371082", labels=("food_business",))
    licence(away, "valid")
    rules = {
        "R-KIND": {"kinds": ["individual", "cooperative"]},
        "R-SECTION": {"industries": ["H", "05"]},
        "R-PREFIX": {"industries": ["52"], "kinds": ["enterprise"]},
        "R-LICENCE": {"licences": ["food_business"]},
        "R-LABEL": {"labels": ["catering", "food_business"], "industries": ["52", "62"]},
        "R-STATUS": {"kinds": ["enterprise"], "statuses": ["suspended", "active"], "industries": ["5212"]},
    }
    samr = Department.objects.get(code="samr")
    for code, rule in rules.items():
        InspectionItem.objects.create(code=code, name=code, department=samr, category="登记注册", target_rule=rule)
    plan = make_plan(org, staff, items=tuple(rules), ratios={"A": "1", "B": "1", "C": "1", "D": "1"})
    classes = {stall.pk: "D", shop.pk: "A"}
    strata = draws.compute_strata(plan, today=TODAY, classes=classes)
    found: dict[str, set[str]] = {}
    for s in strata:
        assert s.members == sorted(s.members) and s.county == "371003"
        assert all(classes.get(e.pk, "B") == s.risk_class for e in (shop, stall, farm, closed, expired)
                   if e.uscc in s.members)
        found.setdefault(s.item.code, set()).update(s.members)
    assert found == {
        "R-KIND": {stall.uscc, farm.uscc},
        "R-SECTION": {stall.uscc, farm.uscc},
        "R-PREFIX": {shop.uscc, expired.uscc},
        "R-LICENCE": {shop.uscc},
        "R-LABEL": {shop.uscc, stall.uscc},
        "R-STATUS": {closed.uscc, expired.uscc},
    }
