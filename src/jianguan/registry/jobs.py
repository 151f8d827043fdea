"""Background jobs of the registry: the bulk import (`registry.import`)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from jianguan.core.access import data_scope
from jianguan.core.jobs import JobContext, JobError, job_handler
from jianguan.core.models import Job
from jianguan.registry.importer import import_max_bytes, report_xlsx, run_import
from jianguan.registry.services import ImportConflict


def report_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports" / "reports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def report_paths(job_id: int, token: str) -> tuple[Path, Path]:
    """(JSON-lines file of every reported problem, Excel report) of an import job. The random token keeps the
    names unguessable: the files hold personal data (legal representatives, phone numbers)."""
    base = report_dir() / f"job-{job_id}-{token}"
    return base.with_suffix(".jsonl"), base.with_suffix(".xlsx")


def import_outcome_message(summary: dict[str, Any]) -> str:
    if summary.get("file_problem"):
        return _("文件无法导入：%(p)s") % {"p": summary["file_problem"]}
    return _("共 %(rows)d 行数据，其中 %(bad)d 行有问题（%(n)d 处），未导入任何数据。请按问题清单修改后重新导入") % {
        "rows": summary["rows"] + summary.get("licence_rows", 0), "bad": summary["bad_rows"],
        "n": summary["error_count"]}


class ProgressRelay:
    """Progress of the write pass, which runs inside one long transaction.

    Updating the job row from that transaction would stay invisible until the commit (and lock the row against
    the heartbeat), so the latest figures go to the command line's callback at once and, on PostgreSQL, to the job
    row from a thread with its own connection. SQLite admits one writer, so there the page shows the write step
    (set before the transaction opens) until the import commits.
    """

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self._latest: tuple[str, int, int | None, dict[str, Any]] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if connection.vendor == "postgresql":
            self._thread = threading.Thread(target=self._run, name=f"import-progress-{ctx.job.pk}", daemon=True)
            self._thread.start()

    def push(self, step: str, done: int, total: int | None, counts: dict[str, Any]) -> None:
        job = self.ctx.job
        job.step, job.done, job.total, job.counts = step[:200], done, total, {**job.counts, **counts}
        self._latest = (job.step, done, total, job.counts)
        if self.ctx._on_progress:
            self.ctx._on_progress(job)

    def _run(self) -> None:
        from django.db import connection as own

        try:
            while not self._stop.wait(1.0):
                latest, self._latest = self._latest, None
                if latest is None:
                    continue
                step, done, total, counts = latest
                try:
                    Job.objects.filter(pk=self.ctx.job.pk).update(step=step, done=done, total=total, counts=counts,
                                                                  heartbeat_at=timezone.now())
                except DatabaseError:  # progress is best effort; the import itself is unaffected
                    continue
        finally:
            own.close()

    def discard(self) -> None:
        """Forget the figures not yet written to the job row (the write they describe was rolled back)."""
        self._latest = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _forget_written(ctx: JobContext) -> None:
    """A failed import wrote nothing in the end: drop the created/updated counts the write reported on the way."""
    written = {_("新增"), _("更新"), _("无变化")}
    ctx.job.counts = {k: v for k, v in ctx.job.counts.items() if k not in written}


@job_handler("registry.import")
def registry_import(ctx: JobContext) -> dict[str, Any]:
    """Import an uploaded registry file: params `path`, `file_name`, `dry_run`, `max_bytes`, `today` (optional)."""
    p = ctx.params
    user = ctx.job.created_by
    if user is None:
        in_scope = None  # the command line: an operator with access to the server
    else:
        scope = data_scope(user)
        in_scope = scope.covers_division
    today = dt.date.fromisoformat(p["today"]) if p.get("today") else timezone.localdate()

    relay = ProgressRelay(ctx)
    outer = connection.in_atomic_block  # only in tests, which wrap everything in a transaction

    def progress(step: str, done: int, total: int | None, counts: dict[str, Any]) -> None:
        if connection.in_atomic_block and not outer:  # the write pass: not through its own uncommitted transaction
            relay.push(step, done, total, counts)
            return
        if step == _("校验"):
            # Checking again after a write (a large file whose problem rolled the write back, or a check started
            # over in this process): what the write counted is gone.
            relay.discard()
            _forget_written(ctx)
        ctx.progress(step, done=done, total=total, counts=counts)

    try:
        result = run_import(p["path"], actor=user, in_scope=in_scope, today=today, dry_run=bool(p.get("dry_run")),
                            max_bytes=p.get("max_bytes") or import_max_bytes("cli"), progress=progress,
                            file_name=p.get("file_name", ""))
    except Exception as exc:
        _forget_written(ctx)  # whatever went wrong, the import's transaction was rolled back
        if isinstance(exc, ImportConflict):
            raise JobError(str(exc)) from exc
        if isinstance(exc, OperationalError):  # SQLite: another writer held the database past its busy timeout
            busy = _("数据库正忙（可能有另一个导入正在写入），本次导入未写入任何数据，请稍后重新提交。（%(e)s）")
            raise JobError(busy % {"e": exc}) from exc
        raise
    finally:
        relay.stop()
    summary = result.summary()
    try:
        summary["url"] = reverse("registry:import_status", args=[ctx.job.pk])
    except NoReverseMatch:  # the registry URLconf does not include the import pages yet
        summary["url"] = ""
    if not result.ok:
        summary["report_token"] = secrets.token_hex(12)
        jsonl, xlsx = report_paths(ctx.job.pk, summary["report_token"])
        with jsonl.open("w", encoding="utf-8") as fh:
            for e in result.errors:
                fh.write(json.dumps(e.as_list(), ensure_ascii=False) + "\n")
        report_xlsx(summary, [e.as_list() for e in result.errors], xlsx)
        ctx.job.result = summary
        # Only what the check found: rows written before a problem turned up (a large file is written while it is
        # checked) were rolled back, so counts of created or updated rows would mislead.
        ctx.job.counts = {_("已校验行数"): result.rows + result.licence_rows, _("有问题的行"): result.bad_rows}
        raise JobError(import_outcome_message(summary))
    ctx.progress(_("完成（试运行，未写入）") if result.dry_run else _("完成"), done=result.rows, total=result.rows,
                 counts={_("新增"): result.created, _("更新"): result.updated, _("无变化"): result.unchanged},
                 force=True)
    return summary
