"""Scheduled jobs: apps declare when, the worker submits each period's job exactly once, and catches up."""

from __future__ import annotations

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from jianguan.core.jobs import (
    Schedule,
    ScheduleError,
    job_claim_next,
    schedule_submit,
    scheduler_tick,
    schedules,
    worker_loop,
)
from jianguan.core.models import Job, ScheduledRun

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> dt.datetime:
    """A local (Asia/Shanghai) time, as the injected clock returns it."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


def submitted() -> list[tuple[str, str]]:
    """The credit module's submitted periods (other modules declare schedules too)."""
    return sorted(ScheduledRun.objects.filter(kind__startswith="credit.").values_list("kind", "period"))


def credit(jobs: list[Job]) -> list[Job]:
    return [j for j in jobs if j.kind.startswith("credit.")]


# --- declarations --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("period", "when", "message"), [
    ("weekly", "02:00", "周期必须是"),
    ("daily", "2:00", "时间应写作 'HH:MM'"),
    ("daily", "24:00", "无效"),
    ("monthly", "31 03:00", "01 至 28"),
    ("yearly", "02-29 03:00", "不是每年都有的日期"),
    ("yearly", "07-01", "时间应写作 'MM-DD HH:MM'"),
])
def test_a_bad_schedule_declaration_is_refused_with_a_clear_message(period, when, message):
    with pytest.raises(ScheduleError, match=message):
        Schedule("credit.lists_sweep", period, when, app="credit")


def test_a_schedule_for_a_kind_without_a_handler_is_refused(monkeypatch):
    cfg = apps.get_app_config("credit")
    monkeypatch.setattr(cfg, "schedules", [*cfg.schedules, ("credit.no_such_job", "daily", "01:00")])
    with pytest.raises(ScheduleError, match="没有对应的任务处理程序"):
        schedules()


def test_the_credit_module_declares_its_two_list_jobs():
    got = {(s.kind, s.period, s.at) for s in schedules()}
    assert ("credit.lists_sweep", "daily", "02:00") in got
    assert ("credit.abnormal_candidates", "yearly", "07-01 03:00") in got


# --- when is a job due ----------------------------------------------------------------------------------------


def test_the_latest_due_occurrence_and_the_next_one_in_local_time():
    daily = Schedule("credit.lists_sweep", "daily", "02:00")
    assert daily.latest_due(at(2026, 7, 1, 1, 59)) == at(2026, 6, 30, 2, 0)
    assert daily.latest_due(at(2026, 7, 1, 2, 0)) == at(2026, 7, 1, 2, 0)
    assert daily.next_after(at(2026, 7, 1, 2, 0)) == at(2026, 7, 2, 2, 0)
    # 01:30 in Shanghai is the previous day in UTC: the period is still the local day.
    assert daily.period_key(daily.latest_due(at(2026, 7, 1, 2, 30).astimezone(dt.UTC))) == "2026-07-01"

    yearly = Schedule("credit.abnormal_candidates", "yearly", "07-01 03:00")
    assert yearly.latest_due(at(2026, 6, 30, 23, 0)) == at(2025, 7, 1, 3, 0)
    assert yearly.latest_due(at(2026, 7, 2, 9, 0)) == at(2026, 7, 1, 3, 0)
    assert yearly.next_after(at(2026, 7, 2, 9, 0)) == at(2027, 7, 1, 3, 0)
    assert yearly.period_key(at(2026, 7, 1, 3, 0)) == "2026"

    monthly = Schedule("credit.lists_sweep", "monthly", "05 04:30")
    assert monthly.latest_due(at(2026, 1, 4, 0, 0)) == at(2025, 12, 5, 4, 30)
    assert monthly.next_after(at(2026, 12, 6, 0, 0)) == at(2027, 1, 5, 4, 30)
    assert monthly.period_key(at(2026, 1, 5, 4, 30)) == "2026-01"


# --- exactly once per period ----------------------------------------------------------------------------------


def test_each_period_is_submitted_once_however_often_the_worker_ticks(db):
    scheduler_tick(at(2026, 7, 1, 3, 0))
    assert submitted() == [("credit.abnormal_candidates", "2026"), ("credit.lists_sweep", "2026-07-01")]
    assert scheduler_tick(at(2026, 7, 1, 3, 0)) == []
    assert scheduler_tick(at(2026, 7, 1, 23, 59)) == []
    [job] = credit(scheduler_tick(at(2026, 7, 2, 2, 0)))
    assert job.kind == "credit.lists_sweep"
    assert job.params == {"scheduled_for": "2026-07-02T02:00:00+08:00", "as_of": "2026-07-02", "scheduled": True}
    assert Job.objects.filter(kind__startswith="credit.").count() == 3
    assert ScheduledRun.objects.get(kind="credit.lists_sweep", period="2026-07-02").job == job


