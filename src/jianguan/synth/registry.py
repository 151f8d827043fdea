"""The synthetic registry: market entities with premises, licences, labels and annual reports, as Polars frames.

No Django: reference tables are read from the packaged CSVs and the rules YAML, and the output is a stream of
:class:`RegistryChunk` (one per division), each made of vectorised NumPy/Polars work, so a province of 15 million
entities never passes through per-row Python. Everything random comes from ``numpy.random.default_rng`` seeded by
(seed, division), so one seed always gives the same data, and a division's data does not depend on which other
divisions are in the run (only the ids do).

Column names follow the registry models' attribute names (``division_id``, ``industry_id``, ``entity_id``), so the
frames can be loaded as they are; entity labels carry ``label_code`` (the loader maps it to the label's id).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import yaml

from jianguan.core.domain.divisions import Division, full_name, load_divisions
from jianguan.registry.domain.industries import Industry, load_industries
from jianguan.registry.domain.labels import LabelCatalogue, parse_catalogue
from jianguan.registry.domain.uscc import ALPHABET
from jianguan.synth import names
from jianguan.synth.truth import unreachable_mask

DEFAULT_TODAY = dt.date(2026, 11, 20)
REPORT_YEARS = (2021, 2022, 2023, 2024, 2025)
EPOCH = dt.date(1990, 1, 1)
# 农民专业合作社法 took effect on 2007-07-01; 市场主体登记管理条例 (歇业) on 2022-03-01.
COOPERATIVE_LAW = dt.date(2007, 7, 1)
SUSPENSION_FROM = dt.date(2022, 3, 1)
# GB 32100 codes (with the "MA" organisation segment) were issued from 2015-10-01 onwards.
USCC_FROM = dt.date(2015, 10, 1)

KINDS = ("individual", "enterprise", "cooperative")
KIND_SHARES = {"county": (0.665, 0.315, 0.02), "city": (0.10, 0.90, 0.0)}
USCC_TYPE = {"enterprise": "1", "individual": "2", "cooperative": "3"}

STATUSES = ("active", "cancelled", "revoked", "suspended", "moved_out")
STATUS_SHARES = {
    "enterprise": (0.855, 0.06, 0.045, 0.015, 0.025),
    "individual": (0.87, 0.085, 0.015, 0.025, 0.005),
    "cooperative": (0.87, 0.07, 0.045, 0.01, 0.005),
}

PRESET_TOTALS = {"county": 70_000, "city": 1_300_000, "province": 15_000_000}
PRESET_ROOTS = {"county": "371003", "city": "370100", "province": "370000"}
# Share of a city's entities registered by the city bureau itself (larger companies).
CITY_BUREAU_SHARE = 0.03
# Population of Shandong's cities, 2020 census (万人): only used to split the province preset.
CITY_WEIGHTS = {
    "370100": 920, "370200": 1007, "370300": 470, "370400": 386, "370500": 219, "370600": 710, "370700": 939,
    "370800": 836, "370900": 564, "371000": 291, "371100": 297, "371300": 1102, "371400": 561, "371500": 595,
    "371600": 393, "371700": 880,
}

LICENCE_TYPES = ("food_business", "food_production", "special_equipment", "drug_business", "medical_device",
                 "industrial_product")
# (licence type, GB/T 4754 prefix, probability that an entity of that industry holds it); longest prefix wins.
LICENCE_RULES: tuple[tuple[str, str, float], ...] = (
    ("food_business", "522", 1.0), ("food_business", "62", 1.0), ("food_business", "5211", 0.9),
    ("food_business", "5212", 1.0), ("food_business", "5213", 0.95), ("food_business", "5219", 0.6),
    ("food_business", "61", 0.3), ("food_business", "5251", 0.3), ("food_business", "512", 0.8),
    ("food_business", "5223", 0.5),
    ("food_production", "13", 0.9), ("food_production", "14", 0.95), ("food_production", "15", 0.9),
    ("special_equipment", "C", 0.3), ("special_equipment", "61", 0.5), ("special_equipment", "5211", 0.4),
    ("special_equipment", "5212", 0.5), ("special_equipment", "7222", 0.8), ("special_equipment", "805", 0.3),
    ("special_equipment", "5265", 0.6), ("special_equipment", "7020", 0.5), ("special_equipment", "59", 0.3),
    ("drug_business", "5251", 1.0), ("drug_business", "5252", 1.0), ("drug_business", "5153", 1.0),
    ("drug_business", "5212", 0.05),
    ("medical_device", "5254", 1.0), ("medical_device", "5251", 0.5), ("medical_device", "5154", 1.0),
    ("industrial_product", "22", 0.1), ("industrial_product", "26", 0.15), ("industrial_product", "29", 0.1),
    ("industrial_product", "30", 0.15), ("industrial_product", "33", 0.08), ("industrial_product", "38", 0.12),
)
LICENCE_YEARS = {"food_business": 5, "food_production": 5, "special_equipment": 0, "drug_business": 5,
                 "medical_device": 5, "industrial_product": 5}

ENTITY_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "uscc": pl.String, "name": pl.String, "kind": pl.String, "subtype": pl.String,
    "status": pl.String, "status_date": pl.Date, "registration_authority": pl.String, "division_id": pl.String,
    "street": pl.String, "road": pl.String, "house_number": pl.String, "address": pl.String,
    "industry_id": pl.String, "established_on": pl.Date, "registered_capital": pl.Decimal(16, 2),
    "legal_representative": pl.String, "business_scope": pl.String, "phone": pl.String,
    "is_ecommerce_platform": pl.Boolean, "odr_enabled": pl.Boolean,
}
PREMISES_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "entity_id": pl.Int64, "division_id": pl.String, "street": pl.String, "road": pl.String,
    "house_number": pl.String, "address": pl.String,
}
LICENCE_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "entity_id": pl.Int64, "type": pl.String, "number": pl.String, "issuer": pl.String,
    "valid_from": pl.Date, "valid_to": pl.Date, "status": pl.String,
}
LABEL_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "entity_id": pl.Int64, "label_code": pl.String, "source": pl.String, "assigned_on": pl.Date,
}
REPORT_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "entity_id": pl.Int64, "year": pl.Int16, "filed_on": pl.Date, "on_time": pl.Boolean,
}
TABLES = {"entities": ENTITY_SCHEMA, "premises": PREMISES_SCHEMA, "licences": LICENCE_SCHEMA,
          "entity_labels": LABEL_SCHEMA, "annual_reports": REPORT_SCHEMA}


class SynthError(ValueError):
    """A synthetic-data request that cannot be met; the message is Chinese and names the problem."""


# ---------------------------------------------------------------------------------------------------------------------
# reference data


@dataclass
class Reference:
    """The reference tables the generator needs: divisions, industries, label rules and the configured towns."""

    divisions: dict[str, Division]
    industries: dict[str, Industry]
    labels: LabelCatalogue
    towns: dict[str, list[str]] = field(default_factory=dict)

    @cached_property
    def classes(self) -> list[str]:
        return [c for c, i in self.industries.items() if i.level == "class"]

    @cached_property
    def class_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    @cached_property
    def sections(self) -> list[str]:
        out = []
        for code in self.classes:
            node = self.industries[code]
            while node.level != "section":
                node = self.industries[node.parent]
            out.append(node.code)
        return out


def load_reference(rules_dir: str | Path) -> Reference:
    """Read the packaged division and industry tables, the label catalogue and the stations' towns."""
    rules = Path(rules_dir)
    with (rules / "registry" / "labels.yaml").open(encoding="utf-8") as fh:
        labels = parse_catalogue(yaml.safe_load(fh))
    towns: dict[str, list[str]] = {}
    stations = rules / "organisation" / "stations.yaml"
    if stations.exists():
        with stations.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        for county, rows in (data.get("counties") or {}).items():
            towns[str(county)] = [t for row in rows for t in row.get("towns", [])]
    return Reference(divisions=load_divisions(), industries=load_industries(), labels=labels, towns=towns)


