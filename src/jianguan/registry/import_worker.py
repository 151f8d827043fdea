"""Checking a large CSV import in a second process while this one writes (decision 0004, "validation beside the
write").

The sequential import reads the whole file once to check it and once more to write it. For a large CSV file the
checks (a fifth of the work) run instead in a child process, which streams the rows that pass back CHUNK at a time;
this process writes them inside the import's one transaction as they arrive. All-or-nothing still holds: at the
child's first problem (or a revived cancelled entity found here) the transaction is rolled back at once, and the
rest of the file is checked without writing, so the report names every bad row; the transaction commits only after
the child's summary of the whole file says it is clean. The child reads no database (the reference data travels
with it), so it works the same against SQLite, PostgreSQL and a test database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import marshal
import multiprocessing
import pickle
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from jianguan.registry.domain.rows import FileProblem, RowError
from jianguan.registry.importer import (
    CHUNK,
    I_STATUS,
    I_USCC,
    Chunk,
    ImportResult,
    Lookups,
    Progress,
    open_source,
    refuse_revivals,
    validate_entity_rows,
)

# Below this size the child's start (≈ 0.7 s: a fresh interpreter importing Django and Polars) costs more than it
# saves; such files are checked and written one after the other.
PIPELINE_MIN_BYTES = 16 * 1024 * 1024
CHUNK_ROWS = CHUNK  # rows per message (tests use a few, to write several chunks before a bad row)
# Chunks received but not yet written (5,000 rows each, ≈ 1.5 MB): enough to keep both processes busy, few enough
# that memory stays bounded whatever the size of the file.
BUFFERED_CHUNKS = 8

_CHUNK, _PROBLEM, _PROGRESS, _DONE = b"C", b"X", b"P", b"D"
# How much of the file's start is read to estimate its rows (for the progress bar and the index decision).
ESTIMATE_SAMPLE_BYTES = 1024 * 1024


class WorkerFailed(Exception):
    """The checking process could not start or ended without reporting; nothing was written (message in
    Chinese). ``run_import`` then checks and writes the file in its own process."""


class _FileRefused(Exception):
    """Raised inside the import's transaction once the file turns out to hold a problem: rolls the writes back."""


class _Reporting(ImportResult):
    """The child's result: the first problem found is sent to the parent at once, so that it stops writing and
    rolls back instead of holding its transaction (and locks) open while the rest of the file is checked."""

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self._conn = conn

    def add_errors(self, errs: list[RowError]) -> None:
        first = not self.error_count
        super().add_errors(errs)
        if first and errs:
            self._conn.send_bytes(_PROBLEM)


def _child(conn: Any, job: bytes) -> None:
    """The child process: check the entity sheet; send every chunk of rows that pass (after a problem the parent
    only checks them against the database: a revived cancelled entity is a problem to report too), a note at the
    first problem, progress, then a summary.

    ``job`` is pickled by the parent and read only after ``django.setup()``: the user's scope is a method of an
    object whose module imports models, which cannot be imported before the apps are ready."""
    import django

    django.setup()
    path, in_scope, today, language, lookups, chunk = pickle.loads(job)  # noqa: S301 (from our parent)
    translation.activate(language)
    result = _Reporting(conn)
    source = None

    def sink(pending: Chunk) -> None:
        conn.send_bytes(_CHUNK + marshal.dumps(pending, 2))

    def progress(step: str, done: int, total: int | None, counts: dict[str, Any]) -> None:
        conn.send_bytes(_PROGRESS + marshal.dumps((done, total, *counts.values()), 2))

    try:
        source = open_source(Path(path), "entity")
        result.notes.extend(source.notes)
        validate_entity_rows(source, {}, in_scope=in_scope or (lambda code: True), today=today, result=result,
                             sink=sink, progress=progress, lookups=lookups, chunk=chunk)
    except FileProblem as exc:
        result.file_problem = str(exc)
    finally:
        if source is not None:
            source.close()
    summary = {"rows": result.rows, "bad_rows": result.bad_rows, "error_count": result.error_count,
               "errors": [e.as_list() for e in result.errors], "notes": result.notes,
               "file_problem": result.file_problem}
    conn.send_bytes(_DONE + pickle.dumps(summary))
    conn.close()


