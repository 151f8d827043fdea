"""The draw at scale (`inspections.draws`): candidates held as columns, tickets hashed once per USCC, a first cut by
ticket bound. It must give exactly what the protocol's reference implementation (`domain.draw`) gives."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import polars as pl
import pytest

from tests.inspections.conftest import TODAY, make_plan

SEED = "5" * 64
# (size, ratio): a stratum of one, small ones kept whole, and larger ones cut by the ticket bound
SHAPES = [(1, "1"), (3, "0.5"), (64, "0.01"), (65, "0.3"), (500, "0.002"), (2000, "0.005"), (1500, "1"),
          (800, "0.05")]


def _columns(shapes=SHAPES, seed=7):
    """FrozenStratum-like strata over one shared USCC column, and the same as plain lists."""
    from jianguan.inspections.draws import FrozenStratum

    rng = random.Random(seed)
    pool = sorted({f"91371003{rng.randrange(10**10):010d}" for _ in range(6000)})
    usccs = pl.Series("uscc", pool)
    strata = []
    for n, (size, ratio) in enumerate(shapes):
        rows = sorted(rng.sample(range(len(pool)), size))
        strata.append(FrozenStratum(f"T1:ITEM-{n:02d}:B:371003", None, None, "B", "371003", False, Decimal(ratio),
                                    pl.Series(rows, dtype=pl.UInt32), usccs))
    return strata


def _meta(strata):
    return [{"stratum": s.key, "candidates": s.count, "ratio": str(s.ratio)} for s in strata]


def test_candidates_csv_written_from_columns_is_byte_identical_to_the_reference_writer(tmp_path):
    from jianguan.inspections import draws
    from jianguan.inspections.domain import draw as draw_domain

    strata = _columns()
    candidates = draws._Candidates.of(strata)
    sha, rows = candidates.write_csv(tmp_path / "candidates.csv")
    expected = draw_domain.candidates_csv({s.key: s.members for s in strata})
    assert (tmp_path / "candidates.csv").read_bytes() == expected
    assert sha == draw_domain.sha256_hex(expected)
    assert rows == sum(s.count for s in strata)


@pytest.mark.parametrize("cut", ["bound", "short"])
def test_the_column_draw_selects_exactly_what_the_reference_draw_selects(cut, monkeypatch):
    """Selected entities equal the reference's; the alternates kept (given to a stratum on demand) are a prefix of
    the reference's, and all of them where the first cut fell short (forced here with a bound that keeps almost
    nothing)."""
    from jianguan.inspections import draws
    from jianguan.inspections.domain import draw as draw_domain

    if cut == "short":
        monkeypatch.setattr(draws, "_keep_below", lambda take, count: 1 << 40)
    strata = _columns()
    candidates = draws._Candidates.of(strata)
    got, _hint, rest = draws._draw_strata(SEED, candidates, _meta(strata), draws._tickets(SEED, candidates.usccs),
                                          set())
    assert all(not d.alternates for d in got)  # until asked for
    draws._with_alternates(got, rest, range(len(got)))
    for s, mine in zip(strata, got, strict=True):
        ref = draw_domain.draw_stratum(SEED, s.key, s.members, s.ratio, alternates=None)
        assert (mine.stratum, mine.candidates, mine.take, mine.selected) == (ref.stratum, ref.candidates, ref.take,
                                                                            ref.selected)
        assert mine.alternates == ref.alternates[:len(mine.alternates)]
        if cut == "short" or s.count <= 64:
            assert mine.alternates_complete and mine.alternates == ref.alternates
        elif mine.take < s.count:  # the first cut kept a few alternates, not the whole stratum
            assert 0 < len(mine.alternates) < s.count - mine.take
    complete, _hint, rest = draws._draw_strata(SEED, candidates, _meta(strata),
                                               draws._tickets(SEED, candidates.usccs), {5})
    draws._with_alternates(complete, rest, [5])
    ref = draw_domain.draw_stratum(SEED, strata[5].key, strata[5].members, strata[5].ratio, alternates=None)
    assert complete[5].alternates == ref.alternates and complete[5].alternates_complete


def test_tickets_are_the_protocols():
    from jianguan.inspections import draws
    from jianguan.inspections.domain import draw as draw_domain

    usccs = pl.Series("uscc", ["91371003MA3C5XKU4N", "92371081MA3MX5GP2H", "统一代码"])
    tickets = draws._tickets(SEED, usccs)
    assert tickets["ticket"].to_list() == [draw_domain.ticket(SEED, u) for u in usccs]
    assert tickets["t60"].to_list() == [int(draw_domain.ticket(SEED, u)[:15], 16) for u in usccs]


def _committed_candidates(plan, meta):
    """What a draw computes from: the freeze's columns when they pass their check, else candidates.csv parsed."""
    from concurrent.futures import ThreadPoolExecutor

    from jianguan.inspections import draws

    with ThreadPoolExecutor(2) as pool:
        committed = draws._Committed(plan, meta, pool)
        committed.published()
        if committed.columns is not None and committed.columns_intact():
            return committed.columns
        return committed.from_csv()


