"""GB/T 2260 administrative divisions (行政区划代码): the packaged table and lookups over it. Pure Python.

The table (``jianguan/core/data/divisions.csv``, see ``divisions.SOURCE.md``) holds the 34 provincial-level
divisions, every current prefecture-level division, and for 山东省 every county-level code, current and historical.
Historical codes stay in the table (``current=False``) so that old records and old ID numbers still resolve.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

LEVELS = ("province", "city", "county")
# Code groupings that are not divisions of their own; full names skip them.
GROUPING_NAMES = frozenset({"市辖区", "县", "省直辖县级行政单位", "省直辖县级行政区划", "自治区直辖县级行政单位",
                            "自治区直辖县级行政区划"})


@dataclass(frozen=True)
class Division:
    code: str       # 6 digits
    name: str
    level: str      # province | city | county
    parent: str     # parent code, "" for provinces
    current: bool   # in force today; False for historical codes kept for old records
    note: str = ""  # e.g. "2014 撤市设区，改为 371003 文登区"


def _default_path() -> Path:
    return Path(str(resources.files("jianguan.core.data").joinpath("divisions.csv")))


def load_divisions(path: str | Path | None = None) -> dict[str, Division]:
    """Read the division table (the packaged CSV by default), keyed by code, in file order."""
    p = Path(path) if path is not None else _default_path()
    table: dict[str, Division] = {}
    with p.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["code"].strip()
            if code in table:
                raise ValueError(f"{p}: duplicate division code {code}")
            if row["level"] not in LEVELS:
                raise ValueError(f"{p}: {code} has unknown level {row['level']!r}")
            table[code] = Division(code=code, name=row["name"].strip(), level=row["level"],
                                   parent=(row.get("parent") or "").strip(), current=row["current"].strip() == "1",
                                   note=(row.get("note") or "").strip())
    return table


def division_chain(code: str, table: dict[str, Division]) -> list[Division]:
    """The division and its ancestors, province first (province → city → county). KeyError for an unknown code."""
    chain: list[Division] = []
    node: Division | None = table[code]
    while node is not None:
        chain.append(node)
        if len(chain) > len(LEVELS):
            raise ValueError(f"parent cycle at {code}")
        node = table.get(node.parent) if node.parent else None
    chain.reverse()
    return chain


def full_name(code: str, table: dict[str, Division]) -> str:
    """Full name from the province down, e.g. 371003 → 山东省威海市文登区.

    Code groupings (市辖区, 省直辖县级行政单位 …) are skipped."""
    return "".join(d.name for d in division_chain(code, table) if d.name not in GROUPING_NAMES)
