"""The packaged GB/T 2260 division table (jianguan/core/data/divisions.csv) and its loader. No Django, no DB."""

from __future__ import annotations

import re
from collections import Counter
from importlib import resources

import pytest

from jianguan.core.domain.divisions import Division, division_chain, full_name, load_divisions

CSV_TEXT = resources.files("jianguan.core.data").joinpath("divisions.csv").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def table() -> dict[str, Division]:
    return load_divisions()


PROVINCES = {
    "110000": "北京市", "120000": "天津市", "130000": "河北省", "140000": "山西省", "150000": "内蒙古自治区",
    "210000": "辽宁省", "220000": "吉林省", "230000": "黑龙江省", "310000": "上海市", "320000": "江苏省",
    "330000": "浙江省", "340000": "安徽省", "350000": "福建省", "360000": "江西省", "370000": "山东省",
    "410000": "河南省", "420000": "湖北省", "430000": "湖南省", "440000": "广东省", "450000": "广西壮族自治区",
    "460000": "海南省", "500000": "重庆市", "510000": "四川省", "520000": "贵州省", "530000": "云南省",
    "540000": "西藏自治区", "610000": "陕西省", "620000": "甘肃省", "630000": "青海省", "640000": "宁夏回族自治区",
    "650000": "新疆维吾尔自治区", "710000": "台湾省", "810000": "香港特别行政区", "820000": "澳门特别行政区",
}

SHANDONG_CITIES = {
    "370100": "济南市", "370200": "青岛市", "370300": "淄博市", "370400": "枣庄市", "370500": "东营市",
    "370600": "烟台市", "370700": "潍坊市", "370800": "济宁市", "370900": "泰安市", "371000": "威海市",
    "371100": "日照市", "371300": "临沂市", "371400": "德州市", "371500": "聊城市", "371600": "滨州市",
    "371700": "菏泽市",
}


def test_file_format():
    assert CSV_TEXT.splitlines()[0] == "code,name,level,parent,current,note"
    assert "\r" not in CSV_TEXT
    assert CSV_TEXT.endswith("\n")


def test_all_34_provincial_level_divisions(table):
    provinces = {c: d.name for c, d in table.items() if d.level == "province"}
    assert provinces == PROVINCES
    assert all(table[c].current and table[c].parent == "" for c in provinces)


def test_shandong_has_exactly_16_current_cities(table):
    cities = {c: d.name for c, d in table.items() if d.parent == "370000" and d.level == "city" and d.current}
    assert cities == SHANDONG_CITIES


def test_shandong_current_county_level_composition(table):
    counties = [d for d in table.values() if d.code.startswith("37") and d.level == "county" and d.current]
    by_kind = Counter(d.name[-1] for d in counties)
    # 2020 onwards: 58 市辖区, 26 县级市, 52 县
    assert len(counties) == 136
    assert by_kind == {"区": 58, "市": 26, "县": 52}
    assert {d.parent for d in counties} == set(SHANDONG_CITIES)


def test_every_province_except_municipalities_and_sars_has_current_cities(table):
    no_cities = {"110000", "120000", "310000", "500000", "710000", "810000", "820000"}
    with_cities = {d.parent for d in table.values() if d.level == "city" and d.current}
    assert with_cities == set(PROVINCES) - no_cities
    # 333 prefecture-level divisions nationwide (as of 2025-12-31)
    assert sum(1 for d in table.values() if d.level == "city" and d.current) == 333


