"""Analysis of complaints and reports: volumes, hot words, clusters of similar complaints, on-time rates."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from jianguan.complaints.domain.categories import CATEGORY_LABELS
from jianguan.complaints.models import Case, DayCount
from jianguan.complaints.rules import dictionary_path
from jianguan.core.access import data_scope
from jianguan.core.models import Division, Unit, User

_STOPWORD_LINES = (
    "的 了 是 在 我 有 和 就 不 人 都 一 一个 上 也 很 到 说 要 去 你 会 着 没有 看 好 自己",
    "这 他 她 它 们 那 与 及 并 但 对 把",
    "被 让 给 从 向 于 等 后 时 已 还 又 再 该 其 此 要求 进行 问题 情况 反映 表示 称 无法",
    "没 多 个 号 年 月 日 元 次 后来 现在",
    "目前 因为 所以 如果 然后 之后 时候 这个 那个 什么 怎么 可以 已经 以及 为 中 内 请 请求",
    "希望 市民 来电 消费者 商家 经营者 投诉 举报",
    "人员 工作 联系 处理 相关 部门",
)
STOPWORDS = {word for line in _STOPWORD_LINES for word in line.split()}


def scope_units_q(user: User) -> Q:
    """`case_scope_q` with the user's units resolved to ids first (no join to the unit tree per case row).

    Holds for cases and for the per-unit summary rows alike (both have `unit` and `intake_unit`).
    """
    scope = data_scope(user)
    if scope.everything:
        return Q()
    ids = list(Unit.objects.filter(scope.units_q(unit_field="")).values_list("id", flat=True))
    return Q(unit_id__in=ids) | Q(intake_unit_id__in=ids)


def scoped_cases(user: User, date_from: dt.date, date_to: dt.date, kind: str | None = None) -> QuerySet[Case]:
    qs = Case.objects.filter(scope_units_q(user), received_on__gte=date_from, received_on__lte=date_to)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


@dataclass
class Table:
    """One dashboard table: key, title, headers and rows (each also exportable to Excel)."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]


DIM_COLUMNS = {"channel": "channel", "category": "category", "division": "division_code", "industry": "industry_code"}
TOP = {"division": 50, "industry": 30}


def covers_everything(user: User) -> bool:
    """The user's scope covers every unit, so every case (and the province-wide summary applies)."""
    scope = data_scope(user)
    if scope.everything:
        return True
    if scope.empty:
        return False
    return not Unit.objects.exclude(scope.units_q(unit_field="")).exists()