# ---------------------------------------------------------------------------------------------------------------------
# plans: how many entities in which division


@dataclass(frozen=True)
class DivisionPlan:
    """Generate `entities` entities registered by the bureau of `code` (a county, or a city's own bureau)."""

    code: str
    entities: int


def _county_weight(d: Division) -> float:
    # City districts hold more businesses per head than rural counties.
    if d.name.endswith("区"):
        return 1.5
    if d.name.endswith("市"):
        return 1.1
    return 0.8


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """Largest-remainder split of `total` in proportion to `weights` (exact sum, deterministic)."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum()
    base = np.floor(raw).astype(int)
    rest = total - int(base.sum())
    order = np.argsort(-(raw - base), kind="stable")
    base[order[:rest]] += 1
    return [int(x) for x in base]


def current_counties(city: str, ref: Reference) -> list[Division]:
    return [d for d in ref.divisions.values() if d.level == "county" and d.parent == city and d.current]


def _city_plan(city: str, total: int, ref: Reference) -> list[DivisionPlan]:
    counties = current_counties(city, ref)
    if not counties:
        return [DivisionPlan(city, total)]
    own = round(total * CITY_BUREAU_SHARE)
    parts = _split(total - own, [_county_weight(d) for d in counties])
    return [DivisionPlan(city, own)] + [DivisionPlan(d.code, n) for d, n in zip(counties, parts, strict=True)]


def preset_plan(scale: str, ref: Reference) -> list[DivisionPlan]:
    """The divisions and sizes of a preset: county = 文登区, city = 济南市, province = 山东省."""
    if scale not in PRESET_TOTALS:
        raise SynthError(f"未知的规模“{scale}”，可选 county（区县）、city（地市）、province（全省）")
    total, root = PRESET_TOTALS[scale], PRESET_ROOTS[scale]
    if scale == "county":
        return [DivisionPlan(root, total)]
    if scale == "city":
        return _city_plan(root, total, ref)
    cities = [c for c in CITY_WEIGHTS if c in ref.divisions]
    parts = _split(total, [CITY_WEIGHTS[c] for c in cities])
    return [p for c, n in zip(cities, parts, strict=True) for p in _city_plan(c, n, ref)]


def custom_plan(codes: Sequence[str], total: int, ref: Reference) -> list[DivisionPlan]:
    """`total` entities over the given county-level (or city) divisions, split by the same size weights."""
    if total < 1:
        raise SynthError("主体数量必须是正整数")
    divisions = []
    for code in codes:
        d = ref.divisions.get(code.strip())
        if d is None:
            raise SynthError(f"行政区划代码“{code}”不存在")
        if d.level == "province":
            raise SynthError(f"“{code} {d.name}”是省级区划，请指定区县或地市代码")
        if not d.current:
            raise SynthError(f"“{code} {d.name}”不是现行区划（{d.note or '已撤销'}），请使用现行代码")
        divisions.append(d)
    if len({d.code for d in divisions}) != len(divisions):
        raise SynthError("行政区划代码有重复")
    weights = [_county_weight(d) if d.level == "county" else 1.0 for d in divisions]
    return [DivisionPlan(d.code, n) for d, n in zip(divisions, _split(total, weights), strict=True)]


# ---------------------------------------------------------------------------------------------------------------------
# naming helpers


def bureau_name(code: str, ref: Reference) -> str:
    """Name of the market-regulation bureau of a division, as `core.services.org_bootstrap` names it."""
    d = ref.divisions[code]
    parent = ref.divisions.get(d.parent) if d.parent else None
    if d.level == "county" and parent is not None and d.name.endswith("区"):
        return f"{parent.name}{d.name}市场监督管理局"
    return f"{d.name}市场监督管理局"


def short_name(name: str) -> str:
    """文登区 → 文登, 荣成市 → 荣成, 济南市 → 济南; one-character stems keep their suffix (郊区)."""
    for suffix in ("自治县", "市", "区", "县"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def _longest_prefix(code: str, section: str, table: Mapping[str, Any]) -> Any:
    for k in range(len(code), 0, -1):
        if code[:k] in table:
            return table[code[:k]]
    return table.get(section)


_FALLBACK_ENTERPRISE = {"A": "农业", "B": "矿业", "C": "实业", "D": "能源", "E": "建设工程", "F": "商贸", "G": "物流",
                        "H": "餐饮", "I": "信息技术", "J": "投资", "K": "置业", "L": "商务服务", "M": "科技",
                        "N": "环境工程", "O": "服务", "P": "教育咨询", "Q": "健康管理", "R": "文化传媒"}
_FALLBACK_SHOP = {"A": "种植园", "C": "加工部", "E": "工程队", "F": "商店", "G": "运输部", "H": "饭店"}


def _word_table(ref: Reference, table: Mapping[str, tuple[str, ...]], fallback: Mapping[str, str],
                default: str) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """Per industry class: (flat vocabulary, offset, count) so that a class's k-th option is vocab[offset + k]."""
    vocab: list[str] = []
    offsets = np.zeros(len(ref.classes), dtype=np.int64)
    counts = np.zeros(len(ref.classes), dtype=np.int64)
    for i, (code, section) in enumerate(zip(ref.classes, ref.sections, strict=True)):
        options = _longest_prefix(code, section, table) or (fallback.get(section, default),)
        offsets[i], counts[i] = len(vocab), len(options)
        vocab.extend(options)
    return pl.Series(vocab, dtype=pl.String), offsets, counts


