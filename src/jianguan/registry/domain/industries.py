"""GB/T 4754-2017 国民经济行业分类 (with amendment No. 1 of 2019): the packaged table and lookups. Pure Python.

Codes: section = one letter A to T; division = 2 digits; group = 3 digits; class = 4 digits. A division's parent is its
section letter, a group's its division, a class's its group. See ``jianguan/registry/data/industries.SOURCE.md``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

LEVELS = ("section", "division", "group", "class")


@dataclass(frozen=True)
class Industry:
    code: str
    name: str
    level: str   # section | division | group | class
    parent: str  # "" for sections


def _default_path() -> Path:
    return Path(str(resources.files("jianguan.registry.data").joinpath("industries.csv")))


def load_industries(path: str | Path | None = None) -> dict[str, Industry]:
    """Read the industry table (the packaged CSV by default), keyed by code, in file (tree) order."""
    p = Path(path) if path is not None else _default_path()
    table: dict[str, Industry] = {}
    with p.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            code = row["code"].strip()
            if code in table:
                raise ValueError(f"{p}: duplicate industry code {code}")
            if row["level"] not in LEVELS:
                raise ValueError(f"{p}: {code} has unknown level {row['level']!r}")
            table[code] = Industry(code=code, name=row["name"].strip(), level=row["level"],
                                   parent=(row.get("parent") or "").strip())
    return table


def industry_section(code: str, table: dict[str, Industry]) -> Industry:
    """The section (门类) a code belongs to, e.g. 5211 → F 批发和零售业. KeyError for an unknown code."""
    node = table[code]
    for _ in LEVELS:
        if node.level == "section":
            return node
        node = table[node.parent]
    raise ValueError(f"no section above {code}")
