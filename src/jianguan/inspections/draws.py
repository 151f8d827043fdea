"""The draw of a plan, protocol `jianguan-draw-v1` (docs/draw-protocol.md): freeze (candidates per stratum,
candidates.csv, manifest, commitment), the public randomness entered by two officers, the draw itself with its
alternates, and the merge of the selections into visits. The protocol's rules live in the pure `domain.draw`; this
module reads the registry for it and stores what it returns."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from jianguan.core.audit import audit_record
from jianguan.core.models import Division, User
from jianguan.inspections.domain import draw as draw_domain
from jianguan.inspections.models import (
    RISK_CLASSES,
    DrawSelection,
    DrawStratum,
    InspectionItem,
    InspectionPlan,
    InspectionTask,
    Visit,
    VisitItem,
)
from jianguan.inspections.services import InspectionError, _ratio, target_rule_errors
from jianguan.registry.models import Entity, EntityLabel, Industry, Label, Licence

Status = InspectionPlan.Status


# ---------------------------------------------------------------------------------------------------------------
# Freeze: candidates per stratum, candidates.csv, manifest, commitment
# ---------------------------------------------------------------------------------------------------------------

def risk_classes_now() -> dict[int, str]:
    """Latest risk class per entity from credit (entities never classified count as B)."""
    try:
        from jianguan.credit.selectors import risk_classes
    except ImportError:  # the credit module is not installed in this build
        return {}
    return risk_classes()


def _read_frame(sql: str, params: list[Any], schema: dict[str, Any]) -> pl.DataFrame:
    """The rows of a SELECT as a DataFrame: through the credit module's bulk reader when it is installed (on
    PostgreSQL a binary COPY into Arrow, no Python object per row), otherwise the cursor's rows."""
    try:
        from jianguan.core.bulk import read_frame
    except ImportError:  # the credit module is not installed in this build
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return pl.DataFrame(rows, schema=schema, orient="row")
    return read_frame(sql, params, schema)


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _scope_prefixes(codes: list[str]) -> list[str]:
    """The division-code prefixes of a task's scope: a province or city covers every county under it."""
    known = {d.code: d.scope_prefix for d in Division.objects.filter(code__in=codes)}
    return sorted({known.get(code, code) for code in codes})


@dataclass
class _Registry:
    """The registry facts the target rules of a plan look at, read once per freeze (one scan of each table).

    `entities`: row (its position), id, uscc, division (the county code), kind, industry, section, status and group
    (its risk class and county, see `groups`) of every entity in the plan's scope whose status some rule accepts,
    sorted by (risk class, county, uscc); `labels` and `licences`: the entity ids holding each label / valid licence
    type that some rule names."""

    entities: pl.DataFrame
    usccs: list[str]  # entities' uscc column as Python strings, shared by every stratum's members (by `row`)
    labels: dict[str, pl.Series]
    licences: dict[str, pl.Series]
    groups: list[tuple[str, str]]  # (risk class, county) of each value of the `group` column
    statuses: list[str]  # the statuses read: a rule accepting exactly these needs no status filter
    prefixes: list[str]  # the scope read: a task with exactly this scope needs no scope filter


