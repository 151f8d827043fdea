"""REST API for complaints and reports: `POST /api/v1/complaints` (with `Idempotency-Key`), `GET …/{number}`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any, Literal

from django.db import IntegrityError, connection
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema

try:
    from ninja import Status
except ImportError:  # django-ninja < 1.6 answers with a (status, body) tuple
    def Status(code: int, body: Any) -> Any:  # type: ignore[no-redef]
        return code, body

from jianguan.complaints import access, services
from jianguan.complaints.domain.text import mask_name, mask_phone
from jianguan.complaints.models import Case, IdempotencyKey
from jianguan.core.db import execute, fast_cursor, quoted_table

PREFIX = "complaints"
router = Router(tags=["complaints"])


class PersonIn(Schema):
    name: str = Field("", description="姓名（投诉必填，第十条）")
    phone: str = Field("", description="手机号或带区号的固定电话（投诉必填）")
    address: str = Field("", description="通讯地址（投诉必填）")


class RespondentIn(Schema):
    name: str = Field("", description="被投诉（举报）人名称")
    address: str = Field("", description="被投诉（举报）人地址")
    uscc: str = Field("", description="统一社会信用代码（须在名录中存在）")


class SubmissionIn(Schema):
    kind: Literal["complaint", "report", "consultation"]
    received_at: dt.datetime = Field(..., description="ISO 8601 带时区，如 2026-09-30T10:00:00+08:00")
    channel: str = Field("api", description="来源渠道：12315_platform、12315_hotline、12345_hotline、mail、counter、"
                                            "portal、api")
    complainant: PersonIn = Field(default_factory=PersonIn)  # type: ignore[arg-type]
    respondent: RespondentIn = Field(default_factory=RespondentIn)  # type: ignore[arg-type]
    facts: str
    request: str = ""
    category: str = ""
    quantity: int | None = None
    amount_claimed: Decimal | None = None
    report_facts: str = Field("", description="第九条：同时举报的违法线索，拆分为关联的举报件")
    external_ref: str = ""


class SubmissionOut(Schema):
    tracking_number: str
    kind: str
    status: str
    rule: str
    received_on: dt.date
    deadlines: dict[str, dt.date | None]
    warn_on: dict[str, dt.date | None]
    suggested_unit: str
    routing_note: str
    category: str
    flags: list[str]
    related_tracking_number: str | None = None
    clock_note: str = ""


class ErrorOut(Schema):
    code: str
    message: str
    details: list[dict[str, Any]] = []


class CaseOut(Schema):
    tracking_number: str
    kind: str
    channel: str
    status: str
    result: str
    received_at: dt.datetime
    respondent_name: str
    complainant_name: str
    complainant_phone: str
    unit: str | None
    category: str
    deadlines: dict[str, dt.date | None]
    closed_on: dt.date | None


def _deadlines(case: Case) -> tuple[dict[str, dt.date | None], dict[str, dt.date | None]]:
    if case.kind == Case.Kind.COMPLAINT:
        d = {"accept_by": case.accept_due}
        w = {"accept_by": case.accept_warn}
        if case.odr_due:
            d["odr_by"] = case.odr_due
        if case.mediation_due:
            d["mediation_by"], w["mediation_by"] = case.mediation_due, case.mediation_warn
        return d, w
    if case.kind == Case.Kind.REPORT:
        return {"verify_by": case.verify_due}, {"verify_by": case.verify_warn}
    return {}, {}


def _flag_codes(case: Case) -> list[str]:
    found = getattr(case, "intake_flags", None)  # set by the intake transaction: no query
    if found is not None:
        return [f.code for f in found]
    return list(case.flags.values_list("code", flat=True)) if case.flag_count else []


def _out(cases: list[Case]) -> dict[str, Any]:
    case = cases[0]
    deadlines, warn = _deadlines(case)
    return {
        "tracking_number": case.tracking_number, "kind": case.kind, "status": case.status, "rule": case.rule_code,
        "received_on": case.received_on.isoformat(),
        "deadlines": {k: v.isoformat() if v else None for k, v in deadlines.items()},
        "warn_on": {k: v.isoformat() if v else None for k, v in warn.items()},
        "suggested_unit": case.suggested_unit_code, "routing_note": case.routing_note, "category": case.category,
        "flags": _flag_codes(case),
        "related_tracking_number": cases[1].tracking_number if len(cases) > 1 else None,
        "clock_note": case.clock_note,
    }


def _owner(request: HttpRequest) -> str:
    key = getattr(request, "api_key", None)
    return f"key:{key.pk}" if key is not None else f"user:{request.user.pk}"


def _fingerprint(payload: SubmissionIn) -> str:
    return hashlib.sha256(json.dumps(payload.dict(), sort_keys=True, default=str).encode()).hexdigest()


FIELD_NAMES = {"complainant_name": "complainant.name", "complainant_phone": "complainant.phone",
               "complainant_address": "complainant.address", "respondent_name": "respondent.name",
               "respondent_address": "respondent.address", "respondent_uscc": "respondent.uscc"}


@router.post("", response={201: SubmissionOut, 200: SubmissionOut, 409: ErrorOut, 422: ErrorOut},
             summary="登记投诉/举报 (register a complaint or report)", url_name="complaint_create")
def complaint_create(request: HttpRequest, payload: SubmissionIn) -> Any:
    """Register a submission; the answer carries the tracking number and the statutory deadlines.

    Send an `Idempotency-Key` header to make retries safe: a repeated key returns the first answer.
    """
    return Status(*register(request, payload))


def register(request: HttpRequest, payload: SubmissionIn) -> tuple[int, dict[str, Any]]:
    """The work of `POST /api/v1/complaints` for an authenticated request: (HTTP status, body).

    Shared by the view above and by the lean WSGI route for API-key clients (`jianguan.api.fast`), so both answer
    the same way.
    """
    idem = (request.headers.get("Idempotency-Key") or "").strip()[:128]
    owner = _owner(request)
    fingerprint = _fingerprint(payload)
    if idem:
        found = _first_answer(owner, idem)
        if found is not None:
            return _replay(found, fingerprint)
    data = services.IntakeData(
        kind=payload.kind, channel=payload.channel, received_at=payload.received_at, facts=payload.facts,
        complainant_name=payload.complainant.name, complainant_phone=payload.complainant.phone,
        complainant_address=payload.complainant.address, respondent_name=payload.respondent.name,
        respondent_address=payload.respondent.address, respondent_uscc=payload.respondent.uscc,
        request=payload.request, category=payload.category, quantity=payload.quantity,
        amount_claimed=payload.amount_claimed, report_facts=payload.report_facts, external_ref=payload.external_ref)
    result: dict[str, Any] = {}

    def remember(cases: list[Case]) -> list[IdempotencyKey]:
        # Runs inside the intake transaction: the key is stored with the cases or not at all.
        result["body"] = _out(cases)
        if not idem:
            return []
        return [IdempotencyKey(owner=owner, key=idem, case=cases[0],
                               response={"body": result["body"], "fingerprint": fingerprint})]

    try:
        # Group commit: concurrent API submissions of this process share one durable commit (see services).
        services.case_register(data, actor=request.user, also=remember, group_commit=True)  # type: ignore[arg-type]
    except services.IntakeError as exc:
        details = [{"field": FIELD_NAMES.get(k, k), "msg": v} for k, v in exc.errors.items()]
        return 422, {"code": "invalid_submission",
                     "message": "提交内容不完整或有误：" + "；".join(exc.errors.values()), "details": details}
    except IntegrityError:
        found = _first_answer(owner, idem) if idem else None
        if found is None:
            raise
        return _replay(found, fingerprint)
    return 201, result["body"]


_FIRST_ANSWER_SQL: dict[str, str] = {}


def _first_answer(owner: str, key: str) -> dict[str, Any] | None:
    """The stored first answer for an idempotency key, or None.

    Asked before every keyed submission, so the statement is written once here rather than compiled by the ORM
    each time (the unique constraint on (owner, key) is its index).
    """
    sql = _FIRST_ANSWER_SQL.get(connection.vendor)
    if sql is None:
        def col(name: str) -> str:
            return services.quoted_column(IdempotencyKey, name)

        sql = _FIRST_ANSWER_SQL[connection.vendor] = (
            f"SELECT {col('response')} FROM {quoted_table(IdempotencyKey)} "  # noqa: S608 — model names
            f"WHERE {col('owner')} = %s AND {col('key')} = %s")
    with fast_cursor() as cur:
        execute(cur, sql, [owner, key])
        row = cur.fetchone()
    if row is None:
        return None
    return json.loads(row[0]) if isinstance(row[0], (str, bytes)) else row[0]


def _replay(response: dict[str, Any], fingerprint: str) -> tuple[int, dict[str, Any]]:
    if response.get("fingerprint") != fingerprint:
        return 409, {"code": "idempotency_key_reused", "message": "该 Idempotency-Key 已用于内容不同的请求",
                     "details": []}
    return 200, response["body"]


@router.get("/{tracking_number}", response={200: CaseOut, 404: ErrorOut}, summary="查询一件 (one case)",
            url_name="complaint_detail")
def complaint_detail(request: HttpRequest, tracking_number: str) -> Any:
    try:
        case = access.access_case(request.user, tracking_number)  # type: ignore[arg-type]
    except Http404:
        return Status(404, {"code": "not_found", "message": "未找到该登记编号，或不在您的数据范围内", "details": []})
    deadlines, _warn = _deadlines(case)
    return Status(200, {
        "tracking_number": case.tracking_number, "kind": case.kind, "channel": case.channel, "status": case.status,
        "result": case.result, "received_at": case.received_at, "respondent_name": case.respondent_name,
        "complainant_name": mask_name(case.complainant_name), "complainant_phone": mask_phone(case.complainant_phone),
        "unit": case.unit.code if case.unit else None, "category": case.category, "deadlines": deadlines,
        "closed_on": case.closed_on,
    })
