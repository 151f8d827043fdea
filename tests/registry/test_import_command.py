"""`jianguan registry import FILE [--dry-run]`: writes, or exits 1 printing the bad rows."""

from __future__ import annotations

import io

from django.core.management import call_command

from jianguan.core.models import Job
from jianguan.registry.models import Entity
from tests.registry.importdata import row, uscc, write_csv


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("registry", "import", *map(str, args), stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_importing_a_good_file_writes_and_reports_counts(media, db):
    code = uscc(201)
    status, out = run(write_csv(media / "ok.csv", [row(统一社会信用代码=code)]))
    assert status == 0 and "导入完成：共 1 行；新增 1，更新 0，无变化 0" in out
    assert Entity.objects.filter(uscc=code).exists()
    assert Job.objects.get().kind == "registry.import"


def test_dry_run_writes_nothing(media, db):
    status, out = run(write_csv(media / "ok.csv", [row()]), "--dry-run")
    assert status == 0 and "试运行（未写入）：共 1 行；新增 1" in out
    assert not Entity.objects.exists()


def test_a_bad_file_exits_one_and_prints_each_bad_row(media, db):
    status, out = run(write_csv(media / "bad.csv", [row(), row(登记状态="营业")]))
    assert status == 1
    assert "共 2 行数据，其中 1 行有问题（1 处），未导入任何数据" in out
    assert "3\t登记状态\t营业\t应为 存续、在业、歇业、吊销、注销 或 迁出" in out
    assert not Entity.objects.exists()


def test_a_missing_file_exits_one_with_the_reason(media, db):
    status, out = run(media / "nope.csv")
    assert status == 1 and "文件不存在或无法读取" in out


def test_an_unknown_user_exits_two(media, db):
    status, out = run(write_csv(media / "ok.csv", [row()]), "--user", "nobody")
    assert status == 2 and "用户 nobody 不存在" in out


def test_importing_as_a_county_user_checks_that_users_jurisdiction(media, org):
    from tests.conftest import create_user

    user = create_user(unit=org.wendeng, roles=(("section_head", "subtree"),), username="wendeng_head")
    status, out = run(write_csv(media / "rc.csv", [row(行政区划代码="371082")]), "--user", user.username)
    assert status == 1 and "2\t行政区划代码\t371082\t不在本单位管辖范围内" in out


def test_write_pass_progress_reaches_the_command_line_without_touching_the_job_row(db):
    from jianguan.core.jobs import JobContext
    from jianguan.registry.jobs import ProgressRelay

    job = Job.objects.create(kind="registry.import", title="t", status="running")
    seen = []
    relay = ProgressRelay(JobContext(job, on_progress=lambda j: seen.append((j.step, j.done, j.total))))
    relay.push("写入", 5000, 20000, {"新增": 5000})
    relay.stop()
    assert seen == [("写入", 5000, 20000)] and job.counts == {"新增": 5000}
    job.refresh_from_db()
    assert job.done == 0  # the row is written by the relay's own connection (PostgreSQL) or at the end
