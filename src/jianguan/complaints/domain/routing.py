"""Which unit handles a complaint or report (Order 121 arts. 13-14, 29-32): pure, over unit descriptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class UnitRef:
    """A handling unit as routing sees it: a county bureau (`<division>-samr`) or a station with its towns."""

    code: str
    division: str
    kind: str  # "bureau" | "station"
    towns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RespondentFacts:
    """Where the respondent is: its county (GB/T 2260), town/street, and whether it runs an e-commerce platform."""

    division: str | None
    street: str = ""
    is_ecommerce_platform: bool = False
    conduct_division: str | None = None  # reports: where the conduct happened, when known and different


@dataclass(frozen=True)
class Routing:
    """The suggested unit (None: the dispatcher must choose) and the article it follows."""

    unit_code: str | None
    article: str
    explanation: str


def route(kind: str, facts: RespondentFacts, units: Sequence[UnitRef]) -> Routing:
    """Suggest the handling unit; the dispatcher confirms or chooses another (art. 41)."""
    if kind == "report":
        county = facts.conduct_division or facts.division
        article_bureau, article_station = "第二十九条", "第二十九条、第三十条"
    else:
        county = facts.division
        article_bureau = article_station = "第十三条"
    if not county:
        return Routing(None, "第四十一条", "未能在名录中确定被投诉（举报）人所在地，请分派机构人工指定承办单位")
    bureau = next((u for u in units if u.kind == "bureau" and u.division == county), None)
    if facts.is_ecommerce_platform:
        article = "第三十一条" if kind == "report" else "第十三条"
        if bureau is None:
            return Routing(None, article, f"电子商务平台经营者住所地（{county}）没有对应的县级局，请人工指定")
        return Routing(bureau.code, article, "电子商务平台经营者由其住所地县级市场监督管理部门处理")
    if facts.street:
        station = next((u for u in units if u.kind == "station" and u.division == county
                        and any(t == facts.street for t in u.towns)), None)
        if station is not None:
            return Routing(station.code, article_station,
                           f"被{'举报' if kind == 'report' else '投诉'}人位于{facts.street}，由辖区市场监管所处理")
    if bureau is None:
        return Routing(None, article_bureau, f"区划 {county} 没有对应的县级局，请人工指定承办单位")
    return Routing(bureau.code, article_bureau, "由被投诉（举报）人所在地县级市场监督管理部门处理")
