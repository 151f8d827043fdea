"""The REST API (`/api/v1/`), OpenAPI schema at `/api/v1/openapi.json`, docs at `/api/docs`.

Each app contributes a router in its own `api.py`; they are mounted here.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, ValidationError

from jianguan.api.auth import API_AUTH

api = NinjaAPI(
    title="Jianguan API",
    version="1",
    description="智慧市场监管平台开放接口 (Jianguan market-supervision platform API). "
                "Authenticate with the browser session or an `X-API-Key` header (per-unit keys).",
    auth=API_AUTH,
    urls_namespace="api",
    docs_url="/docs",
)


class ErrorOut(Schema):
    """Every error the API returns: a machine code, a Chinese message, and per-field details."""

    code: str
    message: str
    details: list[dict[str, object]] = []


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError):  # type: ignore[no-untyped-def]
    details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")}
               for e in exc.errors]
    return api.create_response(request, {"code": "validation_error", "message": "请求数据不合法", "details": details},
                               status=422)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"code": "unauthorized", "message": "未登录或 API 密钥无效", "details": []},
                               status=401)


class PingOut(Schema):
    user: str
    unit: str | None


@api.get("/me", response=PingOut, summary="当前身份 (who am I)")
def me(request: HttpRequest) -> PingOut:
    user = request.user
    return PingOut(user=user.get_username(), unit=str(user.unit) if user.unit else None)  # type: ignore[union-attr]


def _mount_routers() -> None:
    from importlib import import_module
    from importlib.util import find_spec

    from django.apps import apps

    for app in ("registry", "credit", "inspections", "complaints"):
        if not apps.is_installed(f"jianguan.{app}") or find_spec(f"jianguan.{app}.api") is None:
            continue
        module = import_module(f"jianguan.{app}.api")
        api.add_router(f"/{getattr(module, 'PREFIX', app)}", module.router)


_mount_routers()
