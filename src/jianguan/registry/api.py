"""REST API of the registry (`/api/v1/registry/`): entity search with filters and paging, entity by USCC.

Every call sees only the entities in the caller's jurisdiction (session user or the API key's acting user);
an entity outside it is a 404, exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Field, Query, Router, Schema

try:
    from ninja import Status
except ImportError:  # django-ninja < 1.6 answers with a (status, body) tuple
    def Status(code: int, body: Any) -> Any:  # type: ignore[no-redef]
        return code, body

from jianguan.registry.forms import EntitySearchForm
from jianguan.registry.models import Entity
from jianguan.registry.selectors import (
    COUNT_CAP,
    entity_annual_reports,
    entity_detail,
    entity_labels,
    entity_licences,
    entity_premises,
    entity_search_page,
)

router = Router(tags=["registry"])


class RegistryErrorOut(Schema):
    """An error: a machine code, a Chinese message and per-field details (same shape as every API error)."""

    code: str
    message: str
    details: list[dict[str, Any]] = []


class EntityFilterIn(Schema):
    q: str = Field("", description="名称关键词（至少 2 个字）、统一社会信用代码或其前 6 位以上")
    division: str = Field("", description="GB/T 2260 行政区划代码（含下级）")
    industry: str = Field("", description="GB/T 4754-2017 门类字母或 2-4 位行业代码（含下级）")
    label: str = Field("", description="标签代码")
    status: str = Field("", description="登记状态：active / suspended / revoked / cancelled / moved_out")
    licence: str = Field("", description="持有有效许可证的类型，如 food_business")
    kind: str = Field("", description="主体类型：enterprise / individual / cooperative")
    page: int = Field(1, ge=1, le=COUNT_CAP, description="页码，从 1 开始")
    page_size: int = Field(20, ge=1, le=100, description="每页条数（1-100）")


class EntityOut(Schema):
    uscc: str
    name: str
    kind: str
    subtype: str
    status: str
    status_date: dt.date | None
    division: str
    division_name: str
    address: str
    industry: str
    industry_name: str
    established_on: dt.date
    registered_capital: Decimal | None
    legal_representative: str


class EntityPageOut(Schema):
    items: list[EntityOut]
    page: int
    page_size: int
    count: int = Field(description="符合条件的条数；count_capped 为真时表示“超过 10,000 条”")
    count_capped: bool
    has_next: bool


class PremisesOut(Schema):
    division: str
    address: str


class LicenceOut(Schema):
    type: str
    number: str
    issuer: str
    valid_from: dt.date
    valid_to: dt.date | None
    status: str


class LabelOut(Schema):
    code: str
    name: str
    category: str
    source: str
    assigned_on: dt.date


class AnnualReportOut(Schema):
    year: int
    filed_on: dt.date | None
    on_time: bool


class EntityDetailOut(EntityOut):
    registration_authority: str
    street: str
    road: str
    house_number: str
    business_scope: str
    phone: str
    is_ecommerce_platform: bool
    odr_enabled: bool
    premises: list[PremisesOut]
    licences: list[LicenceOut]
    labels: list[LabelOut]
    annual_reports: list[AnnualReportOut]


def _entity_out(e: Entity) -> dict[str, Any]:
    return {
        "uscc": e.uscc, "name": e.name, "kind": e.kind, "subtype": e.subtype, "status": e.status,
        "status_date": e.status_date, "division": e.division_id, "division_name": e.division.name,
        "address": e.address, "industry": e.industry_id, "industry_name": e.industry.name,
        "established_on": e.established_on, "registered_capital": e.registered_capital,
        "legal_representative": e.legal_representative,
    }


@router.get("/entities", response={200: EntityPageOut, 400: RegistryErrorOut},
            summary="查询市场主体 (search entities)", operation_id="registry_entity_list")
def entity_list_api(request: HttpRequest, filters: Query[EntityFilterIn]):  # type: ignore[no-untyped-def]
    """Entities in the caller's jurisdiction, ordered by USCC; the total is counted up to 10,001."""
    data = filters.dict()
    page, page_size = data.pop("page"), data.pop("page_size")
    form = EntitySearchForm(data, user=request.user)  # type: ignore[arg-type]
    if not form.is_valid():
        details = [{"field": name, "msg": str(msg)} for name, msgs in form.errors.items() for msg in msgs]
        return Status(400, {"code": "invalid_filter", "message": "查询条件有误", "details": details})
    result = entity_search_page(request.user, form.filters(), page, per_page=page_size)  # type: ignore[arg-type]
    return Status(200, {"items": [_entity_out(e) for e in result], "page": result.number, "page_size": page_size,
                 "count": result.count, "count_capped": result.count_capped, "has_next": result.has_next()})


@router.get("/entities/{uscc}", response={200: EntityDetailOut, 404: RegistryErrorOut},
            summary="按统一社会信用代码查看市场主体 (entity by USCC)", operation_id="registry_entity_detail")
def entity_detail_api(request: HttpRequest, uscc: str):  # type: ignore[no-untyped-def]
    try:
        e = entity_detail(request.user, uscc)  # type: ignore[arg-type]
    except Http404:
        return Status(404, {"code": "not_found", "message": "未找到该市场主体", "details": [{"uscc": uscc}]})
    return Status(200, {
        **_entity_out(e),
        "registration_authority": e.registration_authority, "street": e.street, "road": e.road,
        "house_number": e.house_number, "business_scope": e.business_scope, "phone": e.phone,
        "is_ecommerce_platform": e.is_ecommerce_platform, "odr_enabled": e.odr_enabled,
        "premises": [{"division": p.division_id, "address": p.address} for p in entity_premises(e)],
        "licences": [{"type": li.type, "number": li.number, "issuer": li.issuer, "valid_from": li.valid_from,
                      "valid_to": li.valid_to, "status": li.status} for li in entity_licences(e)],
        "labels": [{"code": el.label.code, "name": el.label.name, "category": el.label.category,
                    "source": el.source, "assigned_on": el.assigned_on} for el in entity_labels(e)],
        "annual_reports": [{"year": r.year, "filed_on": r.filed_on, "on_time": r.on_time}
                           for r in entity_annual_reports(e)],
    })
