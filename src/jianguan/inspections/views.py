"""Back-office pages of random inspections: plans and their workflow, visits and results, publication queue,
item list and inspector register."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jianguan.core.access import can_write, has_role
from jianguan.core.jobs import job_submit
from jianguan.core.models import User
from jianguan.core.views import timeline_context
from jianguan.inspections import access, assignment, draws, jobs, selectors, services
from jianguan.inspections.forms import (
    ConflictForm,
    CorrectionForm,
    EvidenceForm,
    ImportForm,
    PlanForm,
    RandomnessForm,
    ReasonForm,
    ResultForm,
    TaskForm,
)
from jianguan.inspections.models import AssignmentRejection, InspectionItem, InspectionPlan, Inspector, Visit
from jianguan.inspections.rules import result_codes
from jianguan.registry.models import Entity


class AuthedRequest(HttpRequest):
    """A request behind `login_required`: its user is a signed-in `User`."""

    user: User  # type: ignore[assignment]


def _today() -> dt.date:
    return timezone.localdate()


# ---- plans ------------------------------------------------------------------------------------------------------

@login_required
def plan_list(request: AuthedRequest) -> HttpResponse:
    plans = access.plans_for(request.user)
    form = PlanForm(initial={"year": _today().year})
    if request.method == "POST":
        if not access.can_plan(request.user) or request.user.unit is None:
            raise Http404
        form = PlanForm(request.POST)
        if form.is_valid():
            try:
                plan = services.plan_create(name=form.cleaned_data["name"], year=form.cleaned_data["year"],
                                            unit=request.user.unit, actor=request.user)
            except services.InspectionError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("inspections:plan_detail", pk=plan.pk)
    page = Paginator(plans, 30).get_page(request.GET.get("page"))
    return render(request, "inspections/plan_list.html",
                  {"page": page, "form": form, "can_plan": access.can_plan(request.user)})


def _plan_context(request: AuthedRequest, plan: InspectionPlan, **extra: Any) -> dict[str, Any]:
    user = request.user
    return {
        "plan": plan,
        "tasks": plan.tasks.prefetch_related("items", "partner_departments").select_related("department"),
        "summary": selectors.plan_summary(plan),
        "report": selectors.targeting_report(plan) if plan.seed else None,
        "can_plan": access.can_plan(user),
        "can_approve": access.can_approve(user),
        "randomness_form": RandomnessForm(),
        "reason_form": ReasonForm(),
        "correction_form": CorrectionForm(),
        "task_form": TaskForm(initial={"scope_divisions": plan.unit.division_id,
                                       "period_start": dt.date(plan.year, 4, 1),
                                       "period_end": dt.date(plan.year, 9, 30), "a_slice_ratio": "0.01"}),
        "strata": plan.strata.select_related("item").order_by("key")[:200],
        "job": selectors.plan_job_to_show(plan, request.GET.get("job", "")),
        "job_running": selectors.plan_job_in_progress(plan) is not None,
        **timeline_context(plan),
        **extra,
    }


@login_required
def plan_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    plan = access.plan_or_404(request.user, pk)
    return render(request, "inspections/plan_detail.html", _plan_context(request, plan))


@login_required
def task_add(request: AuthedRequest, pk: int) -> HttpResponse:
    plan = access.plan_or_404(request.user, pk)
    if not access.can_plan(request.user):
        raise Http404
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.task_create(
                plan, name=d["name"], department=d["department"], items=list(d["items"]),
                scope_divisions=d["scope_divisions"], period_start=d["period_start"], period_end=d["period_end"],
                ratios={c: d[f"ratio_{c.lower()}"] for c in "ABCD"},
                a_slice_ratio=d["a_slice_ratio"] if d["a_slice_ratio"] is not None else "0",
                min_interval_days=d["min_interval_days"], partner_departments=d["partner_departments"],
                actor=request.user)
        except services.InspectionError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已添加抽查任务"))
            return redirect("inspections:plan_detail", pk=plan.pk)
    return render(request, "inspections/plan_detail.html", _plan_context(request, plan, task_form=form),
                  status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def plan_action(request: AuthedRequest, pk: int, action: str) -> HttpResponse:
    plan = access.plan_or_404(request.user, pk)
    user = request.user
    allowed = access.can_approve(user) if action == "approve" else access.can_plan(user)
    if not allowed:
        raise Http404
    extra: dict[str, Any] = {}
    try:
        if action == "approve":
            reason_form = ReasonForm(request.POST)
            reason_form.is_valid()
            services.plan_approve(plan, actor=user, reason=reason_form.cleaned_data.get("reason", ""))
            messages.success(request, _("计划已批准"))
        elif action in ("freeze", "draw"):
            return _submit_plan_job(request, plan, action)
        elif action == "randomness":
            form = RandomnessForm(request.POST)
            if not form.is_valid():
                extra["randomness_form"] = form
                raise services.InspectionError(_("请输入公开随机数"))
            plan = draws.plan_randomness_enter(plan, form.cleaned_data["value"], actor=user,
                                                  source=form.cleaned_data["source"])
            messages.success(request, _("随机数已确认，可以抽取") if plan.randomness
                             else _("已录入，请另一名工作人员复核录入"))
        elif action == "assign":
            result = assignment.plan_assign(plan, actor=user, today=_today())
            if result.failures:
                messages.error(request, _("检查人员分配失败，未分配任何检查：见下方说明"))
            else:
                messages.success(request, _("已随机选派检查人员"))
        elif action == "correct":
            correction = CorrectionForm(request.POST)
            if not correction.is_valid():
                extra["correction_form"] = correction
                raise services.InspectionError(_("更正计划必须填写更正理由"))
            new = services.plan_correct(plan, reason=correction.cleaned_data["reason"], actor=user)
            messages.success(request, _("已创建更正版本，批准后原计划作废"))
            return redirect("inspections:plan_detail", pk=new.pk)
        else:
            raise Http404
    except services.InspectionError as exc:
        plan.refresh_from_db()
        return render(request, "inspections/plan_detail.html",
                      _plan_context(request, plan, action_error=str(exc), **extra), status=400)
    return redirect("inspections:plan_detail", pk=plan.pk)


def _submit_plan_job(request: AuthedRequest, plan: InspectionPlan, action: str) -> HttpResponse:
    """Queue the freeze or the draw (with the inspector assignment) as a background job: a province plan takes
    minutes. The plan page then shows the job's progress. Refusals known now are shown at once."""
    refusal = draws.freeze_refusal(plan) if action == "freeze" else draws.draw_refusal(plan)
    if not refusal and selectors.plan_job_in_progress(plan) is not None:
        refusal = _("该计划已有正在执行的后台任务，请等待其完成")
    if refusal:
        raise services.InspectionError(refusal)
    kind, title = (jobs.FREEZE, "冻结候选名单") if action == "freeze" else (jobs.DRAW, "抽取并选派检查人员")
    job = job_submit(kind, f"{title}：{plan}", {"plan": plan.pk, "user": request.user.pk,
                                               "today": _today().isoformat()}, user=request.user)
    return redirect(f"{reverse('inspections:plan_detail', args=[plan.pk])}?job={job.pk}")


