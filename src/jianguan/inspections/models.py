"""Random inspections (双随机、一公开): item list, inspector register, plans, tasks, draws, visits and results."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jianguan.core.models import Department, Unit
from jianguan.registry.models import Entity

RISK_CLASSES = ("A", "B", "C", "D")


def _ratio_field(label: Any, **kwargs: Any) -> models.DecimalField:
    return models.DecimalField(label, max_digits=6, decimal_places=4, **kwargs)  # type: ignore[arg-type]


class InspectionItem(models.Model):
    """An entry of the inspection item list (抽查事项清单)."""

    class Kind(models.TextChoices):
        GENERAL = "general", _("一般检查事项")
        KEY = "key", _("重点检查事项")

    code = models.CharField(_("事项编码"), max_length=32, unique=True)
    name = models.CharField(_("事项名称"), max_length=200)
    department = models.ForeignKey(Department, models.PROTECT, related_name="inspection_items",
                                   verbose_name=_("实施部门"))
    kind = models.CharField(_("事项类别"), max_length=16, choices=Kind.choices, default=Kind.GENERAL)
    category = models.CharField(_("执法资格类别"), max_length=32,
                                help_text=_("检查人员须具备该类别资格"))
    legal_basis = models.TextField(_("检查依据"), blank=True)
    check_points = models.JSONField(_("检查内容"), default=list, blank=True)
    target_rule = models.JSONField(_("检查对象规则"), default=dict, blank=True)
    ratio_a = _ratio_field(_("A类抽查比例"), default=0)
    ratio_b = _ratio_field(_("B类抽查比例"), default="0.05")
    ratio_c = _ratio_field(_("C类抽查比例"), default="0.10")
    ratio_d = _ratio_field(_("D类抽查比例"), default="0.20")
    min_interval_days = models.PositiveIntegerField(_("最短检查间隔（天）"), default=365)
    source = models.CharField(_("来源"), max_length=200, blank=True)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("抽查事项")
        verbose_name_plural = _("抽查事项清单")
        ordering = ["department__sort_order", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def ratio_for(self, risk_class: str):  # type: ignore[no-untyped-def]
        return getattr(self, f"ratio_{risk_class.lower()}")


class Inspector(models.Model):
    """A person of the inspector register (执法检查人员名录库)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("在岗")
        LEAVE = "leave", _("休假/借调")
        RETIRED = "retired", _("退休/调离")

    name = models.CharField(_("姓名"), max_length=64)
    department = models.ForeignKey(Department, models.PROTECT, related_name="inspectors", verbose_name=_("部门"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="inspectors", verbose_name=_("单位"))
    cert_no = models.CharField(_("执法证号"), max_length=32, unique=True)
    qualifications = models.JSONField(_("执法资格类别"), default=list, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
                                related_name="inspector", verbose_name=_("系统账号"))

    class Meta:
        verbose_name = _("执法检查人员")
        verbose_name_plural = _("执法检查人员名录库")
        ordering = ["unit__path", "cert_no"]

    def __str__(self) -> str:
        return f"{self.name}（{self.cert_no}）"


class InspectorConflict(models.Model):
    """A declared conflict of interest with an entity: the inspector recuses (回避)."""

    inspector = models.ForeignKey(Inspector, models.CASCADE, related_name="conflicts", verbose_name=_("检查人员"))
    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", verbose_name=_("市场主体"))
    reason = models.CharField(_("回避事由"), max_length=200)
    declared_on = models.DateField(_("申报日期"))

    class Meta:
        verbose_name = _("回避申报")
        verbose_name_plural = _("回避申报")
        constraints = [models.UniqueConstraint(fields=["inspector", "entity"], name="unique_inspector_conflict")]

    def __str__(self) -> str:
        return f"{self.inspector_id}:{self.entity_id}"


class _PlanManager(models.Manager["InspectionPlan"]):
    """Plans without their two large documents, loaded when first read: the manifest (≈ 8 MB at province scale) and
    draw.json (≈ 60 MB), which cost a drawn province plan 0.3 s each time it is loaded (its list page, every step
    of the draw and the assignment), though most uses never read them."""

    LARGE = ("manifest_json", "draw_json")

    def get_queryset(self) -> models.QuerySet[InspectionPlan]:
        return super().get_queryset().defer(*self.LARGE)


class InspectionPlan(models.Model):
    """An annual random-inspection plan of a unit; after the commitment it can only be superseded."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        APPROVED = "approved", _("已批准")
        FROZEN = "frozen", _("已冻结（承诺已公开）")
        DRAWN = "drawn", _("已抽取")
        IN_PROGRESS = "in_progress", _("检查中")
        COMPLETED = "completed", _("检查完成")
        PUBLISHED = "published", _("已公示")
        SUPERSEDED = "superseded", _("已被更正版本取代")

    name = models.CharField(_("计划名称"), max_length=200)
    year = models.PositiveSmallIntegerField(_("年度"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="inspection_plans", verbose_name=_("制定单位"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT,
                              db_index=True)
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    supersedes = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="corrections",
                                   verbose_name=_("更正的计划"))
    correction_reason = models.TextField(_("更正理由"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("制定人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("批准人"))
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    # Freeze and commitment
    frozen_at = models.DateTimeField(_("冻结时间"), null=True, blank=True)
    candidates_path = models.CharField(_("候选名单文件"), max_length=255, blank=True)
    candidates_sha256 = models.CharField(_("候选名单SHA-256"), max_length=64, blank=True)
    candidates_count = models.PositiveIntegerField(_("候选行数"), default=0)
    # SHA-256 of the columnar copy of the candidates the draw reads (draws._Candidates), written by the freeze
    columns_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    manifest_json = models.TextField(_("清单（manifest）"), blank=True)
    commitment = models.CharField(_("承诺值"), max_length=64, blank=True, db_index=True)
    commitment_published_at = models.DateTimeField(_("承诺公开时间"), null=True, blank=True)
    # Public randomness, entered by two officers
    randomness_pending = models.CharField(max_length=200, blank=True)
    randomness_pending_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                              related_name="+")
    randomness = models.CharField(_("公开随机数"), max_length=200, blank=True)
    randomness_source = models.CharField(_("随机数来源"), max_length=200, blank=True)
    randomness_entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                              related_name="+", verbose_name=_("录入人"))
    randomness_confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                                related_name="+", verbose_name=_("复核人"))
    randomness_at = models.DateTimeField(_("随机数录入时间"), null=True, blank=True)
    # Draw
    seed = models.CharField(_("种子"), max_length=64, blank=True)
    drawn_at = models.DateTimeField(_("抽取时间"), null=True, blank=True)
    draw_json = models.TextField(_("抽取结果（draw.json）"), blank=True)
    selections_count = models.PositiveIntegerField(_("抽中（事项x主体）"), default=0)
    visits_count = models.PositiveIntegerField(_("合并后检查次数"), default=0)
    visits_saved = models.PositiveIntegerField(_("合并节省次数"), default=0)
    assignment_error = models.JSONField(_("分配失败"), default=dict, blank=True)

    objects = _PlanManager()

    class Meta:
        verbose_name = _("抽查计划")
        verbose_name_plural = _("抽查计划")
        ordering = ["-year", "-id"]
        base_manager_name = "objects"  # a task's or a visit's plan, too

    def __str__(self) -> str:
        return f"{self.name}（第{self.version}版）" if self.version > 1 else self.name

    @property
    def committed(self) -> bool:
        return bool(self.commitment)

    def refresh_from_db(self, using: str | None = None, fields: Any = None, from_queryset: Any = None) -> None:
        """As Django's, but the large documents the manager defers are dropped rather than left as they were
        (Django skips the fields its query deferred): read again when next used."""
        super().refresh_from_db(using, fields, from_queryset)
        if fields is None:
            for name in _PlanManager.LARGE:
                self.__dict__.pop(name, None)


class InspectionTask(models.Model):
    """A task of a plan: items, scope, ratios per risk class, A-class slice, partner departments, period."""

    plan = models.ForeignKey(InspectionPlan, models.CASCADE, related_name="tasks", verbose_name=_("计划"))
    name = models.CharField(_("任务名称"), max_length=200)
    department = models.ForeignKey(Department, models.PROTECT, related_name="+", verbose_name=_("牵头部门"))
    items = models.ManyToManyField(InspectionItem, related_name="tasks", verbose_name=_("抽查事项"))
    scope_divisions = models.JSONField(_("抽查范围（区划代码）"), default=list)
    ratio_a = _ratio_field(_("A类比例"), null=True, blank=True)
    ratio_b = _ratio_field(_("B类比例"), null=True, blank=True)
    ratio_c = _ratio_field(_("C类比例"), null=True, blank=True)
    ratio_d = _ratio_field(_("D类比例"), null=True, blank=True)
    a_slice_ratio = _ratio_field(_("A类随机对照比例"), default="0.0100")
    min_interval_days = models.PositiveIntegerField(_("最短检查间隔（天）"), null=True, blank=True)
    partner_departments = models.ManyToManyField(Department, blank=True, related_name="+",
                                                 verbose_name=_("联合检查部门"))
    period_start = models.DateField(_("检查开始"))
    period_end = models.DateField(_("检查结束"))

    class Meta:
        verbose_name = _("抽查任务")
        verbose_name_plural = _("抽查任务")
        ordering = ["plan", "id"]

    def __str__(self) -> str:
        return self.name

    def ratio_for(self, item: InspectionItem, risk_class: str):  # type: ignore[no-untyped-def]
        own = getattr(self, f"ratio_{risk_class.lower()}")
        return own if own is not None else item.ratio_for(risk_class)

    def interval_for(self, item: InspectionItem) -> int:
        return self.min_interval_days if self.min_interval_days is not None else item.min_interval_days


class DrawStratum(models.Model):
    """A stratum of a frozen plan: task/item x risk class x county (or the A-class control slice)."""

    plan = models.ForeignKey(InspectionPlan, models.CASCADE, related_name="strata")
    key = models.CharField(_("分层"), max_length=120)
    task = models.ForeignKey(InspectionTask, models.CASCADE, related_name="+")
    item = models.ForeignKey(InspectionItem, models.PROTECT, related_name="+")
    risk_class = models.CharField(_("风险等级"), max_length=1)
    county = models.CharField(_("县级区划"), max_length=6)
    is_slice = models.BooleanField(_("A类随机对照"), default=False)
    candidates = models.PositiveIntegerField(_("候选数"))
    ratio = models.CharField(_("比例"), max_length=16)
    take = models.PositiveIntegerField(_("抽取数"), default=0)

    class Meta:
        verbose_name = _("抽取分层")
        verbose_name_plural = _("抽取分层")
        ordering = ["plan", "key"]
        constraints = [models.UniqueConstraint(fields=["plan", "key"], name="unique_stratum_key")]

    def __str__(self) -> str:
        return self.key


class DrawSelection(models.Model):
    """An entity drawn in a stratum (after replacing deregistered entities by alternates)."""

    plan = models.ForeignKey(InspectionPlan, models.CASCADE, related_name="selections")
    # No index: no query looks selections up by stratum, and strata are never deleted (a province draw writes
    # 366,000 selections; every index is written for each).
    stratum = models.ForeignKey(DrawStratum, models.CASCADE, related_name="selections", db_index=False)
    # No database constraint on the entity references of draws and visits (decision 0006): a province draw writes
    # some 370,000 selections and 124,000 visits, and the per-row check locks each entity row (FOR KEY SHARE) —
    # 21 s of a 25 s commit. Entities are never deleted (deregistration is a status) and PROTECT still guards
    # deletes through Django; the draw reads every selected entity in its own transaction.
    entity = models.ForeignKey(Entity, models.PROTECT, related_name="+", db_constraint=False)
    uscc = models.CharField(max_length=18)
    ticket = models.CharField(max_length=64)
    replaced_uscc = models.CharField(_("替补了"), max_length=18, blank=True)

    class Meta:
        verbose_name = _("抽中对象")
        verbose_name_plural = _("抽中对象")
        ordering = ["stratum", "ticket"]

    def __str__(self) -> str:
        return f"{self.stratum_id}:{self.uscc}"


class Visit(models.Model):
    """One visit to an entity carrying every item of every task that drew it (进一次门、查多项事)."""

    class Status(models.TextChoices):
        UNASSIGNED = "unassigned", _("待分配")
        ASSIGNED = "assigned", _("待检查")
        COMPLETED = "completed", _("已检查")
        PUBLISHED = "published", _("已公示")

    plan = models.ForeignKey(InspectionPlan, models.CASCADE, related_name="visits", verbose_name=_("计划"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("检查单位"))
    # No constraint: see DrawSelection.entity. No index of its own: visit_entity_end_idx leads with it.
    entity = models.ForeignKey(Entity, models.PROTECT, related_name="inspection_visits", verbose_name=_("检查对象"),
                               db_constraint=False, db_index=False)
    number = models.CharField(_("检查编号"), max_length=40, unique=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.UNASSIGNED)
    period_start = models.DateField(_("检查期间自"))
    period_end = models.DateField(_("检查期间至"))
    visit_date = models.DateField(_("检查日期"), null=True, blank=True)
    end_date = models.DateField(_("检查结束日期"), null=True, blank=True)
    due_date = models.DateField(_("公示期限"), null=True, blank=True)
    published_at = models.DateTimeField(_("公示时间"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("公示人"))
    summary = models.TextField(_("检查情况"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("录入人"))

    class Meta:
        verbose_name = _("检查")
        verbose_name_plural = _("检查")
        ordering = ["plan", "number"]
        # Indexes are kept to what is asked: a province draw writes ≈ 124,000 visits, 366,000 items and 250,000
        # team members at once, and every index is written for each row (the plain index on status, not
        # db_index's second one for LIKE, which no query of a status needs).
        indexes = [models.Index(fields=["entity", "end_date"], name="visit_entity_end_idx"),
                   models.Index(fields=["status"], name="visit_status_idx")]

    def __str__(self) -> str:
        return f"{self.number} {self.entity.name}"

    @property
    def found_problems(self) -> bool:
        from jianguan.inspections.rules import result_codes

        codes = result_codes()
        return any(codes[vi.result_code].problem for vi in self.items.all() if vi.result_code in codes)


class VisitItem(models.Model):
    """An item checked at a visit, from the task (and stratum) that drew it, with its result."""

    visit = models.ForeignKey(Visit, models.CASCADE, related_name="items", db_index=False)  # unique_visit_task_item
    # No index on the task or the stratum: no query looks visit items up by either, and neither is ever deleted
    # once drawn (a deletion would be refused by PROTECT after a scan). A province draw writes 366,000 items: the two
    # indexes took ≈ 45 % of that write (measured: 3.0–3.2 s with them, 1.5–2.0 s without). The item's index stays:
    # the freeze reads the last visits per item.
    task = models.ForeignKey(InspectionTask, models.PROTECT, related_name="+", db_index=False)
    item = models.ForeignKey(InspectionItem, models.PROTECT, related_name="+")
    stratum = models.ForeignKey(DrawStratum, models.PROTECT, related_name="+", db_index=False)
    risk_class = models.CharField(_("风险等级"), max_length=1)
    is_slice = models.BooleanField(default=False)
    result_code = models.CharField(_("检查结果"), max_length=32, blank=True)
    result_note = models.TextField(_("说明"), blank=True)

    class Meta:
        verbose_name = _("检查事项")
        verbose_name_plural = _("检查事项")
        ordering = ["visit", "item__code"]
        constraints = [models.UniqueConstraint(fields=["visit", "task", "item"], name="unique_visit_task_item")]

    def __str__(self) -> str:
        return f"{self.visit_id}:{self.item_id}"


class VisitInspector(models.Model):
    """An inspector of the team drawn for a visit."""

    visit = models.ForeignKey(Visit, models.CASCADE, related_name="team", db_index=False)  # unique_visit_inspector
    inspector = models.ForeignKey(Inspector, models.PROTECT, related_name="visits")
    ticket = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("检查组成员")
        verbose_name_plural = _("检查组成员")
        constraints = [models.UniqueConstraint(fields=["visit", "inspector"], name="unique_visit_inspector")]

    def __str__(self) -> str:
        return f"{self.visit_id}:{self.inspector_id}"


class AssignmentRejection(models.Model):
    """A candidate inspector passed over for a visit, and the constraint that ruled them out."""

    plan = models.ForeignKey(InspectionPlan, models.CASCADE, related_name="rejections")
    visit = models.ForeignKey(Visit, models.CASCADE, related_name="rejections")
    inspector = models.ForeignKey(Inspector, models.CASCADE, related_name="+")
    constraint = models.CharField(_("约束"), max_length=64)
    detail = models.CharField(_("说明"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("未选派记录")
        verbose_name_plural = _("未选派记录")

    def __str__(self) -> str:
        return f"{self.visit_id}:{self.inspector_id}:{self.constraint}"


def evidence_path(instance: Evidence, filename: str) -> str:
    return f"inspections/evidence/{instance.visit_id}/{filename}"


class Evidence(models.Model):
    """A photo or PDF taken at a visit."""

    visit = models.ForeignKey(Visit, models.CASCADE, related_name="evidence")
    file = models.FileField(_("文件"), upload_to=evidence_path)
    name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("检查证据")
        verbose_name_plural = _("检查证据")

    def __str__(self) -> str:
        return self.name
