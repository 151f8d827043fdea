"""Writes for complaints and reports: intake, dispatch, acceptance, mediation, verification — one transaction each.

Deadlines are computed by `domain.clock` and written only here; they change only through a pause or an approved
extension, both audited.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, models, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from jianguan.complaints import access
from jianguan.complaints.access import NotAllowed
from jianguan.complaints.domain import clock
from jianguan.complaints.domain.categories import CATEGORY_LABELS, suggest_category
from jianguan.complaints.domain.flags import PriorSubmission, detect_flags
from jianguan.complaints.domain.routing import RespondentFacts, UnitRef, route
from jianguan.complaints.domain.text import normalise_phone, phone_error
from jianguan.complaints.models import Attachment, Case, Extension, Flag, MediationSession, Pause
from jianguan.complaints.rules import flag_rules, get_ruleset, get_rulesets, intake_rules
from jianguan.core.audit import AuditEvent, audit_record, audit_record_many, event_for, snapshot
from jianguan.core.calendar_service import get_calendar
from jianguan.core.db import execute, fast_cursor, insert_rows, quoted_table
from jianguan.core.domain.calendar import CalendarYearMissing
from jianguan.core.models import Department, Division, Unit, User
from jianguan.registry.domain.uscc import normalize_uscc, validate_uscc
from jianguan.registry.models import Entity

logger = logging.getLogger(__name__)

KIND_PREFIX = {"complaint": "T", "report": "J", "consultation": "Z"}
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


class IntakeError(Exception):
    """Input that cannot be registered; `errors` maps a field to its Chinese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("；".join(f"{k}：{v}" for k, v in errors.items()))


