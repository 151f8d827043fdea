"""Art. 17 hints that a claimant may not be a consumer (职业索赔): flags with evidence, never a rejection."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jianguan.complaints.domain.text import normalise_address


@dataclass(frozen=True)
class PriorSubmission:
    """An earlier complaint as the flag rules see it."""

    tracking_number: str
    received_on: dt.date
    complainant_name: str
    phone: str
    address: str
    respondent_key: str  # entity id or normalised respondent name


@dataclass(frozen=True)
class Flag:
    """One art. 17 factor that applies, with the records that show it."""

    code: str
    article: str
    message: str
    evidence: tuple[str, ...] = field(default_factory=tuple)


def detect_flags(*, received_on: dt.date, complainant_name: str, phone: str, address: str, respondent_key: str,
                 quantity: int | None, prior: Sequence[PriorSubmission], rules: Mapping[str, Any]) -> list[Flag]:
    """The art. 17 factors this complaint shows against the earlier ones (from `rules/complaints/flags.yaml`)."""
    flags: list[Flag] = []
    r1 = rules["same_person_same_operator"]
    since = received_on - dt.timedelta(days=int(r1["window_days"]))
    same = [p for p in prior if p.received_on >= since and p.respondent_key == respondent_key
            and (p.phone == phone or (p.complainant_name == complainant_name and p.address == address))]
    if len(same) + 1 >= int(r1["min_count"]):
        flags.append(Flag("same_person_same_operator", str(r1["article"]),
                          f"同一投诉人{r1['window_days']}日内对同一经营者投诉{len(same) + 1}次",
                          tuple(p.tracking_number for p in same)))
    r2 = rules["shared_contact"]
    since = received_on - dt.timedelta(days=int(r2["window_days"]))
    addr = normalise_address(address)
    sharing = [p for p in prior if p.received_on >= since and p.complainant_name != complainant_name
               and (p.phone == phone or (addr and normalise_address(p.address) == addr))]
    people = {p.complainant_name for p in sharing} | {complainant_name}
    if sharing and len(people) >= int(r2["min_people"]):
        flags.append(Flag("shared_contact", str(r2["article"]),
                          f"{len(people)}名投诉人使用同一手机号码或通讯地址",
                          tuple(p.tracking_number for p in sharing)))
    r3 = rules["abnormal_quantity"]
    if quantity is not None and quantity >= int(r3["min_quantity"]):
        flags.append(Flag("abnormal_quantity", str(r3["article"]),
                          f"购买数量{quantity}件，明显超出通常消费习惯（提示阈值{r3['min_quantity']}件）", ()))
    return flags
