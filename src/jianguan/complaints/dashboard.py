"""The analysis dashboard page (ECharts) and its Excel exports.

The counts are one page load (cached for a few minutes per scope and period); the text analysis (hot words,
clusters of similar complaints) is slower and loads into its panel afterwards (htmx), also cached.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from jianguan.complaints import analysis
from jianguan.complaints.selectors import export_xlsx
from jianguan.complaints.services import today_local
from jianguan.complaints.views import _user, xlsx_response
from jianguan.core.access import data_scope

CACHE_SECONDS = 600


def _period(request: HttpRequest) -> tuple[dt.date, dt.date, str]:
    today = today_local()
    error = ""
    try:
        date_to = dt.date.fromisoformat(request.GET["to"]) if request.GET.get("to") else today
        date_from = (dt.date.fromisoformat(request.GET["from"]) if request.GET.get("from")
                     else date_to - dt.timedelta(days=364))
    except ValueError:
        date_from, date_to, error = today - dt.timedelta(days=364), today, "日期格式不正确，应为 YYYY-MM-DD"
    if date_from > date_to:
        date_from, date_to, error = date_to, date_from, "开始日期晚于结束日期，已对调"
    return date_from, date_to, error


def _key(request: HttpRequest, part: str, date_from: dt.date, date_to: dt.date, kind: str | None) -> str:
    s = data_scope(_user(request))
    scope = f"{s.everything}|{s.unit_paths}|{sorted(s.unit_ids)}"
    digest = hashlib.sha256(f"{scope}|{date_from}|{date_to}|{kind}".encode()).hexdigest()[:24]
    return f"complaints:dashboard:{part}:{digest}"


def _numbers(request: HttpRequest, date_from: dt.date, date_to: dt.date, kind: str | None) -> dict[str, Any]:
    key = _key(request, "numbers", date_from, date_to, kind)
    cached = cache.get(key)
    if cached is not None:
        return cached
    c = analysis.figures(_user(request), date_from, date_to, kind)
    tables = analysis.volumes(c)
    tables.append(analysis.on_time_table(c["on_time"]))
    out = {"tables": tables, "amount": c["amount"], "summary_through": c["summary_through"]}
    cache.set(key, out, CACHE_SECONDS)
    return out


def _text(request: HttpRequest, date_from: dt.date, date_to: dt.date, kind: str | None) -> dict[str, Any]:
    key = _key(request, "text", date_from, date_to, kind)
    cached = cache.get(key)
    if cached is not None:
        return cached
    qs = analysis.scoped_cases(_user(request), date_from, date_to, kind)
    texts = list(qs.exclude(kind="consultation").order_by("-received_on").values_list("facts", flat=True)[:1500])
    words = analysis.hot_words(texts)
    top = (analysis.respondents(_user(request), date_from, date_to, "complaint", limit=8)
           if kind in (None, "complaint") else [])
    clusters = analysis.similar_clusters(qs, respondents=8, per_respondent=120, top=top)
    out = {"words": words, "clusters": clusters, "tables": [
        analysis.Table("hot_words", "热词", ["词", "次数"], [list(w) for w in words]),
        analysis.Table("clusters", "同一经营者的相似投诉", ["经营者", "件数", "示例", "登记编号"],
                       [[c["respondent"], c["size"], c["sample"], "、".join(c["numbers"])] for c in clusters])]}
    cache.set(key, out, CACHE_SECONDS)
    return out


@login_required
def dashboard_view(request: HttpRequest) -> HttpResponse:
    date_from, date_to, error = _period(request)
    kind = request.GET.get("kind") or None
    export = request.GET.get("export")
    if export:
        tables = list(_numbers(request, date_from, date_to, kind)["tables"])
        if export in ("hot_words", "clusters"):
            tables += _text(request, date_from, date_to, kind)["tables"]
        table = next((t for t in tables if t.key == export), None)
        if table is None:
            raise Http404
        return xlsx_response(export_xlsx(table.headers, table.rows, sheet=table.title), f"complaints-{table.key}.xlsx")
    numbers = _numbers(request, date_from, date_to, kind)
    tables = numbers["tables"]
    chart = {t.key: t.rows for t in tables if t.key in ("channel", "category", "month", "division", "industry")}
    return render(request, "complaints/dashboard.html", {
        "tables": tables, "amount": numbers["amount"], "summary_through": numbers.get("summary_through"),
        "total": sum(r[1] for r in tables[0].rows), "chart": chart,
        "date_from": date_from, "date_to": date_to, "kind": kind or "", "error": error,
        "query": request.GET.urlencode(),
    })


@login_required
def dashboard_text_view(request: HttpRequest) -> HttpResponse:
    """htmx panel: hot words (jieba + the domain dictionary) and clusters of similar complaints."""
    date_from, date_to, _error = _period(request)
    kind = request.GET.get("kind") or None
    text = _text(request, date_from, date_to, kind)
    return render(request, "complaints/_dashboard_text.html", {
        "tables": text["tables"], "words": [list(w) for w in text["words"]], "query": request.GET.urlencode()})