class WorkflowError(Exception):
    """An action that the case's current state does not allow."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class IntakeData:
    """What a clerk, the portal or an API client submits (art. 10 fields)."""

    kind: str
    channel: str
    received_at: dt.datetime
    facts: str
    complainant_name: str = ""
    complainant_phone: str = ""
    complainant_address: str = ""
    respondent_name: str = ""
    respondent_address: str = ""
    respondent_uscc: str = ""
    request: str = ""
    category: str = ""
    quantity: int | None = None
    amount_claimed: Decimal | None = None
    report_facts: str = ""  # art. 9: the report part of a mixed submission
    external_ref: str = ""  # e.g. the 12345 hotline ticket number
    answer: str = ""  # art. 44: how a consultation was answered / which channel to use
    attachments: Sequence[UploadedFile] = field(default_factory=tuple)


def today_local(now: dt.datetime | None = None) -> dt.date:
    return clock.local_date(now or timezone.now())


# --- validation --------------------------------------------------------------------------------------------


def _division_exists(code: str) -> bool:
    return bool(_cached(("division", code), lambda: Division.objects.filter(code=code).exists()))


def validate_intake(data: IntakeData, *, now: dt.datetime | None = None) -> tuple[dict[str, str], Entity | None]:
    """Every problem with the submission, as {field: Chinese message}, and the registry entity if found."""
    errors: dict[str, str] = {}
    now = now or timezone.now()
    if data.kind not in KIND_PREFIX:
        errors["kind"] = "类型应为 投诉（complaint）、举报（report）或 咨询（consultation）"
    if data.channel not in Case.Channel.values:
        errors["channel"] = "来源渠道无效"
    if data.received_at is None or data.received_at.tzinfo is None:
        errors["received_at"] = "请填写收到时间（含时区，例如 2026-09-30T10:00:00+08:00）"
    elif data.received_at > now + FUTURE_TOLERANCE:
        errors["received_at"] = "收到时间不能晚于当前时间"
    if not (data.facts or "").strip():
        errors["facts"] = ("请填写消费者权益争议的事实依据（第十条）" if data.kind == "complaint"
                           else "请填写具体内容和事实依据")
    complaint = data.kind == "complaint"
    if complaint:
        if not data.complainant_name.strip():
            errors["complainant_name"] = "请填写投诉人真实姓名（第十条）"
        if not data.complainant_address.strip():
            errors["complainant_address"] = "请填写投诉人通讯地址（第十条）"
        if not data.request.strip():
            errors["request"] = "请填写具体的投诉请求（第十条）"
        if not data.respondent_address.strip() and not data.respondent_uscc.strip():
            errors["respondent_address"] = "请填写被投诉人地址（第十条）"
    if complaint or data.complainant_phone.strip():
        problem = phone_error(data.complainant_phone)
        if problem:
            errors["complainant_phone"] = problem
    if data.kind in ("complaint", "report") and not data.respondent_name.strip() and not data.respondent_uscc.strip():
        errors["respondent_name"] = "请填写被投诉（举报）人名称（第十条）"
    if data.quantity is not None and data.quantity < 0:
        errors["quantity"] = "购买数量不能为负数"
    entity = None
    uscc = normalize_uscc(data.respondent_uscc or "")
    if uscc:
        problems = validate_uscc(uscc, _division_exists)
        if problems:
            errors["respondent_uscc"] = f"统一社会信用代码无效：{problems[0].message}"
        else:
            found = _entities_where("uscc", uscc, 1)
            entity = found[0] if found else None
            if entity is None:
                errors["respondent_uscc"] = (f"统一社会信用代码 {uscc} 在市场主体名录中不存在，"
                                             "请核对或留空后按名称、地址登记")
    elif data.respondent_name.strip():
        entity = _entity_by_name(data.respondent_name.strip(), data.respondent_address.strip())
    errors.update(validate_attachments(data.attachments))
    return errors, entity


def validate_attachments(files: Sequence[UploadedFile]) -> dict[str, str]:
    cfg = intake_rules()["attachments"]
    allowed = {e.lower() for e in cfg["allowed_extensions"]}
    if len(files) > int(cfg["max_files"]):
        return {"attachments": f"附件最多 {cfg['max_files']} 个"}
    for f in files:
        ext = Path(f.name or "").suffix.lower().lstrip(".")
        if ext not in allowed:
            return {"attachments": f"附件“{f.name}”的类型不允许上传，仅支持：{'、'.join(sorted(allowed))}"}
        if (f.size or 0) > int(cfg["max_bytes"]):
            return {"attachments": f"附件“{f.name}”超过 {int(cfg['max_bytes']) // 1024 // 1024} MB，请压缩后再上传"}
    return {}


# What intake reads of a registry entity. Every submission looks its respondent up, so the query is written once
# here instead of being compiled by the ORM each time (≈ 1 ms of CPU a submission); the instances are deferred:
# any other field is loaded on access. `Model.from_db` wants them in the model's field order.
_ENTITY_FIELDS = tuple(f.attname for f in Entity._meta.concrete_fields if f.attname in {
    "id", "uscc", "name", "division_id", "street", "address", "industry_id", "is_ecommerce_platform", "odr_enabled"})
_ENTITY_BOOLEANS = tuple(_ENTITY_FIELDS.index(f) for f in ("is_ecommerce_platform", "odr_enabled"))


def quoted_column(model: type[models.Model], name: str | None = None) -> str:
    """The quoted column of a model field, or of its primary key, for the few statements intake writes itself."""
    field = model._meta.pk if name is None else model._meta.get_field(name)
    column = getattr(field, "column", None)
    if not isinstance(column, str):
        raise TypeError(f"{model.__name__}.{name} has no column")
    return connection.ops.quote_name(column)


_ENTITY_SQL: dict[tuple[str, str], str] = {}


def _entities_where(field_name: str, value: str, limit: int) -> list[Entity]:
    """Entities whose `field_name` (uscc or name, both indexed) equals `value`, at most `limit`, by id."""
    key = (field_name, connection.vendor)
    sql = _ENTITY_SQL.get(key)
    if sql is None:
        columns = ", ".join(quoted_column(Entity, f) for f in _ENTITY_FIELDS)
        sql = _ENTITY_SQL[key] = (
            f"SELECT {columns} FROM {quoted_table(Entity)} "  # noqa: S608 — identifiers from the model, values bound
            f"WHERE {quoted_column(Entity, field_name)} = %s ORDER BY {quoted_column(Entity)} LIMIT %s")
    with fast_cursor() as cur:
        execute(cur, sql, [value, limit])
        rows = cur.fetchall()
    out = []
    for row in rows:
        values = list(row)
        for i in _ENTITY_BOOLEANS:
            values[i] = bool(values[i])
        out.append(Entity.from_db(connection.alias, _ENTITY_FIELDS, values))
    return out


def _entity_by_name(name: str, address: str) -> Entity | None:
    """Art. 10 gives name and address: an exact name match, disambiguated by the address when needed."""
    matches = _entities_where("name", name, 5)
    if len(matches) == 1:
        return matches[0]
    if address:
        for e in matches:
            if e.address and (e.address in address or address in e.address):
                return e
    return None


# --- routing -----------------------------------------------------------------------------------------------


# Units and routing tables change rarely (an administrator edits the organisation); intake reads them for every
# submission. Outside a transaction they are cached per process for UNIT_CACHE_SECONDS and dropped at once when a
# unit or department is saved in this process; inside a transaction (imports, tests) they are always read fresh.
UNIT_CACHE_SECONDS = 60.0
_unit_cache: dict[tuple[str, ...], tuple[float, Any]] = {}


def _cached(key: tuple[str, ...], load: Callable[[], Any]) -> Any:
    if connection.in_atomic_block:
        return load()
    now = time.monotonic()
    hit = _unit_cache.get(key)
    if hit is not None and now - hit[0] < UNIT_CACHE_SECONDS:
        return hit[1]
    value = load()
    _unit_cache[key] = (now, value)
    return value


def clear_unit_cache(**_kwargs: Any) -> None:
    _unit_cache.clear()


for _model in (Unit, Department):
    post_save.connect(clear_unit_cache, sender=_model, dispatch_uid=f"complaints-intake-units-{_model.__name__}")
    post_delete.connect(clear_unit_cache, sender=_model, dispatch_uid=f"complaints-intake-units-d-{_model.__name__}")


@lru_cache(maxsize=1)
def _station_towns() -> dict[str, tuple[str, ...]]:
    path = Path(settings.JIANGUAN_RULES_DIR) / "organisation" / "stations.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    out: dict[str, tuple[str, ...]] = {}
    for county, stations in (raw or {}).get("counties", {}).items():
        for st in stations:
            out[f"{county}-station-{st['name']}"] = tuple(st.get("towns", ()))
    return out


def routing_units(county: str) -> list[UnitRef]:
    def load() -> list[UnitRef]:
        towns = _station_towns()
        units = Unit.objects.filter(division_id=county, kind__in=(Unit.Kind.BUREAU, Unit.Kind.STATION),
                                    department__is_market_regulation=True).values_list("code", "division_id", "kind")
        return [UnitRef(code=c, division=d, kind=k, towns=towns.get(c, ())) for c, d, k in units]

    return list(_cached(("routing", county), load))


def _unit_by_code(code: str) -> Unit | None:
    return _cached(("unit", code), lambda: Unit.objects.filter(code=code).first())


def suggest_unit(kind: str, entity: Entity | None) -> tuple[Unit | None, str]:
    """The unit routing suggests for a respondent (arts. 13, 29-31) and why."""
    if entity is None:
        r = route(kind, RespondentFacts(division=None), [])
    else:
        facts = RespondentFacts(division=entity.division_id, street=entity.street,
                                is_ecommerce_platform=entity.is_ecommerce_platform)
        r = route(kind, facts, routing_units(entity.division_id))
    unit = _unit_by_code(r.unit_code) if r.unit_code else None
    return unit, f"{r.article}：{r.explanation}"


# --- clock -------------------------------------------------------------------------------------------------


def _pauses(case: Case, period: str) -> list[clock.Pause]:
    if case.pk is None:
        return []
    return [clock.Pause(x.start, x.end, x.reason) for x in case.pauses.filter(period=period)]


def _refresh_clock(case: Case, today: dt.date) -> None:
    """Recompute the stored deadlines from their start dates, pauses and approved extensions."""
    cal = get_calendar()
    rule = get_ruleset(case.rule_code)
    case.clock_note = ""
    try:
        if case.kind == Case.Kind.COMPLAINT:
            p = clock.compute_period(rule.period("accept"), case.received_on, cal, warn_ratio=rule.warn_ratio)
            case.accept_due, case.accept_warn = p.due, p.warn_on
            case.next_due, case.next_warn, case.final_due = p.due, p.warn_on, p.due
            if case.accepted_on:
                pauses = _pauses(case, "mediation")
                m = clock.compute_period(rule.period("mediation"), case.accepted_on, cal, warn_ratio=rule.warn_ratio,
                                         pauses=pauses, today=today)
                case.mediation_due, case.mediation_warn = m.due, m.warn_on
                case.next_due, case.next_warn, case.final_due = m.due, m.warn_on, m.due
            if case.status == Case.Status.TERMINATED or case.result == Case.Result.TERMINATED:
                case.next_due = case.final_due = case.notice_due
                case.next_warn = case.notice_due
        elif case.kind == Case.Kind.REPORT:
            start = case.verify_start or case.received_on
            pauses = _pauses(case, "verify")
            exts = [] if case.pk is None else [
                clock.Extension(x.days, x.reason)
                for x in case.extensions.filter(period="verify", status=Extension.Status.APPROVED)]
            p = clock.compute_period(rule.period("verify"), start, cal, warn_ratio=rule.warn_ratio, pauses=pauses,
                                     extensions=exts, today=today)
            case.verify_due, case.verify_warn = p.due, p.warn_on
            case.next_due, case.next_warn, case.final_due = p.due, p.warn_on, p.due
        else:
            case.next_due = case.next_warn = case.final_due = None
    except CalendarYearMissing as exc:
        case.clock_note = f"工作日历缺少 {exc.year} 年数据，期限暂无法计算，请管理员补充 rules/calendar/{exc.year}.yaml"
        case.next_due = case.next_warn = None
    if case.status == Case.Status.CLOSED:
        case.next_due = case.next_warn = None


CLOCK_FIELDS = ["accept_due", "accept_warn", "odr_due", "accepted_on", "mediation_due", "mediation_warn", "notice_due",
                "verify_start", "verify_due", "verify_warn", "paused_since", "next_due", "next_warn", "final_due",
                "clock_note"]


def _deadlines_snapshot(case: Case) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k in CLOCK_FIELDS
            if (v := getattr(case, k)) not in (None, "")}


def case_deadlines(kind: str, received_at: dt.datetime, *, odr: bool = False) -> clock.Deadlines:
    """The deadlines a submission received at `received_at` gets (the CLI and the API use this)."""
    return clock.intake_deadlines(kind, received_at, get_rulesets(), get_calendar(), odr=odr)


# --- intake ------------------------------------------------------------------------------------------------


def _tracking_number(kind: str, day: dt.date) -> str:
    return f"{KIND_PREFIX[kind]}{day:%Y%m%d}{secrets.randbelow(10**8):08d}"


def _audit_after(case: Case) -> dict[str, Any]:
    # Identity fields are deliberately left out of the audit trail (art. 37).
    out = {"tracking_number": case.tracking_number, "kind": case.kind, "channel": case.channel,
           "received_at": case.received_at.isoformat(), "respondent_name": case.respondent_name,
           "entity_id": case.entity_id, "category": case.category, "rule_code": case.rule_code,
           "intake_unit_id": case.intake_unit_id, "status": case.status}
    out.update(_deadlines_snapshot(case))
    return out


def _intake_unit_for(actor: User | None, entity: Entity | None) -> Unit:
    if actor is not None and actor.unit_id is not None:
        return _cached(("unit-id", str(actor.unit_id)), lambda: actor.unit)
    if entity is not None:
        city = entity.division_id[:4] + "00"
        unit = _cached(("intake", city),
                       lambda: Unit.objects.filter(kind=Unit.Kind.INTAKE, division_id=city).first())
        if unit:
            return unit
    unit = Unit.objects.filter(kind=Unit.Kind.INTAKE).order_by("path").first() or Unit.objects.order_by("path").first()
    if unit is None:
        raise IntakeError({"intake_unit": "系统尚未建立登记机构（12315投诉举报中心），无法登记"})
    return unit


def _build_case(data: IntakeData, kind: str, facts: str, entity: Entity | None, intake_unit: Unit,
                actor: User | None) -> Case:
    received_on = clock.local_date(data.received_at)
    rule = clock.ruleset_for(get_rulesets(), data.received_at)
    suggestion = suggest_category(f"{facts} {data.request}")
    case = Case(
        kind=kind, channel=data.channel, received_at=data.received_at, received_on=received_on, rule_code=rule.code,
        complainant_name=data.complainant_name.strip(), complainant_phone=normalise_phone(data.complainant_phone),
        complainant_address=data.complainant_address.strip(),
        respondent_name=(data.respondent_name.strip() or (entity.name if entity else ""))[:200],
        respondent_address=(data.respondent_address.strip() or (entity.address if entity else ""))[:255],
        respondent_uscc=entity.uscc if entity else "", entity=entity,
        division_code=entity.division_id if entity else "", industry_code=entity.industry_id if entity else "",
        request=data.request.strip() if kind == "complaint" else "", facts=facts.strip(),
        category=data.category if data.category in CATEGORY_LABELS else suggestion.code,
        category_suggested=suggestion.code, quantity=data.quantity, amount_claimed=data.amount_claimed,
        intake_unit=intake_unit, external_ref=data.external_ref[:64],
        created_by=actor if actor is not None and actor.pk else None,
    )
    if kind == Case.Kind.CONSULTATION:
        case.status, case.result = Case.Status.CLOSED, Case.Result.ANSWERED
        case.decision_text = data.answer.strip() or "本件属于咨询，已告知通过相应途径提出（第四十四条）"
        case.closed_at, case.closed_on = timezone.now(), today_local()
        case.respondent_name = case.respondent_name or "—"
    else:
        unit, note = suggest_unit(kind, entity)
        case.suggested_unit_code, case.routing_note = (unit.code if unit else ""), note[:255]
        if kind == Case.Kind.COMPLAINT and entity is not None and entity.odr_enabled:
            try:
                cal = get_calendar()
                case.odr_due = clock.compute_period(rule.period("odr"), received_on, cal,
                                                    warn_ratio=rule.warn_ratio).due
            except CalendarYearMissing:
                case.odr_due = None
    _refresh_clock(case, received_on)
    return case


def _respondent_key(entity_id: int | None, name: str) -> str:
    return f"e{entity_id}" if entity_id else f"n{name}"


def _complaints_sharing_contact(phones: set[str], addresses: set[str], since: dt.date, until: dt.date,
                                limit: int) -> list[tuple[Any, ...]]:
    """Complaints received in [since, until] with one of the phones or addresses, newest first.

    Each branch is answered by its (phone|address, received_on) index. The case kind is checked here, not in SQL:
    with `kind = 'complaint'` in the statement PostgreSQL, misled by statistics that lag behind the newest
    `received_on` dates, chose the (kind, received_on) index and filtered every recent complaint (9 ms of server
    CPU per intake on 23,000 cases). Written once here rather than compiled by the ORM at every intake.
    """
    def col(name: str) -> str:
        return quoted_column(Case, name)

    wanted = ("tracking_number", "received_on", "complainant_name", "complainant_phone", "complainant_address",
              "entity", "respondent_name", "kind")
    branches: list[str] = []
    params: list[Any] = []
    for name, values in (("complainant_phone", sorted(phones)), ("complainant_address", sorted(addresses))):
        if values:
            branches.append(f"({col(name)} IN ({', '.join(['%s'] * len(values))}) "
                            f"AND {col('received_on')} >= %s AND {col('received_on')} <= %s)")
            params.extend([*values, since.isoformat(), until.isoformat()])
    sql = (f"SELECT {', '.join(col(n) for n in wanted)} FROM {quoted_table(Case)} "  # noqa: S608 — model names
           f"WHERE {' OR '.join(branches)} ORDER BY {col('received_at')} DESC, {quoted_column(Case)} DESC LIMIT %s")
    with connection.cursor() as cur:
        cur.execute(sql, [*params, limit])
        rows = cur.fetchall()
    # SQLite hands dates back as text
    return [(t, dt.date.fromisoformat(r) if isinstance(r, str) else r, *rest)
            for t, r, *rest, kind in rows if kind == Case.Kind.COMPLAINT]


def _flags_for_batch(cases: Sequence[Case]) -> dict[int, list[Flag]]:
    """Art. 17 flags of unsaved cases (keyed by position): one query for the whole batch.

    Each complaint is compared with the earlier complaints in the database sharing its phone or address within the
    window, and with the cases before it in the batch — exactly what registering them one by one would find.
    """
    complaints = [(i, c) for i, c in enumerate(cases) if c.kind == Case.Kind.COMPLAINT]
    if not complaints:
        return {}
    rules = flag_rules()
    window = dt.timedelta(days=max(int(rules["same_person_same_operator"]["window_days"]),
                                   int(rules["shared_contact"]["window_days"])))
    phones = {c.complainant_phone for _i, c in complaints if c.complainant_phone}
    addresses = {c.complainant_address for _i, c in complaints if c.complainant_address}
    found_rows: list[PriorSubmission] = []
    if phones or addresses:
        rows = _complaints_sharing_contact(phones, addresses, min(c.received_on for _i, c in complaints) - window,
                                           max(c.received_on for _i, c in complaints), 500 * len(complaints))
        found_rows = [PriorSubmission(t, r, n, p, a, _respondent_key(e, rn)) for t, r, n, p, a, e, rn in rows]
    out: dict[int, list[Flag]] = {}
    earlier: list[PriorSubmission] = []
    for i, case in complaints:
        since = case.received_on - window

        def related(p: PriorSubmission, case: Case = case, since: dt.date = since) -> bool:
            return (since <= p.received_on <= case.received_on and (
                (bool(case.complainant_phone) and p.phone == case.complainant_phone)
                or (bool(case.complainant_address) and p.address == case.complainant_address)))

        prior = [p for p in earlier[::-1] if related(p)] + [p for p in found_rows if related(p)][:500]
        me = _respondent_key(case.entity_id, case.respondent_name)
        found = detect_flags(received_on=case.received_on, complainant_name=case.complainant_name,
                             phone=case.complainant_phone, address=case.complainant_address, respondent_key=me,
                             quantity=case.quantity, prior=prior, rules=rules)
        if found:
            out[i] = [Flag(code=f.code, article=f.article, message=f.message, evidence=list(f.evidence))
                      for f in found]
        earlier.append(PriorSubmission(case.tracking_number, case.received_on, case.complainant_name,
                                       case.complainant_phone, case.complainant_address, me))
    return out


# `also(cases)` runs inside the intake transaction once the cases have their ids; rows it returns (e.g. the API's
# idempotency record) are inserted in the same transaction.
AlsoCallback = Callable[[list[Case]], "Iterable[models.Model] | None"]


@dataclass
class PreparedIntake:
    """A validated submission with its unsaved cases, waiting to be written (alone or in a group commit)."""

    data: IntakeData
    cases: list[Case]
    actor: User | None
    also: AlsoCallback | None = None
    done: bool = False
    error: BaseException | None = None


def case_register(data: IntakeData, *, actor: User | None, intake_unit: Unit | None = None,
                  now: dt.datetime | None = None, also: AlsoCallback | None = None,
                  group_commit: bool = False) -> list[Case]:
    """Register a submission: a complaint, a report, a consultation, or a mixed one split in two (art. 9).

    Returns the cases created (two, linked, for a mixed submission). Nothing is written if anything is invalid.
    `also(cases)` runs inside the same transaction (the API stores its idempotency key there).

    With `group_commit`, concurrent submissions of this process are written together in one transaction (see
    `IntakeGroupCommit`); each caller still returns only after the commit that made its cases durable.
    """
    errors, entity = validate_intake(data, now=now)
    if data.report_facts.strip() and data.kind != "complaint":
        errors.setdefault("report_facts", "只有投诉可以同时包含举报内容（第九条）")
    if errors:
        raise IntakeError(errors)
    unit = intake_unit or _intake_unit_for(actor, entity)
    cases = [_build_case(data, data.kind, data.facts, entity, unit, actor)]
    if data.report_facts.strip():
        cases.append(_build_case(data, "report", data.report_facts, entity, unit, actor))
    item = PreparedIntake(data, cases, actor, also)
    if group_commit and not data.attachments and not connection.in_atomic_block:
        INTAKE_GROUP.submit(item)
    else:
        _write_alone(item)
    if item.error is not None:
        raise item.error
    return item.cases


def _is_tracking_collision(exc: IntegrityError) -> bool:
    text = str(exc)
    return "tracking_number" in text or "complaints_case" in text


def _write_alone(item: PreparedIntake) -> None:
    """Write one submission in its own transaction, drawing a new tracking number after a collision."""
    for _attempt in range(5):
        try:
            _write_batch([item])
        except IntegrityError as exc:
            if not _is_tracking_collision(exc):
                item.error = exc
                break
            continue
        except Exception as exc:  # handed back to the caller, who re-raises it
            item.error = exc
            break
        else:
            item.error = None
            break
    else:
        item.error = IntakeError({"tracking_number": "登记编号生成失败，请重试"})
    item.done = True


_INSERT_SQL: dict[tuple[type[models.Model], int, str], str] = {}


def _insert_sql(model: type[models.Model], fields: Sequence[Any], rows: int) -> str:
    key = (model, rows, connection.vendor)
    sql = _INSERT_SQL.get(key)
    if sql is None:
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (f"INSERT INTO {quoted_table(model)} "  # noqa: S608 — model names only
               f"({', '.join(quoted_column(model, f.name) for f in fields)}) "
               f"VALUES {', '.join([row] * rows)} RETURNING {quoted_column(model)}")
        _INSERT_SQL[key] = sql
    return sql


def _insert_rows(objs: Sequence[models.Model]) -> None:
    """INSERT … RETURNING id for new rows of one model; sets their ids.

    What `bulk_create` does for these plain models (no signals either), without compiling the statement through
    the ORM at every intake transaction — that compilation cost more CPU than the database spent on the insert.
    PostgreSQL: one prepared `INSERT … SELECT FROM unnest(…)` with server-side binding (`core.db.insert_rows`;
    the client-side binding Django uses quoted every value in Python, and psycopg's pipeline mode busy-waited on
    the socket). SQLite: rows go in chunks of 64, 32, …, 1 so that only a few distinct statements exist.
    """
    if not objs:
        return
    model = type(objs[0])
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    if connection.vendor == "postgresql":
        insert_rows(objs)  # one prepared statement whatever the number of rows
        return
    start = 0
    while start < len(objs):
        size = 1 << min(6, (len(objs) - start).bit_length() - 1)
        chunk = objs[start:start + size]
        start += size
        params: list[Any] = []
        for obj in chunk:
            obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
            params.extend([f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields])
        with connection.cursor() as cur:
            cur.execute(_insert_sql(model, fields, size), params)
            ids = [r[0] for r in cur.fetchall()]
        for obj, pk in zip(chunk, ids, strict=True):
            obj.pk = pk
            obj._state.adding, obj._state.db = False, connection.alias


def _write_batch(items: Sequence[PreparedIntake]) -> None:
    """One transaction for every item: cases, art. 17 flags, attachments, `also` rows, then the audit entries.

    Statements: one flag lookup, one insert of all cases, one of all flags, one per kind of `also` row, the audit
    append (chain head lock, one insert, head update) and the commit — whatever the number of items.
    """
    cases = [c for item in items for c in item.cases]
    for c in cases:  # a retry after a rollback starts from unsaved cases
        c.pk, c._state.adding, c.flag_count, c.related = None, True, 0, None
        c.tracking_number = _tracking_number(c.kind, c.received_on)
    with transaction.atomic():
        flags = _flags_for_batch(cases)
        for i, found in flags.items():
            cases[i].flag_count = len(found)
        _insert_rows(cases)
        flag_rows: list[Flag] = []
        for i, case in enumerate(cases):
            case.intake_flags = flags.get(i, [])  # type: ignore[attr-defined]  # the API answers with them
            for f in case.intake_flags:  # type: ignore[attr-defined]
                f.case = case
                flag_rows.append(f)
        _insert_rows(flag_rows)
        events: list[AuditEvent] = []
        extra: dict[type[models.Model], list[models.Model]] = {}  # by model
        for item in items:
            if len(item.cases) == 2:
                first, second = item.cases
                first.related, second.related = second, first
                Case.objects.filter(pk=first.pk).update(related=second)
                Case.objects.filter(pk=second.pk).update(related=first)
            for case in item.cases:
                events.append(event_for(case, "register", actor=item.actor, after=_audit_after(case),
                                        reason="第九条：拆分处理" if len(item.cases) == 2 else ""))
            for f in item.data.attachments:
                att = Attachment(case=item.cases[0], name=Path(f.name or "file").name[:255], size=f.size or 0)
                att.file.save(att.name, f, save=True)
            if item.also is not None:
                for row in item.also(item.cases) or ():
                    extra.setdefault(type(row), []).append(row)
        for rows in extra.values():
            _insert_rows(rows)
        # Last before commit: the audit chain head is locked from here to the commit.
        audit_record_many(events)
    for item in items:
        item.error, item.done = None, True


class IntakeGroupCommit:
    """Group commit for intake: concurrent submissions of one process share a transaction and its durable commit.

    Every entry of the audit chain locks the chain head until its transaction commits, so submissions written one
    transaction each can never exceed one durable commit (an fsync) at a time. Here the first thread to arrive
    becomes the leader and writes every submission that is waiting; the others wait for the commit that contains
    theirs, and one of them leads the next group. Nobody is answered before their cases are committed; a group that
    fails (e.g. one repeated idempotency key) is retried one submission per transaction, so only the faulty one
    gets the error. No extra thread: the leader writes on its own database connection.
    """

    def __init__(self, max_group: int = 64) -> None:
        self.max_group = max_group
        self._cond = threading.Condition()
        self._pending: list[PreparedIntake] = []
        self._leading = False
        self.groups = 0  # statistics, for the tests and the benchmark
        self.items = 0

    def submit(self, item: PreparedIntake) -> None:
        with self._cond:
            self._pending.append(item)
            while not item.done:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                group = self._pending[:self.max_group]
                del self._pending[:self.max_group]
                self._cond.release()
                try:
                    self._write(group)
                finally:
                    for other in group:  # whatever happened, nobody waits for ever
                        if not other.done:
                            other.error = other.error or RuntimeError("intake group commit did not finish")
                            other.done = True
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()

    def _write(self, group: list[PreparedIntake]) -> None:
        self.groups += 1
        self.items += len(group)
        if len(group) > 1:
            for _attempt in range(2):  # a second try draws new tracking numbers
                try:
                    _write_batch(group)
                    return
                except IntegrityError as exc:
                    if _is_tracking_collision(exc):
                        continue
                    logger.info("intake group of %d failed (%s); writing one by one", len(group), exc)
                    break
                except Exception as exc:  # one bad submission must not fail the others: write them one by one
                    logger.info("intake group of %d failed (%s); writing one by one", len(group), exc)
                    break
        for item in group:
            _write_alone(item)


INTAKE_GROUP = IntakeGroupCommit()


# --- dispatch ----------------------------------------------------------------------------------------------


def _require_state(case: Case, *states: str, action: str) -> None:
    if case.status not in states:
        raise WorkflowError(f"本件当前状态为“{case.get_status_display()}”，不能{action}")


def _save(case: Case, actor: User | None, action: str, before: dict[str, Any], fields: Sequence[str], *,
          reason: str = "") -> None:
    case.save(update_fields=list(fields))
    after = snapshot(case, [getattr(case._meta.get_field(f), "attname", f) for f in fields])
    audit_record(case, action, actor=actor, before=before, after=after, reason=reason)


def _state(case: Case) -> dict[str, Any]:
    return {"status": case.status, "unit_id": case.unit_id, "handler_id": case.handler_id, "result": case.result}


def case_assign(case: Case, unit: Unit, *, actor: User, handler: User | None = None) -> Case:
    """The dispatcher sends the case to a unit with authority (art. 41); only the intake unit dispatches."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_dispatcher(actor, case)
        _require_state(case, Case.Status.REGISTERED, action="分派")
        if unit.kind not in (Unit.Kind.BUREAU, Unit.Kind.STATION) or not unit.department.is_market_regulation:
            raise WorkflowError("只能分派给市场监督管理局或市场监管所")
        before = _state(case)
        case.unit, case.handler = unit, handler
        case.status = Case.Status.ODR if case.odr_due and case.kind == Case.Kind.COMPLAINT else Case.Status.ASSIGNED
        case.returned_reason = ""
        _save(case, actor, "assign", before, ["unit", "handler", "status", "returned_reason"],
              reason=f"分派至 {unit.name}")
    return case


