"""Staff pages: intake, case list, case detail with its deadlines and actions, due-soon list, league table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from jianguan.complaints import access, selectors, services
from jianguan.complaints.access import NotAllowed
from jianguan.complaints.domain.categories import CATEGORY_CHOICES, CATEGORY_LABELS, suggest_category
from jianguan.complaints.domain.text import mask_address, mask_name, mask_phone
from jianguan.complaints.forms import ImportForm, IntakeForm
from jianguan.complaints.models import Case, Extension, MediationSession
from jianguan.complaints.rules import get_ruleset
from jianguan.core.access import data_scope, has_role
from jianguan.core.models import Unit, User
from jianguan.core.views import timeline_context

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(request: HttpRequest) -> User:
    """The signed-in user (every view here is behind login_required)."""
    return cast(User, request.user)


def _today() -> dt.date:
    return services.today_local()


def xlsx_response(data: bytes, filename: str) -> HttpResponse:
    resp = HttpResponse(data, content_type=XLSX)
    resp["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


LIST_EXPORT = [("登记编号", "tracking_number"), ("类型", "kind_label"), ("渠道", "channel_label"),
               ("收到时间", "received_at"), ("被投诉（举报）人", "respondent_name"),
               ("投诉（举报）人", "complainant_name"), ("电话", "complainant_phone"), ("分类", "category_label"),
               ("承办单位", "unit__name"),
               ("状态", "status_label"), ("结果", "result_label"), ("当前期限", "next_due")]


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    keys = ("kind", "status", "channel", "category", "result", "unit", "q", "received_from", "received_to", "due")
    filters = {k: request.GET.get(k, "").strip() for k in keys}
    qs = selectors.case_list(_user(request), filters, today=_today())
    if request.GET.get("format") == "xlsx":
        rows = selectors.case_rows_masked(qs[:50000])
        data = selectors.export_xlsx([h for h, _ in LIST_EXPORT], ([r[k] for _, k in LIST_EXPORT] for r in rows),
                                     sheet="投诉举报")
        return xlsx_response(data, "complaints.xlsx")
    page = Paginator(qs.values(*selectors.LIST_FIELDS), 30).get_page(request.GET.get("page"))
    rows = selectors.case_rows_masked(list(page.object_list))
    return render(request, "complaints/case_list.html", {
        "page": page, "rows": rows, "filters": filters, "today": _today(), "query": request.GET.urlencode(),
        "kinds": Case.Kind.choices, "statuses": Case.Status.choices, "channels": Case.Channel.choices,
        "categories": CATEGORY_CHOICES, "results": Case.Result.choices,
        "units": _handling_units(_user(request)),
    })


@login_required
def case_create(request: HttpRequest) -> HttpResponse:
    if not has_role(_user(request), "intake_clerk", "admin", "handler"):
        raise Http404
    form = IntakeForm(request.POST or None, request.FILES or None,
                      initial={"received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
    errors: dict[str, str] = {}
    if request.method == "POST" and form.is_valid():
        try:
            cases = services.case_register(form.to_data(form.cleaned_data.get("attachments") or []),
                                           actor=_user(request))
        except services.IntakeError as exc:
            errors = exc.errors
            for field, msg in errors.items():
                if field in form.fields:
                    form.add_error(field, msg)
                else:
                    form.add_error(None, msg)
        else:
            numbers = "、".join(c.tracking_number for c in cases)
            split_note = "（第九条：已拆分为投诉件和举报件）" if len(cases) > 1 else ""
            messages.success(request, f"已登记：{numbers}" + split_note)
            return redirect(cases[0].get_absolute_url())
    suggestion = None
    if request.method == "POST" and (request.POST.get("facts") or request.POST.get("request")):
        suggestion = suggest_category(f"{request.POST.get('facts', '')} {request.POST.get('request', '')}")
    return render(request, "complaints/case_form.html", {"form": form, "suggestion": suggestion})


@login_required
def suggest(request: HttpRequest) -> HttpResponse:
    """htmx: the category suggested from the text typed so far."""
    s = suggest_category(f"{request.GET.get('facts', '')} {request.GET.get('request', '')}")
    return render(request, "complaints/_suggestion.html", {"suggestion": s})


@login_required
def case_detail(request: HttpRequest, tracking_number: str) -> HttpResponse:
    user = _user(request)
    case = access.access_case(user, tracking_number)
    today = _today()
    reveal = request.GET.get("reveal") == "1" and access.can_see_identity(user, case)
    if reveal:
        services.identity_viewed(case, actor=user, purpose=request.GET.get("purpose", "办理需要"))
    identity = {
        "name": case.complainant_name if reveal else mask_name(case.complainant_name),
        "phone": case.complainant_phone if reveal else mask_phone(case.complainant_phone),
        "address": case.complainant_address if reveal else mask_address(case.complainant_address),
    }
    rule = get_ruleset(case.rule_code)
    handler_staff = access.is_handling_staff(user, case)
    ctx: dict[str, Any] = {
        "case": case, "today": today, "identity": identity, "revealed": reveal,
        "can_reveal": access.can_see_identity(user, case) and not reveal,
        "periods": selectors.case_periods(case, today=today),
        "pauses": list(case.pauses.all()), "extensions": list(case.extensions.select_related("requested_by")),
        "sessions": list(case.sessions.all()), "flags": list(case.flags.all()),
        "attachments": list(case.attachments.all()),
        "related": case.related, "duplicates": list(case.duplicates.all().only("tracking_number", "result")),
        "is_dispatcher": access.is_dispatcher(user, case), "is_handler": handler_staff,
        "can_approve": case.unit is not None and has_role(user, *access.APPROVER_ROLES)
        and data_scope(user).covers_unit(case.unit),
        "rule": rule, "rejection_grounds": rule.rejection_grounds, "termination_grounds": rule.termination_grounds,
        "session_modes": MediationSession.Mode.choices, "categories": CATEGORY_CHOICES,
        "category_label": CATEGORY_LABELS.get(case.category, case.category),
        "suggested_label": CATEGORY_LABELS.get(case.category_suggested, ""),
        "assign_units": _assign_units(case) if access.is_dispatcher(user, case) else [],
        "handlers": User.objects.filter(unit=case.unit, is_active=True) if case.unit and handler_staff else [],
        **timeline_context(case),
    }
    return render(request, "complaints/case_detail.html", ctx)


def _handling_units(user: User) -> list[Unit]:
    """Bureaus and stations in the user's scope (for filters)."""
    scope = data_scope(user)
    qs = Unit.objects.filter(kind__in=[Unit.Kind.BUREAU, Unit.Kind.STATION], department__is_market_regulation=True)
    if not scope.everything:
        qs = qs.filter(scope.units_q(unit_field=""))
    return list(qs.order_by("path").only("id", "code", "name", "path"))


