"""Rule-derived labels (标签): which labels an entity gets from its industry, licences, kind and platform flag."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LabelRule:
    code: str
    name: str
    category: str
    industries: tuple[str, ...] = ()   # GB/T 4754 prefixes: a section letter or leading digits
    licences: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    ecommerce_platform: bool = False
    manual: bool = False
    description: str = ""


@dataclass(frozen=True)
class LabelCatalogue:
    rules: tuple[LabelRule, ...] = field(default_factory=tuple)

    def derive(self, *, industry: str, section: str, licences: Iterable[str], kind: str,
               ecommerce_platform: bool = False) -> list[str]:
        """Codes of the rule labels that apply; any one matching condition of a rule is enough."""
        held = set(licences)
        out = []
        for r in self.rules:
            if r.manual:
                continue
            hit = (any(industry.startswith(p) if p[0].isdigit() else section == p for p in r.industries)
                   or bool(held & set(r.licences)) or kind in r.kinds
                   or (r.ecommerce_platform and ecommerce_platform))
            if hit:
                out.append(r.code)
        return out


def parse_catalogue(data: Mapping[str, Any]) -> LabelCatalogue:
    """Build the catalogue from rules/registry/labels.yaml, rejecting unknown keys with the label named."""
    allowed = {"code", "name", "category", "rule", "manual", "description"}
    rule_keys = {"industries", "licences", "kinds", "ecommerce_platform"}
    rules = []
    for item in data.get("labels", []):
        unknown = set(item) - allowed
        if unknown:
            raise ValueError(f"标签 {item.get('code')!r} 含未知字段 {sorted(unknown)}")
        rule = item.get("rule") or {}
        bad = set(rule) - rule_keys
        if bad:
            raise ValueError(f"标签 {item['code']!r} 的规则含未知条件 {sorted(bad)}")
        rules.append(LabelRule(
            code=item["code"], name=item["name"], category=item["category"],
            industries=tuple(str(x) for x in rule.get("industries", ())),
            licences=tuple(rule.get("licences", ())), kinds=tuple(rule.get("kinds", ())),
            ecommerce_platform=bool(rule.get("ecommerce_platform", False)), manual=bool(item.get("manual")),
            description=item.get("description", "")))
    return LabelCatalogue(tuple(rules))