def case_return(case: Case, *, actor: User, reason: str) -> Case:
    """A unit without authority sends the case back to the dispatcher with a reason; it never forwards (art. 41)."""
    if not reason.strip():
        raise WorkflowError("请填写退回理由（第四十一条）")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        _require_state(case, Case.Status.ASSIGNED, Case.Status.ODR, action="退回")
        before = _state(case)
        case.unit, case.handler, case.status, case.returned_reason = None, None, Case.Status.REGISTERED, reason.strip()
        _save(case, actor, "return_to_dispatcher", before, ["unit", "handler", "status", "returned_reason"],
              reason=reason.strip())
    return case


def case_set_handler(case: Case, handler: User, *, actor: User) -> Case:
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        if case.unit is None or handler.unit_id is None or not access.data_scope(handler).covers_unit(case.unit):
            raise WorkflowError("承办人须为承办单位的工作人员")
        before = _state(case)
        case.handler = handler
        _save(case, actor, "set_handler", before, ["handler"])
    return case


def case_set_category(case: Case, category: str, *, actor: User) -> Case:
    """The clerk confirms or changes the suggested category."""
    if category not in CATEGORY_LABELS:
        raise WorkflowError("分类无效")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not (access.is_dispatcher(actor, case) or access.is_handling_staff(actor, case)):
            raise NotAllowed("只有登记员或承办人员可以修改分类")
        before = {"category": case.category}
        case.category = category
        _save(case, actor, "set_category", before, ["category"])
    return case