def _assign_units(case: Case) -> list[Unit]:
    """Units the dispatcher may send to: bureaus and stations under the intake unit's parent bureau."""
    base = case.intake_unit.parent or case.intake_unit
    return list(Unit.objects.filter(kind__in=[Unit.Kind.BUREAU, Unit.Kind.STATION], path__startswith=base.path,
                                    department__is_market_regulation=True).order_by("path")[:500])


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise services.WorkflowError("日期格式不正确，应为 YYYY-MM-DD") from None


def _decimal(value: str | None) -> Decimal:
    try:
        return Decimal(value or "")
    except InvalidOperation:
        raise services.WorkflowError("金额格式不正确，请填写数字（元）") from None


def _other_report(user: User, number: str) -> Case:
    try:
        return access.access_case(user, number.strip())
    except Http404:
        raise services.WorkflowError(f"找不到登记编号为 {number} 的举报") from None


ACTIONS = {
    "assign": lambda r, c, u: services.case_assign(
        c, Unit.objects.filter(pk=r.POST.get("unit")).first() or _no_unit(), actor=u),
    "return": lambda r, c, u: services.case_return(c, actor=u, reason=r.POST.get("reason", "")),
    "handler": lambda r, c, u: services.case_set_handler(
        c, User.objects.filter(pk=r.POST.get("handler")).first() or _no_user(), actor=u),
    "category": lambda r, c, u: services.case_set_category(c, r.POST.get("category", ""), actor=u),
    "accept": lambda r, c, u: services.complaint_accept(c, actor=u, on=_date(r.POST.get("on"))),
    "reject": lambda r, c, u: services.complaint_reject(c, actor=u, ground=r.POST.get("ground", ""),
                                                       on=_date(r.POST.get("on")), note=r.POST.get("note", "")),
    "odr_settled": lambda r, c, u: services.odr_outcome(c, actor=u, settled=True,
                                                        amount=_decimal(r.POST.get("amount") or "0")),
    "odr_failed": lambda r, c, u: services.odr_outcome(c, actor=u, settled=False),
    "session": lambda r, c, u: services.mediation_session_add(
        c, actor=u, held_on=_date(r.POST.get("held_on")) or _today(), mode=r.POST.get("mode", ""),
        notes=r.POST.get("notes", "")),
    "pause": lambda r, c, u: services.clock_pause(c, actor=u, reason=r.POST.get("reason", ""),
                                                  evidence=r.POST.get("evidence", ""), on=_date(r.POST.get("on"))),
    "resume": lambda r, c, u: services.clock_resume(c, actor=u, on=_date(r.POST.get("on"))),
    "agreement": lambda r, c, u: services.complaint_agreement(c, actor=u, amount=_decimal(r.POST.get("amount")),
                                                              on=_date(r.POST.get("on")),
                                                              notes=r.POST.get("notes", "")),
    "terminate": lambda r, c, u: services.complaint_terminate(c, actor=u, ground=r.POST.get("ground", ""),
                                                              on=_date(r.POST.get("on"))),
    "notify": lambda r, c, u: services.termination_notify(c, actor=u, on=_date(r.POST.get("on"))),
    "extension_request": lambda r, c, u: services.extension_request(c, actor=u, reason=r.POST.get("reason", "")),
    "extension_decide": lambda r, c, u: services.extension_decide(
        Extension.objects.filter(case=c, pk=r.POST.get("extension")).first() or _no_ext(), actor=u,
        approve=r.POST.get("approve") == "1", reason=r.POST.get("reason", "")),
    "open_case": lambda r, c, u: services.report_decide(c, actor=u, open_case=True, reason=r.POST.get("reason", ""),
                                                        on=_date(r.POST.get("on"))),
    "no_case": lambda r, c, u: services.report_decide(c, actor=u, open_case=False, reason=r.POST.get("reason", ""),
                                                      on=_date(r.POST.get("on"))),
    "repeat": lambda r, c, u: services.report_link_repeat(c, _other_report(u, r.POST.get("other", "")), actor=u),
    "merge": lambda r, c, u: services.report_merge(c, _other_report(u, r.POST.get("other", "")), actor=u),
    "answer": lambda r, c, u: services.consultation_answer(c, actor=u, answer=r.POST.get("answer", "")),
}


