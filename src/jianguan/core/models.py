"""Organisation (divisions, departments, units), people and roles, audit chain, background jobs, API keys."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Division(models.Model):
    """GB/T 2260 administrative division (行政区划); historical codes are kept for old records."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省级")
        CITY = "city", _("地级")
        COUNTY = "county", _("县级")

    code = models.CharField(_("区划代码"), max_length=6, primary_key=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey("self", models.DO_NOTHING, null=True, blank=True, db_constraint=False,
                               related_name="children", verbose_name=_("上级区划"))
    current = models.BooleanField(_("现行"), default=True)
    full_name = models.CharField(_("全称"), max_length=128, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def scope_prefix(self) -> str:
        """Code prefix shared by this division and everything under it (37 / 3710 / 371003)."""
        return {"province": self.code[:2], "city": self.code[:4]}.get(self.level, self.code)


class Department(models.Model):
    """A government department (市场监管 or a partner such as 税务) whose staff inspect."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    is_market_regulation = models.BooleanField(_("市场监管部门"), default=False)
    sort_order = models.PositiveSmallIntegerField(_("排序"), default=100)

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    """An organisational unit: bureau at a level, 市场监管所, 12315 intake centre, or a partner department office."""

    class Kind(models.TextChoices):
        BUREAU = "bureau", _("市场监督管理局")
        STATION = "station", _("市场监管所")
        INTAKE = "intake", _("12315投诉举报中心")
        PARTNER = "partner", _("协作部门")

    code = models.SlugField(_("单位代码"), max_length=64, unique=True)
    name = models.CharField(_("单位名称"), max_length=128)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    department = models.ForeignKey(Department, models.PROTECT, related_name="units", verbose_name=_("部门"))
    division = models.ForeignKey(Division, models.PROTECT, related_name="units", verbose_name=_("管辖区划"))
    parent = models.ForeignKey("self", models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("上级单位"))
    # Materialised path of primary keys ("/1/4/9/") so "own unit and below" is one indexed prefix match.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        path = (self.parent.path if self.parent else "/") + f"{self.pk}/"
        if path != self.path:
            old, self.path = self.path, path
            Unit.objects.filter(pk=self.pk).update(path=path)
            if old:  # moved: re-root the whole subtree
                for child in Unit.objects.filter(path__startswith=old).exclude(pk=self.pk):
                    Unit.objects.filter(pk=child.pk).update(path=path + child.path[len(old):])

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


class Role(models.TextChoices):
    ADMIN = "admin", _("系统管理员")
    LEADER = "leader", _("局领导")
    SECTION_HEAD = "section_head", _("科室负责人")
    HANDLER = "handler", _("承办人")
    INTAKE_CLERK = "intake_clerk", _("登记员")
    INSPECTOR = "inspector", _("执法检查人员")
    PARTNER_INSPECTOR = "partner_inspector", _("协作部门检查人员")
    AUDITOR = "auditor", _("审计员（只读）")


class Scope(models.TextChoices):
    ALL = "all", _("全部数据")
    SUBTREE = "subtree", _("本单位及下级")
    UNIT = "unit", _("本单位")
    OWN = "own", _("本人")


class User(AbstractUser):
    """A person who signs in: bureau staff, partner-department inspectors, auditors."""

    full_name = models.CharField(_("姓名"), max_length=64, blank=True)
    phone = models.CharField(_("手机号"), max_length=20, blank=True)
    unit = models.ForeignKey(Unit, models.PROTECT, null=True, blank=True, related_name="users",
                             verbose_name=_("所在单位"))

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


class RoleAssignment(models.Model):
    """A role a user holds in a unit, with the data scope it grants."""

    user = models.ForeignKey(User, models.CASCADE, related_name="roles", verbose_name=_("用户"))
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="role_assignments", verbose_name=_("单位"))
    scope = models.CharField(_("数据范围"), max_length=16, choices=Scope.choices, default=Scope.SUBTREE)

    class Meta:
        verbose_name = _("角色分配")
        verbose_name_plural = _("角色分配")
        constraints = [models.UniqueConstraint(fields=["user", "role", "unit"], name="unique_role_per_unit")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.unit}"


class AuditEntry(models.Model):
    """One entry of the tamper-evident audit trail; each carries the HMAC of its predecessor."""

    seq = models.BigIntegerField(_("序号"), primary_key=True)
    at = models.DateTimeField(_("时间"), db_index=True)
    actor_id = models.BigIntegerField(_("操作人ID"), null=True, blank=True)
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)
    unit_id = models.BigIntegerField(_("单位ID"), null=True, blank=True)
    unit_name = models.CharField(_("单位"), max_length=128, blank=True)
    action = models.CharField(_("操作"), max_length=64)
    object_type = models.CharField(_("对象类型"), max_length=64)
    object_id = models.CharField(_("对象ID"), max_length=64)
    object_repr = models.CharField(_("对象"), max_length=255, blank=True)
    # Canonical JSON text, hashed exactly as stored.
    before = models.TextField(_("变更前"), blank=True)
    after = models.TextField(_("变更后"), blank=True)
    reason = models.TextField(_("理由"), blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id", "seq"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    """The last sequence number and hash of the audit chain; locked while appending, detects a truncated tail."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class Job(models.Model):
    """A persistent background job (import, classification, draw …) with its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("执行中")
        SUCCEEDED = "succeeded", _("已完成")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("任务类型"), max_length=64)
    title = models.CharField(_("名称"), max_length=200)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    step = models.CharField(_("当前步骤"), max_length=200, blank=True)
    done = models.BigIntegerField(_("已处理"), default=0)
    total = models.BigIntegerField(_("总数"), null=True, blank=True)
    counts = models.JSONField(_("计数"), default=dict, blank=True)
    result = models.JSONField(_("结果"), default=dict, blank=True)
    error = models.TextField(_("错误"), blank=True)
    created_by = models.ForeignKey(User, models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("提交人"))
    unit = models.ForeignKey(Unit, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("单位"))
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=128, blank=True)

    class Meta:
        verbose_name = _("后台任务")
        verbose_name_plural = _("后台任务")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total:
            return 0
        return max(0, min(100, int(self.done * 100 / self.total)))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class ScheduledRun(models.Model):
    """One period (day, month or year) of a scheduled job kind that a worker has submitted.

    The unique (kind, period) pair is what makes several worker processes submit a due job exactly once.
    """

    kind = models.CharField(_("任务类型"), max_length=64)
    period = models.CharField(_("周期"), max_length=16)
    scheduled_for = models.DateTimeField(_("计划时间"))
    submitted_at = models.DateTimeField(_("提交时间"))
    job = models.ForeignKey(Job, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("任务"))

    class Meta:
        verbose_name = _("定时任务运行")
        verbose_name_plural = _("定时任务运行")
        ordering = ["-scheduled_for", "kind"]
        constraints = [models.UniqueConstraint(fields=["kind", "period"], name="one_scheduled_run_per_period")]

    def __str__(self) -> str:
        return f"{self.kind} {self.period}"


class ApiKey(models.Model):
    """A per-unit key for machine clients of the REST API; only its SHA-256 is stored."""

    unit = models.ForeignKey(Unit, models.CASCADE, related_name="api_keys", verbose_name=_("单位"))
    name = models.CharField(_("名称"), max_length=100)
    prefix = models.CharField(_("前缀"), max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    acting_user = models.ForeignKey(User, models.PROTECT, related_name="api_keys", verbose_name=_("代表用户"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("API 密钥")
        verbose_name_plural = _("API 密钥")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