def _read_registry(rules: list[dict[str, Any]], prefixes: list[str], classes: dict[int, str]) -> _Registry:
    statuses = sorted({s for rule in rules for s in (rule.get("statuses") or [Entity.Status.ACTIVE])})
    where = " OR ".join(["division_id LIKE %s ESCAPE '\\'"] * len(prefixes))
    entities = _read_frame(
        f"SELECT id, uscc, division_id, kind, industry_id, status FROM {_table(Entity)} "  # noqa: S608
        f"WHERE status IN ({', '.join(['%s'] * len(statuses))}) AND ({where})",
        [*statuses, *(_like_prefix(p) for p in prefixes)],
        {"id": pl.Int64, "uscc": pl.String, "division": pl.String, "kind": pl.String, "industry": pl.String,
         "status": pl.String})
    sections = pl.DataFrame(list(Industry.objects.values_list("code", "section")), orient="row",
                            schema={"industry": pl.String, "section": pl.String})
    known = pl.DataFrame({"id": list(classes), "cls": list(classes.values())},
                         schema={"id": pl.Int64, "cls": pl.String})
    entities = (entities.join(sections, on="industry", how="left")
                .join(known, on="id", how="left").with_columns(pl.col("cls").fill_null("B")))
    # Sorted once by (risk class, county, uscc), numbering the (risk class, county) pairs in order so that the sort
    # compares one string column, not three: every item's filter keeps this order, so its strata come out in order
    # and each sorted, without a sort per item.
    pairs = entities.select("cls", "division").unique().sort(["cls", "division"]).with_row_index("group")
    entities = (entities.join(pairs, on=["cls", "division"], how="left").drop("cls").sort(["group", "uscc"])
                .with_row_index("row"))
    labels: dict[str, pl.Series] = {}
    wanted = sorted({c for rule in rules for c in rule.get("labels") or []})
    if wanted:
        rows = _read_frame(
            f"SELECT el.entity_id, l.code FROM {_table(EntityLabel)} el "  # noqa: S608
            f"JOIN {_table(Label)} l ON l.id = el.label_id WHERE l.code IN ({', '.join(['%s'] * len(wanted))})",
            wanted, {"id": pl.Int64, "code": pl.String})
        labels = {code: part["id"] for (code,), part in rows.partition_by("code", as_dict=True).items()}
    licences: dict[str, pl.Series] = {}
    wanted = sorted({t for rule in rules for t in rule.get("licences") or []})
    if wanted:
        rows = _read_frame(
            f"SELECT entity_id, type FROM {_table(Licence)} "  # noqa: S608
            f"WHERE status = %s AND type IN ({', '.join(['%s'] * len(wanted))})",
            [Licence.Status.VALID, *wanted], {"id": pl.Int64, "code": pl.String})
        licences = {code: part["id"] for (code,), part in rows.partition_by("code", as_dict=True).items()}
    groups = [(cls, county) for _group, cls, county in pairs.iter_rows()]
    return _Registry(entities, entities["uscc"].to_list(), labels, licences, groups, statuses, prefixes)


def _holders(found: dict[str, pl.Series], codes: list[str]) -> pl.Series:
    """The entity ids holding any of the codes (a label or a valid licence type)."""
    parts = [found[c] for c in codes if c in found]
    return pl.concat(parts).unique() if parts else pl.Series("id", [], dtype=pl.Int64)


def _rule_expr(rule: dict[str, Any], prefixes: list[str], registry: _Registry) -> pl.Expr:
    """An item's target rule in a scope as a filter on `_Registry.entities`: every given key must hold, any value
    within a key (labels: any of; industries: GB/T 4754 code prefixes or section letters; licences: a valid
    licence of any listed type; kinds; statuses, default active)."""
    expr = pl.lit(True)
    statuses = sorted(set(rule.get("statuses") or [Entity.Status.ACTIVE]))
    if statuses != registry.statuses:
        expr &= pl.col("status").is_in(statuses)
    if prefixes != registry.prefixes:
        expr &= pl.any_horizontal([pl.col("division").str.starts_with(p) for p in prefixes])
    if rule.get("labels"):
        expr &= pl.col("id").is_in(_holders(registry.labels, rule["labels"]).implode())
    if rule.get("industries"):
        expr &= pl.any_horizontal([pl.col("section") == p if p.isalpha() else pl.col("industry").str.starts_with(p)
                                   for p in rule["industries"]])
    if rule.get("licences"):
        expr &= pl.col("id").is_in(_holders(registry.licences, rule["licences"]).implode())
    if rule.get("kinds"):
        expr &= pl.col("kind").is_in(rule["kinds"])
    return expr


def _last_visits(items: list[InspectionItem], since: dt.date) -> pl.DataFrame:
    """item, id (entity), last (latest end date) of the visits that carried these items and ended on or after
    `since`: one query for the plan."""
    rows = (VisitItem.objects.filter(item__in=items, visit__end_date__gte=since).order_by()
            .values_list("item_id", "visit__entity_id").annotate(last=Max("visit__end_date")))
    return pl.DataFrame(list(rows), orient="row", schema={"item": pl.Int64, "id": pl.Int64, "last": pl.Date})