def _no_unit() -> Unit:
    raise services.WorkflowError("请选择承办单位")


def _no_user() -> User:
    raise services.WorkflowError("请选择承办人")


def _no_ext() -> Extension:
    raise services.WorkflowError("延期申请不存在")


@login_required
@require_POST
def case_action(request: HttpRequest, tracking_number: str, action: str) -> HttpResponse:
    case = access.access_case(_user(request), tracking_number)
    fn = ACTIONS.get(action)
    if fn is None:
        raise Http404
    try:
        fn(request, case, _user(request))
    except (services.WorkflowError, NotAllowed) as exc:
        messages.error(request, exc.message)
        status = 403 if isinstance(exc, NotAllowed) else 409
        if request.headers.get("HX-Request"):
            return HttpResponse(exc.message, status=status)
    else:
        messages.success(request, "已保存")
    case.refresh_from_db()
    if case.tracking_number != tracking_number:
        raise Http404
    try:
        return redirect(access.access_case(_user(request), tracking_number).get_absolute_url())
    except Http404:  # e.g. returned to the dispatcher: no longer in this unit's scope
        return redirect("complaints:case_list")


@login_required
def due_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    today = _today()
    units = _handling_units(user)
    unit = next((u for u in units if u.code == request.GET.get("unit")), None) if request.GET.get("unit") else None
    handler = None
    if request.GET.get("mine") == "1":
        handler = user
    rows = selectors.due_list(user, today=today, unit=unit, handler=handler)
    if request.GET.get("format") == "xlsx":
        headers = [h for h, _ in LIST_EXPORT] + ["承办人", "是否超期"]
        data = selectors.export_xlsx(headers, ([r[k] for _, k in LIST_EXPORT] + [r["handler__full_name"] or "",
                                               "超期" if r["overdue"] else "临期"] for r in rows), sheet="临期超期")
        return xlsx_response(data, "complaints-due.xlsx")
    return render(request, "complaints/due_list.html", {"rows": rows, "units": units, "unit": unit,
                                                        "mine": handler is not None, "today": today,
                                                        "query": request.GET.urlencode()})


