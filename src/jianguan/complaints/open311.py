"""Open311 GeoReport v2 facade: services.json, requests.json (POST and GET), requests/{id}.json.

Service codes map to complaint categories. Machine clients authenticate with a unit API key (`api_key` parameter
or `X-API-Key` header). Art. 10 fields that GeoReport lacks are passed as `attribute[...]`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from jianguan.api.auth import UnitApiKey
from jianguan.complaints import services
from jianguan.complaints.access import case_queryset
from jianguan.complaints.domain.categories import CATEGORIES
from jianguan.complaints.models import Case

SERVICES = [{"service_code": code, "service_name": label, "description": f"消费投诉：{label}",
             "metadata": True, "type": "realtime", "keywords": ",".join(words[:6]), "group": "消费投诉"}
            for code, label, words in CATEGORIES]
CODES = {s["service_code"] for s in SERVICES}
ATTRIBUTES = [("respondent_name", "被投诉人名称", True), ("respondent_address", "被投诉人地址", True),
              ("respondent_uscc", "统一社会信用代码", False), ("request", "投诉请求", True),
              ("complainant_address", "投诉人通讯地址", True)]


def _error(status: int, description: str) -> JsonResponse:
    return JsonResponse([{"code": status, "description": description}], status=status, safe=False,
                        json_dumps_params={"ensure_ascii": False})


def _ok(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _user(request: HttpRequest) -> Any:
    key = request.headers.get("X-API-Key") or request.POST.get("api_key") or request.GET.get("api_key")
    if key:
        return UnitApiKey().authenticate(request, key)
    return request.user if request.user.is_authenticated else None


@require_GET
def services_list(request: HttpRequest) -> JsonResponse:
    return _ok(SERVICES)


@require_GET
def service_definition(request: HttpRequest, code: str) -> JsonResponse:
    if code not in CODES:
        return _error(404, f"未知的服务代码 {code}")
    return _ok({"service_code": code, "attributes": [
        {"variable": True, "code": c, "datatype": "string", "required": req, "datatype_description": label,
         "order": i, "description": label} for i, (c, label, req) in enumerate(ATTRIBUTES, start=1)]})


def _as_request(case: Case) -> dict[str, Any]:
    due = case.next_due or case.final_due
    return {
        "service_request_id": case.tracking_number, "status": "closed" if case.status == Case.Status.CLOSED else "open",
        "status_notes": case.get_status_display() + (f"（{case.get_result_display()}）" if case.result else ""),
        "service_name": dict((s["service_code"], s["service_name"]) for s in SERVICES).get(case.category, ""),
        "service_code": case.category, "description": case.facts[:500], "agency_responsible":
        case.unit.name if case.unit is not None else "", "requested_datetime": case.received_at.isoformat(),
        "updated_datetime": (case.closed_at or case.received_at).isoformat(),
        "expected_datetime": dt.datetime.combine(due, dt.time(17, 0)).isoformat() + "+08:00" if due else None,
        "address": case.respondent_address,
    }


@csrf_exempt
@require_http_methods(["GET", "POST"])
def requests_view(request: HttpRequest) -> JsonResponse:
    user = _user(request)
    if user is None:
        return _error(403, "缺少或无效的 api_key")
    if request.method == "GET":
        qs = case_queryset(user).select_related("unit").exclude(kind=Case.Kind.CONSULTATION)
        ids = [i for i in request.GET.get("service_request_id", "").split(",") if i]
        if ids:
            qs = qs.filter(tracking_number__in=ids[:100])
        if request.GET.get("service_code"):
            qs = qs.filter(category=request.GET["service_code"])
        status = request.GET.get("status")
        if status == "open":
            qs = qs.exclude(status=Case.Status.CLOSED)
        elif status == "closed":
            qs = qs.filter(status=Case.Status.CLOSED)
        try:
            if request.GET.get("start_date"):
                qs = qs.filter(received_at__gte=dt.datetime.fromisoformat(request.GET["start_date"]))
            if request.GET.get("end_date"):
                qs = qs.filter(received_at__lte=dt.datetime.fromisoformat(request.GET["end_date"]))
        except ValueError:
            return _error(400, "start_date/end_date 应为 ISO 8601 时间")
        return _ok([_as_request(c) for c in qs.order_by("-received_at")[:1000]])
    p = request.POST
    code = p.get("service_code", "")
    if code not in CODES:
        return _error(400, f"service_code 无效：{code or '（空）'}")
    attr = {k: p.get(f"attribute[{k}]", "") for k, _l, _r in ATTRIBUTES}
    name = (p.get("last_name", "") + p.get("first_name", "")).strip()
    data = services.IntakeData(
        kind="complaint", channel=Case.Channel.API, received_at=services.timezone.now(), facts=p.get("description", ""),
        complainant_name=name, complainant_phone=p.get("phone", ""),
        complainant_address=attr["complainant_address"] or p.get("address_string", ""),
        respondent_name=attr["respondent_name"], respondent_address=attr["respondent_address"] or
        p.get("address_string", ""), respondent_uscc=attr["respondent_uscc"], request=attr["request"], category=code)
    try:
        with transaction.atomic():
            cases = services.case_register(data, actor=user)
    except services.IntakeError as exc:
        return _error(400, "；".join(f"{k}：{v}" for k, v in exc.errors.items()))
    case = cases[0]
    return _ok([{"service_request_id": case.tracking_number, "service_notice":
                 f"已登记，应于 {case.accept_due} 前作出是否受理的决定" if case.accept_due else "已登记",
                 "account_id": None}], status=201)


@require_GET
def request_detail(request: HttpRequest, request_id: str) -> JsonResponse:
    user = _user(request)
    if user is None:
        return _error(403, "缺少或无效的 api_key")
    case = case_queryset(user).select_related("unit").filter(tracking_number=request_id).first()
    if case is None:
        return _error(404, f"未找到 {request_id}")
    return _ok([_as_request(case)])