@pytest.mark.parametrize(
    ("code", "name", "level", "parent", "current"),
    [
        ("370100", "济南市", "city", "370000", True),
        ("370102", "历下区", "county", "370100", True),
        ("370112", "历城区", "county", "370100", True),
        ("370113", "长清区", "county", "370100", True),
        ("370114", "章丘区", "county", "370100", True),
        ("370115", "济阳区", "county", "370100", True),
        ("370116", "莱芜区", "county", "370100", True),
        ("370117", "钢城区", "county", "370100", True),
        ("370124", "平阴县", "county", "370100", True),
        ("370125", "济阳县", "county", "370100", False),
        ("370181", "章丘市", "county", "370100", False),
        ("370215", "即墨区", "county", "370200", True),
        ("370282", "即墨市", "county", "370200", False),
        ("370612", "牟平区", "county", "370600", True),
        ("370613", "莱山区", "county", "370600", True),
        ("370614", "蓬莱区", "county", "370600", True),
        ("370634", "长岛县", "county", "370600", False),
        ("370682", "莱阳市", "county", "370600", True),
        ("370684", "蓬莱市", "county", "370600", False),
        ("371000", "威海市", "city", "370000", True),
        ("371002", "环翠区", "county", "371000", True),
        ("371003", "文登区", "county", "371000", True),
        ("371081", "文登市", "county", "371000", False),
        ("371082", "荣成市", "county", "371000", True),
        ("371083", "乳山市", "county", "371000", True),
        ("371200", "莱芜市", "city", "370000", False),
        ("371202", "莱城区", "county", "371200", False),
        ("371203", "钢城区", "county", "371200", False),
        ("371324", "兰陵县", "county", "371300", True),
        ("371403", "陵城区", "county", "371400", True),
        ("371421", "陵县", "county", "371400", False),
        ("371503", "茌平区", "county", "371500", True),
        ("371522", "莘县", "county", "371500", True),
        ("371523", "茌平县", "county", "371500", False),
        ("371526", "高唐县", "county", "371500", True),
        ("371681", "邹平市", "county", "371600", True),
        ("371626", "邹平县", "county", "371600", False),
        ("371703", "定陶区", "county", "371700", True),
        ("371727", "定陶县", "county", "371700", False),
        ("130100", "石家庄市", "city", "130000", True),
        ("460400", "儋州市", "city", "460000", True),
        ("540600", "那曲市", "city", "540000", True),
        ("652900", "阿克苏地区", "city", "650000", True),
    ],
)
def test_known_rows(table, code, name, level, parent, current):
    d = table[code]
    assert (d.name, d.level, d.parent, d.current) == (name, level, parent, current)


@pytest.mark.parametrize(
    ("old", "new"),
    [("371081", "371003"), ("370181", "370114"), ("370125", "370115"), ("371202", "370116"),
     ("371203", "370117"), ("371421", "371403"), ("370634", "370614"), ("370684", "370614"),
     ("370282", "370215"), ("371523", "371503"), ("371626", "371681")],
)
def test_historical_codes_point_to_their_successor(table, old, new):
    assert not table[old].current
    assert new in table[old].note
    assert table[new].current


def test_codes_levels_and_parents_are_consistent(table):
    for code, d in table.items():
        assert re.fullmatch(r"\d{6}", code), code
        assert d.name and d.name == d.name.strip(), code
        if d.level == "province":
            assert code.endswith("0000") and d.parent == ""
        elif d.level == "city":
            assert code.endswith("00") and not code.endswith("0000") and d.parent == code[:2] + "0000", code
        else:
            assert not code.endswith("00") and d.parent == code[:4] + "00", code
        if d.parent:
            assert d.parent in table, f"{code}: parent {d.parent} missing"
            if d.current:
                assert table[d.parent].current, f"current {code} under historical {d.parent}"


def test_current_names_are_unique_within_a_parent(table):
    seen = Counter((d.parent, d.name) for d in table.values() if d.current)
    assert [k for k, n in seen.items() if n > 1] == []


def test_only_shandong_has_county_level_rows(table):
    assert {c[:2] for c, d in table.items() if d.level == "county"} == {"37"}


def test_division_chain_and_full_name(table):
    assert [d.code for d in division_chain("371003", table)] == ["370000", "371000", "371003"]
    assert full_name("371003", table) == "山东省威海市文登区"
    assert full_name("370116", table) == "山东省济南市莱芜区"
    assert full_name("371202", table) == "山东省莱芜市莱城区"      # historical codes resolve too
    assert full_name("379011", table) == "山东省文登市"            # 1986-89 grouping code is skipped
    assert full_name("370000", table) == "山东省"
    assert full_name("810000", table) == "香港特别行政区"
    with pytest.raises(KeyError):
        full_name("999999", table)


def test_loader_rejects_duplicates_and_bad_levels(tmp_path):
    bad = tmp_path / "d.csv"
    bad.write_text("code,name,level,parent,current,note\n370000,山东省,province,,1,\n370000,山东省,province,,1,\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate"):
        load_divisions(bad)
    bad.write_text("code,name,level,parent,current,note\n370000,山东省,state,,1,\n", encoding="utf-8")
    with pytest.raises(ValueError, match="level"):
        load_divisions(bad)
