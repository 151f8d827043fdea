"""The packaged GB/T 4754-2017 industry table (jianguan/registry/data/industries.csv) and its loader. No Django."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

import pytest

from jianguan.registry.domain.industries import Industry, industry_section, load_industries

CSV_TEXT = resources.files("jianguan.registry.data").joinpath("industries.csv").read_text(encoding="utf-8")

# Divisions of each section in GB/T 4754-2017.
SECTION_DIVISIONS = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52), "G": (53, 60),
    "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72), "M": (73, 75), "N": (76, 79),
    "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90), "S": (91, 96), "T": (97, 97),
}


@pytest.fixture(scope="module")
def table() -> dict[str, Industry]:
    return load_industries()


def test_file_format():
    assert CSV_TEXT.splitlines()[0] == "code,name,level,parent"
    assert "\r" not in CSV_TEXT
    assert CSV_TEXT.endswith("\n")


def test_level_counts(table):
    # 20 门类, 97 大类, 473 中类, 1381 小类 (1380 in the 2017 text + 5267 from amendment No. 1, 2019)
    assert Counter(i.level for i in table.values()) == {"section": 20, "division": 97, "group": 473, "class": 1381}


def test_sections_and_their_divisions(table):
    sections = [c for c, i in table.items() if i.level == "section"]
    assert sections == list("ABCDEFGHIJKLMNOPQRST")
    for letter, (lo, hi) in SECTION_DIVISIONS.items():
        divisions = sorted(c for c, i in table.items() if i.level == "division" and i.parent == letter)
        assert divisions == [f"{n:02d}" for n in range(lo, hi + 1)], letter
    assert sorted(c for c, i in table.items() if i.level == "division") == [f"{n:02d}" for n in range(1, 98)]


@pytest.mark.parametrize(
    ("code", "name", "level", "parent"),
    [
        ("F", "批发和零售业", "section", ""),
        ("52", "零售业", "division", "F"),
        ("521", "综合零售", "group", "52"),
        ("5211", "百货零售", "class", "521"),
        ("5212", "超级市场零售", "class", "521"),
        ("A", "农、林、牧、渔业", "section", ""),
        ("0111", "稻谷种植", "class", "011"),
        ("019", "其他农业", "group", "01"),
        ("0190", "其他农业", "class", "019"),
        ("15", "酒、饮料和精制茶制造业", "division", "C"),
        ("1922", "皮箱、包（袋）制造", "class", "192"),
        ("2522", "煤制合成气生产", "class", "252"),
        ("339", "铸造及其他金属制品制造", "group", "33"),
        ("3969", "其他智能消费设备制造", "class", "396"),
        ("526", "汽车、摩托车、零配件和燃料及其他动力销售", "group", "52"),
        ("5267", "机动车充电销售", "class", "526"),  # added by amendment No. 1 (2019)
        ("6513", "应用软件开发", "class", "651"),
        ("7123", "文化用品设备出租", "class", "712"),
        ("7517", "三维（3D）打印技术推广服务", "class", "751"),
        ("79", "土地管理业", "division", "N"),
        ("8053", "养生保健服务", "class", "805"),
        ("S", "公共管理、社会保障和社会组织", "section", ""),
        ("T", "国际组织", "section", ""),
        ("97", "国际组织", "division", "T"),
        ("9700", "国际组织", "class", "970"),
    ],
)
def test_known_rows(table, code, name, level, parent):
    i = table[code]
    assert (i.name, i.level, i.parent) == (name, level, parent)


def test_codes_and_parent_chain(table):
    for code, i in table.items():
        assert i.name and i.name == i.name.strip(), code
        assert "(" not in i.name and ")" not in i.name, f"{code}: half-width parenthesis"
        if i.level == "section":
            assert re.fullmatch(r"[A-T]", code) and i.parent == ""
        elif i.level == "division":
            assert re.fullmatch(r"\d{2}", code) and re.fullmatch(r"[A-T]", i.parent)
        elif i.level == "group":
            assert re.fullmatch(r"\d{3}", code) and i.parent == code[:2]
        else:
            assert re.fullmatch(r"\d{4}", code) and i.parent == code[:3]
        if i.parent:
            assert i.parent in table, f"{code}: parent {i.parent} missing"


def test_every_group_has_classes_and_single_class_groups_follow_the_convention(table):
    children: dict[str, list[str]] = {}
    for code, i in table.items():
        if i.level == "class":
            children.setdefault(i.parent, []).append(code)
    groups = [c for c, i in table.items() if i.level == "group"]
    assert all(g in children for g in groups)
    for g, kids in children.items():
        if any(k.endswith("0") for k in kids):  # a class ending in 0 is the undivided group itself
            assert kids == [g + "0"] and table[kids[0]].name == table[g].name, g


def test_industry_section(table):
    assert industry_section("5211", table).code == "F"
    assert industry_section("5211", table).name == "批发和零售业"
    assert industry_section("0111", table).code == "A"
    assert industry_section("9700", table).code == "T"
    assert industry_section("C", table).code == "C"
    assert all(industry_section(c, table).level == "section" for c in table)
    with pytest.raises(KeyError):
        industry_section("9999", table)


def test_loader_rejects_duplicates(tmp_path):
    bad = tmp_path / "i.csv"
    row = "A,农、林、牧、渔业,section,\n"
    bad.write_text("code,name,level,parent\n" + row + row, encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate"):
        load_industries(bad)
