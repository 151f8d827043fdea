"""REST API of random inspections (`/api/v1/inspections/`): plans in scope, a plan's draw files, visits.

A plan or visit outside the caller's scope is a 404, exactly like a missing one.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Router, Schema

from jianguan.inspections import access
from jianguan.inspections.models import InspectionPlan

router = Router(tags=["inspections"])


class PlanOut(Schema):
    id: int
    name: str
    year: int
    status: str
    unit: str
    version: int
    commitment: str
    commitment_published_at: dt.datetime | None
    randomness: str
    seed: str
    visits: int
    visits_saved: int


def _plan_out(p: InspectionPlan) -> PlanOut:
    return PlanOut(id=p.pk, name=p.name, year=p.year, status=p.status, unit=p.unit.name, version=p.version,
                   commitment=p.commitment, commitment_published_at=p.commitment_published_at,
                   randomness=p.randomness, seed=p.seed, visits=p.visits_count, visits_saved=p.visits_saved)


@router.get("/plans", response=list[PlanOut], summary="抽查计划列表 (plans in scope)")
def plans(request: HttpRequest) -> list[PlanOut]:
    return [_plan_out(p) for p in access.plans_for(request.user)[:500]]  # type: ignore[arg-type]


@router.get("/plans/{plan_id}", response=PlanOut, summary="抽查计划 (one plan)")
def plan(request: HttpRequest, plan_id: int) -> PlanOut:
    return _plan_out(access.plan_or_404(request.user, plan_id))  # type: ignore[arg-type]


@router.get("/plans/{plan_id}/draw", summary="draw.json of a drawn plan")
def plan_draw(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    p = access.plan_or_404(request.user, plan_id)  # type: ignore[arg-type]
    if not p.draw_json:
        raise Http404
    return json.loads(p.draw_json)


class VisitOut(Schema):
    number: str
    uscc: str
    entity: str
    status: str
    period_start: dt.date
    period_end: dt.date
    items: list[dict[str, str]]
    team: list[str]


@router.get("/plans/{plan_id}/visits", response=list[VisitOut], summary="检查清单 (visits of a plan)")
def plan_visits(request: HttpRequest, plan_id: int, offset: int = 0, limit: int = 100) -> list[VisitOut]:
    p = access.plan_or_404(request.user, plan_id)  # type: ignore[arg-type]
    limit = max(1, min(limit, 500))
    qs = (p.visits.select_related("entity").prefetch_related("items__item", "team__inspector")
          .order_by("number")[offset:offset + limit])
    return [VisitOut(number=v.number, uscc=v.entity.uscc, entity=v.entity.name, status=v.status,
                     period_start=v.period_start, period_end=v.period_end,
                     items=[{"code": vi.item.code, "result": vi.result_code} for vi in v.items.all()],
                     team=[m.inspector.name for m in v.team.all()]) for v in qs]
