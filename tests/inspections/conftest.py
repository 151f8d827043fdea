"""Factories for the inspections tests: entities with labels, inspectors, a plan with one task."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

_n = itertools.count(1)
TODAY = dt.date(2026, 3, 2)


def make_entity(
    *,
    division: str = "371003",
    industry: str = "5211",
    labels: tuple[str, ...] = (),
    kind: str = "enterprise",
    status: str = "active",
    name: str | None = None,
):
    from jianguan.registry.domain.uscc import ALPHABET, make_uscc
    from jianguan.registry.models import Entity, EntityLabel, Label

    n = next(_n)
    body = "".join(ALPHABET[(n // 31**k) % 31] for k in range(8))[::-1]
    uscc = make_uscc("9", "1", division, body)
    entity = Entity.objects.create(
        uscc=uscc,
        name=name or f"测试商贸有限公司{n}",
        kind=kind,
        status=status,
        registration_authority="文登区市场监督管理局",
        division_id=division,
        address=f"文登区测试路{n}号",
        industry_id=industry,
        established_on=dt.date(2015, 1, 1),
        legal_representative="张三",
    )
    for code in labels:
        EntityLabel.objects.create(
            entity=entity, label=Label.objects.get(code=code), source="rule", assigned_on=dt.date(2025, 1, 1)
        )
    return entity


def make_inspector(
    unit,
    *,
    department: str = "samr",
    quals=("登记注册", "食品安全"),
    user=None,
    status: str = "active",
    name: str | None = None,
):
    from jianguan.core.models import Department
    from jianguan.inspections.models import Inspector

    n = next(_n)
    return Inspector.objects.create(
        name=name or f"检查员{n}",
        department=Department.objects.get(code=department),
        unit=unit,
        cert_no=f"37100{n:06d}",
        qualifications=list(quals),
        status=status,
        user=user,
    )


@pytest.fixture
def staff(org):
    from types import SimpleNamespace

    from tests.conftest import create_user

    return SimpleNamespace(
        head=create_user(unit=org.wendeng, roles=(("section_head", "subtree"),), username="head"),
        handler=create_user(unit=org.wendeng, roles=(("handler", "subtree"),), username="handler"),
        leader=create_user(unit=org.wendeng, roles=(("leader", "subtree"),), username="leader"),
        rc_head=create_user(unit=org.rongcheng, roles=(("section_head", "subtree"),), username="rc_head"),
    )


@pytest.fixture
def food_world(org, staff):
    """20 food businesses and 10 plain enterprises in Wendeng, 2 in Rongcheng; inspectors of samr and tax."""
    entities = [make_entity(labels=("food_business",)) for _ in range(20)]
    plain = [make_entity() for _ in range(10)]
    elsewhere = [make_entity(division="371082", labels=("food_business",)) for _ in range(2)]
    samr = [make_inspector(org.wendeng) for _ in range(4)]
    station = [make_inspector(org.station) for _ in range(2)]
    tax = [make_inspector(org.tax, department="tax", quals=("税务稽查",)) for _ in range(3)]
    return {"food": entities, "plain": plain, "elsewhere": elsewhere, "samr": samr + station, "tax": tax}


def make_plan(org, staff, *, items=("SCJG-SP-01",), ratios=None, a_slice="0", approve=True, tasks=None):
    from jianguan.core.models import Department
    from jianguan.inspections import services
    from jianguan.inspections.models import InspectionItem

    plan = services.plan_create(name="2026年文登区双随机抽查计划", year=2026, unit=org.wendeng, actor=staff.handler)
    for spec in tasks or [{"items": items, "ratios": ratios, "department": "samr"}]:
        services.task_create(
            plan,
            name=spec.get("name", "食品经营抽查"),
            department=Department.objects.get(code=spec["department"]),
            items=list(InspectionItem.objects.filter(code__in=spec["items"])),
            scope_divisions=["371003"],
            period_start=spec.get("start", dt.date(2026, 4, 1)),
            period_end=spec.get("end", dt.date(2026, 6, 30)),
            ratios=spec.get("ratios") or {"B": "0.25", "C": "0.5", "D": "1"},
            a_slice_ratio=spec.get("a_slice", a_slice),
            partner_departments=Department.objects.filter(code__in=spec.get("partners", ())),
            actor=staff.handler,
        )
    if approve:
        services.plan_approve(plan, actor=staff.head, reason="同意")
    return plan


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast fixtures