# ---------------------------------------------------------------------------------------------------------------------
# vectorised USCC


_ORG_VALUE = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_USCC_WEIGHTS = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
_ALPHA_BYTES = np.frombuffer(ALPHABET.encode(), dtype=np.uint8)
_ALPHA_VALUE = np.zeros(256, dtype=np.int64)
_ALPHA_VALUE[_ALPHA_BYTES] = np.arange(len(ALPHABET))
_ORG_BYTE_VALUE = np.zeros(256, dtype=np.int64)
for _c, _v in _ORG_VALUE.items():
    _ORG_BYTE_VALUE[ord(_c)] = _v


def _fixed_strings(raw: np.ndarray) -> pl.Series:
    """(n, w) uint8 ASCII → a Polars string Series without per-row Python."""
    n, w = raw.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int64)
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(raw).tobytes()))
    return pl.Series(arr)


def uscc_array(types: np.ndarray, division: str, bodies: np.ndarray) -> pl.Series:
    """USCCs ``9 <type> <division> <body8> <org check> <check>`` for bodies given as (n, 8) ASCII bytes.

    Same result as :func:`jianguan.registry.domain.uscc.make_uscc` row by row (tested)."""
    n = len(types)
    raw = np.empty((n, 18), dtype=np.uint8)
    raw[:, 0] = ord("9")
    raw[:, 1] = types
    raw[:, 2:8] = np.frombuffer(division.encode(), dtype=np.uint8)
    raw[:, 8:16] = bodies
    org = (_ORG_BYTE_VALUE[bodies] * _ORG_WEIGHTS).sum(axis=1)
    c9 = 11 - org % 11
    raw[:, 16] = np.where(c9 == 10, ord("X"), np.where(c9 == 11, ord("0"), c9 + ord("0")))
    total = (_ALPHA_VALUE[raw[:, :17]] * _USCC_WEIGHTS).sum(axis=1)
    raw[:, 17] = _ALPHA_BYTES[(31 - total % 31) % 31]
    return _fixed_strings(raw)


