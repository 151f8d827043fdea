"""Writes of the inspections app: item list, inspector register, plans and their workflow, results, publication.
One transaction and audit entry each. The draw (freeze, randomness, draw, merge into visits) is in `draws`, the
inspector assignment in `assignment`.

The draw protocol itself (candidates.csv, manifest, commitment, seed, tickets, alternates, draw.json) and the
inspector assignment rules live in the pure modules `domain.draw` and `domain.assign`; this module only feeds
them data from the database and stores what they return.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jianguan.core.audit import AuditEvent, audit_record, audit_record_many, snapshot
from jianguan.core.models import Department, Division, Unit, User
from jianguan.inspections.domain import draw as draw_domain
from jianguan.inspections.models import (
    RISK_CLASSES,
    Evidence,
    InspectionItem,
    InspectionPlan,
    InspectionTask,
    Inspector,
    InspectorConflict,
    Visit,
    VisitItem,
)
from jianguan.inspections.rules import default_items, publication_rules, result_codes
from jianguan.registry.models import Entity

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
