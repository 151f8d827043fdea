"""Shared fixtures: factories for units, users with roles, and the calendar."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_counter = itertools.count(1)


@pytest.fixture(scope="session")
def calendar():
    from jianguan.core.domain.calendar import load_calendar

    return load_calendar(REPO / "rules" / "calendar")


def create_unit(code: str | None = None, *, division: str = "371003", kind: str = "bureau", parent=None,
                department: str = "samr", name: str | None = None):
    from jianguan.core.models import Department, Division, Unit

    n = next(_counter)
    return Unit.objects.create(
        code=code or f"u{n}", name=name or f"测试单位{n}", kind=kind,
        division=Division.objects.get(code=division), parent=parent,
        department=Department.objects.get(code=department))


def create_user(*, unit, roles=(("handler", "subtree"),), username: str | None = None,
                password: str = "Correct-horse-42"):  # noqa: S107 — a test password
    from jianguan.core.services import user_create

    n = next(_counter)
    return user_create(username or f"user{n}", password, full_name=f"测试用户{n}", unit=unit, roles=roles)


@pytest.fixture
def org(db):
    """A small bureau tree: Weihai city → Wendeng district (with a station) and Rongcheng city."""
    from types import SimpleNamespace

    weihai = create_unit("371000-samr", division="371000", name="威海市市场监督管理局")
    wendeng = create_unit("371003-samr", division="371003", parent=weihai, name="威海市文登区市场监督管理局")
    station = create_unit("371003-station-龙山", division="371003", parent=wendeng, kind="station",
                          name="威海市文登区市场监督管理局龙山市场监管所")
    rongcheng = create_unit("371082-samr", division="371082", parent=weihai, name="荣成市市场监督管理局")
    tax = create_unit("371003-tax", division="371003", kind="partner", department="tax", name="威海市文登区税务局")
    return SimpleNamespace(weihai=weihai, wendeng=wendeng, station=station, rongcheng=rongcheng, tax=tax)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings, request):
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher."""
    if "argon2" not in request.node.name:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _chinese_by_default():
    """A request with an English cookie leaves English active in the thread; each test starts in zh-hans."""
    from django.utils import translation

    translation.activate("zh-hans")
    yield
    translation.deactivate()
