"""Inspector assignment, step 6 of `jianguan-draw-v1` (docs/draw-protocol.md, "Inspectors").

Pure Python. For each visit, every inspector of a department the visit carries gets a ticket
`sha256_hex(seed + ":" + task_id + ":" + inspector_id)`; the team is built from the lowest tickets:

1. Visits are processed in ascending `task_id` order (code point order).
2. Candidates of a visit: the inspectors whose department is one the visit carries and, when the visit
   names an `area`, whose `area` is a prefix of it. Areas are hierarchical codes: GB/T 2260 division codes
   with the trailing zeros of the level removed ("371081" a county, "3710" its city, "37" the province, ""
   anywhere), so a county visit can be staffed by that county's, its city's or the province's inspectors.
   Others are not considered and not recorded. The cost of a run is proportional to the sum over visits of the
   number of candidates: every candidate's ticket must be computed to know the lowest.
3. For each required department in sorted order, the candidates of that department are examined in ticket
   order; the first eligible one joins the team.
4. Then, while the team is smaller than `min_team`, the remaining candidates of all required departments are
   examined in ticket order; each eligible one joins the team.
5. A candidate is eligible when it passes, checked in this order: `inactive` (status not active),
   `qualification` (its qualifications ⊇ the item categories its department carries on the visit),
   `recusal` (declared conflict with the entity), `interval` (it inspected this entity less than
   `interval_days` days before `today`; assignments made earlier in the same run count as inspections on
   `today`), `workload` (its count for the period — `workload` plus assignments earlier in the same run —
   has reached `cap`). Every examined candidate that fails is recorded once per visit with the first
   constraint it failed.
6. A visit that cannot be staffed is a Failure. A required department without an eligible candidate:
   constraint `department` when it has no candidate at all, otherwise the constraint that rejected most of
   its candidates (ties: the earlier check in rule 5), the message giving the counts per constraint. Fewer
   than `min_team` eligible in all: `min_team`.
   If any visit fails, nothing is assigned (`teams == {}`); all visits are still examined so every failure
   is reported.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import itertools
import os
import signal
import struct
import tempfile
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jianguan.inspections.domain.draw import DrawInputError, _check_hex, sha256_hex

CONSTRAINTS = ("inactive", "department", "qualification", "recusal", "interval", "workload")

CONSTRAINT_LABELS = {
    "inactive": "非在岗",
    "department": "部门",
    "qualification": "资质不符",
    "recusal": "回避",
    "interval": "检查间隔未满",
    "workload": "工作量已满",
    "min_team": "人数不足",
}

# Order of the checks, used to break ties when naming the constraint that rejected most candidates.
_CHECK_ORDER = ("inactive", "qualification", "recusal", "interval", "workload")


@dataclass(frozen=True)
class Inspector:
    """An inspector of the register (执法检查人员名录库) as the assignment sees it."""

    id: str
    department: str
    qualifications: frozenset[str]
    active: bool = True
    conflicts: frozenset[str] = frozenset()  # usccs the inspector declared a conflict with (recusal)
    area: str = ""  # jurisdiction: division code without the zeros of its level ("371081", "3710"); "" = anywhere


@dataclass(frozen=True)
class Visit:
    """One visit to one entity (a joint visit carries the items of several departments)."""

    task_id: str
    uscc: str
    needs: Mapping[str, frozenset[str]]  # department -> item categories it carries on this visit
    area: str = ""  # the county of the entity ("371081"); "" = inspectors of any area


@dataclass(frozen=True)
class Rejection:
    """A candidate examined for a visit and not taken, with the first constraint it failed."""

    task_id: str
    inspector_id: str
    constraint: str  # inactive|department|qualification|recusal|interval|workload


@dataclass(frozen=True)
class Failure:
    """A visit that cannot be staffed: the constraint that failed and a Chinese explanation."""

    task_id: str
    uscc: str
    constraint: str
    message: str


@dataclass
class Assignment:
    """Teams by task_id (empty when any visit failed), with every rejection and failure."""

    teams: dict[str, tuple[str, ...]]
    rejections: list[Rejection] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)


class _Pool:
    """The inspectors of one department, with the candidates of each visit area computed once."""

    def __init__(self, members: list[Inspector]) -> None:
        self.by_area: dict[str, list[Inspector]] = {}
        for member in members:
            self.by_area.setdefault(member.area, []).append(member)
        self.cache: dict[str, tuple[list[bytes], list[Inspector]]] = {
            "": ([m.id.encode("utf-8") for m in members], members)  # a visit without an area: anyone
        }

    def candidates(self, area: str) -> tuple[list[bytes], list[Inspector]]:
        """Members whose area is a prefix of `area` (their own area, a wider one, or none): their ids as UTF-8
        (what is hashed) and the inspectors, in the same order."""
        found = self.cache.get(area)
        if found is None:
            members = [m for k in range(len(area) + 1) for m in self.by_area.get(area[:k], ())]
            found = self.cache[area] = ([m.id.encode("utf-8") for m in members], members)
        return found


class _Ranked:
    """The candidates of one department for one visit, taken in ticket order.

    A heap of the raw SHA-256 digests (they order exactly as their hex tickets, and are cheaper to make); the
    inspector of a ticket is found by its position in the ticket list. Usually the first one or two are
    eligible, so most of a pool is hashed but never ordered.
    """

    __slots__ = ("heap", "inspectors", "lookups", "tickets", "where")

    def __init__(self, tickets: list[bytes], inspectors: list[Inspector]) -> None:
        self.tickets = tickets
        self.inspectors = inspectors
        self.heap = tickets.copy()
        heapq.heapify(self.heap)
        self.where: dict[bytes, int] | None = None
        self.lookups = 0

    def _inspector(self, tick: bytes) -> Inspector:
        if self.where is None:
            self.lookups += 1
            if self.lookups <= 8:  # a linear search of a short list beats building a dict
                return self.inspectors[self.tickets.index(tick)]
            self.where = {t: i for i, t in enumerate(self.tickets)}
        return self.inspectors[self.where[tick]]

    def in_order(self) -> Iterator[tuple[bytes, Inspector]]:
        """The candidates not taken yet, lowest ticket first (consumed: each is yielded once)."""
        heap = self.heap
        while heap:
            tick = heapq.heappop(heap)
            yield tick, self._inspector(tick)


class _Leading:
    """The candidates of one department for one visit, taken in ticket order, when a helper process has ranked the
    lowest few (`leading`: (ticket, position in the pool), in ticket order): those are given first; past them the
    whole pool is hashed here (`tickets()`) and taken on from there, so the order is the full one."""

    __slots__ = ("complete", "inspectors", "leading", "rest", "taken", "tickets")

    def __init__(self, leading: list[tuple[bytes, int]], inspectors: list[Inspector],
                 tickets: Callable[[], list[bytes]]) -> None:
        self.leading = leading
        self.inspectors = inspectors
        self.tickets = tickets
        self.complete = len(leading) == len(inspectors)
        self.taken = 0
        self.rest: _Ranked | None = None

    def in_order(self) -> Iterator[tuple[bytes, Inspector]]:
        """The candidates not taken yet, lowest ticket first (consumed: each is yielded once)."""
        while self.taken < len(self.leading):
            tick, position = self.leading[self.taken]
            self.taken += 1
            yield tick, self.inspectors[position]
        if self.complete:
            return
        if self.rest is None:
            self.rest = _Ranked(self.tickets(), self.inspectors)
            for _ in range(len(self.leading)):  # the lowest ones, already given
                heapq.heappop(self.rest.heap)
        yield from self.rest.in_order()


# A province plan hashes ≈ 13 million tickets, ≈ 0.5 µs each in Python and three quarters of the rule's time. With
# `helper=True` a forked process ranks the lowest LEADING tickets of each department of the later half of the visits
# while this one staffs the first half; the second half is then staffed from those, hashing a whole pool only when
# its leading candidates are used up (`_Leading`). The teams are the same either way.
LEADING = 4
HELPER_MIN_VISITS = 5_000  # below this a fork costs more than it saves


def _hashed(copy: Callable[[], Any], ids: list[bytes]) -> list[bytes]:
    """The digests of a pool's candidates for one visit (`copy` gives the hash of the visit's prefix)."""
    tickets: list[bytes] = []
    append = tickets.append
    for id_bytes in ids:
        state = copy()
        state.update(id_bytes)
        append(state.digest())
    return tickets


def _rank_leading(seed: str, visits: Sequence[Visit], pools: Mapping[str, _Pool], empty_pool: _Pool,
                  k: int) -> tuple[bytes, array[int], array[int]]:
    """For each visit in order and each department it carries, in sorted order: the `k` lowest tickets of its
    candidates with their positions, as (the digests one after another, the positions, how many per department)."""
    digests = bytearray()
    positions: array[int] = array("I")
    counts: array[int] = array("I")
    for visit in visits:
        copy = hashlib.sha256(f"{seed}:{visit.task_id}:".encode()).copy
        for department in sorted(visit.needs):
            ids, _members = pools.get(department, empty_pool).candidates(visit.area)
            best = heapq.nsmallest(k, zip(_hashed(copy, ids), itertools.count()))
            counts.append(len(best))
            for tick, position in best:
                digests += tick
                positions.append(position)
    return bytes(digests), positions, counts


class _Helper:
    """A forked process running `_rank_leading` on some visits; `leading()` gives its lists in order, or None when
    it failed (the caller then hashes everything itself). `start` gives None when no process can be made."""

    @classmethod
    def start(cls, seed: str, visits: Sequence[Visit], pools: Mapping[str, _Pool], empty_pool: _Pool) -> _Helper | None:
        try:
            return cls(seed, visits, pools, empty_pool)
        except OSError:  # no memory or no process left for a fork: the rule goes on alone
            return None

    def __init__(self, seed: str, visits: Sequence[Visit], pools: Mapping[str, _Pool], empty_pool: _Pool) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115  (closed by leading() or close())
        try:
            self.pid: int | None = os.fork()
        except OSError:
            self.file.close()
            raise
        if self.pid == 0:  # the helper: nothing of the parent's (connections, threads) is touched, and no cleanup
            code = 1
            try:
                for number in (signal.SIGTERM, signal.SIGINT):  # not the parent's handlers (a worker's stop flag)
                    signal.signal(number, signal.SIG_DFL)
                digests, positions, counts = _rank_leading(seed, visits, pools, empty_pool, LEADING)
                self.file.write(struct.pack("<QQQ", len(digests), len(positions), len(counts)))
                self.file.write(digests)
                positions.tofile(self.file)
                counts.tofile(self.file)
                self.file.flush()
                code = 0
            finally:
                os._exit(code)

    def leading(self) -> Iterator[list[tuple[bytes, int]]] | None:
        assert self.pid is not None
        _pid, status = os.waitpid(self.pid, 0)
        self.pid = None
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        positions: array[int] = array("I")
        counts: array[int] = array("I")
        try:
            self.file.seek(0)
            sizes = struct.unpack("<QQQ", self.file.read(24))
            digests = self.file.read(sizes[0])
            positions.fromfile(self.file, sizes[1])
            counts.fromfile(self.file, sizes[2])
        except (OSError, EOFError, struct.error):  # not all there: the caller hashes everything itself
            return None
        finally:
            self.file.close()

        def lists() -> Iterator[list[tuple[bytes, int]]]:
            at = 0
            for count in counts:
                yield [(digests[32 * i:32 * i + 32], positions[i]) for i in range(at, at + count)]
                at += count

        return lists()

    def close(self) -> None:
        if self.pid is not None:  # not waited for: the rule stopped early
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid = None
        self.file.close()


def inspector_ticket(seed: str, task_id: str, inspector_id: str) -> str:
    """The inspector's ticket for a visit: sha256_hex(seed + ":" + task_id + ":" + inspector_id)."""
    return sha256_hex(seed + ":" + task_id + ":" + inspector_id)