# --- complaints --------------------------------------------------------------------------------------------


def _on(on: dt.date | None) -> dt.date:
    return on or today_local()


def _check_not_before_receipt(case: Case, on: dt.date) -> None:
    if on < case.received_on:
        raise WorkflowError("办理日期不能早于收到日期")
    if on > today_local() + dt.timedelta(days=1):
        raise WorkflowError("办理日期不能晚于今天")


def complaint_accept(case: Case, *, actor: User, on: dt.date | None = None) -> Case:
    """受理: start mediation; its period runs from the acceptance date (art. 23 (5))."""
    on = _on(on)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        if case.kind != Case.Kind.COMPLAINT:
            raise WorkflowError("只有投诉可以受理调解")
        _require_state(case, Case.Status.ASSIGNED, Case.Status.ODR, action="受理")
        _check_not_before_receipt(case, on)
        before = _state(case)
        case.status, case.accepted_on = Case.Status.MEDIATING, on
        case.handler = case.handler or actor
        _refresh_clock(case, on)
        _save(case, actor, "accept", before, ["status", "accepted_on", "handler", *CLOCK_FIELDS])
    return case


def complaint_reject(case: Case, *, actor: User, ground: str, on: dt.date | None = None, note: str = "") -> Case:
    """不予受理 on an art. 16 ground; the decision text carries the reason and the art. 15 remedies."""
    on = _on(on)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        rule = get_ruleset(case.rule_code)
        g = rule.rejection_ground(ground)
        if g is None:
            raise WorkflowError("请选择不予受理的法定情形（第十六条）")
        if case.kind != Case.Kind.COMPLAINT:
            raise WorkflowError("只有投诉可以不予受理")
        _require_state(case, Case.Status.ASSIGNED, Case.Status.ODR, action="作出不予受理决定")
        _check_not_before_receipt(case, on)
        before = _state(case)
        text = f"经审查，您的投诉属于{g.article}规定的情形：{g.text}，决定不予受理。"
        if note.strip():
            text += f"{note.strip()}。"
        text += rule.remedies_text
        case.status, case.result, case.decision_ground, case.decision_text = (
            Case.Status.CLOSED, Case.Result.REJECTED, g.code, text)
        case.closed_at, case.closed_on = timezone.now(), on
        _refresh_clock(case, on)
        _save(case, actor, "reject", before, ["status", "result", "decision_ground", "decision_text", "closed_at",
                                              "closed_on", *CLOCK_FIELDS], reason=g.label)
    return case


