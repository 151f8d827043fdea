"""Persistent background jobs with progress.

A job is a row in `core_job`. Apps register a handler per kind with `@job_handler("registry.import")`;
`job_submit` queues a job; a worker (`jianguan worker`, or the thread `jianguan serve` starts) claims queued
jobs and runs them, reporting progress through `JobContext.progress`. A worker that dies leaves its job
`running` with a stale heartbeat; the next worker to start marks such jobs failed with the reason, so a job is
never silently lost.

Schedules: an app declares `schedules = [("credit.lists_sweep", "daily", "02:00"), …]` on its AppConfig
(periods `daily "HH:MM"`, `monthly "DD HH:MM"`, `yearly "MM-DD HH:MM"`, local time of settings.TIME_ZONE). The
worker loop calls `scheduler_tick`: for each schedule, the latest occurrence that is due is submitted once —
a `core.ScheduledRun` row, unique per kind and period, is written in the same transaction as the job, so several
workers submit it exactly once, and a worker started after downtime still submits the missed occurrence.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from jianguan.core.models import Job, ScheduledRun, User

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
    limit = now - dt.timedelta(seconds=settings.JIANGUAN_JOB_STALE_SECONDS)
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
        if isinstance(exc, JobError):  # the handler's own refusal (a bad file, say): its message says it all
            job.error = str(exc)
            log.info("job %s failed: %s", job.pk, exc)
        else:
            job.error = f"{type(exc).__name__}: {exc}"
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


# ---------------------------------------------------------------------------------------------------------------
# Schedules

PERIODS = ("daily", "monthly", "yearly")
_AT = {"daily": re.compile(r"^(\d{2}):(\d{2})$"), "monthly": re.compile(r"^(\d{2}) (\d{2}):(\d{2})$"),
       "yearly": re.compile(r"^(\d{2})-(\d{2}) (\d{2}):(\d{2})$")}
Clock = Callable[[], dt.datetime]


class ScheduleError(ValueError):
    """A schedule declaration that cannot work (message in Chinese)."""


@dataclass(frozen=True)
class Schedule:
    """A job kind submitted once per day, month or year at a local time (see the module docstring)."""

    kind: str
    period: str
    at: str
    app: str = ""

    def __post_init__(self) -> None:
        where = f"{self.app or '?'} 模块的定时任务 {self.kind!r}"
        if self.period not in PERIODS:
            raise ScheduleError(f"{where}：周期必须是 {'、'.join(PERIODS)} 之一，而不是 {self.period!r}")
        match = _AT[self.period].match(self.at)
        fmt = {"daily": "HH:MM", "monthly": "DD HH:MM", "yearly": "MM-DD HH:MM"}[self.period]
        if match is None:
            raise ScheduleError(f"{where}：时间应写作 {fmt!r}，而不是 {self.at!r}")
        *date_part, hour, minute = (int(x) for x in match.groups())
        if hour > 23 or minute > 59:
            raise ScheduleError(f"{where}：时间 {self.at!r} 无效")
        if self.period == "monthly" and not 1 <= date_part[0] <= 28:
            raise ScheduleError(f"{where}：每月执行日须在 01 至 28 之间（每个月都有），而不是 {self.at!r}")
        if self.period == "yearly":
            try:
                dt.date(2027, *date_part)  # not a leap year: 02-29 would skip three years in four
            except ValueError:
                raise ScheduleError(f"{where}：日期 {self.at!r} 不是每年都有的日期") from None

    def _parts(self) -> list[int]:
        return [int(x) for x in _AT[self.period].match(self.at).groups()]  # type: ignore[union-attr]

    def occurrence(self, period_start: dt.date) -> dt.datetime:
        """The aware local date-time of this schedule in the period starting on `period_start`."""
        parts = self._parts()
        hour, minute = parts[-2:]
        if self.period == "daily":
            day = period_start
        elif self.period == "monthly":
            day = period_start.replace(day=parts[0])
        else:
            day = period_start.replace(month=parts[0], day=parts[1])
        return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))

    def _period_start(self, day: dt.date, back: int = 0) -> dt.date:
        if self.period == "daily":
            return day - dt.timedelta(days=back)
        if self.period == "monthly":
            n = day.year * 12 + day.month - 1 - back
            return dt.date(n // 12, n % 12 + 1, 1)
        return dt.date(day.year - back, 1, 1)

    @staticmethod
    def period_key_of(period: str, occurrence: dt.datetime) -> str:
        local = timezone.localtime(occurrence)
        return {"daily": f"{local:%Y-%m-%d}", "monthly": f"{local:%Y-%m}", "yearly": f"{local:%Y}"}[period]

    def period_key(self, occurrence: dt.datetime) -> str:
        return self.period_key_of(self.period, occurrence)

    def latest_due(self, now: dt.datetime) -> dt.datetime:
        """The most recent occurrence at or before `now` (this period's, or the previous period's)."""
        today = timezone.localtime(now).date()
        this = self.occurrence(self._period_start(today))
        return this if this <= now else self.occurrence(self._period_start(today, back=1))

    def next_after(self, now: dt.datetime) -> dt.datetime:
        today = timezone.localtime(now).date()
        this = self.occurrence(self._period_start(today))
        if this > now:
            return this
        nxt = {"daily": today + dt.timedelta(days=1), "monthly": self._period_start(today, back=-1),
               "yearly": dt.date(today.year + 1, 1, 1)}[self.period]
        return self.occurrence(nxt)


def schedules() -> list[Schedule]:
    """Every installed app's declared schedules, validated (unknown kinds and bad times raise ScheduleError)."""
    from django.apps import apps

    kinds = set(registered_kinds())
    out: list[Schedule] = []
    seen: set[str] = set()
    for cfg in apps.get_app_configs():
        for entry in getattr(cfg, "schedules", None) or ():
            kind, period, at = entry
            schedule = Schedule(kind, period, at, app=cfg.label)
            if kind not in kinds:
                raise ScheduleError(f"{cfg.label} 模块的定时任务 {kind!r} 没有对应的任务处理程序 (no job handler)")
            if kind in seen:
                raise ScheduleError(f"定时任务 {kind!r} 被声明了两次")
            seen.add(kind)
            out.append(schedule)
    return out


