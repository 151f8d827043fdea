"""The lean route for machine intake: `POST /api/v1/complaints` with an `X-API-Key`.

12315/12345 platforms post hundreds of submissions a second. Through the full stack each one crossed twelve
middleware, the URL resolver and django-ninja's operation machinery — about a third of the web process's CPU per
submission, more than the intake itself. This handler serves exactly that request with only the middleware that
shapes its answer (security redirect and headers, language, host check, frame options) and calls the same
function as the ninja view (`complaints.api.register`), so the answer is the same (the tests compare both).

It takes only the plain case: a valid key and a body that validates. Anything else — a missing or wrong key, a
body that does not validate, another path or method — goes to the full Django stack untouched, which answers
with its usual errors. See `application()`.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import set_script_prefix
from django.utils.module_loading import import_string
from pydantic import ValidationError

PATH = "/api/v1/complaints"
# The project's middleware that matters for this answer, in the project's order (settings.MIDDLEWARE).
MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "jianguan.core.middleware.SecurityHeadersMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)
_CONTENT_TYPES = ("application/json",)


class _Declined(HttpResponse):
    """Returned by the lean view when the request is not the plain case: the full stack answers it instead."""


def applies(environ: dict[str, Any]) -> bool:
    """Cheap pre-check on the raw request: the lean route only ever looks at API-key JSON posts to the intake,
    with a declared length within Django's in-memory limit (bigger ones get Django's own refusal)."""
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != PATH or environ.get("SCRIPT_NAME"):
        return False
    if not environ.get("HTTP_X_API_KEY"):
        return False
    if (environ.get("CONTENT_TYPE") or "").split(";", 1)[0].strip().lower() not in _CONTENT_TYPES:
        return False
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return 0 < _length(environ) <= (limit if limit is not None else _length(environ))


def _intake_view(request: HttpRequest) -> HttpResponse:
    from jianguan.api.api import api
    from jianguan.api.auth import API_KEY_AUTH
    from jianguan.complaints.api import SubmissionIn, SubmissionOut, register

    try:
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check it
        if API_KEY_AUTH.authenticate(request, request.headers.get("X-API-Key")) is None:
            return _Declined()
        payload = SubmissionIn.model_validate_json(request.body)
    except (DisallowedHost, RequestDataTooBig, ValidationError, ValueError):
        return _Declined()
    status, body = register(request, payload)
    if status in (200, 201):  # what ninja does with a response schema: validate, then render
        body = SubmissionOut.model_validate(body).model_dump()
    return api.create_response(request, body, status=status)


class LeanIntakeHandler(WSGIHandler):
    """A WSGI handler with the short middleware chain around `_intake_view`."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(_intake_view)
        for path in reversed(MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """WSGIHandler.__call__, except that a declined request returns None before anything is sent."""
        set_script_prefix("")
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = self.request_class(environ)
        response = self.get_response(request)
        if isinstance(response, _Declined):
            return None
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        status = f"{response.status_code} {response.reason_phrase}"
        headers = [*response.items(), *(("Set-Cookie", c.output(header="")) for c in response.cookies.values())]
        start_response(status, headers)
        return response


def application(django_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Wrap the project's WSGI application: the plain intake case goes the lean way, the rest to `django_app`."""
    lean = LeanIntakeHandler()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if applies(environ):
            body = environ["wsgi.input"].read(_length(environ))
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            answer = lean(environ, start_response)
            if answer is not None:
                return answer
            environ["wsgi.input"] = io.BytesIO(body)  # the full stack reads the same body again
        return django_app(environ, start_response)

    return app


def _length(environ: dict[str, Any]) -> int:
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0