def test_the_draw_reads_candidates_csv_itself_when_its_columns_are_missing_or_do_not_match(
        org, staff, food_world, settings):
    from jianguan.inspections import draws
    from jianguan.inspections.services import InspectionError

    plan = draws.plan_freeze(make_plan(org, staff, ratios={"B": "0.25"}), actor=staff.handler, today=TODAY)
    meta = json.loads(plan.manifest_json)["strata"]
    directory = draws.plan_dir(plan)

    def rows(candidates):
        return list(zip(candidates.strata.gather(candidates.index["sid"]).to_list(),
                        candidates.usccs.gather(candidates.index["row"]).to_list(), strict=True))

    kept = _committed_candidates(plan, meta)
    expected = [tuple(line.split(",")) for line in draws.verified_candidates_path(plan).read_text().splitlines()[1:]]
    assert rows(kept) == expected and kept.counts() == [m["candidates"] for m in meta]
    assert plan.columns_sha256
    # columns that are not the ones the freeze wrote are not used: one USCC changed
    usccs = kept.usccs.to_list()
    usccs[int(kept.index["row"][0])] = "91371003000000000X"
    pl.DataFrame({"uscc": usccs}).write_ipc(directory / draws.USCC_FILE)
    assert rows(_committed_candidates(plan, meta)) == expected
    (directory / draws.USCC_FILE).unlink()
    assert rows(_committed_candidates(plan, meta)) == expected
    # and candidates.csv itself must still be the committed one
    path = directory / "candidates.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 1))
    with pytest.raises(InspectionError, match="SHA-256 不一致"):
        _committed_candidates(plan, meta)


def test_the_index_file_holds_positions_only_and_an_older_one_with_stratum_numbers_still_serves(
        org, staff, food_world):
    """Each row's stratum comes from the manifest's counts; a plan frozen when the file also held it is drawn from
    its columns all the same (the columns' digest is the one recorded at its freeze)."""
    from concurrent.futures import ThreadPoolExecutor

    from jianguan.core.files import UncachedWriter
    from jianguan.inspections import draws

    plan = draws.plan_freeze(make_plan(org, staff, ratios={"B": "0.25"}), actor=staff.handler, today=TODAY)
    meta = json.loads(plan.manifest_json)["strata"]
    directory = draws.plan_dir(plan)
    assert pl.read_ipc(directory / draws.INDEX_FILE).columns == ["row"]
    new = _committed_candidates(plan, meta)
    older = new.index.select("sid", "row")
    with UncachedWriter(directory / draws.INDEX_FILE, sha256=True) as out:
        older.write_ipc(out)
    digests = [out.hexdigest(), draws._cached_sha256(directory / draws.USCC_FILE)]
    plan.columns_sha256 = draws._combined_sha256(digests)  # as the freeze of such a plan recorded it
    plan.save(update_fields=["columns_sha256"])
    with ThreadPoolExecutor(2) as pool:
        committed = draws._Committed(plan, meta, pool)
        assert committed.columns is not None and committed.columns_intact()
        assert committed.columns.index.equals(new.index)
        committed.published()