@login_required
def plan_export(request: AuthedRequest, pk: int) -> FileResponse:
    from jianguan.inspections.export import export_zip

    plan = access.plan_or_404(request.user, pk)
    try:
        data = export_zip(plan)
    except services.InspectionError:
        raise Http404 from None
    return FileResponse(data, as_attachment=True, filename=f"draw-{plan.pk}.zip", content_type="application/zip")


@login_required
def plan_visits(request: AuthedRequest, pk: int) -> HttpResponse:
    plan = access.plan_or_404(request.user, pk)
    params = {k: request.GET.get(k, "").strip() for k in ("status", "q")}
    qs = selectors.visits_filter(plan.visits.select_related("entity").prefetch_related("items__item",
                                                                                         "team__inspector"), params)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "inspections/visit_list.html", {"plan": plan, "page": page, "params": params,
                                                           "statuses": Visit.Status.choices})


@login_required
def plan_rejections(request: AuthedRequest, pk: int) -> HttpResponse:
    plan = access.plan_or_404(request.user, pk)
    qs = AssignmentRejection.objects.filter(plan=plan).select_related("visit", "inspector").order_by("visit__number")
    page = Paginator(qs, 100).get_page(request.GET.get("page"))
    return render(request, "inspections/rejection_list.html", {"plan": plan, "page": page})


