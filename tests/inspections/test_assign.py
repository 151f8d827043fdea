"""Inspector assignment (step 6 of jianguan-draw-v1): lowest tickets, every constraint, and nothing half-done."""

from __future__ import annotations

from datetime import date

import pytest

from jianguan.inspections.domain.assign import (
    Inspector,
    Rejection,
    Visit,
    assign_inspectors,
    inspector_ticket,
)
from jianguan.inspections.domain.draw import DrawInputError, sha256_hex

SEED = sha256_hex("assignment seed")
TODAY = date(2026, 3, 2)  # Monday
ENTITY = "91371081MA3C4N8X0E"
OTHER = "91371081MA3C4N8Y1J"
FOOD = frozenset({"食品安全"})


def samr(n: int, **kwargs) -> list[Inspector]:
    kwargs.setdefault("qualifications", FOOD)
    return [Inspector(id=f"samr-{i}", department="samr", **kwargs) for i in range(n)]


def visit(task_id: str = "V1", uscc: str = ENTITY, needs=None, area: str = "") -> Visit:
    return Visit(task_id=task_id, uscc=uscc, needs=needs if needs is not None else {"samr": FOOD}, area=area)


def assign(visits, inspectors, **kwargs):
    kwargs.setdefault("interval_days", 365)
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("cap", 10)
    return assign_inspectors(SEED, visits, inspectors, **kwargs)


def by_ticket(task_id: str, inspectors: list[Inspector]) -> list[str]:
    return [i.id for i in sorted(inspectors, key=lambda i: inspector_ticket(SEED, task_id, i.id))]


def test_inspector_ticket_is_sha256_of_seed_task_and_inspector():
    assert inspector_ticket(SEED, "V1", "42") == sha256_hex(f"{SEED}:V1:42")


def test_the_team_is_the_two_lowest_tickets_when_everyone_is_eligible():
    inspectors = samr(6)
    result = assign([visit()], inspectors)
    assert result.teams == {"V1": tuple(by_ticket("V1", inspectors)[:2])}
    assert result.rejections == [] and result.failures == []


def test_a_team_is_never_a_single_inspector():
    result = assign([visit()], samr(1))
    assert result.teams == {}
    assert result.failures[0].constraint == "min_team"
    with pytest.raises(DrawInputError, match="检查组至少需要 2 名检查人员"):
        assign([visit()], samr(3), min_team=1)


def test_a_larger_minimum_team_is_filled_in_ticket_order():
    inspectors = samr(6)
    result = assign([visit()], inspectors, min_team=3)
    assert result.teams["V1"] == tuple(by_ticket("V1", inspectors)[:3])


def test_a_joint_visit_takes_one_inspector_from_each_department_in_department_order():
    inspectors = samr(4) + [
        Inspector(id=f"tax-{i}", department="tax", qualifications=frozenset({"发票"})) for i in range(4)
    ]
    joint = visit(needs={"tax": frozenset({"发票"}), "samr": FOOD})
    team = assign([joint], inspectors).teams["V1"]
    samr_first = by_ticket("V1", [i for i in inspectors if i.department == "samr"])[0]
    tax_first = by_ticket("V1", [i for i in inspectors if i.department == "tax"])[0]
    assert team == (samr_first, tax_first)


def test_a_department_with_no_inspector_fails_the_visit_naming_the_department():
    result = assign([visit(needs={"samr": FOOD, "ee": frozenset()})], samr(4))
    assert result.teams == {}
    [failure] = result.failures
    assert (failure.task_id, failure.uscc, failure.constraint) == ("V1", ENTITY, "department")
    assert failure.message == f"检查任务 V1（对象 {ENTITY}）没有 ee 的检查人员"


def test_an_inspector_without_the_qualification_for_their_departments_items_is_rejected():
    lowest, second, third = by_ticket("V1", samr(3))
    inspectors = [
        Inspector(lowest, "samr", frozenset({"计量"})),
        Inspector(second, "samr", FOOD),
        Inspector(third, "samr", FOOD),
    ]
    result = assign([visit()], inspectors)
    assert result.teams["V1"] == (second, third)
    assert result.rejections == [Rejection("V1", lowest, "qualification")]