@login_required
def league_view(request: HttpRequest) -> HttpResponse:
    today = _today()
    try:
        date_from = dt.date.fromisoformat(request.GET.get("from") or today.replace(day=1).isoformat())
        date_to = dt.date.fromisoformat(request.GET.get("to") or today.isoformat())
    except ValueError:
        date_from, date_to = today.replace(day=1), today
        messages.error(request, "日期格式不正确，应为 YYYY-MM-DD")
    kind = request.GET.get("kind") or None
    rows = selectors.league_table(_user(request), date_from=date_from, date_to=date_to, kind=kind)
    if request.GET.get("format") == "xlsx":
        data = selectors.export_xlsx(["单位", "期内到期件数", "按期办结件数", "按期办结率（%）"],
                                     ([r.unit_name, r.due, r.on_time, r.rate] for r in rows), sheet="按期办结率")
        return xlsx_response(data, "complaints-on-time.xlsx")
    return render(request, "complaints/league.html", {"rows": rows, "date_from": date_from, "date_to": date_to,
                                                      "kind": kind or "", "query": request.GET.urlencode()})


@login_required
def import_view(request: HttpRequest) -> HttpResponse:
    from jianguan.complaints.imports import hotline_import

    if not has_role(_user(request), "intake_clerk", "admin"):
        raise Http404
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        report = hotline_import(form.cleaned_data["file"], actor=_user(request),
                                dry_run=request.POST.get("dry_run") == "1")
        if report.error_count:
            messages.error(request, f"发现 {report.error_count} 行错误，未导入任何数据（全部更正后再导入）")
        elif report.created:
            messages.success(request, f"已导入 {report.created} 件")
        else:
            messages.success(request, f"校验通过，共 {len(report.rows)} 行（预检未写入）")
    return render(request, "complaints/import.html", {"form": form, "report": report})


@login_required
def odr_codes_view(request: HttpRequest) -> HttpResponse:
    """ODR access codes of enterprises in the user's jurisdiction: issue (shown once), revoke, who issued them."""
    from jianguan.complaints import respondent
    from jianguan.registry.models import Entity

    user = _user(request)
    issued_plain, issued_entity = "", None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "revoke":
                code = respondent.odr_codes_for_staff(user).filter(pk=request.POST.get("code") or 0).first()
                if code is None:
                    raise respondent.OdrError("访问码不存在")
                respondent.odr_code_revoke(code, actor=user, reason=request.POST.get("reason", ""))
                messages.success(request, f"已撤销 {code.entity.name} 的ODR访问码（尾号 {code.hint}）")
                return redirect("complaints:odr_codes")
            uscc = request.POST.get("uscc", "").strip().upper()
            entity = Entity.objects.filter(uscc=uscc).first() if uscc else None
            if entity is None or not data_scope(user).covers_division(entity.division_id or ""):
                raise respondent.OdrError("辖区内找不到该统一社会信用代码的市场主体")
            _code, issued_plain = respondent.odr_code_issue(entity, actor=user)
            issued_entity = entity
        except respondent.OdrError as exc:
            messages.error(request, exc.message)
            return redirect("complaints:odr_codes")
    codes = respondent.odr_codes_for_staff(user)[:200]
    return render(request, "complaints/odr_codes.html", {
        "codes": codes, "issued_plain": issued_plain,
        "issued_entity": issued_entity,
        "can_issue": has_role(user, *access.HANDLING_ROLES)})
