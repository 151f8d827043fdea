"""Reference tables of the registry: GB/T 4754-2017 industries and the label catalogue, synced after migrate."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from django.conf import settings
from django.db import transaction

from jianguan.registry.domain.industries import load_industries
from jianguan.registry.domain.labels import LabelCatalogue, parse_catalogue
from jianguan.registry.models import Industry, Label


@lru_cache(maxsize=1)
def label_catalogue() -> LabelCatalogue:
    path = Path(settings.JIANGUAN_RULES_DIR) / "registry" / "labels.yaml"
    with path.open(encoding="utf-8") as fh:
        return parse_catalogue(yaml.safe_load(fh))


def industries_sync() -> int:
    table = load_industries()

    def section_of(code: str) -> str:
        node = table[code]
        while node.level != "section":
            node = table[node.parent]
        return node.code

    rows = [Industry(code=i.code, name=i.name, level=i.level, parent_id=i.parent or None, section=section_of(i.code))
            for i in table.values()]
    existing = set(Industry.objects.values_list("code", flat=True))
    with transaction.atomic():
        Industry.objects.bulk_create([r for r in rows if r.code not in existing], batch_size=1000)
        Industry.objects.bulk_update([r for r in rows if r.code in existing], ["name", "level", "parent", "section"],
                                     batch_size=1000)
    return len(rows)


def labels_sync() -> int:
    catalogue = label_catalogue()
    for r in catalogue.rules:
        Label.objects.update_or_create(code=r.code, defaults={"name": r.name, "category": r.category,
                                                              "description": r.description})
    return len(catalogue.rules)
