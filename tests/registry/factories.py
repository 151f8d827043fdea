"""Small factories for registry tests: valid entities (real USCCs), licences, annual reports, labels.

Other apps' tests may import these.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from jianguan.registry.domain.uscc import ALPHABET, make_uscc

_seq = itertools.count(1)

# Individual businesses (个体工商户) carry authority 9, type 2; enterprises 9, 1; co-operatives 9, 3.
_TYPE_CODES = {"enterprise": "1", "individual": "2", "cooperative": "3"}


def _org_body(n: int) -> str:
    """A distinct 8-character organisation-code body per call ("MA" + 6 characters from the alphabet)."""
    digits = []
    for _ in range(6):
        n, r = divmod(n, len(ALPHABET))
        digits.append(ALPHABET[r])
    return "MA" + "".join(reversed(digits))


def next_uscc(*, division: str = "371003", kind: str = "enterprise") -> str:
    return make_uscc("9", _TYPE_CODES[kind], division, _org_body(next(_seq) + 1000))


def create_entity(**overrides: Any):
    """A valid, active entity in 文登区 (371003) trading in 百货零售 (5211), unless told otherwise."""
    from jianguan.registry.models import Entity

    n = next(_seq)
    division = overrides.pop("division", "371003")
    division_id = getattr(division, "code", division)
    industry = overrides.pop("industry", "5211")
    industry_id = getattr(industry, "code", industry)
    kind = overrides.get("kind", Entity.Kind.ENTERPRISE)
    fields: dict[str, Any] = {
        "uscc": overrides.pop("uscc", None) or next_uscc(division=division_id, kind=str(kind)),
        "name": f"威海测试商贸有限公司{n}",
        "kind": kind,
        "subtype": "有限责任公司" if kind == Entity.Kind.ENTERPRISE else "",
        "status": Entity.Status.ACTIVE,
        "registration_authority": "威海市文登区市场监督管理局",
        "division_id": division_id,
        "street": "龙山街道",
        "road": "峰山路",
        "house_number": f"{n}号",
        "address": f"山东省威海市文登区龙山街道峰山路{n}号",
        "industry_id": industry_id,
        "established_on": dt.date(2018, 3, 15),
        "registered_capital": "100.00",
        "legal_representative": "王建国",
        "business_scope": "日用百货零售",
        "phone": "13863112345",
    }
    fields.update(overrides)
    return Entity.objects.create(**fields)


def create_licence(entity, **overrides: Any):
    """A valid 食品经营许可证 for the entity, unless told otherwise."""
    from jianguan.registry.models import Licence

    n = next(_seq)
    fields: dict[str, Any] = {
        "type": Licence.Type.FOOD_BUSINESS,
        "number": f"JY{37100300000000 + n}",
        "issuer": "威海市文登区市场监督管理局",
        "valid_from": dt.date(2022, 1, 10),
        "valid_to": dt.date(2027, 1, 9),
        "status": Licence.Status.VALID,
    }
    fields.update(overrides)
    return Licence.objects.create(entity=entity, **fields)


def create_annual_report(entity, year: int = 2024, **overrides: Any):
    """An annual report for `year`, filed on time (before 30 June of the next year) unless told otherwise."""
    from jianguan.registry.models import AnnualReport

    fields: dict[str, Any] = {"filed_on": dt.date(year + 1, 4, 20), "on_time": True}
    fields.update(overrides)
    return AnnualReport.objects.create(entity=entity, year=year, **fields)


def add_label(entity, code: str = "catering", *, source: str = "rule", assigned_on: dt.date = dt.date(2024, 1, 1)):
    """Put a catalogue label (loaded from rules/registry/labels.yaml after migrate) on the entity."""
    from jianguan.registry.models import EntityLabel, Label

    return EntityLabel.objects.create(entity=entity, label=Label.objects.get(code=code), source=source,
                                      assigned_on=assigned_on)


def create_premises(entity, **overrides: Any):
    from jianguan.registry.models import Premises

    fields: dict[str, Any] = {"division_id": entity.division_id, "street": "天福街道", "road": "世纪大道",
                              "house_number": "8号", "address": "山东省威海市文登区天福街道世纪大道8号"}
    fields.update(overrides)
    return Premises.objects.create(entity=entity, **fields)
