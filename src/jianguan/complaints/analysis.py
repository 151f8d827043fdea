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

from jianguan.complaints.access import case_scope_q
from jianguan.complaints.domain.categories import CATEGORY_LABELS
from jianguan.complaints.models import Case
from jianguan.complaints.rules import dictionary_path
from jianguan.core.models import Division, User

STOPWORDS = set("""
    的 了 是 在 我 有 和 就 不 人 都 一 一个 上 也 很 到 说 要 去 你 会 着 没有 看 好 自己 这 他 她 它 们 那 与 及 并 但 对 把
    被 让 给 从 向 于 等 后 时 已 还 又 再 该 其 此 要求 进行 问题 情况 反映 表示 称 无法 没 多 个 号 年 月 日 元 次 后来 现在
    目前 因为 所以 如果 然后 之后 时候 这个 那个 什么 怎么 可以 已经 以及 为 中 内 请 请求 希望 市民 来电 消费者 商家 经营者 投诉 举报
    人员 工作 联系 处理 相关 部门
""".split())


def scoped_cases(user: User, date_from: dt.date, date_to: dt.date, kind: str | None = None) -> QuerySet[Case]:
    qs = Case.objects.filter(case_scope_q(user), received_on__gte=date_from, received_on__lte=date_to)
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


def _counts_orm(qs: QuerySet[Case]) -> dict[str, Any]:
    return {
        "channel": list(qs.values("channel").annotate(n=Count("id")).order_by("-n")),
        "category": list(qs.values("category").annotate(n=Count("id")).order_by("-n")),
        "division": list(qs.exclude(division_code="").values("division_code").annotate(n=Count("id"))
                         .order_by("-n")[:50]),
        "industry": list(qs.exclude(industry_code="").values("industry_code").annotate(n=Count("id"))
                         .order_by("-n")[:30]),
        "month": list(qs.annotate(m=TruncMonth("received_on")).values("m", "kind").annotate(n=Count("id"))
                      .order_by("m")),
        "amount": amount_recovered(qs),
    }


def counts(qs: QuerySet[Case]) -> dict[str, Any]:
    """The breakdowns behind the volume tables (one GROUP BY each)."""
    return _counts_orm(qs)


def volumes(qs: QuerySet[Case], c: dict[str, Any] | None = None) -> list[Table]:
    """Volume tables by channel, category, division, industry, respondent and month."""
    from jianguan.registry.models import Industry

    c = c if c is not None else counts(qs)
    tables = [
        Table("channel", "按来源渠道", ["渠道", "件数"], [[Case.Channel(r["channel"]).label, r["n"]] for r in c["channel"]]),
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
    by_resp = (qs.exclude(kind=Case.Kind.CONSULTATION).exclude(entity_id__isnull=True).values("entity_id")
               .annotate(n=Count("id")).order_by("-n")[:20])
    top = list(by_resp)
    rnames = dict(Case.objects.filter(entity_id__in=[r["entity_id"] for r in top]).values_list("entity_id",
                                                                                                "respondent_name"))
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
    base = Case.objects.filter(case_scope_q(user), final_due__gte=date_from, final_due__lte=date_to,
                               kind__in=[Case.Kind.COMPLAINT, Case.Kind.REPORT])
    on_time = Q(closed_on__isnull=False, closed_on__lte=F("final_due"))
    agg = base.aggregate(
        c_due=Count("id", filter=Q(kind=Case.Kind.COMPLAINT)),
        c_on=Count("id", filter=Q(kind=Case.Kind.COMPLAINT) & on_time),
        r_due=Count("id", filter=Q(kind=Case.Kind.REPORT)),
        r_on=Count("id", filter=Q(kind=Case.Kind.REPORT) & on_time))
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
                     per_respondent: int = 200) -> list[dict[str, Any]]:
    """Groups of similar complaints against the same respondent (TF-IDF over jieba words, cosine ≥ threshold)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity

    jieba = _jieba()
    top = list(qs.filter(kind=Case.Kind.COMPLAINT).exclude(entity_id__isnull=True).values("entity_id", "respondent_name")
               .annotate(n=Count("id")).filter(n__gte=2).order_by("-n")[:respondents])
    out: list[dict[str, Any]] = []
    for r in top:
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
