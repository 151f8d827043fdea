"""Portal pages: file a complaint or report (mobile-first), see the tracking number, check progress."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from jianguan.complaints import respondent, selectors, services
from jianguan.complaints.forms import PortalForm, ProgressForm
from jianguan.complaints.models import OdrAccessCode


@never_cache
def complaint_form(request: HttpRequest) -> HttpResponse:
    form = PortalForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            cases = services.case_register(form.to_data(form.cleaned_data.get("attachments") or [], timezone.now()),
                                           actor=None)
        except services.IntakeError as exc:
            for field, msg in exc.errors.items():
                form.add_error(field if field in form.fields else None, msg)
        else:
            request.session["complaints_submitted"] = cases[0].tracking_number
            return redirect("complaints_public:submitted", tracking_number=cases[0].tracking_number)
    return render(request, "complaints/public_form.html", {"form": form})


@never_cache
def submitted(request: HttpRequest, tracking_number: str) -> HttpResponse:
    # Only the browser that submitted sees this page (the number alone reveals nothing else).
    if request.session.get("complaints_submitted") != tracking_number:
        return redirect("complaints_public:progress")
    return render(request, "complaints/public_submitted.html", {"tracking_number": tracking_number})


@never_cache
def progress(request: HttpRequest) -> HttpResponse:
    form = ProgressForm(request.GET or None)
    result, searched = None, False
    if form.is_bound and form.is_valid():
        searched = True
        result = selectors.case_public(form.cleaned_data["tracking_number"], form.cleaned_data["phone_last4"])
    return render(request, "complaints/public_progress.html", {"form": form, "result": result, "searched": searched})


# --- the respondent's (ODR enterprise's) view ------------------------------------------------------------------

ODR_SESSION_KEY = "complaints_odr_code"


def _odr_code(request: HttpRequest) -> OdrAccessCode | None:
    code = respondent.odr_code_active(request.session.get(ODR_SESSION_KEY))
    if code is None:
        request.session.pop(ODR_SESSION_KEY, None)
    return code


@never_cache
def odr_login(request: HttpRequest) -> HttpResponse:
    """The enterprise types the access code staff gave it (POST only: a code never travels in a URL)."""
    error = ""
    if request.method == "POST":
        code = respondent.odr_code_check(request.POST.get("code", ""))
        if code is None:
            error = "访问码不正确或已失效，请核对后重新输入，或联系市场监管部门重新获取"
        else:
            request.session.cycle_key()
            request.session[ODR_SESSION_KEY] = code.pk
            respondent.odr_code_used(code)
            return redirect("complaints_public:odr_cases")
    elif _odr_code(request) is not None:
        return redirect("complaints_public:odr_cases")
    return render(request, "complaints/odr_login.html", {"error": error}, status=400 if error else 200)


@never_cache
def odr_cases(request: HttpRequest) -> HttpResponse:
    code = _odr_code(request)
    if code is None:
        return redirect("complaints_public:odr_login")
    today = services.today_local()
    error, done = "", ""
    status = 200
    if request.method == "POST":
        number = request.POST.get("tracking_number", "")
        outcome = request.POST.get("outcome")
        try:
            if outcome not in ("settled", "not_settled"):
                raise respondent.OdrError("请选择协商结果：已和解或未和解")
            settled = outcome == "settled"
            amount = respondent.parse_amount(request.POST.get("amount", "")) if settled else None
            respondent.odr_respondent_outcome(code, number, settled=settled, amount=amount, today=today)
        except respondent.OdrError as exc:
            error, status = f"{number}：{exc.message}", 409
        else:
            done = f"{number}：已登记为“{'已和解' if settled else '未和解'}”，市场监管部门将据此办理"
    rows = respondent.odr_cases_for_respondent(code.entity, today=today)
    return render(request, "complaints/odr_cases.html", {
        "entity_name": code.entity.name, "rows": rows, "error": error, "done": done, "today": today,
    }, status=status)


@require_POST
def odr_logout(request: HttpRequest) -> HttpResponse:
    request.session.pop(ODR_SESSION_KEY, None)
    return redirect("complaints_public:odr_login")