def test_a_worker_started_after_downtime_submits_the_missed_occurrence_once(db):
    # Down from 30 June to 2 July 10:00: the 1 July yearly job and the 2 July daily job, each once.
    jobs = credit(scheduler_tick(at(2026, 7, 2, 10, 0)))
    assert sorted(j.kind for j in jobs) == ["credit.abnormal_candidates", "credit.lists_sweep"]
    yearly = next(j for j in jobs if j.kind == "credit.abnormal_candidates")
    assert yearly.params["scheduled_for"] == "2026-07-01T03:00:00+08:00"
    assert yearly.params["as_of"] == "2026-07-02"
    assert scheduler_tick(at(2026, 7, 2, 10, 1)) == []  # nor anything of the other modules


def test_a_second_worker_submitting_the_same_period_gets_nothing(db):
    schedule = Schedule("credit.lists_sweep", "daily", "02:00")
    occurrence = at(2026, 7, 1, 2, 0)
    first = schedule_submit(schedule, occurrence, at(2026, 7, 1, 2, 0))
    second = schedule_submit(schedule, occurrence, at(2026, 7, 1, 2, 0, 5))
    assert first is not None and second is None
    assert Job.objects.filter(kind="credit.lists_sweep").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_racing_for_a_period_submit_one_job():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need a server database (SQLite test databases live in one connection)")
    schedule = Schedule("credit.lists_sweep", "daily", "02:00")
    occurrence = at(2026, 7, 1, 2, 0)
    start = threading.Barrier(4)
    results: list[object] = []

    def worker() -> None:
        from django.db import connection as own

        try:
            start.wait()
            results.append(schedule_submit(schedule, occurrence, at(2026, 7, 1, 2, 0)))
        finally:
            own.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert sum(r is not None for r in results) == 1
    assert Job.objects.filter(kind="credit.lists_sweep").count() == 1
    assert ScheduledRun.objects.filter(kind="credit.lists_sweep").count() == 1


# --- the worker loop and the command line ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_submits_and_runs_due_jobs_with_its_clock():
    stop = threading.Event()
    calls = []
    n = len(schedules())

    def clock() -> dt.datetime:
        # One tick per loop iteration (tick_seconds=0), one job run per iteration: stop once all have had a turn.
        calls.append(1)
        if len(calls) > n:
            stop.set()
        return at(2026, 7, 1, 3, 30)

    worker_loop(stop, poll_seconds=0, clock=clock, schedule=True, tick_seconds=0)
    done = {j.kind: j.status for j in credit(list(Job.objects.all()))}
    assert done == {"credit.abnormal_candidates": "succeeded", "credit.lists_sweep": "succeeded"}
    assert Job.objects.get(kind="credit.abnormal_candidates").result["year"] == 2025
    assert job_claim_next() is None
    assert ScheduledRun.objects.count() == n


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_does_not_schedule_when_turned_off():
    stop = threading.Event()
    stop_after_one = threading.Timer(0.2, stop.set)
    stop_after_one.start()
    worker_loop(stop, poll_seconds=0.05, clock=lambda: at(2026, 7, 1, 3, 30), schedule=False)
    assert not ScheduledRun.objects.exists()


def test_jobs_schedule_command_lists_every_schedule_with_its_last_and_next_run(db, capsys):
    scheduler_tick(at(2026, 7, 1, 3, 0))
    call_command("jobs", "schedule", "--now", "2026-07-01T12:00+08:00")
    out = capsys.readouterr().out
    lines = {line.split("\t")[0]: line for line in out.splitlines() if line.startswith("credit.")}
    assert "daily 02:00" in lines["credit.lists_sweep"]
    assert "2026-07-01" in lines["credit.lists_sweep"] and "2026-07-02 02:00" in lines["credit.lists_sweep"]
    assert "yearly 07-01 03:00" in lines["credit.abnormal_candidates"]
    assert "2027-07-01 03:00" in lines["credit.abnormal_candidates"]