def scheduled_params(schedule: Schedule, occurrence: dt.datetime, now: dt.datetime) -> dict[str, Any]:
    """What a scheduled job receives: when it was due, and today's local date (the data it should look at)."""
    return {"scheduled_for": timezone.localtime(occurrence).isoformat(),
            "as_of": timezone.localtime(now).date().isoformat(), "scheduled": True}


def schedule_submit(schedule: Schedule, occurrence: dt.datetime, now: dt.datetime) -> Job | None:
    """Submit `schedule`'s job for the period of `occurrence` unless some worker already did (then None)."""
    key = schedule.period_key(occurrence)
    if ScheduledRun.objects.filter(kind=schedule.kind, period=key).exists():
        return None
    try:
        with transaction.atomic():
            run = ScheduledRun.objects.create(kind=schedule.kind, period=key, scheduled_for=occurrence,
                                              submitted_at=now)
            job = job_submit(schedule.kind, f"定时任务 {schedule.kind} {key}",
                             scheduled_params(schedule, occurrence, now))
            run.job = job
            run.save(update_fields=["job"])
    except IntegrityError:  # another worker won the race for this period
        return None
    log.info("scheduled job %s submitted for %s (job %s)", schedule.kind, key, job.pk)
    return job


def scheduler_tick(now: dt.datetime | None = None) -> list[Job]:
    """Submit every schedule whose latest due occurrence has not been submitted yet; returns the new jobs."""
    now = now or timezone.now()
    submitted = []
    for schedule in schedules():
        job = schedule_submit(schedule, schedule.latest_due(now), now)
        if job is not None:
            submitted.append(job)
    return submitted


def scheduler_enabled() -> bool:
    return os.environ.get("JIANGUAN_SCHEDULER", "on").strip().lower() not in ("0", "off", "false", "no")


def worker_loop(stop: threading.Event, poll_seconds: float = 1.0, *, clock: Clock = timezone.now,
                schedule: bool | None = None, tick_seconds: float = 30.0) -> None:
    """Claim and run jobs until `stop` is set; every `tick_seconds` also submit due scheduled jobs."""
    job_reap_stale()
    schedule = scheduler_enabled() if schedule is None else schedule
    last_reap = time.monotonic()
    last_tick = -float("inf")
    while not stop.is_set():
        close_old_connections()
        try:
            if schedule and time.monotonic() - last_tick >= tick_seconds:
                last_tick = time.monotonic()
                scheduler_tick(clock())
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
