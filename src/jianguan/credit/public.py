"""Public side of the credit module: the record section (lists and penalties) and the repair application form.

The risk class is internal and never appears here.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from jianguan.credit import selectors, services
from jianguan.credit.domain.months import add_months
from jianguan.credit.forms import RepairApplyForm
from jianguan.credit.models import CreditRepair
from jianguan.credit.rules import lists_rules
from jianguan.registry.models import Entity

PENALTY_TIER = {"minor": "minor", "general": "general", "heavy": "serious"}


def record_section(entity: Entity) -> dict[str, Any] | None:
    """经营异常名录 / 严重违法失信名单 status with history, and penalties within their display period."""
    today = timezone.localdate()
    tiers = lists_rules()["repair"]["tiers"]
    penalties = [p for p in selectors.penalties_public(entity, today)
                 if add_months(p.published_on or p.decided_on,
                               tiers[PENALTY_TIER[p.severity]]["max_display_months"]) > today]
    abnormal = selectors.abnormal_history_public(entity)
    serious = selectors.serious_history_public(entity)
    return {"key": "credit", "title": _("信用信息"), "template": "credit/public_record_section.html", "context": {
        "abnormal": abnormal, "serious": serious, "penalties": penalties,
        "on_abnormal": any(a.removed_on is None for a in abnormal),
        "on_serious": any(s.removed_on is None for s in serious),
    }}


def receipt_token(pk: int) -> str:
    return salted_hmac("jianguan.credit.repair", str(pk)).hexdigest()[:20]


def repair_apply(request: HttpRequest) -> HttpResponse:
    """Portal form: an enterprise applies for credit repair of one item it names by decision number."""
    from jianguan.credit.views import resolve_repair_item

    form = RepairApplyForm(request.POST or None, initial={"uscc": request.GET.get("uscc", "")})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        entity = Entity.objects.filter(uscc=d["uscc"]).first()
        item_id = resolve_repair_item(entity, d["item_type"], d["item_ref"]) if entity else None
        if entity is None:
            form.add_error("uscc", _("未找到该统一社会信用代码对应的市场主体。"))
        elif item_id is None:
            form.add_error("item_ref", _("未找到该主体这一文号的记录，请核对决定书文号。"))
        else:
            try:
                repair = services.credit_repair_apply(
                    entity, item_type=d["item_type"], item_id=item_id, item_ref=d["item_ref"],
                    statement=d["statement"], applied_on=timezone.localdate(),
                    applicant_kind=CreditRepair.Applicant.ENTERPRISE, actor=None,
                    contact_name=d["contact_name"], contact_phone=d["contact_phone"])
            except services.CreditError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("credit_public:repair_receipt", pk=repair.pk, token=receipt_token(repair.pk))
    return render(request, "credit/public_repair_form.html", {"form": form})


def repair_receipt(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    if not constant_time_compare(token, receipt_token(pk)):
        raise Http404
    repair = CreditRepair.objects.select_related("entity").filter(pk=pk).first()
    if repair is None:
        raise Http404
    return render(request, "credit/public_repair_receipt.html", {"repair": repair})
