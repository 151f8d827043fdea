"""Writes of the credit module: list entries and removals, candidate batches, the sweep, credit repair.

Each public service is one transaction with its audit entries; business refusals raise `CreditError` with a
plain-Chinese message, before anything is written.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import transaction

from jianguan.core.audit import AuditEvent, audit_record, audit_record_many, event_for, snapshot
from jianguan.core.calendar_service import get_calendar
from jianguan.core.models import Unit, User
from jianguan.credit.access import (
    APPROVER_ROLES,
    LIST_ROLES,
    REPAIR_DECIDER_ROLES,
    can_approve_batches,
    can_decide_repairs,
    covers_entity,
)
from jianguan.credit.classification import ClassificationError, classification_run  # noqa: F401  (re-export)
from jianguan.credit.domain.months import add_months, add_years
from jianguan.credit.models import (
    AbnormalCandidate,
    AbnormalCandidateBatch,
    AbnormalListing,
    CreditRepair,
    Penalty,
    SeriousCandidate,
    SeriousListing,
)
from jianguan.credit.rules import lists_rules
from jianguan.registry.models import AnnualReport, Entity

Ground = AbnormalListing.Ground


class CreditError(Exception):
    """A refused credit action; the message is shown to the user as is."""


# --- helpers --------------------------------------------------------------------------------------------------

def _require(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CreditError(f"请填写{what}。")
    return text


def _check_actor(actor: User | None, entity: Entity, roles: tuple[str, ...]) -> None:
    if actor is None:
        return
    from jianguan.core.access import has_role

    if not has_role(actor, *roles):
        raise CreditError("您没有办理此事项的权限。")
    if not covers_entity(actor, entity.division_id):
        raise CreditError(f"市场主体“{entity.name}”（{entity.division_id}）不在您的管辖范围内，不能办理。")


def _acting_unit(actor: User | None, division_code: str) -> Unit:
    if actor is not None and actor.unit is not None:
        return actor.unit
    unit: Unit | None = Unit.objects.filter(division_id=division_code, kind=Unit.Kind.BUREAU,
                                            department__code="samr").first() \
        or Unit.objects.filter(division_id=division_code, kind=Unit.Kind.BUREAU).first()
    if unit is None:
        raise CreditError(f"区划 {division_code} 没有市场监管局单位，无法作出决定。")
    return unit


# --- penalties -----------------------------------------------------------------------------------------------

@transaction.atomic
def penalty_record(entity: Entity, *, decision_number: str, decided_on: dt.date, severity: str,
                   violation: str, unit: Unit, amount: Decimal | int = 0, published_on: dt.date | None = None,
                   actor: User | None = None) -> Penalty:
    """Record an administrative penalty decision (until the enforcement module owns penalties)."""
    decision_number = _require(decision_number, "处罚决定书文号")
    if severity not in Penalty.Severity.values:
        raise CreditError(f"处罚情节应为 {'、'.join(str(x) for x in Penalty.Severity.labels)} 之一。")
    if Penalty.objects.filter(decision_number=decision_number).exists():
        raise CreditError(f"处罚决定书文号 {decision_number} 已存在。")
    penalty = Penalty.objects.create(entity=entity, decision_number=decision_number, decided_on=decided_on,
                                     severity=severity, violation=_require(violation, "违法行为"), unit=unit,
                                     amount=amount, published_on=published_on)
    audit_record(penalty, "credit.penalty_record", actor=actor, after=snapshot(penalty))
    return penalty


# --- 经营异常名录 ----------------------------------------------------------------------------------------------

@transaction.atomic
def abnormal_listing_enter(entity: Entity, *, ground: str, decision_number: str, entered_on: dt.date, reason: str,
                           actor: User | None) -> AbnormalListing:
    """列入经营异常名录 on one of the four grounds, with the decision number and reason."""
    if ground not in Ground.values:
        raise CreditError("请选择列入事由（四种法定情形之一）。")
    decision_number = _require(decision_number, "列入决定书文号")
    reason = _require(reason, "列入理由")
    _check_actor(actor, entity, LIST_ROLES)
    if AbnormalListing.objects.filter(entity=entity, ground=ground, removed_on__isnull=True).exists():
        raise CreditError(f"“{entity.name}”已因“{Ground(ground).label}”列入经营异常名录，尚未移出。")
    listing = AbnormalListing.objects.create(entity=entity, ground=ground, decision_number=decision_number,
                                             entered_on=entered_on, reason=reason,
                                             unit=_acting_unit(actor, entity.division_id))
    audit_record(listing, "credit.abnormal_enter", actor=actor, after=snapshot(listing), reason=reason)
    return listing


def _remove_abnormal(listing: AbnormalListing, removed_on: dt.date, reason: str, decision_number: str,
                     actor: User | None, repaired: bool) -> None:
    before = snapshot(listing)
    listing.removed_on, listing.removal_reason = removed_on, reason
    listing.removal_decision_number, listing.repaired = decision_number, repaired
    listing.save(update_fields=["removed_on", "removal_reason", "removal_decision_number", "repaired"])
    SeriousCandidate.objects.filter(abnormal_listing=listing).exclude(
        status=SeriousCandidate.Status.LISTED).update(status=SeriousCandidate.Status.CLOSED, updated_on=removed_on)
    audit_record(listing, "credit.abnormal_remove", actor=actor, before=before, after=snapshot(listing),
                 reason=reason)


@transaction.atomic
def abnormal_listing_remove(listing: AbnormalListing, *, removed_on: dt.date, reason: str, decision_number: str,
                            actor: User | None) -> AbnormalListing:
    """移出经营异常名录 once the ground is cured; the entry stays in the history."""
    reason = _require(reason, "移出原因")
    decision_number = _require(decision_number, "移出决定书文号")
    listing = AbnormalListing.objects.select_for_update().select_related("entity").get(pk=listing.pk)
    _check_actor(actor, listing.entity, LIST_ROLES)
    if listing.removed_on is not None:
        raise CreditError(f"该记录已于 {listing.removed_on:%Y-%m-%d} 移出。")
    if removed_on < listing.entered_on:
        raise CreditError("移出日期不能早于列入日期。")
    _remove_abnormal(listing, removed_on, reason, decision_number, actor, repaired=False)
    return listing


def _pending_batch(ground: str, division_code: str, today: dt.date, title: str,
                   report_year: int | None = None) -> AbnormalCandidateBatch:
    batch = AbnormalCandidateBatch.objects.filter(ground=ground, division_id=division_code, report_year=report_year,
                                                  status=AbnormalCandidateBatch.Status.PENDING).first()
    if batch is None:
        batch = AbnormalCandidateBatch.objects.create(ground=ground, division_id=division_code,
                                                      report_year=report_year, generated_on=today, title=title)
        audit_record(batch, "credit.abnormal_batch_create", actor=None, after=snapshot(batch))
    return batch


@transaction.atomic
def abnormal_candidate_add(entity: Entity, ground: str, source_ref: str, actor: User | None, *,
                           today: dt.date | None = None) -> AbnormalCandidate | None:
    """Propose an entity for the 经营异常名录 (e.g. an inspection found 无法联系); a section head approves the batch.

    Returns None when the entity is already listed on that ground or already proposed in a pending batch.
    """
    from django.utils import timezone

    if ground not in Ground.values:
        raise CreditError("请选择列入事由（四种法定情形之一）。")
    today = today or timezone.localdate()
    if AbnormalListing.objects.filter(entity=entity, ground=ground, removed_on__isnull=True).exists():
        return None
    title = f"{entity.division_id} {Ground(ground).label} 候选（{today:%Y-%m-%d} 起）"
    batch = _pending_batch(ground, entity.division_id, today, title)
    if batch.candidates.filter(entity=entity).exists():
        return None
    candidate = AbnormalCandidate.objects.create(batch=batch, entity=entity, source_ref=source_ref[:200])
    audit_record(candidate, "credit.abnormal_candidate_add", actor=actor, after=snapshot(candidate))
    return candidate


@transaction.atomic
def abnormal_candidates_generate(year: int, *, as_of: dt.date, actor: User | None) -> list[AbnormalCandidateBatch]:
    """Annual reports for `year` not filed by 30 June of the next year → one pending batch per county."""
    mm, dd = (int(x) for x in lists_rules()["annual_report"]["due_month_day"].split("-"))
    deadline = dt.date(year + 1, mm, dd)
    if as_of <= deadline:
        raise CreditError(f"{year} 年度报告的报送截止日为 {deadline:%Y-%m-%d}，"
                          f"{as_of:%Y-%m-%d} 尚未届满，不能生成候选。")
    filed = AnnualReport.objects.filter(year=year, filed_on__isnull=False, filed_on__lte=as_of).values("entity_id")
    listed = AbnormalListing.objects.filter(ground=Ground.ANNUAL_REPORT, removed_on__isnull=True).values("entity_id")
    proposed = AbnormalCandidate.objects.filter(batch__report_year=year, batch__ground=Ground.ANNUAL_REPORT,
                                                batch__status=AbnormalCandidateBatch.Status.PENDING) \
        .values("entity_id")
    rows = Entity.objects.filter(status__in=[Entity.Status.ACTIVE, Entity.Status.SUSPENDED],
                                 established_on__lte=dt.date(year, 12, 31)) \
        .exclude(pk__in=filed).exclude(pk__in=listed).exclude(pk__in=proposed) \
        .order_by("division_id", "pk").values_list("pk", "division_id")
    by_division: dict[str, list[int]] = defaultdict(list)
    for pk, division in rows.iterator(chunk_size=20_000):
        by_division[division].append(pk)
    batches = []
    for division, ids in by_division.items():
        batch = _pending_batch(Ground.ANNUAL_REPORT, division, as_of,
                               f"{division} {year} 年度年报未按期报送 → 经营异常名录候选", report_year=year)
        AbnormalCandidate.objects.bulk_create(
            [AbnormalCandidate(batch=batch, entity_id=pk,
                               source_ref=f"{year} 年度报告截至 {deadline:%Y-%m-%d} 未报送") for pk in ids],
            batch_size=5000)
        batches.append(batch)
    return batches


@transaction.atomic
def abnormal_batch_decide(batch: AbnormalCandidateBatch, *, approve: bool, decision_number: str,
                          decided_on: dt.date, reason: str, actor: User) -> int:
    """A section head approves (every candidate is listed) or rejects a whole candidate batch."""
    reason = _require(reason, "审批意见")
    if approve:
        decision_number = _require(decision_number, "列入决定书（公告）文号")
    batch = AbnormalCandidateBatch.objects.select_for_update().get(pk=batch.pk)
    if not can_approve_batches(actor):
        raise CreditError("只有科室负责人可以审批候选批次。")
    if not covers_entity(actor, batch.division_id):
        raise CreditError(f"该批次（区划 {batch.division_id}）不在您的管辖范围内，不能审批。")
    if batch.status != AbnormalCandidateBatch.Status.PENDING:
        raise CreditError(f"该批次{batch.get_status_display()}，不能重复审批。")
    before = snapshot(batch, ["status"])
    listed = 0
    if approve:
        unit = _acting_unit(actor, batch.division_id)
        already = set(AbnormalListing.objects.filter(ground=batch.ground, removed_on__isnull=True,
                                                     entity_id__in=batch.candidates.values("entity_id"))
                      .values_list("entity_id", flat=True))
        candidates = [c for c in batch.candidates.select_related("entity") if c.entity_id not in already]
        listings = AbnormalListing.objects.bulk_create([
            AbnormalListing(entity_id=c.entity_id, ground=batch.ground, decision_number=decision_number,
                            entered_on=decided_on, unit=unit, reason=c.source_ref or batch.title)
            for c in candidates], batch_size=5000)
        if listings and listings[0].pk is None:  # backends that do not return ids from bulk inserts
            listings = list(AbnormalListing.objects.filter(decision_number=decision_number, entered_on=decided_on,
                                                           entity_id__in=[c.entity_id for c in candidates]))
        by_entity = {li.entity_id: li for li in listings}
        for c in candidates:
            c.listing = by_entity[c.entity_id]
        AbnormalCandidate.objects.bulk_update(candidates, ["listing"], batch_size=5000)
        audit_record_many([event_for(li, "credit.abnormal_enter", actor=actor, reason=reason,
                                     after={"entity_id": li.entity_id, "ground": li.ground,
                                            "decision_number": li.decision_number, "batch": batch.pk})
                           for li in listings])
        listed = len(listings)
    batch.status = AbnormalCandidateBatch.Status.APPROVED if approve else AbnormalCandidateBatch.Status.REJECTED
    batch.decided_by, batch.decided_on, batch.decision_reason = actor, decided_on, reason
    batch.save(update_fields=["status", "decided_by", "decided_on", "decision_reason"])
    audit_record(batch, "credit.abnormal_batch_decide", actor=actor, before=before,
                 after={"status": batch.status, "listed": listed}, reason=reason)
    return listed


# --- 严重违法失信名单 ------------------------------------------------------------------------------------------

@transaction.atomic
def serious_listing_enter(entity: Entity, *, decision_number: str, entered_on: dt.date, reason: str,
                          actor: User | None, penalty: Penalty | None = None,
                          abnormal_listing: AbnormalListing | None = None) -> SeriousListing:
    """列入严重违法失信名单 following a heavy penalty, or three years on the 经营异常名录 (SAMR Order 44)."""
    decision_number = _require(decision_number, "列入决定书文号")
    reason = _require(reason, "列入理由")
    _check_actor(actor, entity, LIST_ROLES)
    rules = lists_rules()
    if penalty is None and abnormal_listing is None:
        raise CreditError("请选择列入依据：较重行政处罚，或列入经营异常名录届满三年。")
    if penalty is not None:
        if penalty.entity_id != entity.pk:
            raise CreditError("所依据的行政处罚不属于该市场主体。")
        if penalty.severity != Penalty.Severity.HEAVY:
            raise CreditError("列入严重违法失信名单须依据较重（从重）情节的行政处罚。")
    if abnormal_listing is not None:
        years = rules["abnormal"]["serious_after_years"]
        if abnormal_listing.entity_id != entity.pk:
            raise CreditError("所依据的经营异常名录记录不属于该市场主体。")
        if abnormal_listing.removed_on is not None or add_years(abnormal_listing.entered_on, years) > entered_on:
            raise CreditError(f"该主体列入经营异常名录未满 {years} 年或已移出，不能据此列入严重违法失信名单。")
    if SeriousListing.objects.filter(entity=entity, removed_on__isnull=True).exists():
        raise CreditError(f"“{entity.name}”已在严重违法失信名单中。")
    listing = SeriousListing.objects.create(
        entity=entity, basis=penalty, abnormal_listing=abnormal_listing, decision_number=decision_number,
        reason=reason, unit=_acting_unit(actor, entity.division_id), entered_on=entered_on,
        earliest_removal_on=add_years(entered_on, rules["serious"]["early_removal_after_years"]),
        auto_removal_on=add_years(entered_on, rules["serious"]["auto_removal_after_years"]))
    if abnormal_listing is not None:
        SeriousCandidate.objects.filter(abnormal_listing=abnormal_listing).update(
            status=SeriousCandidate.Status.LISTED, updated_on=entered_on)
    audit_record(listing, "credit.serious_enter", actor=actor, after=snapshot(listing), reason=reason)
    return listing


def _remove_serious(listing: SeriousListing, removed_on: dt.date, reason: str, actor: User | None,
                    repaired: bool) -> None:
    before = snapshot(listing)
    listing.removed_on, listing.removal_reason, listing.repaired = removed_on, reason, repaired
    listing.save(update_fields=["removed_on", "removal_reason", "repaired"])
    audit_record(listing, "credit.serious_remove", actor=actor, before=before, after=snapshot(listing),
                 reason=reason)


@transaction.atomic
def serious_listing_remove(listing: SeriousListing, *, removed_on: dt.date, reason: str,
                           actor: User | None) -> SeriousListing:
    """移出严重违法失信名单: early removal only once a year has passed since entry."""
    reason = _require(reason, "移出原因")
    listing = SeriousListing.objects.select_for_update().select_related("entity").get(pk=listing.pk)
    _check_actor(actor, listing.entity, (*APPROVER_ROLES, "leader"))
    if listing.removed_on is not None:
        raise CreditError(f"该记录已于 {listing.removed_on:%Y-%m-%d} 移出。")
    if removed_on < listing.earliest_removal_on:
        raise CreditError(f"列入未满一年，{listing.earliest_removal_on:%Y-%m-%d} 起方可提前移出。")
    _remove_serious(listing, removed_on, reason, actor, repaired=False)
    return listing


@transaction.atomic
def lists_sweep(*, as_of: dt.date, actor: User | None) -> dict[str, int]:
    """Daily sweep: abnormal entries nearing/at 3 years → serious-list candidates; serious entries at 3 years out."""
    rules = lists_rules()
    years = rules["abnormal"]["serious_after_years"]
    warn = dt.timedelta(days=rules["abnormal"]["serious_warning_days"])
    out = {"serious_candidates_warning": 0, "serious_candidates_due": 0, "serious_candidates_closed": 0,
           "serious_auto_removed": 0}
    horizon = add_years(as_of + warn, -years)  # entered on or before this → due within the warning period
    existing = {c.abnormal_listing_id: c for c in SeriousCandidate.objects.filter(
        status__in=[SeriousCandidate.Status.WARNING, SeriousCandidate.Status.DUE])}
    create, update = [], []
    for listing in AbnormalListing.objects.filter(removed_on__isnull=True, entered_on__lte=horizon).iterator():
        due_on = add_years(listing.entered_on, years)
        status = SeriousCandidate.Status.DUE if as_of >= due_on else SeriousCandidate.Status.WARNING
        current = existing.get(listing.pk)
        if current is None:
            if SeriousCandidate.objects.filter(abnormal_listing=listing).exists():
                continue  # listed or closed before
            create.append(SeriousCandidate(abnormal_listing=listing, entity_id=listing.entity_id, due_on=due_on,
                                           status=status, updated_on=as_of))
        elif current.status != status:
            current.status, current.updated_on = status, as_of
            update.append(current)
        else:
            continue
        out["serious_candidates_due" if status == SeriousCandidate.Status.DUE
            else "serious_candidates_warning"] += 1
    SeriousCandidate.objects.bulk_create(create, batch_size=5000)
    SeriousCandidate.objects.bulk_update(update, ["status", "updated_on"], batch_size=5000)
    out["serious_candidates_closed"] = SeriousCandidate.objects.filter(
        status__in=[SeriousCandidate.Status.WARNING, SeriousCandidate.Status.DUE],
        abnormal_listing__removed_on__isnull=False).update(status=SeriousCandidate.Status.CLOSED, updated_on=as_of)
    events: list[AuditEvent] = []
    for serious in SeriousListing.objects.filter(removed_on__isnull=True, auto_removal_on__lte=as_of):
        serious.removed_on, serious.removal_reason = serious.auto_removal_on, "列入严重违法失信名单届满三年，自动移出"
        serious.save(update_fields=["removed_on", "removal_reason"])
        events.append(event_for(serious, "credit.serious_auto_remove", actor=actor,
                                after={"removed_on": serious.auto_removal_on.isoformat()},
                                reason=serious.removal_reason))
        out["serious_auto_removed"] += 1
    audit_record_many(events)
    return out


# --- 信用修复 --------------------------------------------------------------------------------------------------

def _repair_item(entity: Entity, item_type: str, item_id: int | None, item_ref: str) -> tuple[Any, str, dt.date]:
    """The record to repair, its tier and the date its publication started."""
    tiers = lists_rules()["repair"]["item_tiers"]
    T = CreditRepair.ItemType
    if item_type == T.ABNORMAL:
        abnormal = AbnormalListing.objects.filter(pk=item_id or 0, entity=entity).first()
        if abnormal is None or abnormal.removed_on is not None:
            raise CreditError("未找到该主体在经营异常名录中的有效记录。")
        return abnormal, tiers["abnormal"], abnormal.entered_on
    if item_type == T.SERIOUS:
        serious = SeriousListing.objects.filter(pk=item_id or 0, entity=entity).first()
        if serious is None or serious.removed_on is not None:
            raise CreditError("未找到该主体在严重违法失信名单中的有效记录。")
        return serious, tiers["serious"], serious.entered_on
    if item_type == T.PENALTY:
        penalty = Penalty.objects.filter(pk=item_id or 0, entity=entity).first()
        if penalty is None or penalty.public_until is not None:
            raise CreditError("未找到该主体正在公示的行政处罚信息。")
        tier = {"minor": "minor", "general": "general", "heavy": "serious"}[penalty.severity]
        return penalty, tier, penalty.published_on or penalty.decided_on
    if item_type == T.INSPECTION:
        _require(item_ref, "抽查检查结果的文号或编号")
        return None, tiers["inspection"], dt.date.min
    raise CreditError("请选择修复事项。")


@transaction.atomic
def credit_repair_apply(entity: Entity, *, item_type: str, item_id: int | None, statement: str, applied_on: dt.date,
                        applicant_kind: str, actor: User | None = None, item_ref: str = "", contact_name: str = "",
                        contact_phone: str = "") -> CreditRepair:
    """Receive a credit-repair application; the decision is due within 7 working days (SAMR Order 107)."""
    statement = _require(statement, "申请理由及整改情况")
    if actor is not None:
        _check_actor(actor, entity, LIST_ROLES)
    item, tier, shown_since = _repair_item(entity, item_type, item_id, item_ref)
    rules = lists_rules()["repair"]
    waiting_until = add_months(shown_since, rules["tiers"][tier]["min_display_months"]) \
        if shown_since != dt.date.min else applied_on
    if applied_on < waiting_until:
        raise CreditError(f"该信息最短公示期至 {waiting_until:%Y-%m-%d} 届满，届满后方可申请信用修复。")
    ref = item_ref or getattr(item, "decision_number", "")
    if CreditRepair.objects.filter(entity=entity, item_type=item_type, item_id=item_id or 0,
                                   status=CreditRepair.Status.PENDING).exists():
        raise CreditError("该事项已有待审核的信用修复申请，请勿重复提交。")
    repair = CreditRepair.objects.create(
        entity=entity, applicant_kind=applicant_kind, contact_name=contact_name, contact_phone=contact_phone,
        item_type=item_type, item_id=item_id or 0, item_ref=ref, tier=tier, waiting_until=waiting_until,
        statement=statement, applied_on=applied_on, created_by=actor,
        decide_by=get_calendar().add_working_days(applied_on, rules["decide_within_working_days"]))
    audit_record(repair, "credit.repair_apply", actor=actor, after=snapshot(repair))
    return repair


@transaction.atomic
def credit_repair_decide(repair: CreditRepair, *, approve: bool, reason: str, decided_on: dt.date,
                         actor: User) -> CreditRepair:
    """Approve (the public record stops showing the item) or refuse a credit-repair application."""
    reason = _require(reason, "审核意见")
    repair = CreditRepair.objects.select_for_update().select_related("entity").get(pk=repair.pk)
    if not can_decide_repairs(actor):
        raise CreditError("您没有审核信用修复申请的权限。")
    _check_actor(actor, repair.entity, REPAIR_DECIDER_ROLES)
    if repair.status != CreditRepair.Status.PENDING:
        raise CreditError(f"该申请已{repair.get_status_display()}。")
    if decided_on < repair.applied_on:
        raise CreditError("决定日期不能早于申请日期。")
    before = snapshot(repair, ["status"])
    if approve:
        T = CreditRepair.ItemType
        why = f"信用修复：{reason}"
        if repair.item_type == T.ABNORMAL:
            listing = AbnormalListing.objects.select_for_update().get(pk=repair.item_id)
            if listing.removed_on is None:
                _remove_abnormal(listing, decided_on, why, f"信用修复 {repair.pk}", actor, repaired=True)
            else:
                AbnormalListing.objects.filter(pk=listing.pk).update(repaired=True)
        elif repair.item_type == T.SERIOUS:
            serious = SeriousListing.objects.select_for_update().get(pk=repair.item_id)
            if decided_on < serious.earliest_removal_on:
                raise CreditError(f"列入未满一年，{serious.earliest_removal_on:%Y-%m-%d} 起方可提前移出。")
            if serious.removed_on is None:
                _remove_serious(serious, decided_on, why, actor, repaired=True)
        elif repair.item_type == T.PENALTY:
            Penalty.objects.filter(pk=repair.item_id).update(public_until=decided_on)
    repair.status = CreditRepair.Status.APPROVED if approve else CreditRepair.Status.REJECTED
    repair.decided_on, repair.decided_by, repair.decision_reason = decided_on, actor, reason
    repair.save(update_fields=["status", "decided_on", "decided_by", "decision_reason"])
    audit_record(repair, "credit.repair_decide", actor=actor, before=before, after=snapshot(repair, ["status"]),
                 reason=reason)
    return repair