def _describe(counts: Counter[str]) -> str:
    return "、".join(f"{CONSTRAINT_LABELS[c]} {counts[c]} 人" for c in _CHECK_ORDER if counts[c])


def assign_inspectors(
    seed: str,
    visits: Sequence[Visit],
    inspectors: Sequence[Inspector],
    *,
    recent: Mapping[tuple[str, str], date] = {},
    interval_days: int,
    today: date,
    workload: Mapping[str, int] = {},
    cap: int,
    min_team: int = 2,
    helper: bool = False,
) -> Assignment:
    """Staff every visit with the lowest-ticket eligible team (rule in the module docstring).

    `helper`: rank the later half of a large run's tickets in a forked process meanwhile (POSIX; same result).

    `recent`: (inspector_id, uscc) -> date of that inspector's last inspection of that entity.
    `workload`: inspector_id -> inspections already assigned in the current period.
    """
    _check_hex("seed", seed)
    if isinstance(min_team, bool) or not isinstance(min_team, int) or min_team < 2:
        raise DrawInputError(f"检查组至少需要 2 名检查人员（a team needs at least 2 inspectors）：{min_team!r}")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise DrawInputError(f"工作量上限必须是正整数（the workload cap must be a positive integer）：{cap!r}")
    if isinstance(interval_days, bool) or not isinstance(interval_days, int) or interval_days < 0:
        raise DrawInputError(
            f"检查间隔必须是非负整数天数（the interval must be a whole number of days）：{interval_days!r}"
        )

    by_department: dict[str, list[Inspector]] = {}
    seen_ids: set[str] = set()
    for inspector in inspectors:
        if inspector.id in seen_ids:
            raise DrawInputError(f"检查人员 {inspector.id} 重复（duplicate inspector {inspector.id}）")
        seen_ids.add(inspector.id)
        by_department.setdefault(inspector.department, []).append(inspector)
    pools = {department: _Pool(members) for department, members in by_department.items()}
    empty_pool = _Pool([])

    ordered = sorted(visits, key=lambda v: v.task_id)
    task_ids = [v.task_id for v in ordered]
    if len(set(task_ids)) != len(task_ids):
        duplicate = next(a for a, b in itertools.pairwise(task_ids) if a == b)
        raise DrawInputError(f"检查任务编号 {duplicate} 重复（duplicate task_id {duplicate}）")

    run = _Run(recent=recent, interval_days=interval_days, today=today, workload=workload, cap=cap)
    teams: dict[str, tuple[str, ...]] = {}
    failures: list[Failure] = []
    half = len(ordered) // 2 if helper and len(ordered) >= HELPER_MIN_VISITS and hasattr(os, "fork") else len(ordered)
    ahead = _Helper.start(seed, ordered[half:], pools, empty_pool) if half < len(ordered) else None
    leading: Iterator[list[tuple[bytes, int]]] | None = None
    try:
        for n, visit in enumerate(ordered):
            if n == half and ahead is not None:
                leading = ahead.leading()
            if not visit.needs:
                raise DrawInputError(
                    f"检查任务 {visit.task_id} 没有任何部门的事项（visit {visit.task_id} carries no items）"
                )
            copy = hashlib.sha256(f"{seed}:{visit.task_id}:".encode()).copy  # hot loop: hash the prefix once
            departments = sorted(visit.needs)
            ranked: dict[str, _Ranked | _Leading] = {}
            for department in departments:
                ids, members = pools.get(department, empty_pool).candidates(visit.area)
                if leading is not None:
                    ranked[department] = _Leading(next(leading), members, functools.partial(_hashed, copy, ids))
                else:  # digests: the tickets without their hex spelling
                    ranked[department] = _Ranked(_hashed(copy, ids), members)
            team, failed = run.staff(visit, departments, ranked, min_team)
            if failed is not None:
                failures.append(failed)
                continue
            run.record(visit, team)
            teams[visit.task_id] = tuple(team)
    finally:
        if ahead is not None:
            ahead.close()

    if failures:
        teams = {}
    return Assignment(teams=teams, rejections=run.rejections, failures=failures)