def test_qualifications_must_cover_every_category_the_department_carries():
    ids = by_ticket("V1", samr(4))
    partly, both = ids[:2], ids[2:]  # the two lowest tickets hold only one of the two categories
    inspectors = [Inspector(i, "samr", frozenset({"食品安全"})) for i in partly] + [
        Inspector(i, "samr", frozenset({"食品安全", "特种设备"})) for i in both
    ]
    result = assign([visit(needs={"samr": frozenset({"食品安全", "特种设备"})})], inspectors)
    assert result.teams["V1"] == tuple(both)
    assert result.rejections == [Rejection("V1", i, "qualification") for i in partly]


def test_an_inspector_who_declared_a_conflict_with_the_entity_is_never_sent_there():
    conflicted = samr(5, conflicts=frozenset({ENTITY}))
    clean = [Inspector("c1", "samr", FOOD), Inspector("c2", "samr", FOOD)]
    result = assign([visit(), visit("V2", OTHER)], conflicted + clean, interval_days=0)
    assert set(result.teams["V1"]) == {"c1", "c2"}
    assert {r.constraint for r in result.rejections if r.task_id == "V1"} == {"recusal"}
    assert not [r for r in result.rejections if r.task_id == "V2"]  # the conflict is with ENTITY only


def test_inactive_inspectors_are_rejected_as_inactive():
    ids = by_ticket("V1", samr(5))
    inspectors = [Inspector(i, "samr", FOOD, active=n >= 3) for n, i in enumerate(ids)]
    result = assign([visit()], inspectors)
    assert result.teams["V1"] == (ids[3], ids[4])
    assert result.rejections == [Rejection("V1", i, "inactive") for i in ids[:3]]


def test_an_inspector_who_inspected_the_entity_within_the_interval_is_rejected():
    inspectors = samr(3)
    first, second, third = by_ticket("V1", inspectors)
    recent = {(first, ENTITY): date(2025, 6, 1)}  # 274 days before 2026-03-02
    result = assign([visit()], inspectors, recent=recent, interval_days=365)
    assert result.teams["V1"] == (second, third)
    assert result.rejections == [Rejection("V1", first, "interval")]


def test_an_inspection_exactly_one_interval_ago_no_longer_counts():
    inspectors = samr(3)
    first, second, _ = by_ticket("V1", inspectors)
    result = assign([visit()], inspectors, recent={(first, ENTITY): date(2025, 3, 2)}, interval_days=365)
    assert result.teams["V1"] == (first, second)


def test_the_interval_counts_assignments_made_earlier_in_the_same_run():
    twice = [visit("V1"), visit("V2")]  # the same entity in two visits of one run
    assert set(assign(twice, samr(3), interval_days=0).teams) == {"V1", "V2"}
    result = assign(twice, samr(3), interval_days=30)
    [failure] = result.failures
    assert (failure.task_id, failure.constraint) == ("V2", "min_team")
    assert failure.message.endswith("不符合条件：检查间隔未满 2 人")


def test_the_workload_cap_counts_the_period_so_far_and_this_run():
    inspectors = samr(5)
    busy = by_ticket("V1", inspectors)[0]
    result = assign([visit("V1", ENTITY), visit("V2", OTHER)], inspectors, workload={busy: 1}, cap=1, interval_days=0)
    assert busy not in result.teams["V1"]
    assert Rejection("V1", busy, "workload") in result.rejections
    # the two sent to V1 reached the cap of 1: V2 gets the other two
    assert len(set(result.teams["V1"]) | set(result.teams["V2"]) | {busy}) == 5


