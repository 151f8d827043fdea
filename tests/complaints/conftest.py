"""Factories for complaints tests: entities in Wendeng and Rongcheng, an intake centre, staff with roles."""

from __future__ import annotations

import datetime as dt
import itertools
from types import SimpleNamespace

import pytest

from tests.conftest import create_unit, create_user

SH = dt.timezone(dt.timedelta(hours=8))
_n = itertools.count(1)


def create_entity(*, division: str = "371003", street: str = "龙山街道", name: str | None = None,
                  platform: bool = False, odr: bool = False, industry: str = "5212"):
    from jianguan.registry.domain.uscc import make_uscc
    from jianguan.registry.models import Entity

    n = next(_n)
    body = f"{n:08d}"
    return Entity.objects.create(
        uscc=make_uscc("9", "1", division, body), name=name or f"威海测试商贸有限公司{n}", kind="enterprise",
        registration_authority="威海市文登区市场监督管理局", division_id=division, street=street,
        address=f"山东省威海市{street}世纪大道{n}号", industry_id=industry, established_on=dt.date(2015, 3, 1),
        legal_representative="王建国", is_ecommerce_platform=platform, odr_enabled=odr)


@pytest.fixture
def org(db):
    """Weihai: city bureau with its 12315 centre; Wendeng (with 龙山 station) and Rongcheng bureaus."""
    weihai = create_unit("371000-samr", division="371000", name="威海市市场监督管理局")
    intake = create_unit("371000-12315", division="371000", kind="intake", parent=weihai,
                         name="威海市12315投诉举报中心")
    wendeng = create_unit("371003-samr", division="371003", parent=weihai, name="威海市文登区市场监督管理局")
    station = create_unit("371003-station-龙山市场监管所", division="371003", parent=wendeng, kind="station",
                          name="威海市文登区市场监督管理局龙山市场监管所")
    rongcheng = create_unit("371082-samr", division="371082", parent=weihai, name="荣成市市场监督管理局")
    return SimpleNamespace(weihai=weihai, intake=intake, wendeng=wendeng, station=station, rongcheng=rongcheng)


@pytest.fixture
def staff(org):
    return SimpleNamespace(
        clerk=create_user(unit=org.intake, roles=(("intake_clerk", "subtree"),), username="clerk"),
        wendeng_handler=create_user(unit=org.wendeng, roles=(("handler", "subtree"),), username="wd_handler"),
        wendeng_head=create_user(unit=org.wendeng, roles=(("section_head", "subtree"),), username="wd_head"),
        station_handler=create_user(unit=org.station, roles=(("handler", "unit"),), username="st_handler"),
        rongcheng_handler=create_user(unit=org.rongcheng, roles=(("handler", "subtree"),), username="rc_handler"),
        wendeng_inspector=create_user(unit=org.wendeng, roles=(("inspector", "subtree"),), username="wd_insp"),
    )


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def intake_data(**overrides):
    from jianguan.complaints.services import IntakeData

    base = dict(kind="complaint", channel="12315_hotline", received_at=at("2026-09-30T10:00:00+08:00"),
                complainant_name="李丽华", complainant_phone="13812345678", complainant_address="威海市文登区天福路1号",
                respondent_name="", respondent_address="", respondent_uscc="", request="退货退款",
                facts="9月28日在该超市购买的牛奶已过期，要求退款。")
    base.update(overrides)
    return IntakeData(**base)


@pytest.fixture
def now():
    return at("2026-11-20T10:00:00+08:00")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Six staff users per test: Argon2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _empty_cache():
    # The dashboard caches its tables per scope and period; tests must not see each other's.
    from django.core.cache import cache

    cache.clear()