# ---- visits -------------------------------------------------------------------------------------------------------

@login_required
def my_visits(request: AuthedRequest) -> HttpResponse:
    qs = (Visit.objects.filter(team__inspector__user=request.user).select_related("entity", "plan")
          .order_by("status", "period_end", "number"))
    return render(request, "inspections/my_visits.html", {"visits": qs})


@login_required
def visit_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    visit = access.visit_or_404(request.user, pk)
    items = list(visit.items.select_related("item__department", "task").order_by("item__code"))
    can_record = (visit.status in (Visit.Status.ASSIGNED, Visit.Status.COMPLETED)
                  and access.can_record(request.user, visit))
    form = ResultForm(items=items, initial={"visit_date": visit.visit_date or _today(), "end_date": visit.end_date,
                                            "summary": visit.summary})
    error = ""
    status = 200
    if request.method == "POST":
        if not can_record:
            raise Http404
        form = ResultForm(request.POST, items=items)
        if form.is_valid():
            try:
                services.visit_record_results(visit, results=form.results(),
                                              visit_date=form.cleaned_data["visit_date"],
                                              end_date=form.cleaned_data["end_date"],
                                              summary=form.cleaned_data["summary"], actor=request.user)
            except services.InspectionError as exc:
                error = str(exc)
            else:
                messages.success(request, _("检查结果已保存"))
                return redirect("inspections:visit_detail", pk=visit.pk)
        status = 400
    codes = result_codes()
    return render(request, "inspections/visit_detail.html", {
        "visit": visit, "items": items, "form": form, "error": error, "can_record": can_record,
        "can_publish": access.can_publish(request.user, visit) and visit.status == Visit.Status.COMPLETED,
        "team": visit.team.select_related("inspector__department", "inspector__unit"),
        "evidence": visit.evidence.all(), "evidence_form": EvidenceForm(),
        "result_labels": {c: rc.label for c, rc in codes.items()},
        **timeline_context(visit)}, status=status)


@login_required
@require_POST
def visit_evidence_add(request: AuthedRequest, pk: int) -> HttpResponse:
    visit = access.visit_or_404(request.user, pk)
    if not access.can_record(request.user, visit):
        raise Http404
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("请选择文件"))
    else:
        try:
            services.evidence_add(visit, form.cleaned_data["file"], actor=request.user)
        except services.InspectionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("证据已上传"))
    return redirect("inspections:visit_detail", pk=visit.pk)


@login_required
def visit_evidence_file(request: AuthedRequest, pk: int, evidence_id: int) -> FileResponse:
    visit = access.visit_or_404(request.user, pk)
    ev = get_object_or_404(visit.evidence, pk=evidence_id)
    return FileResponse(ev.file.open("rb"), content_type=ev.content_type, filename=ev.name)


@login_required
@require_POST
def visit_publish(request: AuthedRequest, pk: int) -> HttpResponse:
    visit = access.visit_or_404(request.user, pk)
    if not access.can_publish(request.user, visit):
        raise Http404
    try:
        services.visit_publish(visit, actor=request.user)
    except services.InspectionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("检查结果已公示"))
    nxt = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        nxt = reverse("inspections:visit_detail", args=[visit.pk])
    return redirect(nxt)


