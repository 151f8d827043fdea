"""API authentication: the browser's session (with CSRF) or a per-unit API key for machine clients."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from typing import Any

from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyHeader, SessionAuth

from jianguan.core.models import ApiKey, Unit, User

KEY_PREFIX_LEN = 8
# A machine client sends hundreds of requests a second with the same key: its row is read at most every
# KEY_CACHE_SECONDS per process (a revoked key stops working within that time, at once in the process that revoked
# it) and `last_used_at` is written at most every LAST_USED_SECONDS — a write per request would make every request
# wait for the previous one's lock on the key's row and for a durable commit.
KEY_CACHE_SECONDS = 5.0
LAST_USED_SECONDS = 60.0
_keys: dict[str, tuple[float, ApiKey]] = {}
_touched: dict[str, float] = {}  # by key prefix
_touch_lock = threading.Lock()


def clear_key_cache(**_kwargs: Any) -> None:
    _keys.clear()


for _model in (ApiKey, User):
    post_save.connect(clear_key_cache, sender=_model, dispatch_uid=f"api-key-cache-{_model.__name__}")
    post_delete.connect(clear_key_cache, sender=_model, dispatch_uid=f"api-key-cache-d-{_model.__name__}")


def _load_key(prefix: str) -> ApiKey | None:
    return (ApiKey.objects.select_related("acting_user", "acting_user__unit", "unit")
            .filter(prefix=prefix, revoked_at=None).first())


def _key_for(prefix: str) -> ApiKey | None:
    if connection.in_atomic_block:  # inside a transaction (tests, scripts) always read what the transaction sees
        return _load_key(prefix)
    now = time.monotonic()
    hit = _keys.get(prefix)
    if hit is not None and now - hit[0] < KEY_CACHE_SECONDS:
        return hit[1]
    api_key = _load_key(prefix)
    if api_key is not None:  # unknown prefixes are not remembered (anyone can send many)
        _keys[prefix] = (now, api_key)
    return api_key


def _touch(api_key: ApiKey) -> None:
    now = time.monotonic()
    with _touch_lock:
        last = _touched.get(api_key.prefix)
        if last is not None and now - last < LAST_USED_SECONDS and not connection.in_atomic_block:
            return
        _touched[api_key.prefix] = now
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())


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
        api_key = _key_for(prefix)
        if api_key is None or not secrets.compare_digest(api_key.key_hash, _hash(key)):
            return None
        if not api_key.acting_user.is_active:
            return None
        _touch(api_key)
        request.user = api_key.acting_user
        request.api_key = api_key  # type: ignore[attr-defined]
        return api_key.acting_user


API_KEY_AUTH = UnitApiKey()
API_AUTH = [API_KEY_AUTH, SessionAuth()]