def plan_dir(plan: InspectionPlan) -> Path:
    return Path(settings.MEDIA_ROOT) / "draws" / str(plan.pk)


def stratum_key(task: InspectionTask, item: InspectionItem, risk_class: str, county: str, is_slice: bool) -> str:
    return f"T{task.pk}:{item.code}:{'A-slice' if is_slice else risk_class}:{county}"


Progress = Callable[[int, int], None]  # (items done, items in all): the progress of a background job


@dataclass
class FrozenStratum:
    key: str
    task: InspectionTask
    item: InspectionItem
    risk_class: str
    county: str
    is_slice: bool
    ratio: Decimal
    members: list[str]  # USCCs


def compute_strata(plan: InspectionPlan, *, today: dt.date, classes: dict[int, str] | None = None,
                   progress: Progress | None = None) -> list[FrozenStratum]:
    """The strata of a plan from the registry now (no writes). Raises `InspectionError` on unusable input.

    The registry is read once for the whole plan (entities in scope, the labels and licences the rules name, the
    last visits per item), not once per item or stratum: a province plan's ~200 items would otherwise scan the
    entity table ~200 times. Each item's rule is then a filter on that frame; items with the same target rule and
    scope (the same item in several tasks, or items sharing a rule) are filtered once, the result kept only until
    its last item is done."""
    tasks = list(plan.tasks.prefetch_related("items").order_by("pk"))
    if not tasks:
        raise InspectionError(_("计划没有任何抽查任务"))
    pairs = [(task, item) for task in tasks for item in task.items.all()]
    checked = []
    for task, item in pairs:
        errs = target_rule_errors(item.target_rule)
        if errs:
            raise InspectionError(_("任务“%(t)s”的事项 %(code)s：%(msg)s")
                                  % {"t": task.name, "code": item.code, "msg": "；".join(errs)})
        ratios_by_class = {cls: _ratio(task.ratio_for(item, cls), _("任务“%(t)s”事项 %(code)s 的%(c)s类比例")
                                       % {"t": task.name, "code": item.code, "c": cls}) for cls in RISK_CLASSES}
        slice_ratio = _ratio(task.a_slice_ratio, _("任务“%(t)s”的A类随机对照比例") % {"t": task.name})
        since = task.period_start - dt.timedelta(days=task.interval_for(item))
        checked.append((task, item, ratios_by_class, slice_ratio, since))
    classes = risk_classes_now() if classes is None else classes
    scopes = {task.pk: _scope_prefixes(task.scope_divisions) for task in tasks}
    registry = _read_registry([item.target_rule for _t, item in pairs],
                              sorted({p for prefixes in scopes.values() for p in prefixes}), classes)
    del classes
    last = _last_visits([item for _t, item in pairs], min(c[4] for c in checked))

    def source(task: InspectionTask, item: InspectionItem) -> str:
        return canonical({"rule": item.target_rule, "scope": scopes[task.pk]})

    uses = Counter(source(task, item) for task, item in pairs)
    cache: dict[str, pl.DataFrame] = {}
    strata: list[FrozenStratum] = []
    for done, (task, item, ratios_by_class, slice_ratio, since) in enumerate(checked):
        if progress:
            progress(done, len(pairs))
        key = source(task, item)
        matched = cache.get(key)
        if matched is None:  # in the registry frame's order: by (risk class, county, uscc)
            matched = (registry.entities.filter(_rule_expr(item.target_rule, scopes[task.pk], registry))
                       .select("row", "id", "group"))
        uses[key] -= 1
        if uses[key]:
            cache[key] = matched
        else:
            cache.pop(key, None)
        recent = last.filter((pl.col("item") == item.pk) & (pl.col("last") >= since))["id"]
        members_frame = matched.filter(~pl.col("id").is_in(recent.implode())) if len(recent) else matched
        if members_frame.height == 0:
            raise InspectionError(_("任务“%(t)s”的事项 %(code)s 在抽查范围内没有候选对象（请检查对象规则、范围和"
                                    "最短检查间隔）") % {"t": task.name, "code": item.code})
        # one string object per entity for the whole plan, not one per candidate row (a province plan's ~200 items
        # make some 85 million candidate rows out of 15 million entities)
        rows = members_frame["row"].to_list()
        usccs = list(map(registry.usccs.__getitem__, rows))
        del rows
        start = 0
        for run in members_frame["group"].rle().to_list():  # the frame is sorted by group: one run per stratum
            cls, county = registry.groups[run["value"]]
            members = usccs[start:start + run["len"]]
            start += run["len"]
            if ratios_by_class[cls] > 0:
                strata.append(FrozenStratum(stratum_key(task, item, cls, county, False), task, item, cls, county,
                                            False, ratios_by_class[cls], members))
            if cls == "A" and slice_ratio > 0:
                strata.append(FrozenStratum(stratum_key(task, item, cls, county, True), task, item, cls, county,
                                            True, slice_ratio, members))
    if not strata:
        raise InspectionError(_("所有分层的抽查比例均为 0，没有可抽取的分层"))
    return strata