def odr_outcome(case: Case, *, actor: User | None, settled: bool, amount: Decimal | None = None,
                on: dt.date | None = None, respondent: str = "") -> Case:
    """The ODR enterprise settled (closed) or not (back to the handler for acceptance).

    Recorded either by handling staff (`actor`) or by the enterprise itself through its ODR access code
    (`actor=None`, `respondent` saying who and how — it becomes the audit entry's reason).
    """
    if actor is None and not respondent:
        raise ValueError("odr_outcome needs the staff actor or the respondent's description")
    on = _on(on)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if actor is not None:
            access.require_handler(actor, case)
        _require_state(case, Case.Status.ODR, action="登记ODR协商结果")
        before = _state(case)
        if settled:
            case.status, case.result = Case.Status.CLOSED, Case.Result.ODR_SETTLED
            case.amount_recovered, case.closed_at, case.closed_on = amount, timezone.now(), on
        else:
            case.status = Case.Status.ASSIGNED
        _refresh_clock(case, on)
        _save(case, actor, "odr_outcome", before, ["status", "result", "amount_recovered", "closed_at", "closed_on",
                                                   *CLOCK_FIELDS], reason=respondent)
    return case


def mediation_session_add(case: Case, *, actor: User, held_on: dt.date, mode: str, notes: str) -> MediationSession:
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        _require_state(case, Case.Status.MEDIATING, action="记录调解")
        if mode not in MediationSession.Mode.values or not notes.strip():
            raise WorkflowError("请选择调解方式并填写调解记录")
        _check_not_before_receipt(case, held_on)
        session = MediationSession.objects.create(case=case, held_on=held_on, mode=mode, notes=notes.strip(),
                                                  created_by=actor)
        audit_record(case, "mediation_session", actor=actor,
                     after={"held_on": held_on.isoformat(), "mode": mode, "session_id": session.pk})
    return session


