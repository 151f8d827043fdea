"""Batches of audit entries hashed in memory (AuditBatches), bulk inserts sent behind the caller (CopiesBehind) and a
statement run behind the caller (StatementBehind): the chain stays whole, a failed batch or statement is the error
the caller sees, and nothing of it stays."""

from __future__ import annotations

import sys
import threading

import pytest
from django.db import IntegrityError, connection, transaction

from jianguan.core.audit import ENTRY_COLUMNS, ENTRY_TABLE, AuditBatches, AuditEvent, audit_record, audit_verify
from jianguan.core.db import PROMPT_SWITCH_INTERVAL_S, CopiesBehind, StatementBehind, prompt_lock_handoff, quoted_table
from jianguan.core.models import AuditChainHead, AuditEntry, Unit

COLUMNS = ["code", "name", "kind", "department_id", "division_id", "parent_id", "path"]


def _events(n: int, start: int = 0) -> list[AuditEvent]:
    return [AuditEvent("create", "test.thing", str(start + k), f"第{start + k}件", None, {"n": start + k}, "测试")
            for k in range(n)]


def _head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(id=1).first()
    return (head.seq, head.hash) if head else (0, "")


def test_batches_written_behind_continue_the_chain_and_move_its_head_once(org):
    audit_record(org.station, "update", actor=None, after={"n": 1})
    seq0, _hash = _head()
    with transaction.atomic(), AuditBatches(plain=True) as audit, CopiesBehind() as behind:
        for b in range(3):
            behind.send([(ENTRY_TABLE, ENTRY_COLUMNS, audit.rows(_events(4, 4 * b)))])
        assert _head()[0] == seq0  # the head moves when the batches end, not per batch
    assert _head()[0] == seq0 + 12
    assert list(AuditEntry.objects.filter(seq__gt=seq0).order_by("seq").values_list("object_id", flat=True)) == [
        str(k) for k in range(12)]
    result = audit_verify()
    assert result.ok, result
    audit_record(org.station, "update", actor=None, after={"n": 2})  # and the next entry follows on
    assert audit_verify().ok and _head()[0] == seq0 + 13


def test_leaving_the_batches_with_an_error_leaves_the_head_alone(org):
    audit_record(org.station, "update", actor=None, after={"n": 1})
    before = _head()
    with pytest.raises(RuntimeError), transaction.atomic(), AuditBatches() as audit, CopiesBehind() as behind:
        behind.send([(ENTRY_TABLE, ENTRY_COLUMNS, audit.rows(_events(3)))])
        raise RuntimeError("导入中断")
    assert _head() == before
    assert audit_verify().ok


def test_a_batch_that_fails_is_the_error_raised_and_nothing_of_the_block_stays(org):
    """Two units with one code: the second batch's insert breaks the unique key. The caller sees Django's
    IntegrityError — from the batch, not the failed transaction it then ran into — and the first batch is gone too."""
    table = Unit._meta.db_table
    units = Unit.objects.count()
    row = ("TST001", "测试单位", org.station.kind, org.station.department_id, org.station.division_id, None, "")
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), CopiesBehind() as behind:
        behind.send([(table, COLUMNS, [row])])
        behind.send([(table, COLUMNS, [(*row[:1], "重复的单位", *row[2:])])])
        behind.settle()
        with connection.cursor() as cur:  # not reached: settle raised the batch's error
            cur.execute("SELECT 1")
    assert "TST001" in str(caught.value) or "UNIQUE" in str(caught.value).upper()
    assert Unit.objects.count() == units


def test_the_rows_of_a_batch_are_in_once_settled(org):
    station = org.station
    with transaction.atomic(), CopiesBehind() as behind:
        rows = [(f"TST{k:03d}", f"测试单位{k}", station.kind, station.department_id, station.division_id,
                 station.pk, "") for k in range(5)]
        behind.send([(Unit._meta.db_table, COLUMNS, rows)])
        behind.settle()
        assert Unit.objects.filter(code__startswith="TST", parent=org.station).count() == 5