@dataclass
class _Run:
    """State of one assignment run: assignments made so far and the rejections recorded."""

    recent: Mapping[tuple[str, str], date]
    interval_days: int
    today: date
    workload: Mapping[str, int]
    cap: int
    assigned: Counter[str] = field(default_factory=Counter)
    assigned_here: dict[tuple[str, str], date] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)

    def verdict(self, visit: Visit, inspector: Inspector, department: str, verdicts: dict[str, str]) -> str:
        """The empty string when eligible for the visit, else the first constraint failed (recorded once)."""
        known = verdicts.get(inspector.id)
        if known is not None:
            return known
        if not inspector.active:
            result = "inactive"
        elif not visit.needs[department] <= inspector.qualifications:
            result = "qualification"
        elif visit.uscc in inspector.conflicts:
            result = "recusal"
        elif self.too_recent(inspector.id, visit.uscc):
            result = "interval"
        elif self.workload.get(inspector.id, 0) + self.assigned[inspector.id] >= self.cap:
            result = "workload"
        else:
            result = ""
        verdicts[inspector.id] = result
        if result:
            self.rejections.append(Rejection(visit.task_id, inspector.id, result))
        return result

    def too_recent(self, inspector_id: str, uscc: str) -> bool:
        if not self.interval_days:
            return False
        key = (inspector_id, uscc)
        last = self.assigned_here.get(key) or self.recent.get(key)
        return last is not None and (self.today - last).days < self.interval_days

    def staff(
        self, visit: Visit, departments: list[str], ranked: Mapping[str, _Ranked | _Leading], min_team: int
    ) -> tuple[list[str], Failure | None]:
        """The team of a visit (rules 3 and 4 of the module docstring), or the failure."""
        verdicts: dict[str, str] = {}
        team: list[str] = []
        for department in departments:
            chosen = None
            for _tick, inspector in ranked[department].in_order():
                if not self.verdict(visit, inspector, department, verdicts):
                    chosen = inspector
                    break
            if chosen is None:
                return team, _department_failure(visit, department, ranked[department].inspectors, verdicts)
            team.append(chosen.id)
        if len(team) < min_team:
            # the candidates not examined yet, of all required departments together, in ticket order
            for _tick, inspector in heapq.merge(*(ranked[d].in_order() for d in departments)):
                if not self.verdict(visit, inspector, inspector.department, verdicts):
                    team.append(inspector.id)
                    if len(team) >= min_team:
                        break
        if len(team) < min_team:
            counts = Counter(v for v in verdicts.values() if v)
            detail = f"；不符合条件：{_describe(counts)}" if counts else ""
            return team, Failure(
                visit.task_id,
                visit.uscc,
                "min_team",
                f"检查任务 {visit.task_id}（对象 {visit.uscc}）只有 {len(team)} 名符合条件的检查人员，"
                f"至少需要 {min_team} 名{detail}",
            )
        return team, None

    def record(self, visit: Visit, team: list[str]) -> None:
        for inspector_id in team:
            self.assigned[inspector_id] += 1
            self.assigned_here[(inspector_id, visit.uscc)] = self.today


def _department_failure(
    visit: Visit, department: str, candidates: list[Inspector], verdicts: Mapping[str, str]
) -> Failure:
    if not candidates:
        return Failure(
            visit.task_id,
            visit.uscc,
            "department",
            f"检查任务 {visit.task_id}（对象 {visit.uscc}）没有 {department} 的检查人员",
        )
    counts = Counter(verdicts[inspector.id] for inspector in candidates)
    worst = max(_CHECK_ORDER, key=lambda c: (counts[c], -_CHECK_ORDER.index(c)))
    return Failure(
        visit.task_id,
        visit.uscc,
        worst,
        f"检查任务 {visit.task_id}（对象 {visit.uscc}）没有符合条件的 {department} 检查人员：{_describe(counts)}",
    )