def clock_pause(case: Case, *, actor: User, reason: str, evidence: str, on: dt.date | None = None) -> Pause:
    """Stop the clock for testing/appraisal (art. 22); reason and evidence are required."""
    on = _on(on)
    if not reason.strip() or not evidence.strip():
        raise WorkflowError("中止计时须写明理由和依据材料（如送检单、鉴定委托书）")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        period = {"complaint": "mediation", "report": "verify"}.get(str(case.kind))
        if case.status not in (Case.Status.MEDIATING, Case.Status.ASSIGNED) or period is None or (
                case.kind == Case.Kind.COMPLAINT and case.status != Case.Status.MEDIATING):
            raise WorkflowError("只有调解中的投诉或核查中的举报可以中止计时")
        if case.paused_since:
            raise WorkflowError("计时已处于中止状态")
        _check_not_before_receipt(case, on)
        before = _deadlines_snapshot(case)
        pause = Pause.objects.create(case=case, period=period, start=on, reason=reason.strip(),
                                     evidence=evidence.strip(), created_by=actor)
        case.paused_since = on
        _refresh_clock(case, on)
        case.save(update_fields=CLOCK_FIELDS)
        audit_record(case, "clock_pause", actor=actor, before=before, after=_deadlines_snapshot(case),
                     reason=f"{reason.strip()}（依据：{evidence.strip()}）")
    return pause