def freeze_refusal(plan: InspectionPlan) -> str:
    """Why the plan cannot be frozen now ("" when it can): checked before a freeze job is queued, and again
    by the freeze itself."""
    if plan.status != Status.APPROVED:
        if plan.committed:
            return _("计划已冻结并公开承诺值，不能重新冻结或重新抽取；如需更正请创建新版本")
        return _("计划尚未批准，不能冻结和抽取")
    return ""


def draw_refusal(plan: InspectionPlan) -> str:
    """Why the plan cannot be drawn now ("" when it can)."""
    if plan.status in (Status.DRAFT, Status.APPROVED):
        return _("计划尚未冻结，不能抽取")
    if plan.seed or plan.status != Status.FROZEN:
        return _("计划已经抽取，承诺公开后不能重新抽取；如需更正请创建新版本")
    if not plan.randomness:
        return _("公开随机数尚未由两名工作人员录入确认，不能抽取")
    return ""


def plan_freeze(plan: InspectionPlan, *, actor: User | None, today: dt.date,
                classes: dict[int, str] | None = None, progress: Progress | None = None) -> InspectionPlan:
    """Freeze the candidates, write candidates.csv and the manifest, and publish the commitment (with its time)."""
    plan.refresh_from_db()
    refusal = freeze_refusal(plan)
    if refusal:
        raise InspectionError(refusal)
    strata = compute_strata(plan, today=today, classes=classes, progress=progress)
    try:
        csv_bytes = draw_domain.candidates_csv({s.key: s.members for s in strata})
        manifest = draw_domain.build_manifest(str(plan.pk), csv_bytes, {s.key: s.ratio for s in strata},
                                              {s.key: len(s.members) for s in strata})
        sha = manifest["candidates_sha256"]
        commitment = draw_domain.commitment_of(manifest)
    except draw_domain.DrawInputError as exc:
        raise InspectionError(str(exc)) from None
    directory = plan_dir(plan)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "candidates.csv"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(csv_bytes)
    now = timezone.now()
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.status != Status.APPROVED:
            raise InspectionError(_("计划状态已变化，请刷新后重试"))
        DrawStratum.objects.bulk_create([
            DrawStratum(plan=locked, key=s.key, task=s.task, item=s.item, risk_class=s.risk_class, county=s.county,
                        is_slice=s.is_slice, candidates=len(s.members), ratio=str(s.ratio),
                        take=draw_domain.take_count(s.ratio, len(s.members)))
            for s in strata], batch_size=1000)
        tmp.replace(path)
        locked.status = Status.FROZEN
        locked.frozen_at = now
        locked.candidates_path = str(path.relative_to(Path(settings.MEDIA_ROOT)))
        locked.candidates_sha256 = sha
        locked.candidates_count = sum(len(s.members) for s in strata)
        locked.manifest_json = canonical(manifest)
        locked.commitment = commitment
        locked.commitment_published_at = now
        locked.save()
        audit_record(locked, "status:frozen", actor=actor, before={"status": Status.APPROVED},
                     after={"status": Status.FROZEN, "commitment": commitment, "candidates_sha256": sha,
                            "strata": len(strata), "candidates": locked.candidates_count},
                     reason=_("冻结候选名单并公开承诺值"))
    plan.refresh_from_db()
    return plan


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def candidates_bytes(plan: InspectionPlan) -> bytes:
    """The frozen candidates.csv, checked against the SHA-256 in the database."""
    if not plan.candidates_path:
        raise InspectionError(_("计划尚未冻结，没有候选名单"))
    data = (Path(settings.MEDIA_ROOT) / plan.candidates_path).read_bytes()
    if hashlib.sha256(data).hexdigest() != plan.candidates_sha256:
        raise InspectionError(_("候选名单文件与冻结时的 SHA-256 不一致，文件可能被篡改"))
    return data


