"""Synthetic credit history (`jianguan synth` step): penalties, 经营异常名录 entries for missing annual reports and
for unreachable entities, serious-list entries after heavy penalties, and a few pending repair applications.

Deterministic for a seed (own random stream per step). With `ctx.load` rows go to the database in bulk; without,
penalties are written to `penalties.parquet` (list entries need the database's annual reports).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl

from jianguan.credit.domain.months import add_years

PENALTY_RATE_PER_YEAR = 0.005
SEVERITIES = np.array(["minor", "general", "heavy"])
SEVERITY_P = [0.3, 0.6, 0.1]
SERIOUS_SHARE_OF_HEAVY = 0.3
VIOLATIONS = ["销售过期食品", "未按规定公示营业执照", "虚假宣传", "销售不合格产品", "无证经营", "价格违法",
              "特种设备未按期检验", "侵犯注册商标专用权"]


def _bureaus() -> dict[str, int]:
    from jianguan.core.models import Unit

    return dict(Unit.objects.filter(kind=Unit.Kind.BUREAU).values_list("division_id", "pk"))


def _unit_for(division: str, bureaus: dict[str, int]) -> int | None:
    for code in (division, division[:4] + "00", division[:2] + "0000"):
        if code in bureaus:
            return bureaus[code]
    return None


def _penalties(ctx: Any, operating: pl.DataFrame) -> pl.DataFrame:
    rng = ctx.rng("credit.penalties")
    n = operating.height
    years = 3
    picked = rng.random(n) < PENALTY_RATE_PER_YEAR * years
    chosen = operating.filter(pl.Series(picked))
    k = chosen.height
    start = add_years(ctx.today, -years)
    span = (ctx.today - start).days
    decided = np.datetime64(start) + rng.integers(1, span, k).astype("timedelta64[D]")
    return chosen.select(pl.col("id").alias("entity_id"), pl.col("division")).with_columns(
        pl.Series("decided_on", decided).cast(pl.Date),
        pl.Series("severity", SEVERITIES[rng.choice(3, size=k, p=SEVERITY_P)]),
        pl.Series("amount", rng.integers(1, 200, k) * 500),
        pl.Series("violation", np.array(VIOLATIONS)[rng.integers(0, len(VIOLATIONS), k)]),
    ).with_columns(
        pl.format("{}市监罚〔{}〕{}号", pl.col("division"), pl.col("decided_on").dt.year(),
                  pl.int_range(1, k + 1)).alias("decision_number"),
        (pl.col("decided_on") + pl.duration(days=7)).alias("published_on"),
    ).filter(pl.col("decided_on") < ctx.today)


def generate(ctx: Any) -> None:
    """信用历史：行政处罚、经营异常名录、严重违法失信名单、信用修复申请"""
    if ctx.entities.height == 0:
        return
    operating = ctx.entities.filter(pl.col("status").is_in(["active", "suspended"]))
    penalties = _penalties(ctx, operating)
    if not ctx.load:
        assert ctx.out_dir is not None
        penalties.write_parquet(ctx.out_dir / "penalties.parquet")
        ctx.say(f"行政处罚 {penalties.height} 条（Parquet；名录记录需 --load）")
        return
    _load(ctx, operating, penalties)


def _load(ctx: Any, operating: pl.DataFrame, penalties: pl.DataFrame) -> None:
    from django.db import transaction
    from django.db.models import Exists, OuterRef

    from jianguan.core.audit import AuditEvent, audit_record_many
    from jianguan.core.calendar_service import get_calendar
    from jianguan.credit.models import AbnormalListing, CreditRepair, Penalty, SeriousListing
    from jianguan.registry.models import AnnualReport, Entity

    bureaus = _bureaus()
    if not bureaus:
        ctx.say("没有市场监管局单位，跳过信用历史（请先运行 jianguan org bootstrap）")
        return
    rng = ctx.rng("credit.lists")
    today = ctx.today
    counts: dict[str, int] = {}
    with transaction.atomic():
        rows = [Penalty(entity_id=r["entity_id"], decision_number=r["decision_number"], decided_on=r["decided_on"],
                        severity=r["severity"], amount=r["amount"], violation=r["violation"],
                        unit_id=_unit_for(r["division"], bureaus) or 0, published_on=r["published_on"])
                for r in penalties.iter_rows(named=True) if _unit_for(r["division"], bureaus)]
        created = Penalty.objects.bulk_create(rows, batch_size=5000)
        counts["penalties"] = len(created)

        # Heavy penalties → the serious list (some), entered two weeks after the decision.
        # From the rows just written (their ids came back): a filter on millions of entity ids would be one
        # statement larger than PostgreSQL accepts at province scale.
        created.sort(key=lambda p: p.pk)
        heavy = [p for p in created if p.severity == "heavy"]
        serious = []
        for p in heavy:
            if rng.random() >= SERIOUS_SHARE_OF_HEAVY:
                continue
            entered = p.decided_on + dt.timedelta(days=14)
            if entered >= today:
                continue
            serious.append(SeriousListing(
                entity_id=p.entity_id, basis=p, decision_number=p.decision_number.replace("罚", "严"),
                reason=f"因{p.violation}受到较重行政处罚", unit_id=p.unit_id, entered_on=entered,
                earliest_removal_on=add_years(entered, 1), auto_removal_on=add_years(entered, 3)))
        SeriousListing.objects.bulk_create(serious, batch_size=5000)
        counts["serious"] = len(serious)

        # Annual reports missing after 30 June → listed in July; older years partly removed after a late filing.
        abnormal = []
        last_year = today.year - 1 if today > dt.date(today.year, 6, 30) else today.year - 2
        for year in (last_year - 1, last_year):
            # NOT EXISTS (an anti-join), not NOT IN: PostgreSQL re-scans a NOT IN subquery per row once it no
            # longer fits in memory, which never finishes at province scale.
            filed = AnnualReport.objects.filter(entity_id=OuterRef("pk"), year=year, filed_on__isnull=False)
            missing = list(Entity.objects.filter(division_id__in=ctx.divisions, status__in=["active", "suspended"],
                                                 established_on__lte=dt.date(year, 12, 31))
                           .filter(~Exists(filed)).values_list("pk", "division_id"))
            entered = dt.date(year + 1, 7, 10)
            for pk, division in missing:
                unit = _unit_for(division, bureaus)
                if unit is None:
                    continue
                removed = year < last_year and rng.random() < 0.6
                abnormal.append(AbnormalListing(
                    entity_id=pk, ground="annual_report", decision_number=f"{division}市监异〔{year + 1}〕{pk}号",
                    entered_on=entered, unit_id=unit, reason=f"未按规定期限公示{year}年度报告",
                    removed_on=entered + dt.timedelta(days=int(rng.integers(20, 300))) if removed else None,
                    removal_reason="已补报年度报告并申请移出" if removed else "",
                    removal_decision_number=f"{division}市监移〔{year + 1}〕{pk}号" if removed else ""))
        # Unreachable at the registered address (the synthetic world's hidden truth), found by an inspection.
        from jianguan.synth.truth import unreachable_mask

        mask = unreachable_mask(operating["uscc"].to_numpy(), ctx.seed)
        found = operating.filter(pl.Series(mask) & pl.Series(rng.random(operating.height) < 0.25))
        for r in found.iter_rows(named=True):
            unit = _unit_for(r["division"], bureaus)
            if unit is None:
                continue
            entered = today - dt.timedelta(days=int(rng.integers(10, 700)))
            abnormal.append(AbnormalListing(
                entity_id=r["id"], ground="unreachable",
                decision_number=f"{r['division']}市监异〔{entered.year}〕U{r['id']}号",
                entered_on=entered, unit_id=unit, reason="双随机抽查：通过登记的住所或者经营场所无法联系"))
        AbnormalListing.objects.bulk_create(abnormal, batch_size=5000)
        counts["abnormal"] = len(abnormal)

        # A few pending repair applications for general penalties published more than 3 months ago.
        calendar = get_calendar()
        window = (today - dt.timedelta(days=300), today - dt.timedelta(days=100))
        candidates = [p for p in created if p.severity == "general" and p.published_on is not None
                      and window[0] <= p.published_on <= window[1]][:40]
        repairs = []
        for i, p in enumerate(candidates[:: max(1, len(candidates) // 12)]):
            applied = calendar.add_working_days(today - dt.timedelta(days=12), 0) - dt.timedelta(days=i % 8)
            repairs.append(CreditRepair(
                entity_id=p.entity_id, applicant_kind="enterprise", contact_name="企业联系人",
                contact_phone="13800000000", item_type="penalty", item_id=p.pk, item_ref=p.decision_number,
                tier="general", waiting_until=(p.published_on or p.decided_on) + dt.timedelta(days=92),
                statement="已按期缴纳罚款，违法行为已改正，申请停止公示。", applied_on=applied,
                decide_by=calendar.add_working_days(applied, 7)))
        CreditRepair.objects.bulk_create(repairs)
        counts["repairs"] = len(repairs)
        audit_record_many([AuditEvent(action="credit.synth_load", object_type="credit.synth",
                                      object_id=f"seed-{ctx.seed}", object_repr="合成信用历史",
                                      after={**counts, "divisions": list(ctx.divisions), "today": today.isoformat()})])
    ctx.say("信用历史：" + "，".join(f"{k} {v}" for k, v in counts.items()))