def clock_resume(case: Case, *, actor: User, on: dt.date | None = None) -> Case:
    on = _on(on)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        pause = case.pauses.filter(end__isnull=True).first()
        if pause is None:
            raise WorkflowError("计时未中止，无需恢复")
        if on < pause.start:
            raise WorkflowError("恢复日期不能早于中止日期")
        before = _deadlines_snapshot(case)
        pause.end = on
        pause.save(update_fields=["end"])
        case.paused_since = None
        _refresh_clock(case, on)
        case.save(update_fields=CLOCK_FIELDS)
        audit_record(case, "clock_resume", actor=actor, before=before, after=_deadlines_snapshot(case),
                     reason=f"检测/鉴定结束，中止 {pause.start} 至 {on}")
    return case


def complaint_agreement(case: Case, *, actor: User, amount: Decimal, on: dt.date | None = None,
                        notes: str = "") -> Case:
    """调解成功: close with the amount recovered for the consumer."""
    on = _on(on)
    if amount is None or amount < 0:
        raise WorkflowError("请填写挽回经济损失金额（元），无金额填 0")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        _require_state(case, Case.Status.MEDIATING, action="登记调解协议")
        if case.paused_since:
            raise WorkflowError("计时处于中止状态，请先恢复计时")
        _check_not_before_receipt(case, on)
        before = _state(case)
        case.status, case.result, case.amount_recovered = Case.Status.CLOSED, Case.Result.AGREEMENT, amount
        case.decision_text = notes.strip() or "双方达成调解协议"
        case.closed_at, case.closed_on = timezone.now(), on
        _refresh_clock(case, on)
        _save(case, actor, "agreement", before, ["status", "result", "amount_recovered", "decision_text", "closed_at",
                                                 "closed_on", *CLOCK_FIELDS])
    return case


def complaint_terminate(case: Case, *, actor: User, ground: str, on: dt.date | None = None) -> Case:
    """终止调解 on an art. 23 ground; the parties must be told within 7 working days."""
    on = _on(on)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        rule = get_ruleset(case.rule_code)
        g = rule.termination_ground(ground)
        if g is None:
            raise WorkflowError("请选择终止调解的法定情形（第二十三条）")
        _require_state(case, Case.Status.MEDIATING, action="终止调解")
        _check_not_before_receipt(case, on)
        before = _state(case)
        case.status, case.result, case.decision_ground = Case.Status.TERMINATED, Case.Result.TERMINATED, g.code
        case.decision_text = f"依据{g.article}（{g.text}），终止调解。{rule.remedies_text}"
        try:
            case.notice_due = clock.compute_period(rule.period("termination_notice"), on, get_calendar(),
                                                   warn_ratio=rule.warn_ratio).due
        except CalendarYearMissing:
            case.notice_due = None
        if case.paused_since:
            case.pauses.filter(end__isnull=True).update(end=on)
            case.paused_since = None
        _refresh_clock(case, on)
        _save(case, actor, "terminate", before, ["status", "result", "decision_ground", "decision_text",
                                                 *CLOCK_FIELDS], reason=g.label)
    return case


def termination_notify(case: Case, *, actor: User, on: dt.date | None = None) -> Case:
    """The parties were told of the termination (art. 23 para. 2): the complaint is closed."""
    on = _on(on)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        _require_state(case, Case.Status.TERMINATED, action="登记终止告知")
        before = _state(case)
        case.status, case.closed_at, case.closed_on = Case.Status.CLOSED, timezone.now(), on
        _refresh_clock(case, on)
        _save(case, actor, "termination_notified", before, ["status", "closed_at", "closed_on", *CLOCK_FIELDS])
    return case


# --- reports -----------------------------------------------------------------------------------------------


def extension_request(case: Case, *, actor: User, reason: str) -> Extension:
    """Ask the head to extend a report's verification by the rule's days (penalty-procedure rules art. 18)."""
    if not reason.strip():
        raise WorkflowError("请填写延长核查期限的理由")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        if case.kind != Case.Kind.REPORT:
            raise WorkflowError("只有举报核查期限可以延长")
        _require_state(case, Case.Status.ASSIGNED, action="申请延长核查期限")
        if case.extensions.exclude(status=Extension.Status.REFUSED).exists():
            raise WorkflowError("核查期限只能延长一次")
        days = get_ruleset(case.rule_code).period("verify_extension").days
        ext = Extension.objects.create(case=case, period="verify", days=days, reason=reason.strip(),
                                       requested_by=actor)
        audit_record(case, "extension_request", actor=actor, after={"days": days, "extension_id": ext.pk},
                     reason=reason.strip())
    return ext