class _Tally:
    """Counts merged from the summary and from the cases received since it was built."""

    def __init__(self) -> None:
        self.dims: dict[str, Counter[str]] = {d: Counter() for d in DIM_COLUMNS}
        self.month: Counter[tuple[dt.date, str]] = Counter()
        self.amount = Decimal(0)
        self.due: Counter[str] = Counter()
        self.on_time: Counter[str] = Counter()

    def result(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for dim, column in DIM_COLUMNS.items():
            rows = sorted(((v, n) for v, n in self.dims[dim].items() if n and v), key=lambda r: (-r[1], r[0]))
            if dim in TOP:
                rows = rows[:TOP[dim]]
            out[dim] = [{column: v, "n": n} for v, n in rows]
        out["month"] = [{"m": m, "kind": k, "n": n} for (m, k), n in sorted(self.month.items()) if n]
        out["amount"] = self.amount
        out["on_time"] = {"c_due": self.due["complaint"], "c_on": self.on_time["complaint"],
                          "r_due": self.due["report"], "r_on": self.on_time["report"]}
        return out


def _add_cases(t: _Tally, user: User, received: Q | None, due: Q, kind: str | None, *, few: bool = False) -> None:
    """Count the cases themselves: those received in `received` (breakdowns), those due in `due` (on-time).

    `few`: the days around the summary hold few cases, read once and counted here rather than grouped six times.
    """
    if received is not None:
        qs = Case.objects.filter(scope_units_q(user), received)
        if kind:
            qs = qs.filter(kind=kind)
        if few:
            columns = list(DIM_COLUMNS.values())
            for row in qs.values_list(*columns, "received_on", "kind", "amount_recovered").iterator(chunk_size=5000):
                for dim, value in zip(DIM_COLUMNS, row[:len(columns)], strict=True):
                    if value:
                        t.dims[dim][value] += 1
                t.month[(row[-3].replace(day=1), row[-2])] += 1
                t.amount += row[-1] or Decimal(0)
        else:
            for dim, column in DIM_COLUMNS.items():
                for r in qs.exclude(**{column: ""}).values(column).annotate(n=Count("id")).order_by():
                    t.dims[dim][r[column]] += r["n"]
            for r in (qs.annotate(m=TruncMonth("received_on")).values("m", "kind")
                      .annotate(n=Count("id"), a=Sum("amount_recovered")).order_by()):
                m = r["m"].date() if isinstance(r["m"], dt.datetime) else r["m"]
                t.month[(m, r["kind"])] += r["n"]
                t.amount += r["a"] or Decimal(0)
    due_qs = Case.objects.filter(scope_units_q(user), due, kind__in=[Case.Kind.COMPLAINT, Case.Kind.REPORT])
    on_time = Q(closed_on__isnull=False, closed_on__lte=F("final_due"))
    for r in due_qs.values("kind").annotate(n=Count("id"), ok=Count("id", filter=on_time)).order_by():
        t.due[r["kind"]] += r["n"]
        t.on_time[r["kind"]] += r["ok"]


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _whole_months(date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The first days of the months that lie entirely within [date_from, date_to]."""
    months = []
    m = date_from if date_from.day == 1 else _next_month(date_from)
    while _next_month(m) - dt.timedelta(days=1) <= date_to:
        months.append(m)
        m = _next_month(m)
    return months


def _edges(date_from: dt.date, date_to: dt.date, months: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """The days of [date_from, date_to] outside its whole months."""
    if not months:
        return [(date_from, date_to)]
    return [(a, b) for a, b in ((date_from, months[0] - dt.timedelta(days=1)),
                                (_next_month(months[-1]), date_to)) if a <= b]


def _between(field: str, ranges: list[tuple[dt.date, dt.date]]) -> Q:
    q = Q(pk__in=[])
    for a, b in ranges:
        q |= Q(**{f"{field}__gte": a, f"{field}__lte": b})
    return q


def _grains(date_from: dt.date, date_to: dt.date) -> Q:
    """Province-wide summary rows covering [date_from, date_to]: month rows for whole months, day rows otherwise."""
    from jianguan.complaints.summary import MONTH, UNIT_MONTH

    months = _whole_months(date_from, date_to)
    day_rows = ~Q(dim__startswith=MONTH) & ~Q(dim__startswith=UNIT_MONTH)
    edges = day_rows & _between("day", _edges(date_from, date_to, months))
    return (Q(dim__startswith=MONTH, day__in=months) | edges) if months else edges


def _add_unit_summary(t: _Tally, user: User, months: list[dt.date], kind: str | None) -> None:
    """Add the per-unit month rows within the user's scope (the same condition as on the cases)."""
    from jianguan.complaints.summary import UNIT_MONTH

    scoped = DayCount.objects.filter(scope_units_q(user), dim__startswith=UNIT_MONTH, day__in=months)
    rows = scoped.exclude(dim=f"{UNIT_MONTH}due")
    if kind:
        rows = rows.filter(kind=kind)
    for d in rows.exclude(dim=f"{UNIT_MONTH}total").values("dim", "value").annotate(n=Sum("n")).order_by():
        dim = d["dim"][len(UNIT_MONTH):]
        if dim in t.dims:
            t.dims[dim][d["value"]] += d["n"]
    for mk in rows.filter(dim=f"{UNIT_MONTH}total").values("day", "kind").annotate(n=Sum("n"), a=Sum("amount")):
        t.month[(mk["day"], mk["kind"])] += mk["n"]
        t.amount += mk["a"] or Decimal(0)
    for due in scoped.filter(dim=f"{UNIT_MONTH}due").values("kind").annotate(n=Sum("n"), ok=Sum("on_time")):
        t.due[due["kind"]] += due["n"]
        t.on_time[due["kind"]] += due["ok"]


def _dim(name: str) -> str:
    from jianguan.complaints.summary import MONTH

    return name[len(MONTH):] if name.startswith(MONTH) else name


def _add_summary(t: _Tally, date_from: dt.date, date_to: dt.date, kind: str | None) -> Counter[int]:
    """Add the province-wide summary rows (cases received up to the summary's day); returns the busy respondents."""
    rows = DayCount.objects.filter(_grains(date_from, date_to)).exclude(dim__in=["due", "m:due"])
    if kind:
        rows = rows.filter(kind=kind)
    entities: Counter[int] = Counter()
    for d in rows.values("dim", "value").annotate(n=Sum("n"), ok=Sum("on_time")).order_by():
        dim = _dim(d["dim"])
        if dim in t.dims:
            t.dims[dim][d["value"]] += d["n"]
        elif dim == "entity":
            entities[int(d["value"])] += d["n"]
    for mk in (rows.filter(dim__in=["total", "m:total"]).annotate(m=TruncMonth("day")).values("m", "kind")
               .annotate(n=Sum("n"), a=Sum("amount")).order_by()):
        m = mk["m"].date() if isinstance(mk["m"], dt.datetime) else mk["m"]
        t.month[(m, mk["kind"])] += mk["n"]
        t.amount += mk["a"] or Decimal(0)
    # On-time counts are by deadline day and, like the dashboard always did, for every kind.
    for due in (DayCount.objects.filter(_grains(date_from, date_to), dim__in=["due", "m:due"]).values("kind")
                .annotate(n=Sum("n"), ok=Sum("on_time")).order_by()):
        t.due[due["kind"]] += due["n"]
        t.on_time[due["kind"]] += due["ok"]
    return entities


def _top_from_summary(busy: Counter[int], recent: QuerySet[Case], limit: int = 20) -> list[dict[str, Any]] | None:
    """The top respondents from the busy ones plus those of recent cases, or None when that cannot be exact.

    An entity outside the busy list has fewer than ENTITY_MIN complaints and reports up to the summary's day, so
    the list is exact when its last entry reaches ENTITY_MIN plus the most any entity received since then.
    """
    from jianguan.complaints.summary import ENTITY_MIN

    counts = Counter(busy)
    most_recent = 0
    for r in (recent.filter(kind__in=[Case.Kind.COMPLAINT, Case.Kind.REPORT], entity_id__isnull=False)
              .values("entity_id").annotate(n=Count("id")).order_by()):
        counts[r["entity_id"]] += r["n"]
        most_recent = max(most_recent, r["n"])
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    if len(top) < limit or top[-1][1] < ENTITY_MIN + most_recent:
        return None
    return [{"entity_id": e, "n": n} for e, n in top]


def figures(user: User, date_from: dt.date, date_to: dt.date, kind: str | None = None, *,
            use_summary: bool = True) -> dict[str, Any]:
    """The dashboard's breakdowns, amount recovered, top respondents and on-time counts for the user's scope.

    With the summary (`complaints.summary`): a scope that covers every unit reads the province-wide rows and
    counts only the cases received since the summary was built; a narrower scope reads the per-unit month rows of
    the whole months in the period and counts the cases of the days around them. Without it (or with
    `use_summary=False`) everything is counted from the cases. All three give the same figures.
    """
    from jianguan.complaints.summary import summary_state

    t = _Tally()
    state = summary_state() if use_summary else None
    period = Q(final_due__gte=date_from, final_due__lte=date_to)
    top = None
    if state is None:
        received: Q | None = Q(received_on__gte=date_from, received_on__lte=date_to)
        due = period
    elif covers_everything(user):
        busy = _add_summary(t, date_from, date_to, kind)
        after = max(date_from, state.through + dt.timedelta(days=1))
        received = Q(received_on__gte=after, received_on__lte=date_to) if after <= date_to else None
        due = period & Q(received_on__gt=state.through)
        top = _top_from_summary(busy, scoped_cases(user, after, date_to, kind) if received is not None
                                else Case.objects.none())
    else:
        months = _whole_months(date_from, date_to)
        _add_unit_summary(t, user, months, kind)
        edges = _edges(date_from, date_to, months)
        since = [(max(m, state.through + dt.timedelta(days=1)), _next_month(m) - dt.timedelta(days=1))
                 for m in months]
        received = _between("received_on", edges + [(a, b) for a, b in since if a <= b])
        due = _between("final_due", edges)
        if months:
            due |= Q(final_due__gte=months[0], final_due__lt=_next_month(months[-1]),
                     received_on__gt=state.through)
    _add_cases(t, user, received, due, kind, few=state is not None)
    out = t.result()
    out["respondent"] = top if top is not None else top_respondents(scoped_cases(user, date_from, date_to, kind))
    out["summary_through"] = state.through if state is not None else None
    return out


def respondents(user: User, date_from: dt.date, date_to: dt.date, kind: str | None = None, *,
                limit: int = 20) -> list[dict[str, Any]]:
    """The most complained-about respondents alone (the text panel's clusters), from the summary when exact."""
    from jianguan.complaints.summary import MONTH, summary_state

    state = summary_state() if covers_everything(user) else None
    if state is not None:
        rows = DayCount.objects.filter(_grains(date_from, date_to), dim__in=["entity", f"{MONTH}entity"])
        if kind:
            rows = rows.filter(kind=kind)
        busy: Counter[int] = Counter()
        for r in rows.values("value").annotate(n=Sum("n")).order_by():
            busy[int(r["value"])] += r["n"]
        after = max(date_from, state.through + dt.timedelta(days=1))
        recent = scoped_cases(user, after, date_to, kind) if after <= date_to else Case.objects.none()
        top = _top_from_summary(busy, recent, limit)
        if top is not None:
            return top
    return top_respondents(scoped_cases(user, date_from, date_to, kind), limit)


def top_respondents(qs: QuerySet[Case], limit: int = 20) -> list[dict[str, Any]]:
    """Entities with the most complaints and reports (an index-only scan on received_on, kind, entity)."""
    rows = (qs.filter(kind__in=[Case.Kind.COMPLAINT, Case.Kind.REPORT], entity_id__isnull=False)
            .values("entity_id").annotate(n=Count("id")).order_by("-n", "entity_id")[:limit])
    return [{"entity_id": r["entity_id"], "n": r["n"]} for r in rows]


def respondent_names(entity_ids: list[int]) -> dict[int, str]:
    """The respondent name of one case per entity (one small index lookup each; a busy platform has thousands)."""
    out = {}
    for entity_id in entity_ids:
        name = (Case.objects.filter(entity_id=entity_id).exclude(kind=Case.Kind.CONSULTATION)
                .order_by("-received_on").values_list("respondent_name", flat=True).first())
        out[entity_id] = name or ""
    return out


def counts(qs: QuerySet[Case]) -> dict[str, Any]:
    """The breakdowns behind the volume tables, straight from a queryset of cases (one GROUP BY each)."""
    return {
        "channel": list(qs.values("channel").annotate(n=Count("id")).order_by("-n", "channel")),
        "category": list(qs.values("category").annotate(n=Count("id")).order_by("-n", "category")),
        "division": list(qs.exclude(division_code="").values("division_code").annotate(n=Count("id"))
                         .order_by("-n", "division_code")[:50]),
        "industry": list(qs.exclude(industry_code="").values("industry_code").annotate(n=Count("id"))
                         .order_by("-n", "industry_code")[:30]),
        "month": list(qs.annotate(m=TruncMonth("received_on")).values("m", "kind").annotate(n=Count("id"))
                      .order_by("m", "kind")),
        "amount": amount_recovered(qs),
        "respondent": top_respondents(qs),
    }


def volumes(c: dict[str, Any]) -> list[Table]:
    """Volume tables by channel, category, division, industry, respondent and month."""
    from jianguan.registry.models import Industry

    tables = [
        Table("channel", "按来源渠道", ["渠道", "件数"],
              [[Case.Channel(r["channel"]).label, r["n"]] for r in c["channel"]]),
        Table("category", "按分类", ["分类", "件数"],
              [[CATEGORY_LABELS.get(r["category"], r["category"]), r["n"]] for r in c["category"]]),
    ]
    names = dict(Division.objects.filter(code__in=[r["division_code"] for r in c["division"]])
                 .values_list("code", "name"))
    tables.append(Table("division", "按区划（县级）", ["区划代码", "区划", "件数"],
                        [[r["division_code"], names.get(r["division_code"], ""), r["n"]] for r in c["division"]]))
    inames = dict(Industry.objects.filter(code__in=[r["industry_code"] for r in c["industry"]])
                  .values_list("code", "name"))
    tables.append(Table("industry", "按行业", ["行业代码", "行业", "件数"],
                        [[r["industry_code"], inames.get(r["industry_code"], ""), r["n"]] for r in c["industry"]]))
    top = c["respondent"]
    rnames = respondent_names([r["entity_id"] for r in top])
    tables.append(Table("respondent", "被投诉（举报）最多的经营者", ["经营者", "件数"],
                        [[rnames.get(r["entity_id"], ""), r["n"]] for r in top]))
    months: dict[str, dict[str, int]] = {}
    for r in c["month"]:
        months.setdefault(r["m"].strftime("%Y-%m"), {})[r["kind"]] = r["n"]
    tables.append(Table("month", "按月", ["月份", "投诉", "举报", "咨询"],
                        [[m, v.get("complaint", 0), v.get("report", 0), v.get("consultation", 0)]
                         for m, v in sorted(months.items())]))
    return tables


def amount_recovered(qs: QuerySet[Case]) -> Decimal:
    return qs.aggregate(s=Sum("amount_recovered"))["s"] or Decimal(0)


def on_time_rates(user: User, date_from: dt.date, date_to: dt.date) -> Table:
    """消费投诉按期办结率 and 举报按期核查率: cases whose deadline fell in the period closed by it ÷ those cases."""
    return on_time_table(figures(user, date_from, date_to)["on_time"])


def on_time_table(agg: dict[str, int]) -> Table:
    rows = []
    for prefix, name, definition in (
        ("c", "消费投诉按期办结率", "期内办结期限届满的投诉中，办结日不晚于期限的件数 ÷ 期内办结期限届满的投诉件数"),
        ("r", "举报按期核查率", "期内核查期限届满的举报中，核查结论日不晚于期限的件数 ÷ 期内核查期限届满的举报件数"),
    ):
        due, ok = agg[f"{prefix}_due"], agg[f"{prefix}_on"]
        rows.append([name, due, ok, round(ok * 100 / due, 1) if due else None, definition])
    return Table("on_time", "按期率", ["指标", "期内到期", "按期", "比率（%）", "定义"], rows)


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    path = dictionary_path()
    if path.exists():
        jieba.load_userdict(str(path))
    return jieba


def hot_words(texts: list[str], top: int = 40) -> list[tuple[str, int]]:
    """Most frequent words (jieba with the domain dictionary), without stop words, digits or single characters."""
    jieba = _jieba()
    counter: Counter[str] = Counter()
    for t in texts:
        for w in jieba.lcut(t):
            w = w.strip()
            if len(w) < 2 or w in STOPWORDS or w.isdigit() or not any("\u4e00" <= ch <= "\u9fff" for ch in w):
                continue
            counter[w] += 1
    return counter.most_common(top)


def similar_clusters(qs: QuerySet[Case], *, respondents: int = 10, threshold: float = 0.6,
                     per_respondent: int = 200, top: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Groups of similar complaints against the same respondent (TF-IDF over jieba words, cosine ≥ threshold)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    jieba = _jieba()
    # Grouped by entity only (an index-only scan on received_on, kind, entity), names fetched for the few kept.
    if top is None:  # `top`: the respondents with most complaints, when the caller has them (from the summary)
        top = [{"entity_id": r["entity_id"], "n": r["n"]} for r in
               qs.filter(kind=Case.Kind.COMPLAINT, entity_id__isnull=False).values("entity_id")
               .annotate(n=Count("id")).order_by("-n", "entity_id")[:respondents]]
    top = [r for r in top[:respondents] if r["n"] >= 2]
    names = respondent_names([r["entity_id"] for r in top])
    out: list[dict[str, Any]] = []
    for r in top:
        r["respondent_name"] = names.get(r["entity_id"], "")
        docs = list(qs.filter(kind=Case.Kind.COMPLAINT, entity_id=r["entity_id"])
                    .order_by("-received_on").values_list("tracking_number", "facts")[:per_respondent])
        if len(docs) < 2:
            continue
        texts = [" ".join(jieba.lcut(f)) for _, f in docs]
        try:
            vectorizer = TfidfVectorizer(token_pattern=r"(?u)\b\w\w+\b")  # noqa: S106
            matrix = vectorizer.fit_transform(texts)
        except ValueError:
            continue
        sim = cosine_similarity(matrix)
        seen: set[int] = set()
        for i in range(len(docs)):
            if i in seen:
                continue
            members = [j for j in range(len(docs)) if j not in seen and sim[i, j] >= threshold]
            if len(members) >= 2:
                seen.update(members)
                out.append({"respondent": r["respondent_name"], "size": len(members),
                            "sample": docs[i][1][:80], "numbers": [docs[j][0] for j in members[:10]]})
    return sorted(out, key=lambda c: -c["size"])[:30]
