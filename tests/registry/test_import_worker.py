"""A large CSV import is checked by a second process while this one writes; it stays all-or-nothing.

The threshold and the chunk size are lowered so that small files take the same path as a large one and are written
in several chunks before the bad row is reached. The child is a real process (spawned: a fresh interpreter).
"""

from __future__ import annotations

import datetime as dt
import marshal
from types import SimpleNamespace

import pytest

from jianguan.core.audit import audit_verify
from jianguan.core.models import AuditEntry
from jianguan.registry import import_worker
from jianguan.registry.importer import load_lookups, run_import
from jianguan.registry.models import Entity, EntityLabel
from tests.registry.importdata import row, uscc, write_csv

TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def beside(monkeypatch):
    """Every CSV file is checked in the child process, three rows to a chunk."""
    monkeypatch.setattr(import_worker, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(import_worker, "CHUNK_ROWS", 3)
    started = []
    real = import_worker.ValidationWorker.__init__

    def counting(self, *args, **kwargs):
        started.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(import_worker.ValidationWorker, "__init__", counting)
    return started


def stored(since: int = 0) -> dict[str, tuple]:
    """uscc → (the entity's imported fields, its rule labels, the `after` of its creation entry after ``since``)."""
    created = {e.object_id: e.after for e in AuditEntry.objects.filter(action="create", seq__gt=since,
                                                                        object_type="registry.entity")}
    labels: dict[int, list[str]] = {}
    for entity_id, code in EntityLabel.objects.values_list("entity_id", "label__code"):
        labels.setdefault(entity_id, []).append(code)
    return {e.uscc: (e.name, e.status, e.division_id, e.industry_id, str(e.registered_capital),
                     sorted(labels.get(e.pk, [])), created[str(e.pk)])
            for e in Entity.objects.all()}


ROWS = [dict(名称=f"威海市文登区第{n}号超市有限公司", 行业代码=("5211", "6110", "5292")[n % 3]) for n in range(10)]


def test_a_clean_file_is_written_as_the_sequential_import_writes_it(media, db, beside, monkeypatch):
    codes = [uscc() for _ in ROWS]
    path = write_csv(media / "a.csv", [row(统一社会信用代码=c, **r) for c, r in zip(codes, ROWS, strict=True)])
    result = run_import(path, today=TODAY)
    assert beside == [1]
    assert result.ok and (result.rows, result.created) == (10, 10)
    via_child = stored()
    assert set(via_child) == set(codes)
    assert audit_verify().ok

    # The same file, one after the other, gives the same rows, labels and audit entries.
    Entity.objects.all().delete()
    since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[0]
    monkeypatch.setattr(import_worker, "PIPELINE_MIN_BYTES", 1 << 40)
    again = run_import(path, today=TODAY)
    assert beside == [1] and again.created == 10
    assert stored(since) == via_child


def test_the_registrys_own_rows_checked_beside_the_write_keep_the_indexes_and_are_compared_again(media, db, beside,
                                                                                              monkeypatch):
    """The first chunk, read to judge how many rows are new before the tables are locked, is looked up again by the
    writer: an entity changed in the file is updated, the others are unchanged, and no index is dropped."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from jianguan.registry import services

    monkeypatch.setattr(services, "REBUILD_INDEXES_MIN_ROWS", 3)
    rows = [row(统一社会信用代码=uscc(), **r) for r in ROWS]
    path = write_csv(media / "a.csv", rows)
    assert run_import(path, today=TODAY).created == 10
    rows[1] = {**rows[1], "名称": "威海市文登区第1号超市有限公司（改名）"}
    with CaptureQueriesContext(connection) as ctx:
        again = run_import(write_csv(media / "b.csv", rows), today=TODAY)
    assert beside == [1, 1]
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 1, 9)
    assert not any(q["sql"].upper().startswith("DROP INDEX") for q in ctx.captured_queries)
    assert Entity.objects.filter(name__endswith="（改名）").count() == 1
    assert audit_verify().ok


def test_a_bad_row_after_several_written_chunks_leaves_nothing_and_every_bad_row_is_reported(media, db, beside):
    entries = AuditEntry.objects.count()
    rows = [row(**r) for r in ROWS] + [row(行政区划代码="379999"), row(), row(成立日期="2015-13-01")]
    path = write_csv(media / "a.csv", rows)
    written = []
    result = run_import(path, today=TODAY, progress=lambda step, done, total, counts: written.append((step, done)))
    assert beside == [1]
    assert ("写入", 9) in written  # three chunks of three rows went into the transaction before the bad row …
    assert not result.ok and result.created == 0  # … and were rolled back
    assert result.rows == 13 and result.bad_rows == 2
    assert [(e.row, e.column) for e in result.errors] == [(12, "行政区划代码"), (14, "成立日期")]
    assert Entity.objects.count() == 0 and EntityLabel.objects.count() == 0
    assert AuditEntry.objects.count() == entries and audit_verify().ok


def test_a_cancelled_entity_cannot_come_back_and_is_named_by_its_row(media, db, beside):
    code = uscc()
    run_import(write_csv(media / "a.csv", [row(统一社会信用代码=code, 登记状态="注销", 状态日期="2024-01-02")]),
               today=TODAY)
    rows = [row(**r) for r in ROWS[:7]] + [row(统一社会信用代码=code)] + [row(**r) for r in ROWS[7:]]
    result = run_import(write_csv(media / "b.csv", rows), today=TODAY)
    assert not result.ok
    assert [(e.row, e.column, e.value) for e in result.errors] == [(9, "登记状态", "存续")]
    assert "已注销" in result.errors[0].reason
    assert Entity.objects.count() == 1 and Entity.objects.get().status == "cancelled"


def test_a_file_that_cannot_be_read_halfway_is_refused_whole(media, db, beside, monkeypatch):
    # The encoding is judged on the first 256 KiB; a byte that is not UTF-8 further on stops the check there, after
    # several chunks were written.
    monkeypatch.setattr(import_worker, "CHUNK_ROWS", 200)
    path = write_csv(media / "a.csv", [row(**ROWS[n % 10]) for n in range(1100)])
    assert path.stat().st_size > 256 * 1024
    with path.open("ab") as fh:
        fh.write(b"\xff\xfe,\xff\n")
    written = []
    result = run_import(path, today=TODAY, progress=lambda step, done, total, counts: written.append((step, done)))
    assert beside == [1]
    assert ("写入", 200) in written  # the first chunk was written before the check reached the bad byte
    assert "无法按 utf-8-sig 编码读取" in result.file_problem and result.created == 0
    assert Entity.objects.count() == 0


def test_a_file_with_only_a_header_is_a_file_problem(media, db, beside):
    result = run_import(write_csv(media / "a.csv", []), today=TODAY)
    assert result.file_problem == "文件只有表头，没有数据行"


def test_a_checking_process_that_dies_is_reported_and_nothing_is_written(media, db):
    # A file that vanishes before the child opens it: the child fails without a summary.
    worker = import_worker.ValidationWorker(media / "missing.csv", in_scope=None, today=TODAY, lookups=load_lookups(),
                                            result=import_worker.ImportResult(), progress=lambda *a: None)
    try:
        with pytest.raises(import_worker.WorkerFailed, match="校验进程意外退出"):
            worker.wait_for_rows()
    finally:
        worker.close()


def test_small_files_and_workbooks_are_checked_first(media, db, monkeypatch):
    monkeypatch.setattr(import_worker, "write_while_checking", lambda *a, **k: pytest.fail("child started"))
    result = run_import(write_csv(media / "a.csv", [row()]), today=TODAY)
    assert result.ok and result.created == 1


def test_imported_entities_take_ids_the_next_entity_does_not_take_again(media, db):
    from tests.registry.factories import create_entity

    before = create_entity()
    Entity.objects.filter(pk=before.pk).delete()  # the largest id so far is never handed out again
    result = run_import(write_csv(media / "a.csv", [row() for _ in range(3)]), today=TODAY)
    assert result.ok and result.created == 3
    imported = sorted(Entity.objects.values_list("pk", flat=True))
    assert imported[0] > before.pk and imported == list(range(imported[0], imported[0] + 3))
    after = create_entity()  # the ORM's own insert continues after them
    assert after.pk > imported[-1]
    created = {e.object_id for e in AuditEntry.objects.filter(action="create", object_type="registry.entity")}
    assert {str(pk) for pk in imported} <= created


def test_if_the_checking_process_dies_the_file_is_checked_and_written_here_instead(media, db, beside, monkeypatch,
                                                                                    caplog):
    real = import_worker.ValidationWorker.__init__

    def lost(self, path, **kwargs):  # the child cannot open the file: it ends without a word
        real(self, media / "gone.csv", **kwargs)

    monkeypatch.setattr(import_worker.ValidationWorker, "__init__", lost)
    result = run_import(write_csv(media / "a.csv", [row(**r) for r in ROWS]), today=TODAY)
    assert result.ok and result.created == 10 and Entity.objects.count() == 10
    assert "checking in this process instead" in caplog.text


def test_after_the_first_bad_row_revivals_are_still_found_and_reported(media, db, beside):
    code = uscc()
    run_import(write_csv(media / "a.csv", [row(统一社会信用代码=code, 登记状态="注销", 状态日期="2024-01-02")]),
               today=TODAY)
    rows = [row(行政区划代码="379999")] + [row(**r) for r in ROWS] + [row(统一社会信用代码=code)]
    result = run_import(write_csv(media / "b.csv", rows), today=TODAY)
    assert [(e.row, e.column) for e in result.errors] == [(2, "行政区划代码"), (13, "登记状态")]
    assert result.bad_rows == 2 and Entity.objects.count() == 1


def test_the_write_is_rolled_back_at_the_first_problem_not_after_the_whole_file(media, db, beside, monkeypatch):
    # Rows 2–1001 pass (the first chunk, written), row 1002 is bad, and 12,000 good rows follow: the writer must not
    # hold its transaction open (with the database's write lock) while the child checks them.
    from django.db import connection

    monkeypatch.setattr(import_worker, "CHUNK_ROWS", 1000)
    rows = [row(**ROWS[n % 10]) for n in range(1000)] + [row(成立日期="2015-13-01")] + [row(**ROWS[n % 10])
                                                                                        for n in range(12_000)]
    path = write_csv(media / "a.csv", rows)
    outside = len(connection.savepoint_ids)  # the test's own transaction
    seen = []

    def progress(step, done, total, counts):
        seen.append((step, len(connection.savepoint_ids) > outside, counts.get("已校验行数", 0)))

    result = run_import(path, today=TODAY, progress=progress)
    assert not result.ok and result.bad_rows == 1 and Entity.objects.count() == 0
    assert ("写入", True) in [(step, inside) for step, inside, _checked in seen]  # the first chunk was written …
    late = [inside for step, inside, checked in seen if checked >= 10_000]
    assert late and not any(late)  # … and the check's later progress came after the rollback


def test_a_receiving_thread_that_fails_does_not_leave_the_import_waiting(media, db, beside, monkeypatch):
    def broken(*args):
        raise ValueError("bad marshal data")

    # The child is a separate interpreter: only this process's reading of its messages breaks.
    monkeypatch.setattr(import_worker, "marshal", SimpleNamespace(loads=broken, dumps=marshal.dumps))
    result = run_import(write_csv(media / "a.csv", [row(**r) for r in ROWS]), today=TODAY)
    assert result.ok and result.created == 10  # the child was given up and the file checked here instead


def test_a_scope_that_cannot_travel_to_the_child_is_checked_here(media, db, beside):
    result = run_import(write_csv(media / "a.csv", [row(**r) for r in ROWS]), today=TODAY,
                        in_scope=lambda code: code.startswith("3710"))
    assert result.ok and result.created == 10


def test_a_child_that_cannot_start_leaves_the_file_to_this_process(media, db, beside, monkeypatch):
    import multiprocessing.context

    def cannot(self):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, "start", cannot)
    result = run_import(write_csv(media / "a.csv", [row(**r) for r in ROWS]), today=TODAY)
    assert result.ok and result.created == 10


def test_the_row_estimate_reads_line_ends_in_the_files_encoding(tmp_path):
    rows = [row(名称=f"上海上庄路{n}号店", 住所="山东省威海市文登区上庄路1号") for n in range(2000)]
    for encoding in ("utf-8-sig", "utf-16"):
        path = write_csv(tmp_path / f"{encoding}.csv", rows, encoding=encoding)
        assert 1900 <= import_worker.estimate_rows(path, path.stat().st_size) <= 2100, encoding


def test_the_checking_runs_with_rare_garbage_collections_in_whatever_process_runs_it(media, db):
    """The checking process builds most of an import's tuples; with the default thresholds (a collection every 700
    allocations) the collector took half its CPU time in a million-row import. It must collect as rarely as the
    writing process does, and put the thresholds back after."""
    import gc

    from jianguan.registry.importer import ImportResult, open_source, validate_entity_rows

    before = gc.get_threshold()
    source = open_source(write_csv(media / "a.csv", [row()]), "entity")
    seen = []
    try:
        validate_entity_rows(source, {}, in_scope=lambda code: True, today=TODAY, result=ImportResult(),
                             sink=lambda chunk: seen.append((len(chunk), gc.get_threshold()[0])),
                             progress=lambda *a: None, lookups=load_lookups())
    finally:
        source.close()
    assert seen == [(1, 200_000)]
    assert gc.get_threshold() == before


def test_rare_collections_are_shared_by_overlapping_imports_and_put_back_by_the_last_one_out():
    """Two imports in one server process: the first to finish must not restore the defaults under the second, nor
    the second leave the rare setting behind for good."""
    import gc

    from jianguan.core.process import RARE_COLLECTIONS, rare_collections

    before = gc.get_threshold()
    first, second = rare_collections(), rare_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == RARE_COLLECTIONS  # the second still runs
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
