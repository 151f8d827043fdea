"""Portal pages: file a complaint or report (mobile-first), see the tracking number, check progress."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from jianguan.complaints import selectors, services
from jianguan.complaints.forms import PortalForm, ProgressForm


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