def test_too_few_eligible_inspectors_assigns_nothing_and_names_the_visit_and_constraint():
    inspectors = [*samr(3), Inspector("t1", "tax", frozenset()), Inspector("t2", "tax", frozenset())]
    busy = by_ticket("V2", inspectors[:3])[:2]
    staffable = visit("V1", ENTITY, needs={"tax": frozenset()})
    result = assign([staffable, visit("V2", OTHER)], inspectors, workload=dict.fromkeys(busy, 5), cap=5)
    assert result.teams == {}  # V1 could be staffed, but nothing is assigned when any visit fails
    [failure] = result.failures
    assert (failure.task_id, failure.uscc, failure.constraint) == ("V2", OTHER, "min_team")
    assert failure.message == (
        f"检查任务 V2（对象 {OTHER}）只有 1 名符合条件的检查人员，至少需要 2 名；不符合条件：工作量已满 2 人"
    )


def test_a_department_whose_inspectors_are_all_recused_names_recusal():
    inspectors = [
        *samr(3, conflicts=frozenset({ENTITY})),
        Inspector("t1", "tax", frozenset()),
        Inspector("t2", "tax", frozenset()),
    ]
    result = assign([visit(needs={"samr": FOOD, "tax": frozenset()})], inspectors)
    assert result.teams == {}
    [failure] = result.failures
    assert failure.constraint == "recusal"
    assert failure.message == f"检查任务 V1（对象 {ENTITY}）没有符合条件的 samr 检查人员：回避 3 人"


def test_every_failing_visit_is_reported_not_only_the_first():
    result = assign([visit("V1"), visit("V2", OTHER)], samr(1))
    assert [f.task_id for f in result.failures] == ["V1", "V2"]


def test_rejections_are_recorded_with_the_first_constraint_failed():
    inspectors = [
        Inspector("x-inactive", "samr", frozenset(), active=False, conflicts=frozenset({ENTITY})),
        Inspector("x-qual", "samr", frozenset(), conflicts=frozenset({ENTITY})),
        Inspector("x-recusal", "samr", FOOD, conflicts=frozenset({ENTITY})),
    ]
    result = assign([visit()], inspectors)
    assert sorted((r.inspector_id, r.constraint) for r in result.rejections) == [
        ("x-inactive", "inactive"),
        ("x-qual", "qualification"),
        ("x-recusal", "recusal"),
    ]


def test_visits_are_processed_in_task_id_order_whatever_order_they_come_in():
    inspectors = samr(5)
    visits = [visit(f"V{i}", f"9137108100000000{i:02d}") for i in range(6)]
    forward = assign(visits, inspectors, cap=3)
    backward = assign(list(reversed(visits)), inspectors, cap=3)
    assert forward.teams == backward.teams and forward.rejections == backward.rejections