# ---------------------------------------------------------------------------------------------------------------
# Public randomness: two officers
# ---------------------------------------------------------------------------------------------------------------

def plan_randomness_enter(plan: InspectionPlan, value: str, *, actor: User, source: str = "") -> InspectionPlan:
    """First officer enters the public randomness; a second, different officer must enter the same value."""
    value = value.strip()
    if not value:
        raise InspectionError(_("请输入公开随机数"))
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.randomness:
            raise InspectionError(_("公开随机数已录入并确认，不能再次录入"))
        if locked.status != Status.FROZEN or not locked.commitment_published_at:
            raise InspectionError(_("承诺值公开之前不能录入随机数（请先冻结计划）"))
        if not locked.randomness_pending:
            locked.randomness_pending = value
            locked.randomness_pending_by = actor
            locked.randomness_source = source.strip()[:200]
            locked.save()
            audit_record(locked, "randomness:enter", actor=actor, after={"randomness": value, "source": source})
        else:
            if locked.randomness_pending_by_id == actor.pk:
                raise InspectionError(_("随机数须由两名不同的工作人员分别录入，第二次录入须由另一人完成"))
            if locked.randomness_pending != value:
                raise InspectionError(_("两次录入的随机数不一致，请核对后重新录入"))
            locked.randomness = value
            locked.randomness_entered_by_id = locked.randomness_pending_by_id
            locked.randomness_confirmed_by = actor
            locked.randomness_at = timezone.now()
            locked.randomness_pending = ""
            locked.save()
            audit_record(locked, "randomness:confirm", actor=actor,
                         after={"randomness": value, "entered_by": locked.randomness_entered_by_id,
                                "confirmed_by": actor.pk})
    plan.refresh_from_db()
    return plan


def plan_randomness_reset_pending(plan: InspectionPlan, *, actor: User, reason: str) -> InspectionPlan:
    """Discard an unconfirmed first entry (typing error); a confirmed value can never be reset."""
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.randomness:
            raise InspectionError(_("公开随机数已确认，不能更改"))
        locked.randomness_pending = ""
        locked.randomness_pending_by = None
        locked.save()
        audit_record(locked, "randomness:reset", actor=actor, reason=reason)
    plan.refresh_from_db()
    return plan


# ---------------------------------------------------------------------------------------------------------------
# Draw, merge into visits
# ---------------------------------------------------------------------------------------------------------------

