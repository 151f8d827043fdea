"""Back-office pages of the platform core: login, home, jobs, audit trail, units."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django_htmx.middleware import HtmxDetails

from jianguan.core.access import access_unit_list, has_role
from jianguan.core.audit import audit_timeline
from jianguan.core.forms import LoginForm
from jianguan.core.models import AuditEntry, User
from jianguan.core.selectors import audit_list, home_cards, job_list_for


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class AuthedRequest(HttpRequest):
    """A request behind `login_required`: its user is a signed-in `User`; `HtmxMiddleware` adds `htmx`."""

    user: User  # type: ignore[assignment]  # narrower than HttpRequest's User | AnonymousUser
    htmx: HtmxDetails


@login_required
def home(request: AuthedRequest) -> HttpResponse:
    return render(request, "core/home.html", {"cards": home_cards(request.user)})


@login_required
def job_list(request: AuthedRequest) -> HttpResponse:
    page = Paginator(job_list_for(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "core/job_list.html", {"page": page})


@login_required
def job_detail(request: AuthedRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(job_list_for(request.user), pk=pk)
    template = "core/_job_progress.html" if request.htmx else "core/job_detail.html"
    return render(request, template, {"job": job})


@login_required
def audit_list_view(request: AuthedRequest) -> HttpResponse:
    if not has_role(request.user, "admin", "auditor", "leader"):
        raise Http404
    filters = {k: request.GET.get(k, "").strip() for k in ("object_type", "object_id", "actor", "action")}
    page = Paginator(audit_list(filters), 50).get_page(request.GET.get("page"))
    return render(request, "core/audit_list.html", {"page": page, "filters": filters})


@login_required
def unit_list(request: AuthedRequest) -> HttpResponse:
    return render(request, "core/unit_list.html", {"units": access_unit_list(request.user)})


def timeline_context(obj: object) -> dict[str, object]:
    """Context for `core/_timeline.html` on any record's detail page."""
    entries = list(audit_timeline(obj._meta.label_lower, obj.pk))  # type: ignore[attr-defined]
    return {"timeline": entries}


def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
        db = "ok"
    except Exception as exc:  # report, do not raise: load balancers read the status code
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok", "database": db, "audit_entries_hint": AuditEntry.objects.exists()})
