"""A machine client's API key is read and touched rarely, and a revoked key stops working.

These tests run outside a test transaction (as the server does): inside one the key is always read afresh.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

from jianguan.api import auth
from jianguan.api.auth import UnitApiKey, api_key_create
from jianguan.core.models import ApiKey

pytestmark = pytest.mark.django_db(transaction=True)


def authenticate(plain: str):
    return UnitApiKey().authenticate(RequestFactory().get("/api/v1/me"), plain)


def test_last_used_is_written_once_a_minute_not_at_every_request(staff, org):
    assert not connection.in_atomic_block
    key, plain = api_key_create(org.intake, "12345 对接", staff.clerk)
    assert authenticate(plain) == staff.clerk
    first = ApiKey.objects.get(pk=key.pk).last_used_at
    assert first is not None
    for _ in range(5):
        assert authenticate(plain) == staff.clerk
    assert ApiKey.objects.get(pk=key.pk).last_used_at == first


def test_a_key_revoked_through_the_model_stops_working_at_once(staff, org):
    key, plain = api_key_create(org.intake, "对接", staff.clerk)
    assert authenticate(plain) == staff.clerk
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    assert authenticate(plain) is None


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_time(staff, org, monkeypatch):
    key, plain = api_key_create(org.intake, "对接", staff.clerk)
    assert authenticate(plain) == staff.clerk
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # e.g. another server process
    monkeypatch.setattr(auth, "KEY_CACHE_SECONDS", 0.0)
    assert authenticate(plain) is None


def test_wrong_secrets_and_unknown_keys_are_refused_and_not_remembered(staff, org):
    _key, plain = api_key_create(org.intake, "对接", staff.clerk)
    assert authenticate(plain[:-2] + "xx") is None
    assert authenticate("jg_0badc0de_secret") is None
    assert "0badc0de" not in auth._keys