def parse_candidates(data: bytes, strata: list[dict[str, Any]]) -> dict[str, list[str]]:
    """candidates.csv back into {stratum: [uscc, …]}, using the manifest's strata (sorted, with their counts).

    The rows of a stratum are one block (sorted by stratum) that ends where the next stratum's first row
    starts; a line starts with its stratum name and a comma, and neither a name nor a uscc holds a comma or a
    newline, so the block boundary and the split below are exact — done by `str.find`/`str.split`, not per line.
    """
    text = data.decode("utf-8")
    header = "stratum,uscc\n"
    pos = len(header) if text.startswith(header) else -1
    out: dict[str, list[str]] = {}
    for index, entry in enumerate(strata):
        name = entry["stratum"]
        if pos < 0 or not text.startswith(name + ",", pos):
            raise InspectionError(_("候选名单与清单不一致（分层 %(s)s）") % {"s": name})
        end = len(text)
        if index + 1 < len(strata):
            end = text.find("\n" + strata[index + 1]["stratum"] + ",", pos) + 1
        block = text[pos + len(name) + 1:end - 1]
        usccs = block.split("\n" + name + ",")
        if end <= pos or len(usccs) != entry["candidates"] or "\n" in usccs[-1]:
            raise InspectionError(_("候选名单与清单不一致（分层 %(s)s）") % {"s": name})
        out[name] = usccs
        pos = end
    if pos != len(text):
        raise InspectionError(_("候选名单与清单不一致（分层 %(s)s）") % {"s": "…"})
    return out


# Entities no longer in business are replaced by alternates; a suspended one (歇业) stays drawn and its result
# will say so (已关闭停业或正在组织清算).
GONE = (Entity.Status.CANCELLED, Entity.Status.REVOKED, Entity.Status.MOVED_OUT)
GONE_REASON = "已注销/被吊销/被撤销/迁出"


def _by_uscc(usccs: Iterable[str], *fields: str, chunk: int = 5000) -> dict[str, tuple[Any, ...]]:
    """uscc → fields of the entity, looked up in chunks (SQLite limits the parameters of one query)."""
    ordered = sorted(usccs)
    out: dict[str, tuple[Any, ...]] = {}
    for i in range(0, len(ordered), chunk):
        out.update((row[0], row[1:]) for row in Entity.objects.filter(uscc__in=ordered[i:i + chunk])
                   .values_list("uscc", *fields))
    return out


def _deregistered(draws: list[draw_domain.StratumDraw]) -> tuple[set[str], dict[str, int]]:
    """The drawn entities no longer in business (or no longer in the registry), and the registry id of every
    selected entity. Only the strata where a selected entity is gone need their alternates looked up."""
    found = _by_uscc({u for d in draws for u, _t in d.selected}, "status", "pk")
    gone = {u for d in draws for u, _t in d.selected if found.get(u, (GONE[0],))[0] in GONE}
    short = [d for d in draws if any(u in gone for u, _t in d.selected)]
    found.update(_by_uscc({u for d in short for u, _t in d.alternates}, "status", "pk"))
    gone |= {u for d in short for u, _t in d.alternates if found.get(u, (GONE[0],))[0] in GONE}
    return gone, {u: row[1] for u, row in found.items()}


def plan_draw(plan: InspectionPlan, *, actor: User | None) -> InspectionPlan:
    """Draw every stratum with the committed candidates and the confirmed randomness, replace deregistered
    entities by alternates, store the selections and merge them into visits. Once only."""
    plan.refresh_from_db()
    refusal = draw_refusal(plan)
    if refusal:
        raise InspectionError(refusal)
    data = candidates_bytes(plan)
    manifest = json.loads(plan.manifest_json)
    if draw_domain.commitment_of(manifest) != plan.commitment:
        raise InspectionError(_("清单与已公开的承诺值不一致，拒绝抽取"))
    members = parse_candidates(data, manifest["strata"])
    ratios = {s["stratum"]: Decimal(s["ratio"]) for s in manifest["strata"]}
    seed = draw_domain.seed_of(plan.commitment, plan.randomness)
    draws = draw_domain.draw_all(seed, {k: (members[k], r) for k, r in ratios.items()})
    deregistered, ids = _deregistered(draws)
    try:
        effective, used = draw_domain.replace_deregistered(draws, deregistered, reason=GONE_REASON)
    except draw_domain.DrawInputError:  # kept alternates exhausted: draw again keeping every alternate
        draws = draw_domain.draw_all(seed, {k: (members[k], r) for k, r in ratios.items()}, alternates=None)
        deregistered, ids = _deregistered(draws)
        effective, used = draw_domain.replace_deregistered(draws, deregistered, reason=GONE_REASON)
    del members
    draw_doc = draw_domain.draw_json(plan.commitment, plan.randomness, seed, draws, used)
    replaced_by = {(u["stratum"], u["by"]): u["replaced"] for u in used if u["by"]}
    strata = {s.key: s for s in plan.strata.select_related("task", "item")}
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.seed:
            raise InspectionError(_("计划已经抽取，承诺公开后不能重新抽取；如需更正请创建新版本"))
        selections = [DrawSelection(plan=locked, stratum=strata[e["stratum"]], entity_id=ids[e["uscc"]],
                                    uscc=e["uscc"], ticket=e["ticket"],
                                    replaced_uscc=replaced_by.get((e["stratum"], e["uscc"]), ""))
                      for e in effective]
        DrawSelection.objects.bulk_create(selections, batch_size=2000)
        locked.seed = seed
        locked.drawn_at = timezone.now()
        locked.draw_json = canonical(draw_doc)
        locked.selections_count = len(selections)
        locked.status = Status.DRAWN
        locked.save()
        merged = _merge_into_visits(locked, selections)
        audit_record(locked, "status:drawn", actor=actor, before={"status": Status.FROZEN},
                     after={"status": Status.DRAWN, "seed": seed, "selected": len(selections),
                            "alternates_used": len(used), "visits": merged[0], "visits_saved": merged[1]},
                     reason=_("按公开随机数抽取检查对象并合并联合检查"))
    plan.refresh_from_db()
    return plan