@login_required
def visit_notice(request: AuthedRequest, pk: int, fmt: str) -> HttpResponse:
    from jianguan.inspections.notices import notice_docx, notice_pdf

    visit = access.visit_or_404(request.user, pk)
    if fmt == "docx":
        data = notice_docx(visit)
        ctype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    elif fmt == "pdf":
        data = notice_pdf(visit)
        ctype = "application/pdf"
    else:
        raise Http404
    resp = HttpResponse(data, content_type=ctype)
    resp["Content-Disposition"] = f'attachment; filename="notice-{visit.number}.{fmt}"'
    return resp


@login_required
def publication_queue(request: AuthedRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    rows = selectors.publication_queue(request.user, today=_today(), state=state)
    return render(request, "inspections/publication_queue.html", {"rows": rows, "state": state,
                                                                  "can_publish": access.can_plan(request.user)})


# ---- item list and inspector register ---------------------------------------------------------------------------

@login_required
def item_list(request: AuthedRequest) -> HttpResponse:
    items = InspectionItem.objects.select_related("department")
    if request.GET.get("format") == "xlsx":
        resp = HttpResponse(services.items_export_excel(items),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        resp["Content-Disposition"] = 'attachment; filename="inspection-items.xlsx"'
        return resp
    report = None
    form = ImportForm()
    can_import = can_write(request.user) and has_role(request.user, "admin", "leader", "section_head")
    if request.method == "POST":
        if not can_import:
            raise Http404
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            report = services.items_import_excel(form.cleaned_data["file"].read(), actor=request.user)
            if report.ok:
                messages.success(request, _("已导入：新增 %(c)s 项，更新 %(u)s 项") % {"c": report.created,
                                                                                 "u": report.updated})
                return redirect("inspections:item_list")
    return render(request, "inspections/item_list.html", {"items": items, "form": form, "report": report,
                                                          "can_import": can_import},
                  status=400 if report and not report.ok else 200)


@login_required
def inspector_list(request: AuthedRequest) -> HttpResponse:
    inspectors = access.inspectors_for(request.user).prefetch_related("conflicts__entity")
    report = None
    form = ImportForm()
    can_import = can_write(request.user) and has_role(request.user, "admin", "leader", "section_head")
    if request.method == "POST":
        if not can_import:
            raise Http404
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            report = services.inspectors_import_excel(form.cleaned_data["file"].read(), actor=request.user)
            if report.ok:
                messages.success(request, _("已导入：新增 %(c)s 人，更新 %(u)s 人") % {"c": report.created,
                                                                                 "u": report.updated})
                return redirect("inspections:inspector_list")
    page = Paginator(inspectors, 50).get_page(request.GET.get("page"))
    return render(request, "inspections/inspector_list.html",
                  {"page": page, "form": form, "report": report, "can_import": can_import,
                   "conflict_form": ConflictForm()}, status=400 if report and not report.ok else 200)


@login_required
@require_POST
def inspector_conflict_add(request: AuthedRequest, pk: int) -> HttpResponse:
    try:
        inspector = access.inspectors_for(request.user).get(pk=pk)
    except Inspector.DoesNotExist:
        raise Http404 from None
    if not can_write(request.user):
        raise Http404
    form = ConflictForm(request.POST)
    if form.is_valid():
        entity = Entity.objects.filter(uscc=form.cleaned_data["uscc"].strip().upper()).first()
        if entity is None:
            messages.error(request, _("统一社会信用代码不存在"))
        else:
            services.inspector_conflict_declare(inspector, entity, form.cleaned_data["reason"], declared_on=_today(),
                                                actor=request.user)
            messages.success(request, _("已登记回避"))
    else:
        messages.error(request, _("请填写统一社会信用代码和回避事由"))
    return redirect("inspections:inspector_list")


# ---- entity tab (registry) ---------------------------------------------------------------------------------------

def entity_tab(request: AuthedRequest, entity: Entity) -> dict[str, Any] | None:
    visits = list(selectors.entity_visits(request.user, entity.pk)[:50])
    codes = result_codes()
    return {"key": "inspections", "title": _("双随机抽查"), "template": "inspections/_entity_tab.html",
            "context": {"visits": visits, "result_labels": {c: rc.label for c, rc in codes.items()}}}