def test_inspectors_of_another_county_are_not_candidates_but_the_city_and_province_ones_are():
    here = [Inspector(f"h{i}", "samr", FOOD, area="371081") for i in range(2)]
    elsewhere = [Inspector(f"t{i}", "samr", FOOD, area="371082") for i in range(5)]
    other_city = [Inspector(f"o{i}", "samr", FOOD, area="3711") for i in range(5)]
    city = [Inspector("city", "samr", FOOD, area="3710")]
    province = [Inspector("province", "samr", FOOD)]
    result = assign([visit(area="371081")], here + elsewhere + other_city + city + province, min_team=4)
    assert set(result.teams["V1"]) == {"h0", "h1", "city", "province"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cap": 0}, "工作量上限必须是正整数"),
        ({"interval_days": -1}, "检查间隔必须是非负整数天数"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(DrawInputError, match=message):
        assign([visit()], samr(3), **kwargs)


def test_duplicate_task_ids_and_inspector_ids_are_refused():
    with pytest.raises(DrawInputError, match="检查任务编号 V1 重复"):
        assign([visit(), visit()], samr(3))
    with pytest.raises(DrawInputError, match="检查人员 samr-0 重复"):
        assign([visit()], samr(2) + samr(1))


def test_a_visit_carrying_no_items_is_refused():
    with pytest.raises(DrawInputError, match="检查任务 V1 没有任何部门的事项"):
        assign([visit(needs={})], samr(3))


def _busy_world(seed: int) -> tuple[list[Visit], list[Inspector], dict]:
    """Many visits over three departments and two counties, with inspectors on leave, unqualified, recused, recently
    at an entity and near their workload cap: the rule often has to look past the lowest few tickets."""
    import random

    rng = random.Random(seed)
    departments = {"samr": FOOD, "tax": frozenset({"税务"}), "fire": frozenset({"消防"})}
    inspectors = []
    for i in range(rng.randint(12, 60)):
        department = rng.choice(sorted(departments))
        inspectors.append(Inspector(
            id=str(1000 + i), department=department, active=rng.random() > 0.1,
            qualifications=departments[department] if rng.random() > 0.1 else frozenset(),
            conflicts=frozenset({f"E{rng.randint(0, 30)}"}), area=rng.choice(["", "3710", "371003", "371082"])))
    visits = []
    for v in range(rng.randint(20, 60)):
        carried = rng.sample(sorted(departments), rng.randint(1, 3))
        visits.append(Visit(task_id=f"2027-0001-{v:05d}", uscc=f"E{rng.randint(0, 30)}",
                            needs={d: departments[d] for d in carried}, area=rng.choice(["371003", "371082"])))
    recent = {(i.id, f"E{rng.randint(0, 30)}"): date(2026, 1, 5) for i in inspectors if rng.random() < 0.5}
    workload = {i.id: rng.randint(0, 3) for i in inspectors}
    return visits, inspectors, {"recent": recent, "workload": workload, "cap": rng.randint(6, 20)}


@pytest.mark.parametrize("seed", range(25))
def test_a_helper_process_ranking_half_of_the_tickets_gives_the_same_assignment(seed, monkeypatch):
    """With a helper (forked: it ranks the lowest few tickets of the later half of the visits), teams, rejections
    and failures are exactly the rule's; here every run forks, and many pools are used up past the leading few."""
    from jianguan.inspections.domain import assign as assign_module

    monkeypatch.setattr(assign_module, "HELPER_MIN_VISITS", 1)
    visits, inspectors, kwargs = _busy_world(seed)
    alone = assign(visits, inspectors, **kwargs)
    helped = assign(visits, inspectors, helper=True, **kwargs)
    assert (helped.teams, helped.rejections, helped.failures) == (alone.teams, alone.rejections, alone.failures)


def test_the_helper_is_ended_when_the_rule_stops_early(monkeypatch):
    import os

    from jianguan.inspections.domain import assign as assign_module

    monkeypatch.setattr(assign_module, "HELPER_MIN_VISITS", 1)
    forked = []
    fork = os.fork
    monkeypatch.setattr(assign_module.os, "fork", lambda: forked.append(fork()) or forked[-1])
    visits = [visit("V1"), visit("V2", needs={})]  # the second carries nothing: an error, in the helper's half
    with pytest.raises(DrawInputError, match="检查任务 V2 没有任何部门的事项"):
        assign(visits, samr(4), helper=True)
    assert len(forked) == 1 and forked[0] > 0
    with pytest.raises(ChildProcessError):  # already waited for: no process left behind
        os.waitpid(forked[0], 0)


@pytest.mark.parametrize("failure", ["helper fails", "no fork"])
def test_without_a_working_helper_the_rule_hashes_everything_itself(failure, monkeypatch):
    from jianguan.inspections.domain import assign as assign_module

    monkeypatch.setattr(assign_module, "HELPER_MIN_VISITS", 1)
    visits, inspectors, kwargs = _busy_world(3)
    alone = assign(visits, inspectors, **kwargs)

    def broken(*args):
        raise OSError("boom")

    if failure == "helper fails":  # in the forked process: it exits with an error, and nothing is read from it
        monkeypatch.setattr(assign_module, "_rank_leading", broken)
    else:
        monkeypatch.setattr(assign_module.os, "fork", broken)
    helped = assign(visits, inspectors, helper=True, **kwargs)
    assert (helped.teams, helped.rejections, helped.failures) == (alone.teams, alone.rejections, alone.failures)
