"""The lean WSGI route for API-key intake (`jianguan.api.fast`) answers exactly as the full Django stack does.

Each request is sent twice with fresh environs: once through the production WSGI application (`jianguan.wsgi`,
lean route in front) and once through the plain Django application, and the answers are compared: status, body
(tracking numbers aside) and every header.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core import signals
from django.db import close_old_connections
from django.test import RequestFactory

from jianguan.api import fast
from jianguan.complaints.models import Case, IdempotencyKey
from jianguan.core.models import AuditEntry
from tests.complaints.conftest import create_entity
from tests.complaints.test_api import body

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    # As Django's test client does: a request must not close the connection holding the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(staff, org):
    from jianguan.api.auth import api_key_create

    _key, plain = api_key_create(org.intake, "12315平台对接", staff.clerk)
    return plain


def environ(data: object, *, key: str | None, content_type: str = "application/json", **headers: str) -> dict:
    raw = data if isinstance(data, bytes) else json.dumps(data, ensure_ascii=False).encode()
    extra = {"HTTP_X_API_KEY": key} if key is not None else {}
    env = RequestFactory().generic("POST", "/api/v1/complaints", raw, content_type=content_type,
                                   **extra, **headers).environ
    env["wsgi.input"] = io.BytesIO(raw)  # a plain stream, as a WSGI server hands it over
    env["CONTENT_LENGTH"] = str(len(raw))
    return env


def call(app, env: dict) -> tuple[int, dict[str, str], bytes]:
    seen: list = []
    result = app(env, lambda status, headers: seen.append((status, headers)))
    content = b"".join(result)
    result.close()
    status, headers = seen[0]
    return int(status.split()[0]), {k.lower(): v for k, v in headers if k.lower() != "content-length"}, content


def both(make_env) -> tuple[tuple[int, dict, bytes], tuple[int, dict, bytes]]:
    from jianguan.wsgi import application, django_application

    return call(application, make_env()), call(django_application, make_env())


def without_numbers(content: bytes) -> dict:
    out = json.loads(content)
    out.pop("tracking_number", None)
    out.pop("related_tracking_number", None)
    return out


def test_the_plain_case_takes_the_lean_route_and_answers_as_the_full_stack(api_key, monkeypatch):
    taken = []
    original = fast._intake_view
    monkeypatch.setattr(fast, "_intake_view", lambda request: taken.append(1) or original(request))
    from jianguan import wsgi
    monkeypatch.setattr(wsgi, "application", fast.application(wsgi.django_application))

    lean, full = both(lambda: environ(body(), key=api_key))
    assert taken == [1]
    assert lean[0] == full[0] == 201
    assert without_numbers(lean[2]) == without_numbers(full[2])
    assert lean[1] == full[1]  # the same security headers, language, content type …
    assert "content-security-policy" in lean[1] and lean[1]["x-frame-options"] == "DENY"
    assert Case.objects.count() == 2
    assert AuditEntry.objects.filter(action="register", object_type="complaints.case").count() == 2


def test_a_split_submission_domain_errors_and_idempotent_replays_answer_the_same(api_key):
    uscc = create_entity().uscc
    split = body(respondent={"uscc": uscc, "name": "", "address": ""}, report_facts="无证经营")
    lean, full = both(lambda: environ(split, key=api_key))
    assert lean[0] == full[0] == 201 and lean[1] == full[1]
    assert without_numbers(lean[2]) == without_numbers(full[2])
    assert json.loads(lean[2])["related_tracking_number"]

    bad = body(complainant={"name": "李", "phone": "12345", "address": "x"})
    lean, full = both(lambda: environ(bad, key=api_key))
    assert lean[0] == full[0] == 422 and lean[2] == full[2] and lean[1] == full[1]
    assert "电话号码格式不正确" in json.loads(lean[2])["message"]

    from jianguan.wsgi import application

    first = call(application, environ(body(), key=api_key, HTTP_IDEMPOTENCY_KEY="k-1"))
    again = call(application, environ(body(), key=api_key, HTTP_IDEMPOTENCY_KEY="k-1"))
    other = call(application, environ(body(facts="另一件事"), key=api_key, HTTP_IDEMPOTENCY_KEY="k-1"))
    assert (first[0], again[0], other[0]) == (201, 200, 409)
    assert json.loads(first[2]) == json.loads(again[2]) and IdempotencyKey.objects.count() == 1
    assert json.loads(other[2])["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("case", ["no key", "wrong key", "invalid body", "not json", "form post"])
def test_what_the_lean_route_declines_gets_the_full_stacks_answer(api_key, case):
    def make():
        if case == "no key":
            return environ(body(), key=None)
        if case == "wrong key":
            return environ(body(), key=api_key[:-4] + "xxxx")
        if case == "invalid body":
            return environ({"kind": "complaint"}, key=api_key)
        if case == "not json":
            return environ(b"{not json", key=api_key)
        return environ(b"kind=complaint", key=api_key, content_type="application/x-www-form-urlencoded")

    lean, full = both(make)
    assert lean == full
    assert lean[0] in (400, 401, 403, 415, 422) and Case.objects.count() == 0


def test_the_lean_route_only_considers_api_key_json_posts_to_the_intake_within_the_size_limit(api_key, settings):
    assert fast.applies(environ(body(), key=api_key))
    assert not fast.applies(environ(body(), key=None))
    assert not fast.applies({**environ(body(), key=api_key), "REQUEST_METHOD": "PUT"})
    assert not fast.applies({**environ(body(), key=api_key), "PATH_INFO": "/api/v1/complaints/"})
    assert not fast.applies(environ(b"kind=complaint", key=api_key, content_type="multipart/form-data"))
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert not fast.applies(environ(body(), key=api_key))  # Django answers a too-big body itself
