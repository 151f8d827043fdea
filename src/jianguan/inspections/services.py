"""Writes of the inspections app: item list, inspector register, plans and their workflow, freeze, randomness,
draw, merge into visits, inspector assignment, results, publication. One transaction and audit entry each.

The draw protocol itself (candidates.csv, manifest, commitment, seed, tickets, alternates, draw.json) and the
inspector assignment rules live in the pure modules `domain.draw` and `domain.assign`; this module only feeds
them data from the database and stores what they return.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from jianguan.core.audit import AuditEvent, audit_record, audit_record_many, snapshot
from jianguan.core.models import Department, Division, Unit, User
from jianguan.inspections.domain import assign as assign_domain
from jianguan.inspections.domain import draw as draw_domain
from jianguan.inspections.models import (
    RISK_CLASSES,
    AssignmentRejection,
    DrawSelection,
    DrawStratum,
    Evidence,
    InspectionItem,
    InspectionPlan,
    InspectionTask,
    Inspector,
    InspectorConflict,
    Visit,
    VisitInspector,
    VisitItem,
)
from jianguan.inspections.rules import assignment_rules, default_items, publication_rules, result_codes
from jianguan.registry.models import Entity, EntityLabel, Industry, Label, Licence

Status = InspectionPlan.Status


class InspectionError(Exception):
    """A refusal to report to the user (message in plain Chinese); nothing was changed."""


# ---------------------------------------------------------------------------------------------------------------
# Item list (抽查事项清单)
# ---------------------------------------------------------------------------------------------------------------

RULE_KEYS = ("labels", "industries", "licences", "kinds", "statuses")


def target_rule_errors(rule: Any) -> list[str]:
    """Why a target rule is unusable (empty list: fine)."""
    if not isinstance(rule, dict) or not rule:
        return [_("没有设置检查对象规则")]
    errors = []
    unknown = sorted(set(rule) - set(RULE_KEYS))
    if unknown:
        errors.append(_("检查对象规则含未知条件：%(keys)s") % {"keys": "、".join(unknown)})
    for key in RULE_KEYS:
        if key in rule and (not isinstance(rule[key], list) or not all(isinstance(v, str) and v for v in rule[key])):
            errors.append(_("检查对象规则“%(key)s”必须是非空文字列表") % {"key": key})
    if not any(rule.get(k) for k in ("labels", "industries", "licences", "kinds")):
        errors.append(_("检查对象规则至少要有标签、行业、许可证或主体类型之一"))
    return errors


def _ratio(value: Any, label: str) -> Decimal:
    try:
        return draw_domain.validate_ratio(str(value))
    except draw_domain.DrawInputError as exc:
        raise InspectionError(_("%(label)s：%(msg)s") % {"label": label, "msg": exc}) from None


def items_load_defaults(*, actor: User | None = None, only_if_empty: bool = True) -> int:
    """Load the shipped item list (`rules/inspections/items.yaml`); by default only into an empty list."""
    if only_if_empty and InspectionItem.objects.exists():
        return 0
    departments = {d.code: d for d in Department.objects.all()}
    n = 0
    with transaction.atomic():
        for raw in default_items():
            dept = departments.get(raw["department"])
            if dept is None:
                continue  # a bureau that removed a partner department from departments.yaml
            defaults = {
                "name": raw["name"], "department": dept, "kind": raw["kind"], "category": raw["category"],
                "legal_basis": raw["legal_basis"], "check_points": raw["check_points"],
                "target_rule": raw["target_rule"], "min_interval_days": raw["min_interval_days"],
                "source": raw["source"][:200],
                **{f"ratio_{k.lower()}": Decimal(v) for k, v in raw["ratios"].items()},
            }
            item, created = InspectionItem.objects.update_or_create(code=raw["code"], defaults=defaults)
            audit_record(item, "create" if created else "update", actor=actor, after={"code": item.code},
                         reason="rules/inspections/items.yaml")
            n += 1
    return n


ITEM_COLUMNS = ["事项编码", "事项名称", "部门代码", "事项类别", "资格类别", "检查依据", "检查内容", "检查对象规则",
                "A类比例", "B类比例", "C类比例", "D类比例", "最短间隔天数"]
KIND_BY_LABEL = {"一般": "general", "重点": "key", "general": "general", "key": "key"}


@dataclass
class ImportReport:
    """Row-by-row outcome of an all-or-nothing import."""

    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _sheet_rows(data: bytes, columns: list[str]) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str]]]:
    from io import BytesIO

    from openpyxl import load_workbook

    try:
        wb = load_workbook(BytesIO(data), read_only=True, data_only=True)
    except Exception:  # any unreadable file is the same error to the user
        return [], [(0, _("无法读取文件：请上传 .xlsx 格式的 Excel 文件"))]
    ws = wb.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    if not rows:
        return [], [(1, _("文件为空"))]
    header = [str(c).strip() if c is not None else "" for c in rows[0]]
    missing = [c for c in columns if c not in header]
    if missing:
        return [], [(1, _("缺少列：%(cols)s") % {"cols": "、".join(missing)})]
    out = []
    for i, row in enumerate(rows[1:], start=2):
        values = {h: ("" if v is None else str(v).strip()) for h, v in zip(header, row, strict=False) if h}
        if not any(values.values()):
            continue
        out.append((i, values))
    return out, []


def items_import_excel(data: bytes, *, actor: User | None) -> ImportReport:
    """Import or update items from an Excel sheet (columns `ITEM_COLUMNS`); all rows or none."""
    rows, errors = _sheet_rows(data, ITEM_COLUMNS)
    report = ImportReport(errors=errors)
    if errors:
        return report
    departments = {d.code: d for d in Department.objects.all()}
    parsed: list[tuple[str, dict[str, Any]]] = []
    seen: set[str] = set()
    for row_no, v in rows:
        problems = []
        code = v["事项编码"]
        if not code:
            problems.append(_("事项编码为空"))
        elif code in seen:
            problems.append(_("事项编码 %(code)s 重复") % {"code": code})
        seen.add(code)
        if not v["事项名称"]:
            problems.append(_("事项名称为空"))
        dept = departments.get(v["部门代码"])
        if dept is None:
            problems.append(_("部门代码“%(code)s”不存在") % {"code": v["部门代码"]})
        kind = KIND_BY_LABEL.get(v["事项类别"])
        if kind is None:
            problems.append(_("事项类别应为“一般”或“重点”"))
        if not v["资格类别"]:
            problems.append(_("资格类别为空"))
        try:
            rule = json.loads(v["检查对象规则"] or "{}")
        except json.JSONDecodeError:
            rule = None
            problems.append(_("检查对象规则不是有效的 JSON"))
        if rule is not None:
            problems.extend(target_rule_errors(rule))
        ratios = {}
        for cls in RISK_CLASSES:
            try:
                ratios[cls] = draw_domain.validate_ratio(v[f"{cls}类比例"] or "0")
            except draw_domain.DrawInputError as exc:
                problems.append(_("%(cls)s类比例：%(msg)s") % {"cls": cls, "msg": exc})
        try:
            interval = int(float(v["最短间隔天数"] or 0))
            if interval < 0:
                raise ValueError
        except ValueError:
            interval = 0
            problems.append(_("最短间隔天数应为非负整数"))
        if problems:
            report.errors.append((row_no, "；".join(problems)))
            continue
        points = [p.strip() for p in v["检查内容"].replace(";", "；").split("；") if p.strip()]
        parsed.append((code, {
            "name": v["事项名称"], "department": dept, "kind": kind, "category": v["资格类别"],
            "legal_basis": v["检查依据"], "check_points": points, "target_rule": rule, "min_interval_days": interval,
            **{f"ratio_{c.lower()}": r for c, r in ratios.items()}}))
    if report.errors:
        return report
    with transaction.atomic():
        for code, defaults in parsed:
            item, created = InspectionItem.objects.update_or_create(code=code, defaults=defaults)
            audit_record(item, "import", actor=actor, after={"code": code, "created": created})
            if created:
                report.created += 1
            else:
                report.updated += 1
    return report


def items_export_excel(items: Iterable[InspectionItem]) -> bytes:
    from io import BytesIO

    import xlsxwriter

    buf = BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet("抽查事项清单")
    bold = wb.add_format({"bold": True})
    ws.write_row(0, 0, ITEM_COLUMNS, bold)
    for r, item in enumerate(items, start=1):
        ws.write_row(r, 0, [
            item.code, item.name, item.department.code, "重点" if item.kind == "key" else "一般", item.category,
            item.legal_basis, "；".join(item.check_points),
            json.dumps(item.target_rule, ensure_ascii=False, sort_keys=True),
            str(item.ratio_a), str(item.ratio_b), str(item.ratio_c), str(item.ratio_d), item.min_interval_days])
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 40)
    wb.close()
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Inspector register (执法检查人员名录库)
# ---------------------------------------------------------------------------------------------------------------

INSPECTOR_COLUMNS = ["姓名", "部门代码", "单位代码", "执法证号", "资格类别", "状态", "系统账号"]
STATUS_BY_LABEL = {"在岗": "active", "休假": "leave", "休假/借调": "leave", "借调": "leave", "退休": "retired",
                   "调离": "retired", "退休/调离": "retired", "active": "active", "leave": "leave",
                   "retired": "retired", "": "active"}


def inspectors_import_excel(data: bytes, *, actor: User | None) -> ImportReport:
    rows, errors = _sheet_rows(data, INSPECTOR_COLUMNS)
    report = ImportReport(errors=errors)
    if errors:
        return report
    departments = {d.code: d for d in Department.objects.all()}
    units = {u.code: u for u in Unit.objects.all()}
    parsed = []
    seen: set[str] = set()
    for row_no, v in rows:
        problems = []
        if not v["姓名"]:
            problems.append(_("姓名为空"))
        dept = departments.get(v["部门代码"])
        if dept is None:
            problems.append(_("部门代码“%(code)s”不存在") % {"code": v["部门代码"]})
        unit = units.get(v["单位代码"])
        if unit is None:
            problems.append(_("单位代码“%(code)s”不存在") % {"code": v["单位代码"]})
        cert = v["执法证号"]
        if not cert:
            problems.append(_("执法证号为空"))
        elif cert in seen:
            problems.append(_("执法证号 %(cert)s 在文件中重复") % {"cert": cert})
        seen.add(cert)
        status = STATUS_BY_LABEL.get(v["状态"])
        if status is None:
            problems.append(_("状态应为“在岗”“休假”或“退休”"))
        quals = [q.strip() for q in v["资格类别"].replace(",", "、").replace("，", "、").split("、") if q.strip()]
        if not quals:
            problems.append(_("资格类别为空"))
        user = None
        if v["系统账号"]:
            user = User.objects.filter(username=v["系统账号"]).first()
            if user is None:
                problems.append(_("系统账号“%(u)s”不存在") % {"u": v["系统账号"]})
        if problems:
            report.errors.append((row_no, "；".join(problems)))
            continue
        parsed.append((cert, {"name": v["姓名"], "department": dept, "unit": unit, "qualifications": quals,
                              "status": status, "user": user}))
    if report.errors:
        return report
    with transaction.atomic():
        for cert, defaults in parsed:
            inspector, created = Inspector.objects.update_or_create(cert_no=cert, defaults=defaults)
            audit_record(inspector, "import", actor=actor, after={"cert_no": cert, "created": created})
            report.created += int(created)
            report.updated += int(not created)
    return report


def inspector_conflict_declare(inspector: Inspector, entity: Entity, reason: str, *, declared_on: dt.date,
                               actor: User | None) -> InspectorConflict:
    if not reason.strip():
        raise InspectionError(_("请填写回避事由"))
    with transaction.atomic():
        conflict, _created = InspectorConflict.objects.update_or_create(
            inspector=inspector, entity=entity, defaults={"reason": reason.strip(), "declared_on": declared_on})
        audit_record(conflict, "declare", actor=actor, after={"inspector": inspector.cert_no, "entity": entity.uscc},
                     reason=reason)
    return conflict


# ---------------------------------------------------------------------------------------------------------------
# Plans, tasks and the workflow
# ---------------------------------------------------------------------------------------------------------------

def plan_create(*, name: str, year: int, unit: Unit, actor: User | None, supersedes: InspectionPlan | None = None,
                correction_reason: str = "") -> InspectionPlan:
    if not name.strip():
        raise InspectionError(_("请填写计划名称"))
    with transaction.atomic():
        version = 1
        if supersedes is not None:
            if not correction_reason.strip():
                raise InspectionError(_("更正计划必须填写更正理由"))
            supersedes = InspectionPlan.objects.select_for_update().get(pk=supersedes.pk)
            if supersedes.status == Status.SUPERSEDED:
                raise InspectionError(_("该计划已被更正，请在最新版本上更正"))
            version = supersedes.version + 1
        plan = InspectionPlan.objects.create(name=name.strip(), year=year, unit=unit, created_by=actor,
                                             version=version, supersedes=supersedes,
                                             correction_reason=correction_reason.strip())
        audit_record(plan, "create", actor=actor, after=snapshot(plan, ["name", "year", "unit_id", "version",
                                                                        "supersedes_id"]),
                     reason=correction_reason)
    return plan


def plan_correct(plan: InspectionPlan, *, reason: str, actor: User | None) -> InspectionPlan:
    """A correction after the commitment: a new draft version copying the tasks; the old one is superseded when
    the new one is approved. The committed draw itself is never changed."""
    with transaction.atomic():
        new = plan_create(name=plan.name, year=plan.year, unit=plan.unit, actor=actor, supersedes=plan,
                          correction_reason=reason)
        for task in plan.tasks.all():
            items = list(task.items.all())
            partners = list(task.partner_departments.all())
            task.pk = None
            task.plan = new
            task.save()
            task.items.set(items)
            task.partner_departments.set(partners)
    return new


def task_create(plan: InspectionPlan, *, name: str, department: Department, items: list[InspectionItem],
                scope_divisions: list[str], period_start: dt.date, period_end: dt.date, actor: User | None,
                ratios: dict[str, Any] | None = None, a_slice_ratio: Any = "0.01", min_interval_days: int | None = None,
                partner_departments: Iterable[Department] = ()) -> InspectionTask:
    if plan.status != Status.DRAFT:
        raise InspectionError(_("只有草稿状态的计划可以修改任务"))
    if not name.strip():
        raise InspectionError(_("请填写任务名称"))
    if not items:
        raise InspectionError(_("请至少选择一个抽查事项"))
    if not scope_divisions:
        raise InspectionError(_("请选择抽查范围（区划）"))
    known = set(Division.objects.filter(code__in=scope_divisions).values_list("code", flat=True))
    unknown = [c for c in scope_divisions if c not in known]
    if unknown:
        raise InspectionError(_("区划代码不存在：%(codes)s") % {"codes": "、".join(unknown)})
    if period_end < period_start:
        raise InspectionError(_("检查结束日期不能早于开始日期"))
    for item in items:
        errs = target_rule_errors(item.target_rule)
        if errs:
            raise InspectionError(_("事项 %(code)s：%(msg)s") % {"code": item.code, "msg": "；".join(errs)})
    checked = {f"ratio_{c.lower()}": (_ratio(v, _("%(c)s类比例") % {"c": c}) if v not in (None, "") else None)
               for c, v in (ratios or {}).items() if c in RISK_CLASSES}
    slice_ratio = _ratio(a_slice_ratio, _("A类随机对照比例"))
    with transaction.atomic():
        task = InspectionTask.objects.create(
            plan=plan, name=name.strip(), department=department, scope_divisions=list(scope_divisions),
            period_start=period_start, period_end=period_end, a_slice_ratio=slice_ratio,
            min_interval_days=min_interval_days, **checked)
        task.items.set(items)
        task.partner_departments.set(list(partner_departments))
        audit_record(task, "create", actor=actor, after={
            "plan": plan.pk, "items": [i.code for i in items], "scope": list(scope_divisions),
            **{k: str(v) for k, v in checked.items() if v is not None}, "a_slice_ratio": str(slice_ratio)})
    return task


def _transition(plan: InspectionPlan, to: str, *, actor: User | None, reason: str = "",
                allowed_from: tuple[str, ...], **changes: Any) -> InspectionPlan:
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        if locked.status not in allowed_from:
            raise InspectionError(_("计划当前状态为“%(s)s”，不能执行此操作") % {"s": locked.get_status_display()})
        before = locked.status
        locked.status = to
        for k, v in changes.items():
            setattr(locked, k, v)
        locked.save()
        audit_record(locked, f"status:{to}", actor=actor, before={"status": before}, after={"status": to},
                     reason=reason)
    plan.refresh_from_db()
    return plan


def plan_approve(plan: InspectionPlan, *, actor: User, reason: str = "") -> InspectionPlan:
    if not plan.tasks.exists():
        raise InspectionError(_("计划没有任何抽查任务，不能批准"))
    with transaction.atomic():
        plan = _transition(plan, Status.APPROVED, actor=actor, reason=reason, allowed_from=(Status.DRAFT,),
                           approved_by=actor, approved_at=timezone.now())
        if plan.supersedes is not None:
            _transition(plan.supersedes, Status.SUPERSEDED, actor=actor, reason=plan.correction_reason,
                        allowed_from=tuple(s for s in Status.values if s != Status.SUPERSEDED))
    return plan


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
        from jianguan.credit.bulk import read_frame
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


# ---------------------------------------------------------------------------------------------------------------
# Inspector assignment (the second "random")
# ---------------------------------------------------------------------------------------------------------------

def plan_assign(plan: InspectionPlan, *, actor: User | None, today: dt.date) -> assign_domain.Assignment:
    """Draw a team for every unassigned visit of the plan; all or nothing. On failure the plan records which
    visit and which constraint failed, and no team is stored."""
    plan.refresh_from_db()
    if not plan.seed:
        raise InspectionError(_("计划尚未抽取检查对象，不能分配检查人员"))
    visits = list(plan.visits.filter(status=Visit.Status.UNASSIGNED).select_related("entity")
                  .prefetch_related("items__item__department", "items__task__partner_departments"))
    if not visits:
        raise InspectionError(_("没有待分配检查人员的检查"))
    rules = assignment_rules()
    dvisits = []
    for v in visits:
        needs: dict[str, set[str]] = defaultdict(set)
        for vi in v.items.all():
            needs[vi.item.department.code].add(vi.item.category)
            for partner in vi.task.partner_departments.all():
                needs.setdefault(partner.code, set())
        dvisits.append(assign_domain.Visit(task_id=v.number, uscc=v.entity.uscc,
                                           needs={k: frozenset(c) for k, c in needs.items()},
                                           area=v.entity.division_id[:6]))
    # Retired inspectors have left the register; those on leave stay in the pool and are logged as "inactive".
    pool = list(Inspector.objects.filter(unit__in=_assignable_units(plan)).exclude(status=Inspector.Status.RETIRED)
                .select_related("department", "unit__division").prefetch_related("conflicts__entity"))
    inspectors = [assign_domain.Inspector(
        id=str(i.pk), department=i.department.code, qualifications=frozenset(i.qualifications),
        active=i.status == Inspector.Status.ACTIVE,
        conflicts=frozenset(c.entity.uscc for c in i.conflicts.all()),
        area=inspector_area(i.unit))
        for i in pool]
    start = min(v.period_start for v in visits)
    end = max(v.period_end for v in visits)
    since = today - dt.timedelta(days=rules.same_entity_interval_days)
    recent: dict[tuple[str, str], dt.date] = {}
    in_plan = {v.entity_id for v in visits}
    for iid, entity_id, uscc, when in (VisitInspector.objects
                                       .filter(visit__end_date__gte=since, visit__end_date__isnull=False)
                                       .exclude(visit__plan=plan)
                                       .values_list("inspector_id", "visit__entity_id", "visit__entity__uscc",
                                                    "visit__end_date").iterator(chunk_size=5000)):
        if entity_id not in in_plan:
            continue
        key = (str(iid), uscc)
        if when is not None and (key not in recent or when > recent[key]):
            recent[key] = when
    workload: dict[str, int] = defaultdict(int)
    for other_id in (VisitInspector.objects.filter(visit__period_start__lte=end, visit__period_end__gte=start)
                     .exclude(visit__plan=plan).values_list("inspector_id", flat=True)):
        workload[str(other_id)] += 1
    try:
        result = assign_domain.assign_inspectors(
            plan.seed, dvisits, inspectors, recent=recent, interval_days=rules.same_entity_interval_days,
            today=today, workload=workload, cap=rules.workload_cap_per_period, min_team=rules.min_team_size)
    except draw_domain.DrawInputError as exc:
        raise InspectionError(str(exc)) from None
    by_number = {v.number: v for v in visits}
    with transaction.atomic():
        locked = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
        if result.failures:
            locked.assignment_error = {"failures": [
                {"visit": f.task_id, "entity": by_number[f.task_id].entity.name, "uscc": f.uscc,
                 "constraint": f.constraint, "label": assign_domain.CONSTRAINT_LABELS.get(f.constraint, ""),
                 "message": f.message} for f in result.failures]}
            locked.save(update_fields=["assignment_error"])
            audit_record(locked, "assign:failed", actor=actor,
                         after={"failures": len(result.failures),
                                "first": locked.assignment_error["failures"][0]})
            return result
        tickets: dict[tuple[str, str], str] = {}
        for number, team in result.teams.items():
            for member in team:
                tickets[(number, member)] = assign_domain.inspector_ticket(plan.seed, number, member)
        VisitInspector.objects.bulk_create([
            VisitInspector(visit_id=by_number[number].pk, inspector_id=int(iid), ticket=tickets[(number, iid)])
            for number, team in result.teams.items() for iid in team], batch_size=2000)
        AssignmentRejection.objects.bulk_create([
            AssignmentRejection(plan=locked, visit_id=by_number[r.task_id].pk, inspector_id=int(r.inspector_id),
                                constraint=r.constraint,
                                detail=assign_domain.CONSTRAINT_LABELS.get(r.constraint, ""))
            for r in result.rejections], batch_size=5000)
        assigned = sorted(by_number[n].pk for n in result.teams)
        for i in range(0, len(assigned), 5000):
            Visit.objects.filter(pk__in=assigned[i:i + 5000]).update(status=Visit.Status.ASSIGNED)
        locked.assignment_error = {}
        locked.save(update_fields=["assignment_error"])
        audit_record(locked, "assign", actor=actor,
                     after={"visits": len(result.teams), "rejections": len(result.rejections)},
                     reason=_("随机选派检查人员"))
    return result


def inspector_area(unit: Unit) -> str:
    """The area an inspector covers: the divisions under their unit's division, as a code prefix (`371003` a
    county office, `3710` a city bureau — every county of the city, `37` the province bureau)."""
    return unit.division.scope_prefix


def _assignable_units(plan: InspectionPlan) -> list[int]:
    """Inspectors of the plan's unit and below, plus partner-department offices in the plan's divisions."""
    unit = plan.unit
    prefix = unit.division.scope_prefix
    return list(Unit.objects.filter(Q(path__startswith=unit.path)
                                    | Q(kind=Unit.Kind.PARTNER, division__pk__startswith=prefix))
                .values_list("pk", flat=True))


def plan_execute(plan: InspectionPlan, *, actor: User | None,
                 today: dt.date) -> tuple[InspectionPlan, assign_domain.Assignment]:
    """Draw, merge and assign in one go (the draw stays even if the assignment fails)."""
    plan = plan_draw(plan, actor=actor)
    return plan, plan_assign(plan, actor=actor, today=today)


# ---------------------------------------------------------------------------------------------------------------
# Results, consequences, publication
# ---------------------------------------------------------------------------------------------------------------

def _publication_due(end: dt.date) -> dt.date | None:
    from jianguan.core.calendar_service import get_calendar
    from jianguan.core.domain.calendar import CalendarYearMissing

    try:
        return get_calendar().add_working_days(end, publication_rules().within_working_days)
    except CalendarYearMissing:
        return None


def visit_record_results(visit: Visit, *, results: dict[int, tuple[str, str]], visit_date: dt.date,
                         end_date: dt.date | None = None, summary: str = "", actor: User | None) -> Visit:
    """Record the result of each item (VisitItem id → (code, note)); consequences follow the result codes."""
    codes = result_codes()
    end_date = end_date or visit_date
    if end_date < visit_date:
        raise InspectionError(_("检查结束日期不能早于检查日期"))
    if visit.status == Visit.Status.PUBLISHED:
        raise InspectionError(_("检查结果已公示，不能修改"))
    if visit.status == Visit.Status.UNASSIGNED:
        raise InspectionError(_("该检查尚未选派检查人员"))
    items = {vi.pk: vi for vi in visit.items.select_related("item")}
    missing = [vi.item.code for pk, vi in items.items() if pk not in results or not results[pk][0]]
    if missing:
        raise InspectionError(_("以下事项尚未填写检查结果：%(codes)s") % {"codes": "、".join(missing)})
    bad = [c for c, _n in results.values() if c not in codes]
    if bad:
        raise InspectionError(_("检查结果代码无效：%(codes)s") % {"codes": "、".join(bad)})
    with transaction.atomic():
        for pk, vi in items.items():
            vi.result_code, vi.result_note = results[pk][0], results[pk][1].strip()
        VisitItem.objects.bulk_update(list(items.values()), ["result_code", "result_note"])
        visit.visit_date, visit.end_date, visit.summary = visit_date, end_date, summary.strip()
        visit.due_date = _publication_due(end_date)
        visit.status = Visit.Status.COMPLETED
        visit.recorded_by = actor
        visit.save()
        audit_record(visit, "results", actor=actor,
                     after={"results": {items[pk].item.code: results[pk][0] for pk in items},
                            "visit_date": visit_date.isoformat(), "end_date": end_date.isoformat()})
        consequences = {codes[c].consequence for c, _n in results.values() if codes[c].consequence}
        if "abnormal_list" in consequences:
            _abnormal_candidate(visit, actor)
        if "enforcement" in consequences:
            from jianguan.enforcement.services import lead_create

            notes = "；".join(f"{items[pk].item.name}：{codes[results[pk][0]].label}"
                              + (f"（{results[pk][1]}）" if results[pk][1] else "")
                              for pk in items if codes[results[pk][0]].consequence == "enforcement")
            lead_create(source="inspection", source_ref=f"visit:{visit.number}", unit=visit.unit,
                        summary=_("双随机抽查 %(no)s 发现问题待后续处理：%(notes)s") % {"no": visit.number,
                                                                                      "notes": notes},
                        entity=visit.entity, actor=actor)
        _plan_progress(visit.plan, actor)
    return visit


def _abnormal_candidate(visit: Visit, actor: User | None) -> None:
    """通过登记的住所（经营场所）无法联系 → a candidate for the abnormal-operations list (credit decides)."""
    try:
        from jianguan.credit.services import abnormal_candidate_add
    except ImportError:
        # Credit is not installed: keep the finding as an enforcement follow-up so it is not lost.
        from jianguan.enforcement.services import lead_create

        lead_create(source="inspection", source_ref=f"visit:{visit.number}:unreachable", unit=visit.unit,
                    summary=_("双随机抽查 %(no)s：通过登记的住所（经营场所）无法联系，建议列入经营异常名录")
                    % {"no": visit.number}, entity=visit.entity, actor=actor)
        return
    abnormal_candidate_add(visit.entity, "unreachable", f"inspections.visit:{visit.number}", actor,
                           today=visit.end_date)


def _plan_progress(plan: InspectionPlan, actor: User | None) -> None:
    plan.refresh_from_db()
    states = set(plan.visits.values_list("status", flat=True))
    target = None
    if plan.status == Status.DRAWN and states & {Visit.Status.COMPLETED, Visit.Status.PUBLISHED}:
        target = Status.IN_PROGRESS
    if plan.status in (Status.DRAWN, Status.IN_PROGRESS) and states <= {Visit.Status.COMPLETED,
                                                                         Visit.Status.PUBLISHED}:
        target = Status.COMPLETED
    if states == {Visit.Status.PUBLISHED} and plan.status in (Status.DRAWN, Status.IN_PROGRESS, Status.COMPLETED):
        target = Status.PUBLISHED
    if target and target != plan.status:
        before = plan.status
        plan.status = target
        plan.save(update_fields=["status"])
        audit_record(plan, f"status:{target}", actor=actor, before={"status": before}, after={"status": target},
                     reason=_("检查进度自动更新"))


def visit_publish(visit: Visit, *, actor: User | None) -> Visit:
    if visit.status != Visit.Status.COMPLETED:
        raise InspectionError(_("只有已录入结果的检查可以公示"))
    with transaction.atomic():
        visit.status = Visit.Status.PUBLISHED
        visit.published_at = timezone.now()
        visit.published_by = actor
        visit.save(update_fields=["status", "published_at", "published_by"])
        audit_record(visit, "publish", actor=actor, after={"published_at": visit.published_at.isoformat()})
        _plan_progress(visit.plan, actor)
    return visit


def visits_publish_many(visits: Iterable[Visit], *, actor: User | None) -> int:
    n = 0
    for v in visits:
        if v.status == Visit.Status.COMPLETED:
            visit_publish(v, actor=actor)
            n += 1
    return n


EVIDENCE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024  # a phone photo or a scanned record; larger files belong in the case file


def evidence_add(visit: Visit, upload: Any, *, actor: User) -> Evidence:
    head = upload.read(8)
    upload.seek(0)
    kind = ("image/jpeg" if head.startswith(b"\xff\xd8\xff") else "image/png" if head.startswith(b"\x89PNG")
            else "application/pdf" if head.startswith(b"%PDF") else None)
    if kind is None:
        raise InspectionError(_("只能上传 JPG、PNG 照片或 PDF 文件"))
    if upload.size > EVIDENCE_MAX_BYTES:
        raise InspectionError(_("文件不能超过 10 MB"))
    if visit.status == Visit.Status.PUBLISHED:
        raise InspectionError(_("检查结果已公示，不能再添加证据"))
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    name = Path(upload.name or "evidence").name[:150]
    with transaction.atomic():
        ev = Evidence(visit=visit, name=name, content_type=kind, size=upload.size, sha256=digest.hexdigest(),
                      uploaded_by=actor)
        ev.file.save(f"{digest.hexdigest()[:16]}{EVIDENCE_TYPES[kind]}", upload, save=False)
        ev.save()
        audit_record(ev, "create", actor=actor, after={"visit": visit.number, "name": name, "sha256": ev.sha256})
    return ev


def bulk_audit(events: list[AuditEvent]) -> None:
    if events:
        audit_record_many(events)
