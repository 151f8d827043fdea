"""Reads for complaints and reports: lists with filters, due-soon lists, on-time league table, public progress."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from jianguan.complaints.access import case_queryset, case_scope_q
from jianguan.complaints.domain import clock
from jianguan.complaints.domain.categories import CATEGORY_LABELS
from jianguan.complaints.domain.text import mask_address, mask_name, mask_phone
from jianguan.complaints.models import Case, Extension
from jianguan.complaints.rules import get_ruleset
from jianguan.core.calendar_service import get_calendar
from jianguan.core.domain.calendar import CalendarYearMissing
from jianguan.core.models import Unit, User

OPEN = ~Q(status=Case.Status.CLOSED)
LIST_FIELDS = ("id", "tracking_number", "kind", "channel", "status", "result", "received_at", "respondent_name",
               "complainant_name", "complainant_phone", "category", "unit__name", "handler__full_name", "next_due",
               "next_warn", "paused_since", "flag_count")


def case_list(user: User, filters: dict[str, str], *, today: dt.date) -> QuerySet[Case]:
    """The cases in the user's scope, filtered; newest first."""
    qs = case_queryset(user)
    for key in ("kind", "status", "channel", "category", "result"):
        if filters.get(key):
            qs = qs.filter(**{key: filters[key]})
    if filters.get("unit"):
        qs = qs.filter(unit__code=filters["unit"])
    if filters.get("q"):
        q = filters["q"].strip()
        qs = qs.filter(Q(tracking_number=q) | Q(respondent_name__contains=q) | Q(respondent_uscc=q))
    if filters.get("received_from"):
        qs = qs.filter(received_on__gte=filters["received_from"])
    if filters.get("received_to"):
        qs = qs.filter(received_on__lte=filters["received_to"])
    due = filters.get("due")
    if due == "overdue":
        qs = qs.filter(OPEN, next_due__lt=today, paused_since__isnull=True)
    elif due == "soon":
        qs = qs.filter(OPEN, next_warn__lte=today, next_due__gte=today, paused_since__isnull=True)
    elif due == "flagged":
        qs = qs.filter(flag_count__gt=0)
    return qs.order_by("-received_at", "-id")


def case_rows_masked(qs: Iterable[Case] | QuerySet[Case]) -> list[dict[str, Any]]:
    """List rows with the complainant/reporter identity masked (lists and exports, art. 37)."""
    from django.urls import reverse

    # One reverse() for the list rather than one per row (a unit's due list has hundreds of rows).
    url = reverse("complaints:case_detail", args=["TRACKINGNUMBER"])
    rows = []
    for c in qs.values(*LIST_FIELDS) if isinstance(qs, QuerySet) else qs:  # type: ignore[union-attr]
        r = dict(c)  # type: ignore[arg-type]
        r["url"] = url.replace("TRACKINGNUMBER", r["tracking_number"])
        r["complainant_name"] = mask_name(r["complainant_name"])
        r["complainant_phone"] = mask_phone(r["complainant_phone"])
        r["kind_label"] = Case.Kind(r["kind"]).label
        r["channel_label"] = Case.Channel(r["channel"]).label
        r["status_label"] = Case.Status(r["status"]).label
        r["result_label"] = Case.Result(r["result"]).label if r["result"] else ""
        r["category_label"] = CATEGORY_LABELS.get(r["category"], r["category"])
        rows.append(r)
    return rows


def due_list(user: User, *, today: dt.date, unit: Unit | None = None, handler: User | None = None,
             limit: int = 500) -> list[dict[str, Any]]:
    """Open cases past their warning date (due soon) or past their deadline (overdue), most urgent first."""
    qs = Case.objects.filter(OPEN, next_warn__lte=today, paused_since__isnull=True)
    if unit is not None:
        qs = qs.filter(unit__path__startswith=unit.path)
    if handler is not None:
        qs = qs.filter(handler=handler)
    qs = qs.filter(case_scope_q(user)).order_by("next_due", "id")
    rows = case_rows_masked(qs[:limit])
    for r in rows:
        r["overdue"] = r["next_due"] is not None and r["next_due"] < today
    return rows


@dataclass
class LeagueRow:
    unit_id: int
    unit_name: str
    due: int
    on_time: int

    @property
    def rate(self) -> float | None:
        return round(self.on_time * 100 / self.due, 1) if self.due else None


def league_table(user: User, *, date_from: dt.date, date_to: dt.date, kind: str | None = None) -> list[LeagueRow]:
    """On-time rate per unit: cases due in the period closed by their deadline ÷ cases due in the period."""
    qs = Case.objects.filter(case_scope_q(user), final_due__gte=date_from, final_due__lte=date_to,
                             unit__isnull=False).exclude(kind=Case.Kind.CONSULTATION)
    if kind:
        qs = qs.filter(kind=kind)
    rows = (qs.values("unit_id", "unit__name")
            .annotate(due=Count("id"), on_time=Count("id", filter=Q(closed_on__isnull=False,
                                                                      closed_on__lte=F("final_due")))))
    out = [LeagueRow(r["unit_id"], r["unit__name"], r["due"], r["on_time"]) for r in rows]
    return sorted(out, key=lambda r: (-(r.rate or 0), -r.due, r.unit_name))


