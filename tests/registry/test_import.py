"""The registry import pipeline: all-or-nothing validation, upsert by USCC, audit entries, rule labels."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jianguan.core.models import AuditEntry
from jianguan.registry.importer import run_import
from jianguan.registry.models import Entity, EntityLabel, Label
from tests.registry.importdata import row, uscc, write_csv, write_xlsx

TODAY = dt.date(2026, 11, 20)  # a Friday


def imp(path, **kw):
    kw.setdefault("today", TODAY)
    return run_import(path, **kw)


def problems(result):
    return [(e.row, e.column, e.value, e.reason) for e in result.errors]


def test_a_clean_csv_creates_every_entity_with_its_fields(media, db):
    code = uscc(1)
    path = write_csv(media / "a.csv", [row(统一社会信用代码=code, 注册资本="1,234.5", 状态日期="2020/3/1"),
                                      row()])
    result = imp(path)
    assert result.ok and (result.created, result.updated, result.unchanged) == (2, 0, 0)
    e = Entity.objects.get(uscc=code)
    assert (e.kind, e.status, e.division_id, e.industry_id) == ("enterprise", "active", "371003", "5211")
    assert e.established_on == dt.date(2015, 6, 18) and e.status_date == dt.date(2020, 3, 1)
    assert str(e.registered_capital) == "1234.50"


def test_a_created_entity_gets_its_rule_labels_and_one_audit_entry(media, db):
    code = uscc(2)
    imp(write_csv(media / "a.csv", [row(统一社会信用代码=code, 行业代码="6241")]))
    e = Entity.objects.get(uscc=code)
    labels = set(EntityLabel.objects.filter(entity=e).values_list("label__code", "source"))
    assert ("school_canteen", "rule") in labels and ("catering", "rule") in labels
    entry = AuditEntry.objects.get(object_type="registry.entity", object_id=str(e.pk))
    assert entry.action == "create"
    assert json.loads(entry.after)["uscc"] == code
    assert "school_canteen" in json.loads(entry.after)["labels"]


def test_one_bad_row_means_nothing_is_written_and_the_row_is_reported(media, db):
    good, bad = row(), row(行政区划代码="371099", 名称="坏行")
    audit_before = AuditEntry.objects.count()
    result = imp(write_csv(media / "a.csv", [good, bad]))
    assert not result.ok
    assert Entity.objects.count() == 0 and AuditEntry.objects.count() == audit_before
    assert problems(result) == [(3, "行政区划代码", "371099", "行政区划代码不存在")]


def test_every_bad_row_is_listed_not_only_the_first(media, db):
    rows = [row(成立日期="2015-02-30"), row(), row(主体类型="公司"), row(行业代码="52")]
    result = imp(write_csv(media / "a.csv", rows))
    assert problems(result) == [
        (2, "成立日期", "2015-02-30", "日期不存在"),
        (4, "主体类型", "公司", "应为 企业、个体工商户 或 农民专业合作社"),
        (5, "行业代码", "52", "行业代码须细化到小类（4 位数字）"),
    ]
    assert result.bad_rows == 3 and result.rows == 4


def test_a_repeated_uscc_in_the_file_names_the_first_row(media, db):
    code = uscc(3)
    result = imp(write_csv(media / "a.csv", [row(统一社会信用代码=code), row(), row(统一社会信用代码=code.lower())]))
    assert problems(result) == [(4, "统一社会信用代码", code, "与第 2 行的统一社会信用代码重复")]


def test_reimporting_updates_only_changed_fields_and_audits_just_those(media, db):
    code = uscc(4)
    imp(write_csv(media / "a.csv", [row(统一社会信用代码=code)]))
    result = imp(write_csv(media / "b.csv", [row(统一社会信用代码=code, 联系电话="13900000000", 登记状态="在业")]))
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    e = Entity.objects.get(uscc=code)
    entry = AuditEntry.objects.filter(object_id=str(e.pk)).latest("seq")
    assert entry.action == "update"
    assert json.loads(entry.before) == {"phone": "0631-8451234"}
    assert json.loads(entry.after) == {"phone": "13900000000"}


def test_reimporting_the_same_file_changes_nothing(media, db):
    path = write_csv(media / "a.csv", [row(注册资本="50.00"), row(注册资本="")])
    imp(path)
    before = AuditEntry.objects.count()
    result = imp(path)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert AuditEntry.objects.count() == before


def test_changing_the_industry_swaps_rule_labels_and_keeps_manual_ones(media, db, org):
    from jianguan.registry.services import entity_label_add

    code = uscc(5)
    imp(write_csv(media / "a.csv", [row(统一社会信用代码=code, 行业代码="5211")]))
    e = Entity.objects.get(uscc=code)
    Label.objects.get_or_create(code="key_unit", defaults={"name": "重点单位", "category": "测试"})
    entity_label_add(e, "key_unit", None, today=TODAY)
    imp(write_csv(media / "b.csv", [row(统一社会信用代码=code, 行业代码="6210")]))
    labels = dict(EntityLabel.objects.filter(entity=e).values_list("label__code", "source"))
    assert labels.get("catering") == "rule" and "retail" not in labels and labels["key_unit"] == "manual"
    entry = AuditEntry.objects.filter(object_id=str(e.pk), action="update").latest("seq")
    assert "retail" in json.loads(entry.before)["labels"] and "catering" in json.loads(entry.after)["labels"]


def test_a_cancelled_entity_cannot_be_revived_by_import(media, db):
    code = uscc(6)
    imp(write_csv(media / "a.csv", [row(统一社会信用代码=code, 登记状态="注销", 状态日期="2024-01-02")]))
    result = imp(write_csv(media / "b.csv", [row(统一社会信用代码=code, 登记状态="存续")]))
    assert problems(result) == [(2, "登记状态", "存续", "该市场主体在系统中已注销，不能通过导入恢复为其他状态")]
    assert Entity.objects.get(uscc=code).status == "cancelled"


def test_dry_run_counts_but_writes_nothing(media, db):
    code = uscc(7)
    imp(write_csv(media / "a.csv", [row(统一社会信用代码=code)]))
    result = imp(write_csv(media / "b.csv", [row(统一社会信用代码=code, 名称="改名"), row()]), dry_run=True)
    assert result.ok and (result.created, result.updated) == (1, 1)
    assert Entity.objects.count() == 1 and Entity.objects.get(uscc=code).name != "改名"


def test_a_row_outside_the_importers_jurisdiction_is_a_bad_row(media, db):
    result = imp(write_csv(media / "a.csv", [row(), row(行政区划代码="371082")]),
                 in_scope=lambda code: code.startswith("371003"))
    assert problems(result) == [(3, "行政区划代码", "371082", "不在本单位管辖范围内")]


def test_a_retired_division_code_is_refused_with_its_successor(media, db):
    result = imp(write_csv(media / "a.csv", [row(行政区划代码="370181")]))
    (_r, column, _v, reason), = problems(result)
    assert column == "行政区划代码" and reason.startswith("该行政区划代码已停用") and "370114" in reason


def test_a_uscc_registered_under_a_historical_division_is_accepted(media, db):
    code = uscc(8, division="371081")  # 文登市, a county-level city until 2014
    assert imp(write_csv(media / "a.csv", [row(统一社会信用代码=code)])).ok


def test_a_uscc_with_a_wrong_check_character_is_reported_in_chinese(media, db):
    code = uscc(9)
    wrong = code[:17] + ("0" if code[17] != "0" else "1")
    (_r, column, value, reason), = problems(imp(write_csv(media / "a.csv", [row(统一社会信用代码=wrong)])))
    assert (column, value) == ("统一社会信用代码", wrong) and reason.startswith("第 18 位校验码")


def test_kind_must_match_the_uscc_entity_type(media, db):
    result = imp(write_csv(media / "a.csv", [row(统一社会信用代码=uscc(10, kind="2"), 主体类型="企业")]))
    assert problems(result)[0][1:] == ("主体类型", "企业", "与统一社会信用代码前两位“92”（个体工商户）不一致")


def test_a_gbk_csv_is_read_correctly_and_the_report_says_so(media, db):
    code = uscc(11)
    result = imp(write_csv(media / "gbk.csv", [row(统一社会信用代码=code)], encoding="gbk"))
    assert result.ok and Entity.objects.get(uscc=code).name == "威海市文登区好运来超市有限公司"
    assert any("GBK" in n for n in result.notes)


def test_a_csv_mixing_utf8_and_gbk_is_refused_as_a_whole(media, db):
    path = write_csv(media / "mixed.csv", [row() for _ in range(3000)])
    with path.open("ab") as fh:
        fh.write(",".join(["x"] * 5).encode() + "名称".encode("gbk") + b"\r\n")
    result = imp(path)
    assert "无法按 utf-8-sig 编码读取" in result.file_problem and Entity.objects.count() == 0


def test_an_empty_file_is_reported(media, db):
    path = media / "empty.csv"
    path.write_bytes(b"")
    assert imp(path).file_problem == "文件是空的（0 字节）"


def test_a_file_with_only_headers_is_reported(media, db):
    assert imp(write_csv(media / "h.csv", [])).file_problem == "文件只有表头，没有数据行"


def test_missing_headers_are_named(media, db):
    headers = tuple(h for h in row() if h not in ("行业代码", "住所"))
    result = imp(write_csv(media / "a.csv", [row()], headers=headers))
    assert result.file_problem.startswith("缺少必需的表头：住所、行业代码")


def test_a_file_over_the_size_limit_is_refused_before_reading(media, db, monkeypatch):
    path = write_csv(media / "a.csv", [row()])
    monkeypatch.setenv("JIANGUAN_IMPORT_MAX_BYTES", "100")
    result = imp(path)
    assert "超过导入上限 100 B" in result.file_problem and "JIANGUAN_IMPORT_MAX_BYTES" in result.file_problem


def test_an_xls_file_is_refused_with_advice(media, db):
    path = media / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    assert imp(path).file_problem == "这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 后再导入"


def test_a_clean_xlsx_with_real_date_and_number_cells_imports(media, db):
    code = uscc(12)
    path = write_xlsx(media / "a.xlsx", [row(统一社会信用代码=code, 成立日期=dt.datetime(2019, 5, 6),
                                            行业代码=111, 主体类型="企业", 注册资本=88.5,
                                            联系电话=13806310000)],
                      title_row="2026年11月 市场主体导入", extra_sheet_first=True)
    result = imp(path)
    assert result.ok, problems(result) or result.file_problem
    e = Entity.objects.get(uscc=code)
    assert (e.established_on, e.industry_id, e.phone) == (dt.date(2019, 5, 6), "0111", "13806310000")


def test_dates_typed_as_text_in_excel_are_read(media, db):
    code = uscc(13)
    assert imp(write_xlsx(media / "a.xlsx", [row(统一社会信用代码=code, 成立日期="2019年5月6日")])).ok
    assert Entity.objects.get(uscc=code).established_on == dt.date(2019, 5, 6)


def test_a_formula_cell_is_a_bad_row(media, db):
    result = imp(write_xlsx(media / "a.xlsx", [row(名称="=A1&\"公司\"")]))
    assert problems(result) == [(2, "名称", "=A1&\"公司\"", "单元格是公式，请复制后“选择性粘贴为数值”再导入")]


def test_merged_cells_in_the_data_are_refused(media, db):
    result = imp(write_xlsx(media / "a.xlsx", [row(), row()], merge="C2:C3"))
    assert "含合并单元格（C2:C3）" in result.file_problem


def test_a_workbook_without_the_header_sheet_is_refused(media, db):
    result = imp(write_xlsx(media / "a.xlsx", [row()], headers=("甲", "乙", "丙")))
    assert result.file_problem.startswith("工作簿中没有找到含导入表头的工作表（已查看：市场主体）")


MISSING = "主体类型、登记状态、登记机关、行政区划代码、住所、行业代码、成立日期、法定代表人（经营者）"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_a_csv_with_too_few_of_the_template_headers_is_told_which_are_missing(media, db, encoding):
    """A file made by hand with two of the template's columns: its header row is named, with what it lacks (not
    "no header found, e.g. 统一社会信用代码, 名称" — which it has)."""
    path = write_csv(media / "a.csv", [row(), row()], encoding=encoding, headers=("统一社会信用代码", "名称"))
    result = imp(path)
    assert not result.ok and Entity.objects.count() == 0
    assert result.file_problem == (f"第 1 行有表头“统一社会信用代码”“名称”，但缺少必需的表头：{MISSING}。"
                                   "请使用导入模板，表头须在同一行")


def test_a_short_licence_csv_is_told_what_a_licence_file_lacks(media, db):
    """Neither an entity file nor a licence file: the refusal speaks of the kind its header row is nearer to."""
    path = media / "l.csv"
    path.write_text("统一社会信用代码,许可证类型\n91371003MA3C4X5Y6Z,食品经营许可证\n", encoding="utf-8")
    result = imp(path)
    assert not result.ok
    assert result.file_problem == ("第 1 行有表头“统一社会信用代码”“许可证类型”，但缺少必需的表头："
                                   "许可证编号、发证机关、有效期自。请使用导入模板，表头须在同一行")


def test_a_sheet_with_too_few_of_the_template_headers_is_named_with_what_is_missing(media, db):
    result = imp(write_xlsx(media / "a.xlsx", [row()], headers=("序号", "名称", "统一社会信用代码"), title_row="名录"))
    assert not result.ok and Entity.objects.count() == 0
    assert result.file_problem == (f"工作表“市场主体”第 2 行有表头“统一社会信用代码”“名称”，但缺少必需的表头："
                                   f"{MISSING}。请使用导入模板，表头须在同一行")


def test_a_corrupt_xlsx_is_refused(media, db):
    path = media / "bad.xlsx"
    path.write_bytes(b"PK\x03\x04garbage")
    assert imp(path).file_problem.startswith("无法打开 Excel 文件")


def test_a_licence_sheet_adds_licences_and_their_labels(media, db):
    from jianguan.registry.models import Licence
    from tests.registry.importdata import licence

    code = uscc(30)
    path = write_xlsx(media / "a.xlsx", [row(统一社会信用代码=code, 行业代码="7211")], licences=[licence(code)])
    result = imp(path)
    assert result.ok and result.licences == (1, 0, 0), problems(result) or result.file_problem
    lic = Licence.objects.get(number="JY13710030012345")
    assert (lic.entity.uscc, lic.type, lic.valid_to) == (code, "food_business", dt.date(2026, 2, 28))
    assert EntityLabel.objects.filter(entity=lic.entity, label__code="food_business", source="rule").exists()
    assert AuditEntry.objects.filter(object_type="registry.licence", object_id=str(lic.pk), action="create").exists()


def test_a_licence_number_held_by_another_entity_is_a_bad_row(media, db):
    from tests.registry.importdata import licence

    first, second = uscc(31), uscc(32)
    imp(write_xlsx(media / "a.xlsx", [row(统一社会信用代码=first)], licences=[licence(first)]))
    result = imp(write_xlsx(media / "b.xlsx", [row(统一社会信用代码=second)], licences=[licence(second)]))
    assert problems(result) == [(2, "【许可证】许可证编号", "JY13710030012345",
                                 f"该许可证编号已属于另一市场主体：{first} 威海市文登区好运来超市有限公司")]
    assert not Entity.objects.filter(uscc=second).exists()


def test_a_licence_for_an_unknown_entity_and_a_repeated_licence_are_bad_rows(media, db):
    from tests.registry.importdata import licence

    known, stranger = uscc(33), uscc(34)
    result = imp(write_xlsx(media / "a.xlsx", [row(统一社会信用代码=known)],
                            licences=[licence(known), licence(known), licence(stranger, 许可证编号="JY2")]))
    assert problems(result) == [
        (3, "【许可证】许可证编号", "JY13710030012345", "与许可证表第 2 行的许可证重复"),
        (4, "【许可证】统一社会信用代码", stranger, "该市场主体既不在本文件的市场主体表中，也不在系统中"),
    ]


def test_a_licence_only_csv_updates_a_stored_entitys_licence(media, db):
    import csv

    from jianguan.registry.domain.rows import LICENCE_HEADERS
    from jianguan.registry.models import Licence
    from tests.registry.importdata import licence

    code = uscc(35)
    imp(write_xlsx(media / "a.xlsx", [row(统一社会信用代码=code)], licences=[licence(code)]))
    path = media / "lic.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LICENCE_HEADERS)
        w.writerow([licence(code, 状态="已注销")[h] for h in LICENCE_HEADERS])
    result = imp(path)
    assert result.ok and result.licences == (0, 1, 0) and result.rows == 0
    lic = Licence.objects.get(number="JY13710030012345")
    assert lic.status == "cancelled"
    entry = AuditEntry.objects.filter(object_type="registry.licence", object_id=str(lic.pk)).latest("seq")
    assert (json.loads(entry.before), json.loads(entry.after)) == ({"status": "valid"}, {"status": "cancelled"})
    assert not EntityLabel.objects.filter(entity=lic.entity, label__code="food_business").exists()


@pytest.mark.parametrize("in_memory_limit", [pytest.param(10**9, id="calamine"), pytest.param(0, id="openpyxl")])
def test_both_excel_readers_give_the_same_result(media, db, monkeypatch, in_memory_limit):
    import jianguan.registry.importer as importer

    monkeypatch.setattr(importer, "XLSX_IN_MEMORY_MAX_BYTES", in_memory_limit)
    code = uscc(40)
    path = write_xlsx(media / "a.xlsx", [row(统一社会信用代码=code, 成立日期=dt.datetime(2019, 5, 6), 行业代码=5211,
                                            联系电话=13806310000),
                                        row(名称="=B2", 成立日期="2019年5月6日")],
                      title_row="市场主体导入")
    result = imp(path)
    assert problems(result) == [(4, "名称", "=B2", "单元格是公式，请复制后“选择性粘贴为数值”再导入")]
    source = importer.open_source(path)
    assert (source._calamine is not None) == (in_memory_limit > 0)
    first = next(iter(source.rows()))
    source.close()
    assert first[0] == 3 and first[1][0] == code


def test_the_report_lists_bad_rows_in_row_order_whatever_the_check(media, db):
    code = uscc(41)
    imp(write_csv(media / "a.csv", [row(统一社会信用代码=code, 登记状态="注销")]))
    result = imp(write_csv(media / "b.csv", [row(统一社会信用代码=code), row(名称="")]))
    assert [(r, c) for r, c, _v, _m in problems(result)] == [(2, "登记状态"), (3, "名称")]