def test_the_lock_is_handed_over_promptly_inside_and_as_before_after():
    """Nested and overlapping users (two threads) share one setting; the last one out puts the previous back, and a
    setting already lower than the prompt one is kept."""
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.004)
        inside, other_in, other_out = [], threading.Event(), threading.Event()

        def other() -> None:
            with prompt_lock_handoff():
                other_in.set()
                other_out.wait(5)

        worker = threading.Thread(target=other)
        with prompt_lock_handoff():
            inside.append(sys.getswitchinterval())
            worker.start()
            other_in.wait(5)
            with prompt_lock_handoff():
                inside.append(sys.getswitchinterval())
        inside.append(sys.getswitchinterval())  # the other thread is still inside
        other_out.set()
        worker.join(5)
        assert inside == [pytest.approx(PROMPT_SWITCH_INTERVAL_S, rel=0.05)] * 3
        assert sys.getswitchinterval() == pytest.approx(0.004, rel=0.05)
        sys.setswitchinterval(0.0002)  # kept in whole microseconds, rounded: compared within 5 %
        with prompt_lock_handoff():
            assert sys.getswitchinterval() == pytest.approx(0.0002, rel=0.05)
        assert sys.getswitchinterval() == pytest.approx(0.0002, rel=0.05)
    finally:
        sys.setswitchinterval(before)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite inserts each batch at once, in the caller")
def test_copies_behind_hand_the_lock_over_promptly_and_restore_it_even_after_a_failed_batch(org):
    before = sys.getswitchinterval()
    with transaction.atomic(), CopiesBehind():
        assert sys.getswitchinterval() == pytest.approx(min(PROMPT_SWITCH_INTERVAL_S, before), rel=0.05)
    assert sys.getswitchinterval() == before
    table = Unit._meta.db_table
    row = ("TST001", "测试单位", org.station.kind, org.station.department_id, org.station.division_id, None, "")
    with pytest.raises(IntegrityError), transaction.atomic(), CopiesBehind() as behind:
        behind.send([(table, COLUMNS, [row, row])])
    assert sys.getswitchinterval() == before


def _head_locked() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                    "WHERE l.pid = pg_backend_pid() AND c.relname = %s AND l.mode = 'RowShareLock'",
                    [AuditChainHead._meta.db_table])
        return cur.fetchone()[0] > 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks (SQLite locks the whole file)")
def test_batches_lock_the_head_only_once_they_hash_something(db):
    """A dry run or an import where nothing changed must not hold the chain's head — every audited action waits
    for it — for the length of the file."""
    assert not _head_locked()
    with transaction.atomic(), AuditBatches() as audit:
        assert not _head_locked()
        audit.rows(_events(1))
        assert _head_locked()  # from the first batch on, until the transaction ends


def _rename_units(prefix: str, new: str) -> StatementBehind:
    return StatementBehind(f"UPDATE {quoted_table(Unit)} SET name = %s WHERE code LIKE %s", [new, f"{prefix}%"])  # noqa: S608


def test_a_statement_behind_runs_in_the_callers_transaction(org):
    station = org.station
    for k in range(3):
        Unit.objects.create(code=f"TSB{k}", name=f"测试{k}", kind=station.kind, department=station.department,
                            division=station.division, parent=station)
    with transaction.atomic():
        with _rename_units("TSB", "改名") as renaming:
            computed = sum(range(100_000))  # the caller's own work meanwhile
        assert renaming.rowcount() == 3 and computed
        assert set(Unit.objects.filter(code__startswith="TSB").values_list("name", flat=True)) == {"改名"}
        transaction.set_rollback(True)
    assert set(Unit.objects.filter(code__startswith="TSB").values_list("name", flat=True)) == {"测试0", "测试1",
                                                                                               "测试2"}


def test_a_failed_statement_behind_is_the_error_and_nothing_stays(org):
    station = org.station
    Unit.objects.create(code="TSB0", name="测试", kind=station.kind, department=station.department,
                        division=station.division, parent=station)
    unit_table = quoted_table(Unit)
    with pytest.raises(IntegrityError), transaction.atomic():
        Unit.objects.filter(code="TSB0").update(name="改过")
        with StatementBehind(f"UPDATE {unit_table} SET code = NULL WHERE code = %s", ["TSB0"]):  # noqa: S608
            pass
    assert Unit.objects.get(code="TSB0").name == "测试"


def test_an_error_of_the_block_comes_first_and_the_statement_is_rolled_back(org):
    station = org.station
    Unit.objects.create(code="TSB0", name="测试", kind=station.kind, department=station.department,
                        division=station.division, parent=station)
    with pytest.raises(ZeroDivisionError), transaction.atomic(), _rename_units("TSB", "改名"):
        1 / 0  # noqa: B018
    assert Unit.objects.get(code="TSB0").name == "测试"