@dataclass
class PeriodView:
    """One deadline as the detail page shows it."""

    key: str
    label: str
    start: dt.date
    due: dt.date
    warn_on: dt.date
    days_left: int
    unit: str
    status: str
    source: str
    paused_days: int
    extension_days: int


def case_periods(case: Case, *, today: dt.date) -> list[PeriodView]:
    """The deadlines of a case with time left, pauses and extensions, recomputed for display."""
    rule = get_ruleset(case.rule_code)
    cal = get_calendar()
    specs: list[tuple[str, dt.date | None, str]] = []
    if case.kind == Case.Kind.COMPLAINT:
        specs.append(("accept", case.received_on, ""))
        if case.odr_due:
            specs.append(("odr", case.received_on, ""))
        if case.accepted_on:
            specs.append(("mediation", case.accepted_on, "mediation"))
    elif case.kind == Case.Kind.REPORT:
        specs.append(("verify", case.verify_start or case.received_on, "verify"))
    out = []
    for key, start, pause_key in specs:
        if start is None:
            continue
        pauses = [clock.Pause(p.start, p.end, p.reason) for p in case.pauses.all() if p.period == pause_key]
        exts = [clock.Extension(e.days, e.reason) for e in case.extensions.all()
                if e.period == pause_key and e.status == Extension.Status.APPROVED]
        try:
            p = clock.compute_period(rule.period(key), start, cal, warn_ratio=rule.warn_ratio, pauses=pauses,
                                     extensions=exts, today=today)
            left = p.days_left(today, cal)
        except CalendarYearMissing:
            continue
        done = case.status == Case.Status.CLOSED or (key == "accept" and case.accepted_on) or (
            key == "odr" and case.status != Case.Status.ODR) or (key == "mediation" and case.status != "mediating")
        out.append(PeriodView(key, p.label, p.start, p.due, p.warn_on, left, p.unit,
                              "done" if done else p.status(today), p.source, p.paused_days, p.extension_days))
    if case.notice_due:
        out.append(PeriodView("termination_notice", rule.period("termination_notice").label, case.notice_due,
                              case.notice_due, case.notice_due, 0, "working",
                              "done" if case.status == Case.Status.CLOSED else
                              ("overdue" if today > case.notice_due else "warn"),
                              rule.period("termination_notice").source, 0, 0))
    return out


def case_public(tracking_number: str, phone_last4: str) -> dict[str, Any] | None:
    """Progress for the portal: only with the tracking number and the last four digits of the phone; masked."""
    tracking_number = (tracking_number or "").strip().upper()
    last4 = (phone_last4 or "").strip()
    if len(last4) != 4 or not last4.isdigit() or not tracking_number:
        return None
    case = Case.objects.filter(tracking_number=tracking_number).only(
        "tracking_number", "kind", "status", "result", "received_at", "respondent_name", "complainant_phone",
        "accept_due", "verify_due", "mediation_due", "closed_on", "decision_text", "unit__name").select_related(
        "unit").first()
    if case is None or not case.complainant_phone.endswith(last4):
        return None
    return {
        "tracking_number": case.tracking_number, "kind": case.get_kind_display(),
        "status": case.get_status_display(), "result": case.get_result_display() if case.result else "",
        "received_at": case.received_at, "respondent_name": case.respondent_name,
        "unit": case.unit.name if case.unit else "", "accept_due": case.accept_due, "verify_due": case.verify_due,
        "mediation_due": case.mediation_due, "closed_on": case.closed_on,
        "decision_text": case.decision_text if case.kind == Case.Kind.COMPLAINT else "",
    }


def case_for_respondent(case: Case) -> dict[str, Any]:
    """What the respondent may see (art. 37): never the reporter; a complainant only as needed for mediation."""
    return {"tracking_number": case.tracking_number, "kind": case.get_kind_display(),
            "complainant": mask_name(case.complainant_name) if case.kind == Case.Kind.COMPLAINT else "（保密）",
            "complainant_address": mask_address(case.complainant_address) if case.kind == Case.Kind.COMPLAINT
            else "（保密）", "request": case.request, "status": case.get_status_display()}


def export_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "数据") -> bytes:
    """One sheet with a bold header row; dates as dates."""
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "remove_timezone": True})
    ws = wb.add_worksheet(sheet[:31])
    bold = wb.add_format({"bold": True})
    datef = wb.add_format({"num_format": "yyyy-mm-dd"})
    for j, h in enumerate(headers):
        ws.write(0, j, str(h), bold)
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            if isinstance(v, dt.datetime):
                ws.write_datetime(i, j, v.astimezone(clock.SHANGHAI).replace(tzinfo=None),
                                  wb.add_format({"num_format": "yyyy-mm-dd hh:mm"}))
            elif isinstance(v, dt.date):
                ws.write_datetime(i, j, dt.datetime.combine(v, dt.time()), datef)
            elif v is None:
                ws.write_blank(i, j, None)
            elif isinstance(v, (int, float)):
                ws.write_number(i, j, v)
            else:
                ws.write_string(i, j, str(v))
    wb.close()
    return buf.getvalue()