def _org_bodies(established: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Organisation-code bodies: ``MA`` + 6 characters for codes issued after 2015-10, 8 digits for older ones."""
    n = len(established)
    out = np.empty((n, 8), dtype=np.uint8)
    new = established >= np.datetime64(USCC_FROM)
    idx_new, idx_old = np.flatnonzero(new), np.flatnonzero(~new)
    if len(idx_new):
        m = 31**6
        a, b = _affine_coeffs(m, rng, (31,))
        v = (np.arange(len(idx_new), dtype=np.int64) * a + b) % m
        out[idx_new, 0], out[idx_new, 1] = ord("M"), ord("A")
        for k in range(7, 1, -1):
            out[idx_new, k] = _ALPHA_BYTES[v % 31]
            v //= 31
    if len(idx_old):
        m = 10**8
        a, b = _affine_coeffs(m, rng, (2, 5))
        v = (np.arange(len(idx_old), dtype=np.int64) * a + b) % m
        for k in range(7, -1, -1):
            out[idx_old, k] = ord("0") + v % 10
            v //= 10
    return out


def _affine_coeffs(modulus: int, rng: np.random.Generator, primes: Sequence[int]) -> tuple[int, int]:
    while True:
        a = int(rng.integers(modulus // 3, modulus - 1))
        if all(a % p for p in primes):
            return a, int(rng.integers(0, modulus))


# ---------------------------------------------------------------------------------------------------------------------
# the generator


@dataclass
class RegistryChunk:
    """The synthetic registry of one division: five frames whose columns follow :data:`TABLES`."""

    division: str
    entities: pl.DataFrame
    premises: pl.DataFrame
    licences: pl.DataFrame
    entity_labels: pl.DataFrame
    annual_reports: pl.DataFrame

    def tables(self) -> dict[str, pl.DataFrame]:
        return {"entities": self.entities, "premises": self.premises, "licences": self.licences,
                "entity_labels": self.entity_labels, "annual_reports": self.annual_reports}


@dataclass
class _Counters:
    entities: int = 0
    premises: int = 0
    licences: int = 0
    entity_labels: int = 0
    annual_reports: int = 0


def _conform(df: pl.DataFrame, schema: Mapping[str, Any]) -> pl.DataFrame:
    return df.select([pl.col(c).cast(t) if c in df.columns else pl.lit(None, dtype=t).alias(c)
                      for c, t in schema.items()])


def _empty(schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


class RegistryGenerator:
    """Builds the per-division chunks; holds the precomputed vocabulary so that chunks are cheap."""

    def __init__(self, ref: Reference, *, seed: int, today: dt.date = DEFAULT_TODAY):
        self.ref, self.seed, self.today = ref, seed, today
        self.today64 = np.datetime64(today, "D")
        self.classes = pl.Series(ref.classes, dtype=pl.String)
        self.class_sections = pl.Series(ref.sections, dtype=pl.String)
        self.class_names = [ref.industries[c].name for c in ref.classes]
        self.kind_class_p: dict[str, np.ndarray] = {}
        for kind, mix in names.INDUSTRY_MIX.items():
            p = np.zeros(len(ref.classes))
            for prefix, w in mix:
                members = [i for i, c in enumerate(ref.classes) if c.startswith(prefix)]
                if not members:
                    raise SynthError(f"行业构成中的代码前缀“{prefix}”没有对应的小类")
                p[members] += w / len(members)
            self.kind_class_p[kind] = p / p.sum()
        self.ent_words = _word_table(ref, names.ENTERPRISE_WORDS, _FALLBACK_ENTERPRISE, "服务")
        self.shop_words = _word_table(ref, names.SHOP_WORDS, _FALLBACK_SHOP, "服务部")
        self.coop_words = _word_table(ref, names.COOPERATIVE_WORDS, {"A": "种植"}, "农业")
        self.dishes = [d + end for d in names.DISHES for end in ("馆", "馆", "馆", "店", "店", "坊")]
        self.vocab = pl.concat([self.ent_words[0], self.shop_words[0], self.coop_words[0],
                                pl.Series(self.dishes, dtype=pl.String)])
        scopes = []
        for code, section, cname in zip(ref.classes, ref.sections, self.class_names, strict=True):
            text = _longest_prefix(code, section, names.SCOPES) or f"一般项目：{cname}。"
            scopes.append(text + names.SCOPE_TAIL)
        self.scopes = pl.Series(scopes, dtype=pl.String)
        self.licence_p = np.zeros((len(LICENCE_TYPES), len(ref.classes)))
        for t, lt in enumerate(LICENCE_TYPES):
            rules = {prefix: p for typ, prefix, p in LICENCE_RULES if typ == lt}
            for i, (code, section) in enumerate(zip(ref.classes, ref.sections, strict=True)):
                self.licence_p[t, i] = _longest_prefix(code, section, rules) or 0.0
        self.zihao = pl.Series(names.ZIHAO, dtype=pl.String)
        self.extra = pl.Series(list(dict.fromkeys(names.GIVEN_CHARS)), dtype=pl.String)
        self.suffix = pl.Series(list(dict.fromkeys(names.ZIHAO_SUFFIX)), dtype=pl.String)
        self._label_cache: dict[tuple[str, str, int, bool], list[str]] = {}
        surnames = list(dict.fromkeys(s for s, _ in names.SURNAMES))
        weights = {s: 0 for s in surnames}
        for s, w in names.SURNAMES:
            weights[s] += w
        self.surnames = pl.Series(surnames, dtype=pl.String)
        self.surname_p = np.array([weights[s] for s in surnames], dtype=float)
        self.surname_p /= self.surname_p.sum()

    # -- helpers -----------------------------------------------------------------------------------------------------

    @staticmethod
    def _word_index(table: tuple[pl.Series, np.ndarray, np.ndarray], cls: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
        _vocab, offsets, counts = table
        return offsets[cls] + rng.integers(0, 1 << 30, len(cls)) % counts[cls]

    def _geography(self, code: str) -> tuple[list[str], list[str]]:
        """Towns (乡镇街道) and roads of a division: configured ones where known, else plausible generic ones.

        Depends on the division only (not the seed): a county's map does not change between runs."""
        grng = np.random.default_rng([20260101, int(code)])
        d = self.ref.divisions[code]
        towns = self.ref.towns.get(code)
        if not towns:
            k = int(grng.integers(8, 15))
            stems = [names.TOWN_STEMS[i] for i in grng.choice(len(names.TOWN_STEMS), k, replace=False)]
            n_street = max(2, round(k * (0.7 if d.name.endswith("区") or d.level == "city" else 0.3)))
            towns = [s + ("街道" if i < n_street else "镇") for i, s in enumerate(stems)]
        r = int(grng.integers(14, 24))
        roads = [names.ROADS[i] for i in grng.choice(len(names.ROADS), r, replace=False)]
        local = short_name(d.name)
        roads += [f"{local}路", f"{local}大道", f"{local}东路", f"{local}西路"]
        return towns, roads

    def _addresses(self, n: int, code: str, kinds: np.ndarray | None, rng: np.random.Generator) -> pl.DataFrame:
        towns, roads = self._geography(code)
        tw = np.array([3.0 if t.endswith("街道") else 1.0 for t in towns])
        street = pl.Series(towns).gather(rng.choice(len(towns), n, p=tw / tw.sum()))
        road = pl.Series(roads).gather(rng.integers(0, len(roads), n))
        number = np.minimum(np.floor(rng.lognormal(3.6, 1.0, n)).astype(np.int64) + 1, 1999)
        hn = pl.Series(number).cast(pl.String) + "号"
        if kinds is not None:
            in_building = (kinds == 1) & (rng.random(n) < 0.18)
            if in_building.any():
                b = pl.Series(names.BUILDINGS).gather(rng.integers(0, len(names.BUILDINGS), n))
                room = pl.Series(rng.integers(1, 25, n) * 100 + rng.integers(1, 30, n)).cast(pl.String)
                hn = (hn + b + room + "室").zip_with(pl.Series(in_building), hn)
        prefix = full_name(code, self.ref.divisions)
        frame = pl.DataFrame({"street": street, "road": road, "house_number": hn})
        return frame.with_columns(address=pl.lit(prefix) + pl.col("street") + pl.col("road") + pl.col("house_number"))

    def _person_names(self, n: int, rng: np.random.Generator) -> pl.Series:
        surname = self.surnames.gather(rng.choice(len(self.surnames), n, p=self.surname_p))
        g1 = self.extra.gather(rng.integers(0, len(self.extra), n))
        g2 = self.extra.gather(rng.integers(0, len(self.extra), n))
        two = pl.Series(rng.random(n) < 0.72)
        one = surname + g1
        return (one + g2).zip_with(two, one)

    def _days(self, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
        """A date uniformly between lo and hi (datetime64[D] arrays, hi ≥ lo)."""
        span = (hi - lo).astype(np.int64)
        return lo + np.floor(u * (span + 1)).astype(np.int64).astype("timedelta64[D]")

    # -- one division ------------------------------------------------------------------------------------------------

    def division_chunk(self, plan: DivisionPlan) -> RegistryChunk:
        """All tables for one division, with ids from 1 (:meth:`chunks` moves them after the ones before)."""
        counters = _Counters()
        code, n = plan.code, plan.entities
        ref = self.ref
        d = ref.divisions[code]
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, int(code), 1])
        today = self.today64

        # kind and subtype
        shares = KIND_SHARES["city" if d.level == "city" else "county"]
        kind_i = rng.choice(3, n, p=np.array(shares) / sum(shares))
        kind = pl.Series(KINDS, dtype=pl.String).gather(kind_i)
        subtype = np.empty(n, dtype=object)
        for k, kname in enumerate(KINDS):
            idx = np.flatnonzero(kind_i == k)
            table = {"individual": names.INDIVIDUAL_SUBTYPES, "enterprise": names.ENTERPRISE_SUBTYPES,
                     "cooperative": names.COOPERATIVE_SUBTYPES}[kname]
            p = np.array([w for _, w in table])
            choice = rng.choice(len(table), len(idx), p=p / p.sum())
            subtype[idx] = np.array([s for s, _ in table], dtype=object)[choice]
        subtype_s = pl.Series(subtype, dtype=pl.String)

        # industry class, by kind
        cls = np.empty(n, dtype=np.int64)
        for k, kname in enumerate(KINDS):
            idx = np.flatnonzero(kind_i == k)
            cls[idx] = rng.choice(len(ref.classes), len(idx), p=self.kind_class_p[kname])
        industry = self.classes.gather(cls)
        section = self.class_sections.gather(cls)

        # establishment date: skewed recent (truncated exponential age), cooperatives not before their law
        mean_years = np.where(kind_i == 0, 5.5, np.where(kind_i == 1, 7.5, 8.0))
        earliest = np.where(kind_i == 2, np.datetime64(COOPERATIVE_LAW), np.datetime64(EPOCH))
        max_age = (today - earliest).astype(np.int64) / 365.25
        u = rng.random(n)
        age = -mean_years * np.log1p(-u * (1 - np.exp(-max_age / mean_years)))
        established = today - np.floor(age * 365.25).astype(np.int64).astype("timedelta64[D]")
        established = np.maximum(established, earliest.astype("datetime64[D]"))

        # status and its date
        status_i = np.empty(n, dtype=np.int64)
        for k, kname in enumerate(KINDS):
            idx = np.flatnonzero(kind_i == k)
            p = np.array(STATUS_SHARES[kname])
            status_i[idx] = rng.choice(len(STATUSES), len(idx), p=p / p.sum())
        lo = np.minimum(established + np.timedelta64(60, "D"), today)
        suspended = status_i == STATUSES.index("suspended")
        lo = np.where(suspended, np.maximum(lo, np.datetime64(SUSPENSION_FROM)), lo)
        lo = np.minimum(lo, today)
        status_date = self._days(lo, np.full(n, today), rng.random(n))
        status_date_nat = np.where(status_i == 0, np.datetime64("NaT", "D"), status_date)
        status = pl.Series(STATUSES, dtype=pl.String).gather(status_i)

        # USCC: type digit by kind, body by era
        types = np.frombuffer("".join(USCC_TYPE[k] for k in KINDS).encode(), dtype=np.uint8)[kind_i]
        bodies = np.empty((n, 8), dtype=np.uint8)
        for k in range(3):
            idx = np.flatnonzero(kind_i == k)
            bodies[idx] = _org_bodies(established[idx], rng)
        uscc = uscc_array(types, code, bodies)

        # people and contact
        legal = self._person_names(n, rng)
        second = np.array([3, 5, 7, 8, 9, 6])[rng.choice(6, n, p=[0.3, 0.25, 0.08, 0.3, 0.05, 0.02])]
        phone = pl.Series(10**10 + second * 10**9 + rng.integers(0, 10**9, n)).cast(pl.String)

        addr = self._addresses(n, code, kind_i, rng)

        # names: prefix + core + word + ending, unique within the division
        city = ref.divisions.get(d.parent) if d.level == "county" else d
        city_short = short_name(city.name) if city is not None else short_name(d.name)
        county_short = short_name(d.name)
        county_full = d.name
        county_long = (f"{city.name}{d.name}" if d.level == "county" and city is not None and d.name.endswith("区")
                       else d.name)
        ent_prefix_opts = ([city_short, county_short, county_long] if d.level == "county" and len(county_short) >= 2
                           and county_short not in ("市中", "郊") else [city_short, city_short, "山东"])
        prefix = np.empty(n, dtype=object)
        ent = kind_i == 1
        prefix[ent] = np.array(ent_prefix_opts, dtype=object)[rng.integers(0, len(ent_prefix_opts), int(ent.sum()))]
        prefix[kind_i == 0] = county_full
        coop = kind_i == 2
        prefix[coop] = (county_full + pl.Series(addr["street"]).filter(pl.Series(coop))).to_numpy()
        prefix_s = pl.Series(prefix, dtype=pl.String)

        core = self.zihao.gather(rng.integers(0, len(self.zihao), n))
        # 个体工商户 sometimes carry the operator's name (王建国水果店) or 老王家 for eateries
        surname_of = legal.str.slice(0, 1)
        style = rng.random(n)
        eatery = section.eq("H").to_numpy() & (industry.str.slice(0, 2).eq("62").to_numpy())
        use_lao = (kind_i == 0) & eatery & (style < 0.35)
        use_person = (kind_i == 0) & ~use_lao & (style > 0.8)
        core = legal.zip_with(pl.Series(use_person), core)
        core = ("老" + surname_of + "家").zip_with(pl.Series(use_lao), core)

        # one gather from a combined vocabulary: enterprise words | shop words | cooperative words | dishes
        ent_i = self._word_index(self.ent_words, cls, rng)
        shop_i = self._word_index(self.shop_words, cls, rng) + len(self.ent_words[0])
        coop_i = self._word_index(self.coop_words, cls, rng) + len(self.ent_words[0]) + len(self.shop_words[0])
        dish_i = rng.integers(0, len(self.dishes), n) + len(self.vocab) - len(self.dishes)
        word_i = np.where(kind_i == 1, ent_i, np.where(kind_i == 2, coop_i, np.where(use_lao, dish_i, shop_i)))
        word = self.vocab.gather(word_i)
        endings = {k: v.format(branch=county_short if d.level == "county" else city_short) for k, v in
                   names.SUBTYPE_ENDINGS.items()}
        endings["农民专业合作社"] = "专业合作社"
        ending = subtype_s.replace_strict(endings, default="", return_dtype=pl.String)
        parts = pl.DataFrame({"prefix": prefix_s, "core": core, "word": word, "ending": ending})
        parts = self._unique_names(parts, rng)

        # money, flags
        capital = np.full(n, np.nan)
        caps = np.array([1, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 800, 1000, 2000, 3000, 5000, 10000], dtype=float)
        capw = np.array([3, 5, 8, 15, 8, 8, 14, 14, 7, 5, 5, 1, 3, 1.5, 0.8, 0.6, 0.3])
        has_cap = ent & (subtype != "分公司")
        capital[has_cap] = caps[rng.choice(len(caps), int(has_cap.sum()), p=capw / capw.sum())]
        coop_caps = np.array([5, 10, 20, 50, 100, 200, 500], dtype=float)
        capital[coop] = coop_caps[rng.integers(0, len(coop_caps), int(coop.sum()))]
        platform_industry = industry.str.starts_with("5292").to_numpy() | section.eq("I").to_numpy()
        platform = ent & (rng.random(n) < np.where(platform_industry, 0.01, 0.0006))
        odr = ent & (rng.random(n) < np.where(section.is_in(["F", "H"]).to_numpy(), 0.03, 0.01))

        first_id = counters.entities + 1
        ids = np.arange(first_id, first_id + n, dtype=np.int64)
        counters.entities += n
        entities = pl.DataFrame({
            "id": ids, "uscc": uscc, "name": parts["name"], "kind": kind, "subtype": subtype_s, "status": status,
            "status_date": pl.Series(status_date_nat, dtype=pl.Date),
            "registration_authority": pl.repeat(bureau_name(code, ref), n, eager=True, dtype=pl.String),
            "division_id": pl.repeat(code, n, eager=True, dtype=pl.String),
            "street": addr["street"], "road": addr["road"], "house_number": addr["house_number"],
            "address": addr["address"], "industry_id": industry,
            "established_on": pl.Series(established, dtype=pl.Date),
            "registered_capital": pl.Series(capital).fill_nan(None), "legal_representative": legal,
            "business_scope": self.scopes.gather(cls), "phone": phone,
            "is_ecommerce_platform": pl.Series(platform), "odr_enabled": pl.Series(odr),
        })
        entities = _conform(entities, ENTITY_SCHEMA)

        operating = (status_i == 0) | suspended
        premises = self._premises(code, ids, operating, rng, counters)
        licences, held = self._licences(code, ids, cls, kind_i, status_i, established, status_date, rng, counters)
        labels = self._labels(ids, industry, section, kind, platform, held, established, counters)
        reports = self._annual_reports(ids, uscc, established, status_i, status_date, rng, counters)
        return RegistryChunk(code, entities, premises, licences, labels, reports)

    def _unique_names(self, parts: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        """Names are unique within a division: a repeated name gets another 字号 (later a three-character one)."""
        def build(p: pl.DataFrame) -> pl.DataFrame:
            return p.with_columns(name=pl.col("prefix") + pl.col("core") + pl.col("word") + pl.col("ending"))

        parts = build(parts)
        for attempt in range(30):
            dup = (~parts["name"].is_first_distinct()).to_numpy()
            idx = np.flatnonzero(dup)
            if not len(idx):
                return parts
            fresh = self.zihao.gather(rng.integers(0, len(self.zihao), len(idx)))
            if attempt >= 2:
                fresh = fresh + self.suffix.gather(rng.integers(0, len(self.suffix), len(idx)))
            parts = build(parts.with_columns(core=parts["core"].scatter(idx, fresh)))
        raise SynthError("无法为该区划生成不重复的名称（主体数量过多）")

    def _premises(self, code: str, ids: np.ndarray, operating: np.ndarray, rng: np.random.Generator,
                  counters: _Counters) -> pl.DataFrame:
        n = len(ids)
        has = operating & (rng.random(n) < 0.03)
        extra = np.where(has, 1 + (rng.random(n) < 0.25), 0)
        owner = np.repeat(ids, extra)
        if len(owner) == 0:
            return _empty(PREMISES_SCHEMA)
        addr = self._addresses(len(owner), code, None, rng)
        first = counters.premises + 1
        counters.premises += len(owner)
        df = addr.with_columns(id=pl.Series(np.arange(first, first + len(owner), dtype=np.int64)),
                               entity_id=pl.Series(owner), division_id=pl.lit(code))
        return _conform(df, PREMISES_SCHEMA)

    def _licences(self, code: str, ids: np.ndarray, cls: np.ndarray, kind_i: np.ndarray, status_i: np.ndarray,
                  established: np.ndarray, status_date: np.ndarray, rng: np.random.Generator,
                  counters: _Counters) -> tuple[pl.DataFrame, np.ndarray]:
        """Licences where the industry needs them; returns the frame and a (types x n) boolean 'holds' matrix."""
        n = len(ids)
        held = rng.random((len(LICENCE_TYPES), n)) < self.licence_p[:, cls]
        issuer = bureau_name(code, self.ref)
        today = self.today64
        frames = []
        terminated = np.isin(status_i, [1, 2, 4])
        for t, lt in enumerate(LICENCE_TYPES):
            idx = np.flatnonzero(held[t])
            if not len(idx):
                continue
            m = len(idx)
            est = established[idx]
            term = terminated[idx]
            years = LICENCE_YEARS[lt]
            # operating holders renewed within the last term; ~3% let it lapse; terminated ones were cancelled
            span_days = 365 * (years or 8)
            lapsed = ~term & (rng.random(m) < 0.03) & (years > 0)
            latest = np.where(lapsed, today - np.timedelta64(span_days + 30, "D"), today)
            lo = np.maximum(est, latest - np.timedelta64(span_days - 1, "D"))
            hi = np.where(term, np.maximum(status_date[idx] - np.timedelta64(1, "D"), est), latest)
            lo = np.minimum(lo, hi)
            valid_from = self._days(lo, hi, rng.random(m))
            valid_to = (valid_from + np.timedelta64(years * 365 - 1, "D") if years
                        else np.full(m, np.datetime64("NaT", "D")))
            status = np.where(term, "cancelled", np.where(lapsed, "expired", "valid"))
            seq = np.arange(1, m + 1)
            number = self._licence_numbers(lt, code, seq, cls[idx], valid_from, rng)
            frames.append(pl.DataFrame({
                "entity_id": ids[idx], "type": pl.repeat(lt, m, eager=True), "number": number,
                "issuer": pl.repeat(issuer, m, eager=True), "valid_from": pl.Series(valid_from, dtype=pl.Date),
                "valid_to": pl.Series(valid_to, dtype=pl.Date), "status": pl.Series(status, dtype=pl.String)}))
        if not frames:
            return _empty(LICENCE_SCHEMA), held
        df = pl.concat(frames).sort(["entity_id", "type"], maintain_order=True)
        first = counters.licences + 1
        counters.licences += df.height
        df = df.with_columns(id=pl.Series(np.arange(first, first + df.height, dtype=np.int64)))
        return _conform(df, LICENCE_SCHEMA), held

    def _licence_numbers(self, lt: str, code: str, seq: np.ndarray, cls: np.ndarray, valid_from: np.ndarray,
                         rng: np.random.Generator) -> pl.Series:
        s = pl.Series(seq)
        year = pl.Series(valid_from.astype("datetime64[Y]").astype(np.int64) + 1970)
        check = pl.Series(rng.integers(0, 10, len(seq))).cast(pl.String)
        if lt == "food_business":
            # JY + 主体业态 (1 销售, 2 餐饮) + division + sequence + check digit
            form = pl.Series(np.where(self.classes.gather(cls).str.starts_with("62").to_numpy(), "2", "1"))
            return "JY" + form + code + s.cast(pl.String).str.zfill(6) + check
        if lt == "food_production":
            cat = pl.Series(np.array(["1"]) .repeat(len(seq))) + self.classes.gather(cls).str.slice(1, 2)
            return "SC" + cat + code + s.cast(pl.String).str.zfill(4) + check
        if lt == "special_equipment":
            kind = pl.Series(["梯", "锅", "容", "起"]).gather(rng.choice(4, len(seq), p=[0.6, 0.15, 0.15, 0.1]))
            yy = (year % 100).cast(pl.String).str.zfill(2)
            return kind + "鲁" + code + "-" + s.cast(pl.String).str.zfill(5) + "(" + yy + ")"
        if lt == "drug_business":
            return "鲁DB" + code + s.cast(pl.String).str.zfill(5)
        if lt == "medical_device":
            return "鲁械经营许" + code + year.cast(pl.String) + s.cast(pl.String).str.zfill(4) + "号"
        return "（鲁）XK" + code + "-" + s.cast(pl.String).str.zfill(5)

    def _labels(self, ids: np.ndarray, industry: pl.Series, section: pl.Series, kind: pl.Series, platform: np.ndarray,
                held: np.ndarray, established: np.ndarray, counters: _Counters) -> pl.DataFrame:
        """Rule labels from the catalogue, evaluated once per distinct (industry, licences, kind, platform)."""
        held_code = np.zeros(len(ids), dtype=np.int64)
        for t in range(len(LICENCE_TYPES)):
            held_code |= held[t].astype(np.int64) << t
        keys = pl.DataFrame({"industry": industry, "section": section, "kind": kind, "platform": pl.Series(platform),
                             "held": pl.Series(held_code)})
        combos = keys.unique(maintain_order=True).sort(["industry", "kind", "held", "platform"])
        rows: dict[str, list[Any]] = {"industry": [], "kind": [], "held": [], "platform": [], "label_code": []}
        cat, cache = self.ref.labels, self._label_cache
        for ind, sec, knd, plat, hc in combos.select("industry", "section", "kind", "platform", "held").iter_rows():
            key = (ind, knd, hc, plat)
            if key not in cache:
                lic = [lt for t, lt in enumerate(LICENCE_TYPES) if hc >> t & 1]
                cache[key] = cat.derive(industry=ind, section=sec, licences=lic, kind=knd, ecommerce_platform=plat)
            for codes in cache[key]:
                rows["industry"].append(ind)
                rows["kind"].append(knd)
                rows["held"].append(hc)
                rows["platform"].append(plat)
                rows["label_code"].append(codes)
        table = pl.DataFrame(rows, schema={"industry": pl.String, "kind": pl.String, "held": pl.Int64,
                                           "platform": pl.Boolean, "label_code": pl.String})
        base = keys.with_columns(entity_id=pl.Series(ids), assigned_on=pl.Series(established, dtype=pl.Date))
        df = base.join(table, on=["industry", "kind", "held", "platform"], how="inner", maintain_order="left")
        df = df.sort(["entity_id", "label_code"], maintain_order=True)
        first = counters.entity_labels + 1
        counters.entity_labels += df.height
        df = df.with_columns(id=pl.Series(np.arange(first, first + df.height, dtype=np.int64)), source=pl.lit("rule"))
        return _conform(df, LABEL_SCHEMA)

    def _annual_reports(self, ids: np.ndarray, uscc: pl.Series, established: np.ndarray, status_i: np.ndarray,
                        status_date: np.ndarray, rng: np.random.Generator, counters: _Counters) -> pl.DataFrame:
        """Reports for 2021 to 2025, due 1 January to 30 June of the next year (企业信息公示暂行条例 art. 8).

        Most entities file on time; a few file late or not at all, and entities that cannot be reached
        (truth.unreachable) mostly do not file."""
        n = len(ids)
        lost = unreachable_mask(uscc.to_numpy(), self.seed)
        habit = rng.choice(3, n, p=[0.86, 0.10, 0.04])  # diligent, careless, absent
        habit = np.where(lost, 2, habit)
        p_on = np.array([0.975, 0.62, 0.08])[habit]
        p_late = np.array([0.015, 0.2, 0.12])[habit]
        terminated = np.isin(status_i, [1, 2, 4])
        frames = []
        for year in REPORT_YEARS:
            start = np.datetime64(dt.date(year + 1, 1, 1))
            due = np.datetime64(dt.date(year + 1, 6, 30))
            if start > self.today64:
                continue
            alive = (established < start) & ~(terminated & (status_date < start))
            u = rng.random(n)
            on_time = alive & (u < p_on)
            late = alive & ~on_time & (u < p_on + p_late)
            # filing date: on time skews to May and June; late within the year after the due date, not after today
            f_on = due - np.floor(rng.beta(0.9, 2.2, n) * 180).astype(np.int64).astype("timedelta64[D]")
            late_end = np.minimum(due + np.timedelta64(365, "D"), self.today64)
            f_late = self._days(np.minimum(due + np.timedelta64(1, "D"), late_end), late_end, rng.random(n))
            filed = np.where(on_time, f_on, f_late)
            keep = (on_time | late) & ~(terminated & (filed > status_date))
            idx = np.flatnonzero(keep)
            frames.append(pl.DataFrame({"entity_id": ids[idx], "year": np.full(len(idx), year, dtype=np.int16),
                                        "filed_on": pl.Series(filed[idx], dtype=pl.Date),
                                        "on_time": pl.Series(on_time[idx])}))
        if not frames:
            return _empty(REPORT_SCHEMA)
        df = pl.concat(frames).sort(["entity_id", "year"], maintain_order=True)
        first = counters.annual_reports + 1
        counters.annual_reports += df.height
        df = df.with_columns(id=pl.Series(np.arange(first, first + df.height, dtype=np.int64)))
        return _conform(df, REPORT_SCHEMA)

    # -- the whole plan ----------------------------------------------------------------------------------------------

    def chunks(self, plan: Sequence[DivisionPlan], first_ids: Mapping[str, int] | None = None,
               workers: int = 1) -> Iterator[RegistryChunk]:
        """One chunk per division in plan order; ids start after `first_ids` (table → last id used).

        With ``workers > 1`` divisions are generated in that many processes; the result is the same, since a
        division's data depends only on (seed, division) and ids are assigned here, in plan order."""
        counters = _Counters(**(first_ids or {}))
        todo = [p for p in plan if p.entities > 0]
        if workers <= 1 or len(todo) < 2:
            for p in todo:
                yield _shift(self.division_chunk(p), counters)
            return
        context = multiprocessing.get_context("spawn")  # Polars' thread pool does not survive fork()
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init,
                                 initargs=(self.ref, self.seed, self.today)) as pool:
            queue = iter(todo)
            pending = deque(pool.submit(_worker_chunk, p) for p in islice(queue, workers + 1))
            while pending:
                chunk = pending.popleft().result()
                following = next(queue, None)
                if following is not None:
                    pending.append(pool.submit(_worker_chunk, following))
                yield _shift(chunk, counters)


