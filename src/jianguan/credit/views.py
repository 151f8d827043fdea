"""Back-office pages of the credit module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from jianguan.core.jobs import job_submit
from jianguan.core.models import Job, User
from jianguan.core.selectors import job_list_for
from jianguan.credit import access, selectors, services
from jianguan.credit.classification import ClassificationError, check_month
from jianguan.credit.domain.model import CLASSES
from jianguan.credit.forms import (
    AbnormalEnterForm,
    AbnormalRemoveForm,
    BatchDecideForm,
    ClassifyForm,
    MonthForm,
    RepairApplyForm,
    RepairDecideForm,
    SeriousEnterForm,
    SeriousRemoveForm,
)
from jianguan.credit.models import (
    AbnormalCandidateBatch,
    AbnormalListing,
    CreditRepair,
    Penalty,
    RiskResult,
    SeriousListing,
)
from jianguan.registry.models import Entity


def _user(request: HttpRequest) -> User:
    """The signed-in staff user (every view here is behind login_required)."""
    return cast(User, request.user)


def _today() -> dt.date:
    return timezone.localdate()


def _require(ok: bool) -> None:
    if not ok:
        raise Http404


def _entity_in_scope(user: Any, uscc: str) -> Entity | None:
    from jianguan.registry.access import access_entity_list

    return access_entity_list(user).filter(uscc=uscc.strip().upper()).first()


def _not_found(uscc: str) -> str:
    return _("未找到统一社会信用代码为 %(uscc)s 的市场主体，或该主体不在您的管辖范围内。") % {"uscc": uscc}


def _act(request: HttpRequest, form: Any, action: Callable[[], Any], *, done: str | Callable[[Any], str],
         to: str, **to_kwargs: Any) -> HttpResponse | None:
    """Run one credit service for a valid form. A `CreditError` goes onto the form as its message (the service is
    one transaction, so nothing was written) and None is returned; otherwise `done` is flashed and the user is sent
    on to `to`."""
    try:
        result = action()
    except services.CreditError as exc:
        form.add_error(None, str(exc))
        return None
    messages.success(request, done(result) if callable(done) else done)
    return redirect(to, **to_kwargs)


# --- classification ---------------------------------------------------------------------------------------------

@login_required
def distribution(request: HttpRequest) -> HttpResponse:
    _require(access.can_see_risk(_user(request)))
    form = MonthForm(request.GET or None)
    month = form.cleaned_data.get("month") if form.is_valid() else None
    month = month or selectors.latest_month()
    data = selectors.distribution(_user(request), month) if month else None
    chart = None
    if data:
        chart = {"classes": list(CLASSES), "totals": data["totals"],
                 "divisions": data["divisions"], "sections": data["sections"], "transitions": data["transitions"]}
    return render(request, "credit/distribution.html", {"form": form, "month": month, "data": data, "chart": chart,
                                                        "classes": CLASSES})


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    _require(access.can_see_risk(_user(request)))
    form = ClassifyForm(request.POST or None)
    job = None
    if request.method == "POST":
        _require(access.can_classify(_user(request)))
        if form.is_valid():
            month = form.cleaned_data["month"]
            try:
                check_month(month, _today())
            except ClassificationError as exc:
                form.add_error("month", str(exc))
            else:
                job = job_submit("credit.classify", f"{month:%Y-%m} 信用风险分类",
                                 {"month": f"{month:%Y-%m}", "today": _today().isoformat()}, user=_user(request))
                return redirect(f"{reverse('credit:runs')}?job={job.pk}")
    if request.GET.get("job", "").isdigit():
        job = job_list_for(_user(request)).filter(pk=int(request.GET["job"]), kind="credit.classify").first()
    page = Paginator(selectors.classification_runs(), 24).get_page(request.GET.get("page"))
    return render(request, "credit/runs.html", {"form": form, "page": page, "job": job,
                                                "can_classify": access.can_classify(_user(request))})


def entity_tab(request: HttpRequest, entity: Entity) -> dict[str, Any] | None:
    """The 信用 tab on the staff entity page: latest class with its explanation, history by month, lists."""
    if not access.can_see_risk(_user(request)):
        return None
    history = list(selectors.risk_history(entity)[:24])
    explained = selectors.risk_explain_result(history[0], entity) if history else None
    return {"key": "credit", "title": _("信用"), "template": "credit/_entity_tab.html", "context": {
        "explained": explained, "history": history,
        "abnormal": AbnormalListing.objects.filter(entity=entity).select_related("unit"),
        "serious": SeriousListing.objects.filter(entity=entity).select_related("unit"),
        "penalties": Penalty.objects.filter(entity=entity),
    }}


# --- 经营异常名录 ----------------------------------------------------------------------------------------------

@login_required
def abnormal_list_view(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "active")
    active = {"active": True, "removed": False}.get(state)
    qs = selectors.abnormal_list(_user(request), active=active, q=request.GET.get("q", "").strip())
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "credit/abnormal_list.html", {"page": page, "state": state, "q": request.GET.get("q", ""),
                                                         "can_act": access.can_act_on_lists(_user(request))})


@login_required
def abnormal_enter(request: HttpRequest) -> HttpResponse:
    _require(access.can_act_on_lists(_user(request)))
    form = AbnormalEnterForm(request.POST or None, initial={"uscc": request.GET.get("uscc", ""),
                                                            "entered_on": _today()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        entity = _entity_in_scope(_user(request), d["uscc"])
        if entity is None:
            form.add_error("uscc", _not_found(d["uscc"]))
        else:
            response = _act(request, form, lambda: services.abnormal_listing_enter(
                entity, ground=d["ground"], decision_number=d["decision_number"], entered_on=d["entered_on"],
                reason=d["reason"], actor=_user(request)), done=_("已列入经营异常名录。"), to="credit:abnormal_list")
            if response:
                return response
    return render(request, "credit/form.html", {"form": form, "title": _("列入经营异常名录"),
                                                "back": reverse("credit:abnormal_list")})


@login_required
def abnormal_remove(request: HttpRequest, pk: int) -> HttpResponse:
    _require(access.can_act_on_lists(_user(request)))
    listing = access.access_record(_user(request), AbnormalListing.objects.select_related("entity"), pk)
    form = AbnormalRemoveForm(request.POST or None, initial={"removed_on": _today()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        response = _act(request, form, lambda: services.abnormal_listing_remove(
            listing, removed_on=d["removed_on"], reason=d["removal_reason"],
            decision_number=d["removal_decision_number"], actor=_user(request)),
            done=_("已移出经营异常名录。"), to="credit:abnormal_list")
        if response:
            return response
    return render(request, "credit/form.html", {
        "form": form, "title": _("移出经营异常名录"), "back": reverse("credit:abnormal_list"),
        "subject": f"{listing.entity.name}（{listing.entity.uscc}） · {listing.get_ground_display()} · "
                   f"{listing.decision_number}"})


@login_required
def batch_list(request: HttpRequest) -> HttpResponse:
    from django.db.models import Count

    from jianguan.core.access import data_scope

    qs = AbnormalCandidateBatch.objects.filter(data_scope(_user(request)).divisions_q("division_id")) \
        .select_related("division", "decided_by").annotate(n=Count("candidates"))
    page = Paginator(qs, 30).get_page(request.GET.get("page"))
    return render(request, "credit/batch_list.html", {"page": page})


@login_required
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = access.access_batch(_user(request), AbnormalCandidateBatch.objects.select_related("division"), pk)
    can_decide = access.can_approve_batches(_user(request)) and batch.status == AbnormalCandidateBatch.Status.PENDING
    form = BatchDecideForm(request.POST or None, initial={"decided_on": _today()})
    if request.method == "POST":
        _require(access.can_approve_batches(_user(request)))
        if form.is_valid():
            d = form.cleaned_data
            response = _act(request, form, lambda: services.abnormal_batch_decide(
                batch, approve=d["decision"] == "approve", decision_number=d["decision_number"],
                decided_on=d["decided_on"], reason=d["reason"], actor=_user(request)),
                done=lambda n: _("审批完成，列入经营异常名录 %(n)d 户。") % {"n": n},
                to="credit:batch_detail", pk=batch.pk)
            if response:
                return response
    page = Paginator(batch.candidates.select_related("entity", "listing").order_by("entity__uscc"), 100) \
        .get_page(request.GET.get("page"))
    return render(request, "credit/batch_detail.html", {"batch": batch, "page": page, "form": form,
                                                        "can_decide": can_decide})


# --- 严重违法失信名单 ------------------------------------------------------------------------------------------

@login_required
def serious_list_view(request: HttpRequest) -> HttpResponse:
    from jianguan.core.access import data_scope
    from jianguan.credit.models import SeriousCandidate

    state = request.GET.get("state", "active")
    active = {"active": True, "removed": False}.get(state)
    page = Paginator(selectors.serious_list(_user(request), active=active), 50).get_page(request.GET.get("page"))
    candidates = SeriousCandidate.objects.filter(data_scope(_user(request)).divisions_q("entity__division_id"),
                                                 status__in=["warning", "due"]).select_related("entity",
                                                                                               "abnormal_listing")
    return render(request, "credit/serious_list.html", {"page": page, "state": state, "candidates": candidates[:200],
                                                        "today": _today(),
                                                        "can_act": access.can_act_on_lists(_user(request))})


@login_required
def serious_enter(request: HttpRequest) -> HttpResponse:
    _require(access.can_act_on_lists(_user(request)))
    form = SeriousEnterForm(request.POST or None, initial={"uscc": request.GET.get("uscc", ""),
                                                           "entered_on": _today()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        entity = _entity_in_scope(_user(request), d["uscc"])
        if entity is None:
            form.add_error("uscc", _not_found(d["uscc"]))
        else:
            penalty = Penalty.objects.filter(entity=entity, decision_number=d["penalty_number"].strip()).first() \
                if d["penalty_number"].strip() else None
            abnormal = AbnormalListing.objects.filter(
                entity=entity, decision_number=d["abnormal_decision_number"].strip()).first() \
                if d["abnormal_decision_number"].strip() else None
            if d["penalty_number"].strip() and penalty is None:
                form.add_error("penalty_number", _("该主体没有这一文号的行政处罚决定。"))
            elif d["abnormal_decision_number"].strip() and abnormal is None:
                form.add_error("abnormal_decision_number", _("该主体没有这一文号的经营异常名录记录。"))
            else:
                response = _act(request, form, lambda: services.serious_listing_enter(
                    entity, decision_number=d["decision_number"], entered_on=d["entered_on"], reason=d["reason"],
                    actor=_user(request), penalty=penalty, abnormal_listing=abnormal),
                    done=_("已列入严重违法失信名单。"), to="credit:serious_list")
                if response:
                    return response
    return render(request, "credit/form.html", {"form": form, "title": _("列入严重违法失信名单"),
                                                "back": reverse("credit:serious_list")})


@login_required
def serious_remove(request: HttpRequest, pk: int) -> HttpResponse:
    _require(access.can_act_on_lists(_user(request)))
    listing = access.access_record(_user(request), SeriousListing.objects.select_related("entity"), pk)
    form = SeriousRemoveForm(request.POST or None, initial={"removed_on": _today()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        response = _act(request, form, lambda: services.serious_listing_remove(
            listing, removed_on=d["removed_on"], reason=d["reason"], actor=_user(request)),
            done=_("已移出严重违法失信名单。"), to="credit:serious_list")
        if response:
            return response
    return render(request, "credit/form.html", {
        "form": form, "title": _("提前移出严重违法失信名单"), "back": reverse("credit:serious_list"),
        "subject": f"{listing.entity.name}（{listing.entity.uscc}） · {listing.decision_number} · "
                   f"{_('可申请提前移出日期')} {listing.earliest_removal_on:%Y-%m-%d}"})


# --- 信用修复 --------------------------------------------------------------------------------------------------

def resolve_repair_item(entity: Entity, item_type: str, item_ref: str) -> int | None:
    """The id of the record an applicant names by its decision number (None when there is no such record)."""
    ref = item_ref.strip()
    model = {CreditRepair.ItemType.ABNORMAL: AbnormalListing, CreditRepair.ItemType.SERIOUS: SeriousListing,
             CreditRepair.ItemType.PENALTY: Penalty}.get(item_type)  # type: ignore[call-overload]
    if model is None:
        return 0
    obj = model.objects.filter(entity=entity, decision_number=ref).order_by("-id").first()
    return obj.pk if obj else None


@login_required
def repair_list_view(request: HttpRequest) -> HttpResponse:
    _require(access.can_see_risk(_user(request)))
    status = request.GET.get("status", "pending")
    qs = selectors.repair_list(_user(request), status=status if status in CreditRepair.Status.values else "")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    today = _today()
    rows = [(r, selectors.repair_deadline(r, today)) for r in page]
    return render(request, "credit/repair_list.html", {"page": page, "rows": rows, "status": status,
                                                       "statuses": CreditRepair.Status.choices})


@login_required
def repair_new(request: HttpRequest) -> HttpResponse:
    _require(access.can_act_on_lists(_user(request)))
    form = RepairApplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        entity = _entity_in_scope(_user(request), d["uscc"])
        if entity is None:
            form.add_error("uscc", _not_found(d["uscc"]))
        else:
            item_id = resolve_repair_item(entity, d["item_type"], d["item_ref"])
            if item_id is None:
                form.add_error("item_ref", _("该主体没有这一文号的记录。"))
            else:
                try:
                    repair = services.credit_repair_apply(
                        entity, item_type=d["item_type"], item_id=item_id, item_ref=d["item_ref"],
                        statement=d["statement"], applied_on=_today(), applicant_kind=CreditRepair.Applicant.STAFF,
                        actor=_user(request), contact_name=d["contact_name"], contact_phone=d["contact_phone"])
                except services.CreditError as exc:
                    form.add_error(None, str(exc))
                else:
                    return redirect("credit:repair_detail", pk=repair.pk)
    return render(request, "credit/form.html", {"form": form, "title": _("代录信用修复申请"),
                                                "back": reverse("credit:repair_list")})


@login_required
def repair_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _require(access.can_see_risk(_user(request)))
    repair = access.access_record(_user(request), CreditRepair.objects.select_related("entity", "decided_by"), pk)
    form = RepairDecideForm(request.POST or None, initial={"decided_on": _today()})
    if request.method == "POST":
        _require(access.can_decide_repairs(_user(request)))
        if form.is_valid():
            d = form.cleaned_data
            response = _act(request, form, lambda: services.credit_repair_decide(
                repair, approve=d["decision"] == "approve", reason=d["reason"], decided_on=d["decided_on"],
                actor=_user(request)), done=_("已作出决定。"), to="credit:repair_detail", pk=repair.pk)
            if response:
                return response
    return render(request, "credit/repair_detail.html", {
        "repair": repair, "form": form, "deadline": selectors.repair_deadline(repair, _today()),
        "can_decide": access.can_decide_repairs(_user(request)) and repair.status == CreditRepair.Status.PENDING})


__all__ = ["Job", "RiskResult", "entity_tab"]