def test_a_freeze_whose_columns_cannot_be_written_stores_nothing_and_leaves_no_file(org, staff, food_world,
                                                                                    monkeypatch):
    from jianguan.inspections import draws
    from jianguan.inspections.models import DrawStratum

    plan = make_plan(org, staff, ratios={"B": "0.25"})

    def full_disk(self, directory):
        (directory / draws.INDEX_FILE).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(draws._Candidates, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        draws.plan_freeze(plan, actor=staff.handler, today=TODAY)
    plan.refresh_from_db()
    assert (plan.status, plan.commitment, plan.columns_sha256) == ("approved", "", "")
    assert not DrawStratum.objects.filter(plan=plan).exists()
    assert not any(draws.plan_dir(plan).iterdir())


def test_rows_written_in_bulk_get_the_defaults_save_would_give_them(org, staff, food_world):
    """`core.bulk.write_models` fills the columns a frame leaves out as `save()` would."""
    from jianguan.core.bulk import MissingColumn, write_models
    from jianguan.inspections.models import Visit

    plan = make_plan(org, staff)
    entity = food_world["food"][0]
    write_models(Visit, pl.DataFrame({"plan_id": [plan.pk], "unit_id": [org.wendeng.pk], "entity_id": [entity.pk],
                                      "number": ["B-1"], "period_start": [TODAY], "period_end": [TODAY]}))
    visit = Visit.objects.get(number="B-1")
    assert (visit.status, visit.summary, visit.visit_date) == (Visit.Status.UNASSIGNED, "", None)
    with pytest.raises(MissingColumn, match="number"):  # NOT NULL, no default
        write_models(Visit, pl.DataFrame({"plan_id": [plan.pk], "unit_id": [org.wendeng.pk],
                                          "entity_id": [entity.pk], "period_start": [TODAY],
                                          "period_end": [TODAY]}))


@pytest.mark.parametrize("offset", [0, 10**9])  # dense ids (a class table indexed by id) and sparse ones (a join)
def test_each_entity_gets_its_risk_class_and_b_without_one(offset):
    from jianguan.inspections.draws import _class_of

    ids = pl.Series("id", [offset + 1, offset + 5, offset + 9, offset + 2])
    classes = {offset + 5: "D", offset + 9: "A", offset + 100: "C"}
    assert _class_of(ids, classes).to_list() == ["B", "D", "A", "B"]
    frame = pl.DataFrame({"id": [offset + 1], "cls": ["C"]})
    assert _class_of(ids, frame).to_list() == ["C", "B", "B", "B"]
    assert _class_of(ids, {}).to_list() == ["B"] * 4


def test_status_look_up_with_freeze_time_hints_falls_back_by_uscc_when_a_hint_is_stale(org, staff, food_world):
    """The hint (id and county at the freeze) finds active entities in the index; an entity now suspended, moved to
    another county, given under another id, or unknown is still answered correctly, by its USCC."""
    from jianguan.inspections.draws import _by_uscc
    from jianguan.registry.models import Entity

    active, suspended, moved, other = food_world["food"][:4]
    Entity.objects.filter(pk=suspended.pk).update(status="suspended")
    hint = {active.uscc: (active.pk, active.division_id), suspended.uscc: (suspended.pk, suspended.division_id),
            moved.uscc: (moved.pk, "371002"), other.uscc: (active.pk, other.division_id),
            "91371003000000000X": (10**9, "371003")}
    found = _by_uscc(list(hint), hint)
    assert found == {active.uscc: ("active", active.pk), suspended.uscc: ("suspended", suspended.pk),
                     moved.uscc: ("active", moved.pk), other.uscc: ("active", other.pk)}
    assert _by_uscc(list(hint)) == found  # the same without hints


def test_a_freeze_that_is_not_stored_leaves_no_files_and_a_missing_candidates_file_is_named(
        org, staff, food_world, monkeypatch):
    from jianguan.inspections import draws
    from jianguan.inspections.services import InspectionError

    plan = make_plan(org, staff, ratios={"B": "0.25"})

    def refuse(*args, **kwargs):
        raise InspectionError("审计写入失败")

    monkeypatch.setattr(draws, "audit_record", refuse)
    with pytest.raises(InspectionError, match="审计写入失败"):
        draws.plan_freeze(plan, actor=staff.handler, today=TODAY)
    plan.refresh_from_db()
    assert plan.status == "approved" and not plan.strata.exists()
    assert not any(draws.plan_dir(plan).iterdir())
    monkeypatch.undo()
    plan = draws.plan_freeze(plan, actor=staff.handler, today=TODAY)
    draws.verified_candidates_path(plan).unlink()
    draws.plan_randomness_enter(plan, "7", actor=staff.handler)
    plan = draws.plan_randomness_enter(plan, "7", actor=staff.head)
    with pytest.raises(InspectionError, match="找不到冻结时写入的候选名单文件"):
        draws.plan_draw(plan, actor=staff.handler)
    draws._candidates_path(plan).mkdir()  # there, but unreadable as a file: said so, not called missing
    with pytest.raises(InspectionError, match=r"读取候选名单文件.*失败"):
        draws.plan_draw(plan, actor=staff.handler)


@pytest.mark.parametrize("extra", [[], ["91370100MA3C4XXX1a"], ["9137010", "91370100MA3C4XXX1-"]])
def test_the_registry_frame_is_sorted_by_group_then_uscc_bytes(extra):
    """Valid USCCs sort as base-36 numbers; a frame holding anything else (lower case, short, a hyphen) sorts the
    strings: both give byte order."""
    from jianguan.inspections import draws

    rng = random.Random(7)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    usccs = ["".join(rng.choice(alphabet) for _ in range(18)) for _ in range(3000)] + extra
    frame = pl.DataFrame({"group": [rng.randrange(5) for _ in usccs], "uscc": usccs},
                         schema={"group": pl.UInt32, "uscc": pl.String})
    assert draws._sortable_as_numbers(frame["uscc"]) is (not extra)  # which of the two sorts ran
    out = draws._by_group_and_uscc(frame)
    assert list(zip(out["group"], out["uscc"], strict=True)) == sorted(
        zip(frame["group"], frame["uscc"], strict=True), key=lambda p: (p[0], p[1].encode()))
    assert out.columns == ["group", "uscc"]


@pytest.mark.parametrize(("order", "kept"), [
    pytest.param(lambda u: u.encode(), True, id="read in byte order: the stable sort by group is kept"),
    pytest.param(lambda u: (u.isdigit(), u), False, id="read in another collation's order: sorted again"),
    pytest.param(lambda u: -int(u, 36), False, id="read in reverse: sorted again"),
])
def test_a_registry_frame_read_by_county_and_uscc_needs_only_a_stable_sort_by_group(order, kept, monkeypatch):
    """The freeze reads the registry in (county, uscc) order where it can; the order the database gave is checked,
    and a frame not in byte order within its groups is sorted fully, so candidates.csv always has byte order."""
    from jianguan.inspections import draws

    rng = random.Random(11)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    rows = []
    for county in ("371002", "371003"):
        usccs = sorted({"".join(rng.choice(alphabet) for _ in range(18)) for _ in range(1500)}, key=order)
        usccs += [f"{n:018d}" for n in range(3)] if not kept else []  # all digits: another collation may differ
        rows += [(county, u, rng.randrange(4)) for u in sorted(usccs, key=order)]
    frame = pl.DataFrame(rows, orient="row", schema={"division": pl.String, "uscc": pl.String, "cls": pl.UInt32})
    frame = frame.with_columns((pl.col("cls") * 2 + (pl.col("division") == "371003")).alias("group")).drop("cls")
    full_sorts = []
    monkeypatch.setattr(draws, "_sortable_as_numbers", lambda s: full_sorts.append(1) or True)
    out = draws._by_group_and_uscc(frame, by_county_and_uscc=True)
    assert list(zip(out["group"], out["uscc"], strict=True)) == sorted(
        zip(frame["group"], frame["uscc"], strict=True), key=lambda p: (p[0], p[1].encode()))
    assert bool(full_sorts) is not kept



def _frozen_with_randomness(org, staff):
    from jianguan.inspections import draws

    plan = draws.plan_freeze(make_plan(org, staff, ratios={"B": "0.25", "C": "0.5"}), actor=staff.handler,
                             today=TODAY)
    draws.plan_randomness_enter(plan, "20261123", actor=staff.handler)
    return draws.plan_randomness_enter(plan, "20261123", actor=staff.head)


def test_a_draw_whose_column_files_were_altered_draws_from_candidates_csv(org, staff, food_world):
    """The draw computes from the freeze's column files while their digest is checked; when the check fails, what
    it computed is thrown away and the draw is made from the published candidates.csv instead."""
    from jianguan.inspections import draws
    from jianguan.inspections.domain import draw as draw_domain
    from jianguan.inspections.models import DrawSelection

    plan = _frozen_with_randomness(org, staff)
    meta = json.loads(plan.manifest_json)["strata"]
    seed = draw_domain.seed_of(plan.commitment, plan.randomness)
    names = pl.Series("stratum", [m["stratum"] for m in meta], dtype=pl.String)
    honest = draws._Candidates.parse(draws.verified_candidates_path(plan), names)
    expected = sorted((e["stratum"], e["uscc"]) for e in draws._draw_all(seed, honest, meta, draws._Laps("t"))[2])
    # the USCC column reversed: the same strata sizes, other entities in them
    path = draws.plan_dir(plan) / draws.USCC_FILE
    usccs = pl.read_ipc(path)
    usccs.reverse().write_ipc(path)
    altered = draws._Candidates(names, honest.index, usccs["uscc"].reverse())
    from_altered = sorted((e["stratum"], e["uscc"]) for e in draws._draw_all(seed, altered, meta, draws._Laps("t"))[2])
    assert from_altered != expected  # what the altered columns alone would have given

    plan = draws.plan_draw(plan, actor=staff.handler)
    stored = sorted(DrawSelection.objects.filter(plan=plan).values_list("stratum__key", "uscc"))
    assert plan.status == "drawn" and stored == expected


@pytest.mark.parametrize("columns", ["kept", "altered"])
def test_a_draw_whose_candidates_csv_was_altered_stores_nothing(org, staff, food_world, columns):
    from jianguan.inspections import draws
    from jianguan.inspections.models import DrawSelection
    from jianguan.inspections.services import InspectionError

    plan = _frozen_with_randomness(org, staff)
    if columns == "altered":
        (draws.plan_dir(plan) / draws.INDEX_FILE).write_bytes(b"not arrow")
    path = draws.verified_candidates_path(plan)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n", 1))
    with pytest.raises(InspectionError, match="SHA-256 不一致"):
        draws.plan_draw(plan, actor=staff.handler)
    plan.refresh_from_db()
    assert plan.status == "frozen" and not plan.seed and not DrawSelection.objects.filter(plan=plan).exists()


@pytest.mark.parametrize("sid", [[], [0, 0, 2, 2, 2, 4], [3, 1, 1, 0], [0, 1, 7]])
def test_rows_per_stratum_are_counted_alike_in_order_or_not(sid):
    import numpy as np

    from jianguan.inspections import draws

    series = pl.Series("sid", sid, dtype=pl.UInt32)
    assert draws._per_stratum(series, 5) == np.bincount(np.array(sid, dtype=np.int64), minlength=5).tolist()
