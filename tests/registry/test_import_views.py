"""Import pages: who may import, upload → background job → report, the template, size limits."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from jianguan.core.jobs import job_claim_next, job_run
from jianguan.core.models import Job
from jianguan.registry.models import Entity
from tests.conftest import create_user
from tests.registry.importdata import row, uscc, write_csv


@pytest.fixture
def section_head(org):
    return create_user(unit=org.wendeng, roles=(("section_head", "subtree"),))


def upload(client, path, **data):
    with path.open("rb") as fh:
        return client.post(reverse("registry:import_upload"),
                           {"file": SimpleUploadedFile(path.name, fh.read()), **data})


def run_queued_job():
    job = job_claim_next()
    assert job is not None
    return job_run(job)


def test_a_handler_cannot_see_the_import_page(client, org, db):
    client.force_login(create_user(unit=org.wendeng, roles=(("handler", "subtree"),)))
    assert client.get(reverse("registry:import_upload")).status_code == 404
    assert client.get(reverse("registry:import_template")).status_code == 404


def test_a_section_head_uploads_a_file_and_the_job_imports_it(client, media, section_head):
    client.force_login(section_head)
    code = uscc(101)
    response = upload(client, write_csv(media / "ok.csv", [row(统一社会信用代码=code)]))
    job = Job.objects.get(kind="registry.import")
    assert response.status_code == 302 and response.url == reverse("registry:import_status", args=[job.pk])
    page = client.get(response.url)
    assert 'data-testid="job-progress"' in page.content.decode()
    job = run_queued_job()
    assert job.status == "succeeded" and Entity.objects.filter(uscc=code).exists()
    html = client.get(reverse("registry:import_status", args=[job.pk])).content.decode()
    assert "导入完成" in html and "新增" in html
    assert re.search(r"<dt>用时</dt><dd>\d+\.\d 秒</dd>", html)  # as the command line says it


def test_a_bad_file_shows_every_bad_row_and_offers_the_excel_report(client, media, section_head):
    client.force_login(section_head)
    upload(client, write_csv(media / "bad.csv", [row(), row(行业代码="9999"), row(成立日期="2030-01-01")]))
    job = run_queued_job()
    assert job.status == "failed" and "3 行数据，其中 2 行有问题" in job.error
    html = client.get(reverse("registry:import_status", args=[job.pk])).content.decode()
    assert "行业代码不存在（GB/T 4754-2017）" in html and "日期晚于今天" in html
    assert Entity.objects.count() == 0
    report = client.get(reverse("registry:import_report_xlsx", args=[job.pk]))
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(report.streaming_content)))["问题清单"]
    assert [c.value for c in ws[1]] == ["行号", "列", "值", "原因"]
    assert [ws.cell(2, 1).value, ws.cell(2, 2).value, ws.cell(2, 3).value] == [3, "行业代码", "9999"]
    full = client.get(reverse("registry:import_report", args=[job.pk])).content.decode()
    assert "行业代码不存在" in full


def test_a_row_outside_the_section_heads_county_is_refused(client, media, section_head):
    client.force_login(section_head)
    upload(client, write_csv(media / "other.csv", [row(行政区划代码="371082")]))
    job = run_queued_job()
    html = client.get(reverse("registry:import_status", args=[job.pk])).content.decode()
    assert "不在本单位管辖范围内" in html and Entity.objects.count() == 0


def test_another_countys_import_job_is_not_found(client, media, section_head, org):
    client.force_login(section_head)
    upload(client, write_csv(media / "ok.csv", [row()]))
    job = run_queued_job()
    client.force_login(create_user(unit=org.rongcheng, roles=(("section_head", "subtree"),)))
    assert client.get(reverse("registry:import_status", args=[job.pk])).status_code == 404
    assert client.get(reverse("registry:import_report", args=[job.pk])).status_code == 404


def test_an_upload_over_the_web_limit_is_refused_without_a_job(client, media, section_head, monkeypatch):
    client.force_login(section_head)
    monkeypatch.setenv("JIANGUAN_IMPORT_MAX_BYTES", "200")
    response = upload(client, write_csv(media / "big.csv", [row() for _ in range(5)]))
    assert "超过网页导入上限 200 B" in response.content.decode()
    assert not Job.objects.exists()


def test_a_file_that_is_not_xlsx_or_csv_is_refused(client, media, section_head):
    client.force_login(section_head)
    path = media / "list.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    assert "只能导入 .xlsx 或 .csv 文件" in upload(client, path).content.decode()
    assert not Job.objects.exists()


def test_the_template_has_the_headers_in_order(client, section_head):
    from jianguan.registry.domain.rows import ENTITY_HEADERS

    client.force_login(section_head)
    wb = openpyxl.load_workbook(io.BytesIO(client.get(reverse("registry:import_template")).content))
    assert tuple(c.value for c in wb["市场主体"][1]) == ENTITY_HEADERS
    csv_text = client.get(reverse("registry:import_template") + "?format=csv").content.decode("utf-8-sig")
    assert csv_text.strip() == ",".join(ENTITY_HEADERS)


def test_the_template_imports_cleanly_once_filled_in(client, media, section_head, tmp_path):
    from jianguan.registry.importer import run_import

    client.force_login(section_head)
    wb = openpyxl.load_workbook(io.BytesIO(client.get(reverse("registry:import_template")).content))
    ws = wb["市场主体"]
    ws.append(list(row(统一社会信用代码=uscc(102)).values()))
    wb.save(tmp_path / "filled.xlsx")
    import datetime as dt

    assert run_import(tmp_path / "filled.xlsx", today=dt.date(2026, 11, 20)).created == 1


def test_a_large_upload_is_moved_into_the_imports_folder(client, media, section_head, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100  # force Django to spool the upload to a temporary file
    client.force_login(section_head)
    upload(client, write_csv(media / "ok.csv", [row(), row()]))
    job = Job.objects.get(kind="registry.import")
    stored = job.params["path"]
    assert stored.startswith(str(settings.MEDIA_ROOT / "imports")) and stored.endswith(".csv")
    assert run_queued_job().status == "succeeded" and Entity.objects.count() == 2


def test_an_upload_checked_by_a_second_process_keeps_the_users_scope_and_report(client, media, section_head,
                                                                                 monkeypatch):
    from jianguan.registry import import_worker

    monkeypatch.setattr(import_worker, "PIPELINE_MIN_BYTES", 0)  # as for a large CSV file
    monkeypatch.setattr(import_worker, "CHUNK_ROWS", 2)
    client.force_login(section_head)
    upload(client, write_csv(media / "mixed.csv", [row(), row(), row(), row(行政区划代码="371082"),
                                                   row(行业代码="9999")]))
    job = run_queued_job()
    assert job.status == "failed" and "5 行数据，其中 2 行有问题" in job.error
    # The three good rows before the first bad one were written and rolled back: the page counts none as created.
    assert job.counts == {"已校验行数": 5, "有问题的行": 2}
    html = client.get(reverse("registry:import_status", args=[job.pk])).content.decode()
    assert "不在本单位管辖范围内" in html and "行业代码不存在（GB/T 4754-2017）" in html
    assert Entity.objects.count() == 0

    upload(client, write_csv(media / "ok.csv", [row() for _ in range(5)]))
    job = run_queued_job()
    assert job.status == "succeeded" and Entity.objects.count() == 5


def test_an_import_that_fails_while_writing_does_not_show_rows_as_created(client, media, section_head, monkeypatch):
    from jianguan.registry import jobs
    from jianguan.registry.services import ImportConflict

    def conflict(path, *, progress, **kwargs):
        progress("写入", 5000, 10000, {"新增": 5000, "更新": 0, "无变化": 0})
        raise ImportConflict("导入期间有主体被注销，已全部撤销本次写入，请重新导入")

    monkeypatch.setattr(jobs, "run_import", conflict)
    client.force_login(section_head)
    upload(client, write_csv(media / "ok.csv", [row()]))
    job = run_queued_job()
    assert job.status == "failed" and "已全部撤销" in job.error
    assert "新增" not in job.counts and "更新" not in job.counts


def test_while_a_refused_file_is_checked_to_its_end_the_page_counts_nothing_as_created(client, media, section_head,
                                                                                       monkeypatch):
    from jianguan.registry import import_worker

    monkeypatch.setattr(import_worker, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(import_worker, "CHUNK_ROWS", 1000)
    client.force_login(section_head)
    rows = [row() for _ in range(3000)] + [row(成立日期="2015-13-01")] + [row() for _ in range(11_000)]
    upload(client, write_csv(media / "a.csv", rows))
    seen = []
    job = job_run(job_claim_next(), on_progress=lambda j: seen.append((j.step, dict(j.counts))))
    assert job.status == "failed"
    assert ("写入", 3000) in [(step, counts.get("新增")) for step, counts in seen]  # written, then rolled back …
    late = [counts for step, counts in seen if step == "校验" and counts.get("已校验行数", 0) >= 10_000]
    assert late and not any("新增" in counts for counts in late)  # … and not shown as created afterwards


def test_the_status_page_names_the_import_in_the_readers_language(client, media, section_head, settings):
    """The job's stored title is in the submitter's language; its page is headed in the reader's."""
    client.force_login(section_head)
    upload(client, write_csv(media / "ok.csv", [row(统一社会信用代码=uscc(102))]), dry_run="on")
    job = run_queued_job()
    url = reverse("registry:import_status", args=[job.pk])
    assert "<h1>导入市场主体：ok.csv（试运行）</h1>" in client.get(url).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "<h1>Import market entities: ok.csv (dry run)</h1>" in client.get(url).content.decode()
