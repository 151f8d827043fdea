"""Staff pages of the registry: the list with filters, the entity page with its tabs, and the Excel export."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.urls import reverse

from jianguan.core.models import Job
from tests.conftest import create_user
from tests.registry.factories import add_label, create_annual_report, create_entity, create_licence, create_premises

pytestmark = pytest.mark.django_db

LIST = reverse("registry:entity_list")
EXPORT = reverse("registry:entity_export")


@pytest.fixture
def handler(org, client):
    user = create_user(unit=org.wendeng, roles=(("handler", "subtree"),))
    client.force_login(user)
    return user


def test_the_list_shows_entities_in_scope_with_a_link_to_their_page(client, handler):
    e = create_entity(name="文登华联商厦")
    response = client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "文登华联商厦" in html and e.get_absolute_url() in html
    assert "共 1 条" in html


def test_the_list_filters_by_name_and_keeps_the_query_in_the_export_link(client, handler):
    create_entity(name="文登华联商厦")
    create_entity(name="文登百货大楼")
    html = client.get(LIST, {"q": "华联", "status": "active"}).content.decode()
    assert "文登华联商厦" in html and "文登百货大楼" not in html
    assert f"{EXPORT}?q=%E5%8D%8E%E8%81%94&amp;status=active" in html


def test_a_bad_filter_shows_its_error_next_to_the_field_and_no_unfiltered_list(client, handler):
    create_entity(name="文登华联商厦")
    html = client.get(LIST, {"industry": "9999"}).content.decode()
    assert 'class="field-error"' in html
    assert "行业代码不存在：9999" in html
    assert "文登华联商厦" not in html


def test_a_capped_count_says_more_than_the_cap_and_asks_to_narrow_the_search(client, handler, monkeypatch):
    import jianguan.registry.selectors as selectors

    for _ in range(3):
        create_entity()
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    html = client.get(LIST).content.decode()
    assert "超过 2 条，请缩小查询范围" in html


def test_the_count_is_written_with_thousands_separators():
    from jianguan.registry.selectors import CappedPage

    assert CappedPage(items=[], number=1, per_page=20, count=10_001, cap=10_000).count_display == "10,000"
    assert CappedPage(items=[], number=1, per_page=20, count=1234, cap=10_000).count_display == "1,234"


def test_the_list_needs_a_login(client):
    response = client.get(LIST)
    assert response.status_code == 302 and reverse("core:login") in response["Location"]


def test_the_entity_page_has_all_tabs_and_shows_each_part_of_the_record(client, handler):
    e = create_entity(name="文登海鲜酒楼", industry="6210", phone="13906310000")
    create_premises(e, address="山东省威海市文登区天福街道世纪大道8号")
    create_licence(e, number="JY23710030012345")
    add_label(e, "catering")
    create_annual_report(e, 2024)
    html = client.get(e.get_absolute_url()).content.decode()
    for key in ("basic", "premises", "licences", "labels", "reports", "history"):
        assert f'data-tab="{key}"' in html and f'data-panel="{key}"' in html
    assert "13906310000" in html            # staff see the phone
    assert "世纪大道8号" in html
    assert "JY23710030012345" in html
    assert "餐饮服务" in html
    assert "2024" in html and "按时" in html
    assert 'data-testid="timeline"' in html


def test_only_the_first_tab_is_visible_before_a_tab_is_chosen(client, handler):
    html = client.get(create_entity().get_absolute_url()).content.decode()
    assert 'data-panel="basic" data-testid="tab-basic">' in html
    assert 'data-panel="history" data-testid="tab-history" hidden>' in html


def test_the_history_tab_shows_the_audit_trail_of_the_entity(client, handler):
    from jianguan.core.audit import audit_record

    e = create_entity()
    audit_record(e, "update", actor=handler, before={"status": "active"}, after={"status": "suspended"},
                 reason="经营者申请歇业")
    html = client.get(e.get_absolute_url()).content.decode()
    assert "经营者申请歇业" in html
    # the change as a person reads it: the field's name, the statuses' names, the action's label
    assert "<td>登记状态</td><td>存续（在业）</td><td>歇业</td>" in html
    assert '<span class="action" title="update">修改</span>' in html


def test_the_history_tab_names_each_field_of_a_created_entity_and_its_labels(client, handler):
    from jianguan.core.audit import audit_record

    e = create_entity()
    audit_record(e, "create", actor=handler, after={"uscc": e.uscc, "division_id": "371003", "kind": "enterprise",
                                                     "labels": ["食品经营", "小餐饮"], "odd_key": {"a": 1},
                                                     "is_ecommerce_platform": True})
    html = client.get(e.get_absolute_url()).content.decode()
    assert "<th>内容</th>" in html and "<th>变更前</th>" not in html  # a creation has no before
    assert f"<td>统一社会信用代码</td><td>{e.uscc}</td>" in html
    assert "<td>行政区划</td><td>371003</td>" in html  # the column name (division_id) read as its field
    assert "<td>主体类型</td><td>企业</td>" in html
    assert "<td>标签</td><td>食品经营、小餐饮</td>" in html
    assert '<td>odd_key</td><td>{&quot;a&quot;: 1}</td>' in html  # a key no field has: as it is
    assert "<td>是</td>" in html  # a boolean as a person says it (not True, nor 1)
    # in the model's order (stored with sorted keys), keys of no field last
    rows = [html.index(f"<td>{name}</td>") for name in ("统一社会信用代码", "主体类型", "行政区划", "标签", "odd_key")]
    assert rows == sorted(rows)


def tab_for_credit(request, entity):
    return {"key": "credit", "title": "信用风险", "template": "registry/_test_tab.html",
            "context": {"risk_class": "C"}}


def tab_never(request, entity):
    return None


def test_other_modules_add_tabs_through_their_app_config(client, handler, settings, tmp_path, monkeypatch):
    from django.apps import apps

    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "_test_tab.html").write_text("风险分类：{{ risk_class }}，{{ entity.name }}",
                                                         encoding="utf-8")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    monkeypatch.setattr(apps.get_app_config("credit"), "entity_tabs",
                        [f"{__name__}.tab_for_credit", f"{__name__}.tab_never"], raising=False)
    e = create_entity(name="被分类的公司")
    html = client.get(e.get_absolute_url()).content.decode()
    assert 'data-tab="credit"' in html and "信用风险" in html
    assert "风险分类：C，被分类的公司" in html


def read_xlsx(content: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def test_export_downloads_the_filtered_list_as_excel(client, handler):
    create_entity(name="文登华联商厦", registered_capital="88.50")
    create_entity(name="文登百货大楼")
    response = client.get(EXPORT, {"q": "华联"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = read_xlsx(b"".join(response.streaming_content))
    assert rows[0][:2] == ("统一社会信用代码", "名称")
    assert len(rows) == 2 and rows[1][1] == "文登华联商厦" and rows[1][4] == "存续（在业）"
    assert rows[1][12] == 88.5


def test_export_writes_a_name_that_looks_like_a_formula_as_text(client, handler):
    create_entity(name='=HYPERLINK("http://evil.example","点我")')
    content = b"".join(client.get(EXPORT).streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).worksheets[0]
    assert sheet.cell(row=2, column=2).data_type == "s"


def test_export_with_a_bad_filter_goes_back_to_the_list_with_a_message(client, handler):
    response = client.get(EXPORT, {"status": "open"}, follow=True)
    assert "查询条件有误，请修改后再导出。" in response.content.decode()


def test_a_large_export_becomes_a_background_job_whose_file_the_user_can_download(client, handler, settings,
                                                                                     tmp_path, monkeypatch):
    from jianguan.core.jobs import job_run
    from jianguan.registry import views

    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(views, "SYNC_EXPORT_LIMIT", 2)
    for _ in range(3):
        create_entity()
    create_entity(division="371082")  # outside the handler's county: never exported
    response = client.get(EXPORT)
    job = Job.objects.get(kind="registry.export")
    assert response.status_code == 302 and response["Location"] == reverse("core:job_detail", args=[job.pk])
    job = job_run(job)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["rows"] == 3
    download = client.get(job.result["url"])
    assert len(read_xlsx(b"".join(download.streaming_content))) == 4


def test_another_user_cannot_download_someone_elses_export(client, org, handler, settings, tmp_path):
    from jianguan.core.jobs import job_run_now

    settings.MEDIA_ROOT = tmp_path
    create_entity()
    job = job_run_now("registry.export", "导出", {"filters": {}}, user=handler)
    other = create_user(unit=org.rongcheng, roles=(("handler", "subtree"),))
    client.force_login(other)
    assert client.get(job.result["url"]).status_code == 404
