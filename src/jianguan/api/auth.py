"""API authentication: the browser's session (with CSRF) or a per-unit API key for machine clients."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyHeader, SessionAuth

from jianguan.core.models import ApiKey, Unit, User

KEY_PREFIX_LEN = 8


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(unit: Unit, name: str, acting_user: User) -> tuple[ApiKey, str]:
    """Create a key for a unit; the plain key is returned once and never stored."""
    prefix = secrets.token_hex(KEY_PREFIX_LEN // 2)
    plain = f"jg_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(unit=unit, name=name, prefix=prefix, key_hash=_hash(plain), acting_user=acting_user)
    return key, plain


class UnitApiKey(APIKeyHeader):
    """`X-API-Key: jg_<prefix>_<secret>`; the request then acts as the key's user within its unit."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key or not key.startswith("jg_") or key.count("_") < 2:
            return None
        prefix = key.split("_", 2)[1]
        api_key = ApiKey.objects.select_related("acting_user", "unit").filter(prefix=prefix, revoked_at=None).first()
        if api_key is None or not secrets.compare_digest(api_key.key_hash, _hash(key)):
            return None
        if not api_key.acting_user.is_active:
            return None
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
        request.user = api_key.acting_user
        request.api_key = api_key  # type: ignore[attr-defined]
        return api_key.acting_user


API_AUTH = [UnitApiKey(), SessionAuth()]