_WORKER: RegistryGenerator | None = None


def _worker_init(ref: Reference, seed: int, today: dt.date) -> None:
    global _WORKER
    _WORKER = RegistryGenerator(ref, seed=seed, today=today)


def _worker_chunk(plan: DivisionPlan) -> RegistryChunk:
    assert _WORKER is not None
    return _WORKER.division_chunk(plan)


def _shift(chunk: RegistryChunk, counters: _Counters) -> RegistryChunk:
    """Move a chunk generated with ids from 1 to after `counters`, and advance the counters."""
    e = counters.entities
    if e:
        chunk.entities = chunk.entities.with_columns(pl.col("id") + e)
    for name in ("premises", "licences", "entity_labels", "annual_reports"):
        df = getattr(chunk, name)
        offset = getattr(counters, name)
        if df.height and (offset or e):
            setattr(chunk, name, df.with_columns(pl.col("id") + offset, pl.col("entity_id") + e))
        setattr(counters, name, offset + df.height)
    counters.entities += chunk.entities.height
    return chunk


ENTITY_KEY_COLUMNS = ("id", "uscc", "name", "kind", "subtype", "division", "industry", "section", "established_on",
                      "status", "status_date", "is_ecommerce_platform", "odr_enabled", "street")


def entity_keys(chunk: RegistryChunk, ref: Reference) -> pl.DataFrame:
    """The light entity frame handed to other modules' synth steps (division/industry without the `_id`)."""
    sections = dict(zip(ref.classes, ref.sections, strict=True))
    return chunk.entities.select(
        "id", "uscc", "name", "kind", "subtype", pl.col("division_id").alias("division"),
        pl.col("industry_id").alias("industry"),
        pl.col("industry_id").replace_strict(sections, return_dtype=pl.String).alias("section"),
        "established_on", "status", "status_date", "is_ecommerce_platform", "odr_enabled", "street",
    )
