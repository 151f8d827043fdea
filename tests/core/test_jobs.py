"""Background jobs keep their progress, record their errors, and are never silently lost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from jianguan.core.jobs import JobError, job_claim_next, job_handler, job_reap_stale, job_run, job_submit
from jianguan.core.models import Job


@job_handler("test.count")
def _count(ctx):
    total = ctx.params["n"]
    for i in range(total):
        ctx.progress("计数", done=i + 1, total=total, counts={"已计": i + 1})
    return {"counted": total}


@job_handler("test.fail")
def _fail(ctx):
    ctx.progress("准备")
    raise JobError("数据文件缺少表头“统一社会信用代码”")


def test_a_queued_job_is_claimed_run_and_completed_with_its_result(db):
    job = job_submit("test.count", "计数任务", {"n": 5})
    claimed = job_claim_next()
    assert claimed.pk == job.pk and claimed.status == Job.Status.RUNNING
    done = job_run(claimed)
    done.refresh_from_db()
    assert done.status == Job.Status.SUCCEEDED
    assert done.result == {"counted": 5}
    assert (done.done, done.total, done.percent) == (5, 5, 100)
    assert done.counts == {"已计": 5}


def test_a_failing_job_keeps_its_error_in_chinese(db):
    job = job_run(job_submit("test.fail", "失败任务"))
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "缺少表头" in job.error


@job_handler("test.crash")
def _crash(ctx):
    raise RuntimeError("disk on fire")


def test_a_refused_job_is_logged_in_one_line_and_a_crash_with_its_traceback(db, caplog):
    """A handler's own refusal (`JobError`: a bad file, say) is the user's business: logged as one line, not as a
    traceback beside the message the command line already printed. Anything else is the operator's: with it."""
    with caplog.at_level("INFO", logger="jianguan.core.jobs"):
        refused = job_run(job_submit("test.fail", "失败任务"))
        crashed = job_run(job_submit("test.crash", "崩溃任务"))
    records = {r.getMessage().split(":")[0]: r for r in caplog.records}
    one = records[f"job {refused.pk} failed"]
    assert one.levelname == "INFO" and "Traceback" not in one.getMessage() and "缺少表头" in one.getMessage()
    other = records[f"job {crashed.pk} failed"]
    assert other.levelname == "ERROR" and "Traceback" in other.getMessage() and "disk on fire" in other.getMessage()
    assert crashed.error == "RuntimeError: disk on fire"


def test_a_job_whose_worker_died_is_marked_failed_not_lost(db):
    job = job_submit("test.count", "中断的任务", {"n": 1})
    stale = timezone.now() - dt.timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=stale, started_at=stale)
    assert job_reap_stale() == 1
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "服务重启或崩溃" in job.error


def test_a_running_job_with_a_fresh_heartbeat_is_left_alone(db):
    job = job_submit("test.count", "正在运行", {"n": 1})
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    assert job_reap_stale() == 0


def test_an_unknown_job_kind_is_refused(db):
    with pytest.raises(ValueError, match="未知的任务类型"):
        job_submit("no.such.kind", "x")


def test_jobs_command_shows_progress(db, capsys):
    from django.core.management import call_command

    job = job_run(job_submit("test.count", "计数任务", {"n": 3}))
    call_command("jobs", "show", str(job.pk))
    out = capsys.readouterr().out
    assert f"{job.pk}\tsucceeded\t100%" in out