def _merge_into_visits(plan: InspectionPlan, selections: list[DrawSelection]) -> tuple[int, int]:
    """Entities drawn by several tasks with overlapping periods get one visit carrying all their items."""
    by_entity: dict[int, list[DrawSelection]] = defaultdict(list)
    for sel in selections:
        by_entity[sel.entity_id].append(sel)
    separate = len({(sel.entity_id, sel.stratum.task_id) for sel in selections})
    visits: list[tuple[Visit, list[DrawSelection]]] = []
    seq = 0
    for entity_id in sorted(by_entity):
        sels = sorted(by_entity[entity_id], key=lambda s: (s.stratum.task.period_start, s.stratum.task_id))
        clusters: list[tuple[dt.date, dt.date, list[DrawSelection]]] = []
        for sel in sels:
            t = sel.stratum.task
            if clusters and t.period_start <= clusters[-1][1] and t.period_end >= clusters[-1][0]:
                start, end, members = clusters[-1]
                clusters[-1] = (max(start, t.period_start), min(end, t.period_end), [*members, sel])
            else:
                clusters.append((t.period_start, t.period_end, [sel]))
        for start, end, members in clusters:
            seq += 1
            visits.append((Visit(plan=plan, unit_id=plan.unit_id, entity_id=entity_id,
                                 number=f"{plan.year}-{plan.pk:04d}-{seq:05d}", period_start=start,
                                 period_end=end), members))
    Visit.objects.bulk_create([v for v, _m in visits], batch_size=2000)
    if not visits or visits[0][0].pk is None:  # backends that do not return ids from bulk_create
        pks = dict(Visit.objects.filter(plan=plan).values_list("number", "pk"))
        for v, _m in visits:
            v.pk = pks[v.number]
    rows: dict[tuple[int, int, int], VisitItem] = {}
    for visit, members in visits:
        for sel in members:
            st = sel.stratum
            key = (visit.pk, st.task_id, st.item_id)
            if key in rows:  # drawn in both the A stratum and the A control slice of the same item
                rows[key].is_slice = rows[key].is_slice or st.is_slice
                continue
            rows[key] = VisitItem(visit_id=visit.pk, task_id=st.task_id, item_id=st.item_id, stratum_id=st.pk,
                                  risk_class=st.risk_class, is_slice=st.is_slice)
    VisitItem.objects.bulk_create(list(rows.values()), batch_size=2000)
    plan.visits_count = len(visits)
    plan.visits_saved = max(0, separate - len(visits))
    plan.save(update_fields=["visits_count", "visits_saved"])
    return len(visits), plan.visits_saved