def extension_decide(ext: Extension, *, actor: User, approve: bool, reason: str = "") -> Extension:
    """The head approves (the deadline moves) or refuses an extension."""
    with transaction.atomic():
        ext = Extension.objects.select_for_update().select_related("case").get(pk=ext.pk)
        case = Case.objects.select_for_update().get(pk=ext.case_id)
        access.require_approver(actor, case)
        if ext.status != Extension.Status.REQUESTED:
            raise WorkflowError("该延期申请已处理")
        if ext.requested_by_id == actor.pk and not actor.is_superuser:
            raise NotAllowed("延期申请须由他人（负责人）批准")
        before = _deadlines_snapshot(case)
        ext.status = Extension.Status.APPROVED if approve else Extension.Status.REFUSED
        ext.decided_by, ext.decided_at = actor, timezone.now()
        ext.save(update_fields=["status", "decided_by", "decided_at"])
        _refresh_clock(case, today_local())
        case.save(update_fields=CLOCK_FIELDS)
        audit_record(case, "extension_approve" if approve else "extension_refuse", actor=actor, before=before,
                     after=_deadlines_snapshot(case), reason=reason.strip() or ext.reason)
    return ext


def report_decide(case: Case, *, actor: User, open_case: bool, reason: str, on: dt.date | None = None) -> Case:
    """核查结论: hand to enforcement to open a case (a Lead), or not, with the reason."""
    from jianguan.enforcement.services import lead_create

    on = _on(on)
    if not reason.strip():
        raise WorkflowError("请填写核查结论和理由")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        access.require_handler(actor, case)
        if case.kind != Case.Kind.REPORT:
            raise WorkflowError("只有举报需要核查立案")
        _require_state(case, Case.Status.ASSIGNED, action="作出核查结论")
        if case.paused_since:
            raise WorkflowError("计时处于中止状态，请先恢复计时")
        _check_not_before_receipt(case, on)
        before = _state(case)
        if open_case:
            assert case.unit is not None  # require_handler: only the handling unit decides
            lead = lead_create(source="report", source_ref=case.tracking_number, unit=case.unit,
                               summary=f"{case.respondent_name}：{case.facts[:400]}", entity=case.entity, actor=actor)
            case.lead_id, case.result = lead.pk, Case.Result.CASE_OPENED
        else:
            case.result = Case.Result.NO_CASE
        case.status, case.decision_text = Case.Status.CLOSED, reason.strip()
        case.closed_at, case.closed_on = timezone.now(), on
        _refresh_clock(case, on)
        _save(case, actor, "verify_decision", before, ["status", "result", "decision_text", "lead_id", "closed_at",
                                                       "closed_on", *CLOCK_FIELDS], reason=reason.strip())
    return case


def report_link_repeat(case: Case, original: Case, *, actor: User) -> Case:
    """Art. 35: the same reporter, the same facts, the same respondent again — linked, not handled again."""
    return _report_link(case, original, actor=actor, merge=False)


def report_merge(case: Case, into: Case, *, actor: User) -> Case:
    """Art. 35: new facts from the same reporter are merged; the period restarts from the last receipt."""
    return _report_link(case, into, actor=actor, merge=True)


def _report_link(case: Case, other: Case, *, actor: User, merge: bool) -> Case:
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        other = Case.objects.select_for_update().get(pk=other.pk)
        if not (access.is_dispatcher(actor, case) or access.is_handling_staff(actor, case)):
            raise NotAllowed("只有登记员或承办人员可以关联重复举报")
        if case.pk == other.pk or case.kind != Case.Kind.REPORT or other.kind != Case.Kind.REPORT:
            raise WorkflowError("只能关联两件不同的举报")
        if case.status == Case.Status.CLOSED:
            raise WorkflowError("本件已办结")
        same_reporter = case.complainant_phone and case.complainant_phone == other.complainant_phone
        same_respondent = (case.entity_id and case.entity_id == other.entity_id) or (
            case.respondent_name == other.respondent_name)
        if not (same_reporter and same_respondent):
            raise WorkflowError("第三十五条只适用于同一举报人对同一被举报人的再次举报")
        before = _state(case)
        case.duplicate_of, case.status, case.closed_at, case.closed_on = (
            other, Case.Status.CLOSED, timezone.now(), today_local())
        if merge:
            if other.status == Case.Status.CLOSED:
                raise WorkflowError("原举报已办结，补充的新事实请作为新举报办理")
            case.result = Case.Result.MERGED
            other_before = _deadlines_snapshot(other)
            other.facts = f"{other.facts}\n【{case.tracking_number} 补充事实】{case.facts}"
            other.verify_start = max(other.verify_start or other.received_on, case.received_on)
            _refresh_clock(other, today_local())
            other.save(update_fields=["facts", *CLOCK_FIELDS])
            audit_record(other, "merge_new_facts", actor=actor, before=other_before,
                         after=_deadlines_snapshot(other),
                         reason=f"第三十五条：合并 {case.tracking_number}，自最后一次收到举报之日起重新计算处理期限")
        else:
            case.result = Case.Result.REPEAT
        _refresh_clock(case, today_local())
        _save(case, actor, "merge" if merge else "repeat", before,
              ["duplicate_of", "status", "result", "closed_at", "closed_on", *CLOCK_FIELDS],
              reason=f"第三十五条：{'合并至' if merge else '重复举报，关联'} {other.tracking_number}")
    return case


def consultation_answer(case: Case, *, actor: User, answer: str) -> Case:
    """Art. 44: a submission that is really a consultation is answered with the right channel and closed."""
    if not answer.strip():
        raise WorkflowError("请填写答复内容和应当通过的途径")
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not (access.is_dispatcher(actor, case) or access.is_handling_staff(actor, case)):
            raise NotAllowed("只有登记员或承办人员可以答复")
        if case.status == Case.Status.CLOSED:
            raise WorkflowError("本件已办结")
        if case.status not in (Case.Status.REGISTERED, Case.Status.ASSIGNED):
            raise WorkflowError("已受理的投诉不能改为咨询")
        before = {**_state(case), "kind": case.kind}
        case.kind, case.status, case.result = Case.Kind.CONSULTATION, Case.Status.CLOSED, Case.Result.ANSWERED
        case.decision_text = answer.strip()
        case.closed_at, case.closed_on = timezone.now(), today_local()
        _refresh_clock(case, today_local())
        _save(case, actor, "consultation_answer", before, ["kind", "status", "result", "decision_text", "closed_at",
                                                           "closed_on", *CLOCK_FIELDS], reason="第四十四条")
    return case


def identity_viewed(case: Case, *, actor: User, purpose: str) -> None:
    """Record that a user revealed a complainant's / reporter's identity (art. 37)."""
    from jianguan.core.audit import audit_view_personal_data

    audit_view_personal_data(case, actor=actor, fields=["complainant_name", "complainant_phone",
                                                        "complainant_address"], purpose=purpose)
