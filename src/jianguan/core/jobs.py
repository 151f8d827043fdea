"""Persistent background jobs with progress.

A job is a row in `core_job`. Apps register a handler per kind with `@job_handler("registry.import")`;
`job_submit` queues a job; a worker (`jianguan worker`, or the thread `jianguan serve` starts) claims queued
jobs and runs them, reporting progress through `JobContext.progress`. A worker that dies leaves its job
`running` with a stale heartbeat; the next worker to start marks such jobs failed with the reason, so a job is
never silently lost.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from jianguan.core.models import Job, User

log = logging.getLogger(__name__)

Handler = Callable[["JobContext"], dict[str, Any] | None]
_HANDLERS: dict[str, Handler] = {}


class JobError(Exception):
    """A failure to report to the user as the job's error (message in Chinese)."""


def job_handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[kind] = fn
        return fn
    return register


def registered_kinds() -> list[str]:
    _import_app_jobs()
    return sorted(_HANDLERS)


def _import_app_jobs() -> None:
    from importlib import import_module

    from django.apps import apps

    for cfg in apps.get_app_configs():
        if cfg.name.startswith("jianguan."):
            try:
                import_module(f"{cfg.name}.jobs")
            except ModuleNotFoundError as exc:
                if exc.name != f"{cfg.name}.jobs":
                    raise


class JobContext:
    """What a handler sees: its job's parameters and a way to report progress."""

    def __init__(self, job: Job, on_progress: Callable[[Job], None] | None = None) -> None:
        self.job = job
        self.params = job.params
        self._on_progress = on_progress
        self._last_write = 0.0

    def progress(self, step: str | None = None, *, done: int | None = None, total: int | None = None,
                 counts: dict[str, Any] | None = None, force: bool = False) -> None:
        job = self.job
        if step is not None:
            job.step = step[:200]
        if done is not None:
            job.done = done
        if total is not None:
            job.total = total
        if counts:
            job.counts = {**job.counts, **counts}
        now = time.monotonic()
        if force or step is not None or now - self._last_write >= 0.5:
            self._last_write = now
            job.heartbeat_at = timezone.now()
            Job.objects.filter(pk=job.pk).update(step=job.step, done=job.done, total=job.total,
                                                 counts=job.counts, heartbeat_at=job.heartbeat_at)
        if self._on_progress:
            self._on_progress(job)


def job_submit(kind: str, title: str, params: dict[str, Any] | None = None, *, user: User | None = None) -> Job:
    """Queue a job; a worker picks it up."""
    if kind not in registered_kinds():
        raise ValueError(f"未知的任务类型 {kind!r} (unknown job kind)")
    return Job.objects.create(kind=kind, title=title, params=params or {}, created_by=user,
                              unit=getattr(user, "unit", None))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def job_reap_stale(now: Any = None) -> int:
    """Mark failed the running jobs whose worker stopped sending heartbeats (server restart, crash)."""
    now = now or timezone.now()
    limit = now - timezone.timedelta(seconds=settings.JIANGUAN_JOB_STALE_SECONDS)
    stale = Job.objects.filter(status=Job.Status.RUNNING, heartbeat_at__lt=limit)
    return stale.update(status=Job.Status.FAILED, finished_at=now,
                        error="执行任务的进程已停止（服务重启或崩溃），任务已中断，请重新提交。"
                              " (The worker running this job stopped; resubmit it.)")


def job_claim_next() -> Job | None:
    """Atomically move the oldest queued job to running for this worker."""
    me = worker_id()
    with transaction.atomic():
        job = Job.objects.select_for_update(skip_locked=True).filter(status=Job.Status.QUEUED) \
            .order_by("created_at", "id").first()
        if job is None:
            return None
        now = timezone.now()
        updated = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=now, heartbeat_at=now, worker=me)
        if not updated:
            return None
    job.refresh_from_db()
    return job


def job_run(job: Job, on_progress: Callable[[Job], None] | None = None) -> Job:
    """Run a claimed (or freshly created) job to completion in this process."""
    _import_app_jobs()
    handler = _HANDLERS.get(job.kind)
    now = timezone.now()
    if job.status != Job.Status.RUNNING:
        job.status, job.started_at, job.heartbeat_at, job.worker = Job.Status.RUNNING, now, now, worker_id()
        job.save(update_fields=["status", "started_at", "heartbeat_at", "worker"])
    ctx = JobContext(job, on_progress)
    beating = threading.Event()
    threading.Thread(target=_heartbeat, args=(job.pk, beating), name=f"job-{job.pk}-heartbeat", daemon=True).start()
    try:
        if handler is None:
            raise JobError(f"未知的任务类型 {job.kind}")
        result = handler(ctx) or {}
    except Exception as exc:  # any failure is recorded on the job, never lost
        job.status = Job.Status.FAILED
        job.error = str(exc) if isinstance(exc, JobError) else f"{type(exc).__name__}: {exc}"
        log.error("job %s failed: %s", job.pk, traceback.format_exc())
    else:
        job.status = Job.Status.SUCCEEDED
        job.result = result
        if job.total:
            job.done = job.total
    finally:
        beating.set()
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "result", "done", "finished_at", "step", "counts", "total"])
    return job


def _heartbeat(job_id: int, stop: threading.Event, every: float = 10.0) -> None:
    """Keep a running job's heartbeat fresh while its handler works, so only a dead process looks stale."""
    while not stop.wait(every):
        try:
            Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now())
        except Exception:  # the database may be busy with the job's own bulk write; try again next beat
            log.debug("heartbeat skipped for job %s", job_id)
    from django.db import connection

    connection.close()


def job_run_now(kind: str, title: str, params: dict[str, Any] | None = None, *, user: User | None = None,
                on_progress: Callable[[Job], None] | None = None) -> Job:
    """Create a job and run it in this process (CLI commands), still recorded and visible in the UI."""
    job = job_submit(kind, title, params, user=user)
    return job_run(job, on_progress)


def worker_loop(stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Claim and run jobs until `stop` is set."""
    job_reap_stale()
    last_reap = time.monotonic()
    while not stop.is_set():
        close_old_connections()
        try:
            job = job_claim_next()
            if job is not None:
                job_run(job)
                continue
            if time.monotonic() - last_reap > 30:
                job_reap_stale()
                last_reap = time.monotonic()
        except Exception:  # keep the worker alive; the error is in the log
            log.exception("worker loop error")
        stop.wait(poll_seconds)


def start_worker_thread() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=worker_loop, args=(stop,), name="jianguan-worker", daemon=True).start()
    return stop
