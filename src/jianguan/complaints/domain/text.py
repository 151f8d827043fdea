"""Pure checks and transformations of what people type: phone numbers, masking of personal data."""

from __future__ import annotations

import re

_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LANDLINE = re.compile(r"0[1-9][0-9]{1,2}-?[2-9][0-9]{6,7}(-[0-9]{1,6})?")


def normalise_phone(value: str) -> str:
    """Strip spaces and a +86/86 prefix; the canonical form that is stored and compared."""
    v = re.sub(r"[\s（）()]", "", value or "")
    v = v.replace("—", "-").replace("－", "-")
    if v.startswith("+86"):
        v = v[3:]
    elif v.startswith("86") and len(v) == 13:
        v = v[2:]
    return v.lstrip("-")


def phone_error(value: str) -> str | None:
    """None when the number is a mainland mobile (11 digits, 1[3-9]…) or landline (0 + area code + number)."""
    v = normalise_phone(value)
    if not v:
        return "请填写联系电话"
    if _MOBILE.fullmatch(v) or _LANDLINE.fullmatch(v):
        return None
    return "电话号码格式不正确：请填写11位手机号（如 13812345678）或带区号的固定电话（如 0631-5212345）"


def mask_name(name: str) -> str:
    """张三丰 → 张**; an empty name stays empty."""
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    p = phone or ""
    if len(p) < 7:
        return "*" * len(p)
    return p[:3] + "*" * (len(p) - 7) + p[-4:]


def mask_address(address: str) -> str:
    """Keep the first six characters (district level), hide the rest."""
    a = (address or "").strip()
    return a[:6] + ("****" if len(a) > 6 else "")


def normalise_address(address: str) -> str:
    """For comparing addresses: no whitespace, no punctuation, ASCII digits."""
    a = re.sub(r"[\s,，。.、#\-－号室]", "", address or "")
    return a.translate({0xFF10 + i: str(i) for i in range(10)})  # full-width digits