def estimate_rows(path: Path, size: int) -> int:
    """The rows a CSV file probably holds, from the line ends in its first mebibyte read as text in the file's
    encoding (a 0x0A byte inside a UTF-16 character is no line end); header excluded."""
    from jianguan.registry.importer import detect_encoding

    with path.open("rb") as fh:
        sample = fh.read(ESTIMATE_SAMPLE_BYTES)
    if not sample:
        return 0
    try:
        encoding, _note = detect_encoding(sample)
    except FileProblem:
        return 0
    lines = sample.decode(encoding, errors="ignore").count("\n")
    return max(0, round(lines * size / len(sample)) - 1)


class ValidationWorker:
    """A child process checking ``path``. :meth:`wait_for_rows`, then :meth:`chunks` inside the write's
    transaction for the rows that pass, and :meth:`drain` after a refusal, to finish the report.

    A thread receives the child's messages into a small queue, so the child keeps checking while this process
    writes."""

    def __init__(self, path: Path, *, in_scope: Callable[[str], bool] | None, today: dt.date,
                 lookups: Lookups, result: ImportResult, progress: Progress) -> None:
        self.result = result
        self.progress = progress
        self.writing = False
        self.checked: dict[str, int] = {}
        self._first: tuple[bytes, Any] | None = None
        self._done = False
        try:
            job = pickle.dumps((str(path), in_scope, today, translation.get_language() or "zh-hans", lookups,
                                CHUNK_ROWS))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:  # e.g. a scope given as a lambda
            raise WorkerFailed(_("无法把校验所需的数据交给校验进程：%(e)s") % {"e": exc}) from exc
        ctx = multiprocessing.get_context("spawn")  # not fork: Polars' thread pool does not survive a fork
        receive, send = ctx.Pipe(duplex=False)
        self._conn = receive
        self._process = ctx.Process(target=_child, name="jianguan-import-check", daemon=True, args=(send, job))
        self._queue: queue.Queue[tuple[bytes, Any]] = queue.Queue(BUFFERED_CHUNKS)
        self._thread = threading.Thread(target=self._receive, name="jianguan-import-receive", daemon=True)
        try:
            self._process.start()
            send.close()
            self._thread.start()
        except BaseException as exc:
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()
            receive.close()
            send.close()
            if not isinstance(exc, Exception):  # an interrupt stays an interrupt
                raise
            raise WorkerFailed(_("校验进程无法启动：%(e)s") % {"e": exc}) from exc

    def _receive(self) -> None:
        """The receiving thread. Whatever ends it, the parent hears of it (an empty tag), never waits forever."""
        try:
            while True:
                data = self._conn.recv_bytes()
                tag, body = data[:1], data[1:]
                if tag == _DONE:
                    self._queue.put((tag, pickle.loads(body)))  # noqa: S301 (our own child)
                    return
                self._queue.put((tag, marshal.loads(body) if body else None))  # noqa: S302 (our own child)
        except BaseException as exc:  # EOF when the child dies; anything else is reported the same way
            self._queue.put((b"", None if isinstance(exc, EOFError) else repr(exc)))

    def _messages(self) -> Iterator[tuple[bytes, Any]]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        while not self._done:
            tag, body = self._queue.get()
            if not tag:
                if body is not None:  # the receiving thread failed, not the child
                    raise WorkerFailed(_("与校验进程的通信中断（%(e)s），本次导入未写入任何数据，请重新提交")
                                       % {"e": body})
                self._process.join(timeout=5)
                raise WorkerFailed(_("校验进程意外退出（退出码 %(code)s），本次导入未写入任何数据，请重新提交")
                                   % {"code": self._process.exitcode})
            yield tag, body

    def wait_for_rows(self) -> bool:
        """Wait until the first rows that pass arrive (True: start writing) or a problem is found or the check
        ends first (False: nothing is written; :meth:`drain` finishes the report)."""
        for tag, body in self._messages():
            if tag == _PROGRESS:
                self._report(body)
                continue
            self._first = (tag, body)
            return tag == _CHUNK
        return False

    def _report(self, body: tuple[int, int | None, int, int]) -> None:
        """The child's progress: its own step until rows are being written (and again once a problem has stopped
        the writing); meanwhile only its counts, shown beside the writer's (:meth:`with_checked`)."""
        done, total, rows, bad = body
        # Before the child's summary, the result's bad rows are the revivals this process found.
        self.checked = {_("已校验行数"): rows, _("有问题的行"): bad + (0 if self._done else self.result.bad_rows)}
        if not self.writing:
            self.progress(_("校验"), done, total, self.checked)

    def with_checked(self, step: str, done: int, total: int | None, counts: dict[str, Any]) -> None:
        """The writer's progress, with the child's counts beside it."""
        self.progress(step, done, total, {**counts, **self.checked})

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The rows to write, CHUNK at a time, for use inside the import's transaction. Each chunk's stored rows
        are read once: a cancelled entity revived is an error here, and the writer compares with the same read.
        At the first problem — the child's or a revival — :class:`_FileRefused` rolls the transaction back."""
        from jianguan.registry.services import LookedUp, stored_entities

        result = self.result
        for tag, body in self._messages():
            if tag == _CHUNK:
                stored = stored_entities([v[I_USCC] for _, v in body])
                good = refuse_revivals(body, result, {code: old[1][I_STATUS] for code, old in stored.items()})
                if not result.ok:
                    raise _FileRefused
                yield LookedUp(good, stored)
            elif tag == _PROGRESS:
                self._report(body)
            elif tag == _PROBLEM:
                raise _FileRefused
            else:
                self._merge(body)
                if not result.ok:
                    raise _FileRefused

    def drain(self) -> None:
        """After a refusal (outside the rolled-back transaction): take the rest of the child's messages, checking
        the rows that pass against the database for revivals, until its summary completes the report."""
        self.writing = False
        for tag, body in self._messages():
            if tag == _CHUNK:
                refuse_revivals(body, self.result)
            elif tag == _PROGRESS:
                self._report(body)
            elif tag == _DONE:
                self._merge(body)

    def _merge(self, summary: dict[str, Any]) -> None:
        self._done = True
        result = self.result
        result.rows = summary["rows"]
        result.bad_rows += summary["bad_rows"]
        result.notes.extend(summary["notes"])
        result.file_problem = summary["file_problem"]
        result.add_errors([RowError(*e) for e in summary["errors"]])
        result.error_count += summary["error_count"] - len(summary["errors"])  # the ones beyond the report's limit
        result.errors.sort(key=lambda e: e.row)
        if not result.rows and not result.file_problem:
            result.file_problem = _("文件只有表头，没有数据行")

    def close(self) -> None:
        """Stop the child (if the write failed it may still be checking) and the receiving thread."""
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        while self._thread.is_alive():  # it may wait to put a message into a full queue
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._conn.close()


def write_while_checking(path: Path, result: ImportResult, *, actor: Any, in_scope: Callable[[str], bool] | None,
                         today: dt.date, lookups: Lookups, progress: Progress) -> None:
    """Check a large CSV file in a child process and write the rows that pass as they come, in one transaction
    that commits only if the whole file is clean. Fills ``result``."""
    from jianguan.registry.services import registry_import_write

    worker = ValidationWorker(path, in_scope=in_scope, today=today, lookups=lookups, result=result,
                              progress=progress)
    try:
        if not worker.wait_for_rows():
            worker.drain()  # a problem before any row passed: nothing to write
            return
        estimate = estimate_rows(path, path.stat().st_size)
        worker.writing = True
        worker.with_checked(_("校验并写入（全部写入后一次提交）"), 0, estimate, {})
        try:
            counts = registry_import_write(worker.chunks(), [], total=estimate, actor=actor, dry_run=False,
                                           today=today, progress=worker.with_checked,
                                           reason=_("批量导入：%(f)s") % {"f": result.file_name})
        except _FileRefused:
            worker.drain()  # rolled back; finish the report of every problem
            return
        (result.created, result.updated, result.unchanged), result.licences = counts
    finally:
        worker.close()
