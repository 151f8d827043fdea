"""Complaints, reports and consultations received through 12315/12345 (投诉举报), with their clocks and handling."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from jianguan.complaints.domain.categories import CATEGORY_CHOICES
from jianguan.core.models import Unit
from jianguan.registry.models import Entity


class Case(models.Model):
    """One submission: a complaint (投诉), a report (举报) or a consultation (咨询, art. 44)."""

    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("投诉")
        REPORT = "report", _("举报")
        CONSULTATION = "consultation", _("咨询")

    class Channel(models.TextChoices):
        PLATFORM_12315 = "12315_platform", _("全国12315平台")
        HOTLINE_12315 = "12315_hotline", _("12315热线")
        HOTLINE_12345 = "12345_hotline", _("12345热线")
        MAIL = "mail", _("信函")
        COUNTER = "counter", _("窗口来访")
        PORTAL = "portal", _("门户网站")
        API = "api", _("接口")

    class Status(models.TextChoices):
        REGISTERED = "registered", _("待分派")
        ASSIGNED = "assigned", _("待受理/核查")
        ODR = "odr", _("ODR企业协商中")
        MEDIATING = "mediating", _("调解中")
        TERMINATED = "terminated", _("已终止调解待告知")
        CLOSED = "closed", _("已办结")

    class Result(models.TextChoices):
        REJECTED = "rejected", _("不予受理")
        AGREEMENT = "agreement", _("调解成功")
        TERMINATED = "terminated", _("终止调解")
        ODR_SETTLED = "odr_settled", _("ODR和解")
        CASE_OPENED = "case_opened", _("移送立案")
        NO_CASE = "no_case", _("不予立案")
        REPEAT = "repeat", _("重复举报不再处理")
        MERGED = "merged", _("合并处理")
        ANSWERED = "answered", _("咨询已答复")

    tracking_number = models.CharField(_("登记编号"), max_length=24)
    external_ref = models.CharField(_("外部工单编号"), max_length=64, blank=True)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    channel = models.CharField(_("来源渠道"), max_length=16, choices=Channel.choices)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.REGISTERED)
    result = models.CharField(_("办理结果"), max_length=16, choices=Result.choices, blank=True)
    received_at = models.DateTimeField(_("收到时间"))
    received_on = models.DateField(_("收到日期"))
    rule_code = models.CharField(_("适用规则"), max_length=16)
    # Art. 10: who complains / reports
    complainant_name = models.CharField(_("姓名"), max_length=64, blank=True)
    complainant_phone = models.CharField(_("联系电话"), max_length=24, blank=True)
    complainant_address = models.CharField(_("通讯地址"), max_length=255, blank=True)
    # Art. 10: against whom
    respondent_name = models.CharField(_("被投诉（举报）人名称"), max_length=200)
    respondent_address = models.CharField(_("被投诉（举报）人地址"), max_length=255, blank=True)
    respondent_uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    entity = models.ForeignKey(Entity, models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False,
                               db_index=False, verbose_name=_("名录主体"))
    division_code = models.CharField(_("所在区划"), max_length=6, blank=True, db_index=True)
    industry_code = models.CharField(_("行业"), max_length=4, blank=True)
    # Art. 10: what
    request = models.TextField(_("投诉请求"), blank=True)
    facts = models.TextField(_("事实与理由"))
    category = models.CharField(_("分类"), max_length=24, choices=CATEGORY_CHOICES, default="other")
    category_suggested = models.CharField(_("系统建议分类"), max_length=24, blank=True)
    quantity = models.PositiveIntegerField(_("购买数量"), null=True, blank=True)
    amount_claimed = models.DecimalField(_("涉及金额（元）"), max_digits=14, decimal_places=2, null=True, blank=True)
    # Routing and handling
    intake_unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", db_index=False,
                                    verbose_name=_("登记（分派）机构"))
    unit = models.ForeignKey(Unit, models.PROTECT, null=True, blank=True, related_name="+", db_index=False,
                             verbose_name=_("承办单位"))
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
                                db_index=False, verbose_name=_("承办人"))
    suggested_unit_code = models.CharField(_("建议承办单位"), max_length=64, blank=True)
    routing_note = models.CharField(_("分派依据"), max_length=255, blank=True)
    returned_reason = models.TextField(_("退回理由"), blank=True)
    # Deadlines: written only by services, from the clock (never edited by hand).
    accept_due = models.DateField(_("受理决定期限"), null=True, blank=True)
    accept_warn = models.DateField(null=True, blank=True)
    odr_due = models.DateField(_("ODR协商期限"), null=True, blank=True)
    accepted_on = models.DateField(_("受理日期"), null=True, blank=True)
    mediation_due = models.DateField(_("调解期限"), null=True, blank=True)
    mediation_warn = models.DateField(null=True, blank=True)
    notice_due = models.DateField(_("终止告知期限"), null=True, blank=True)
    verify_start = models.DateField(_("核查起算日"), null=True, blank=True)
    verify_due = models.DateField(_("核查期限"), null=True, blank=True)
    verify_warn = models.DateField(null=True, blank=True)
    paused_since = models.DateField(_("中止计时自"), null=True, blank=True)
    next_due = models.DateField(_("当前期限"), null=True, blank=True)
    next_warn = models.DateField(_("提醒日期"), null=True, blank=True)
    final_due = models.DateField(_("办结期限"), null=True, blank=True, db_index=True)
    clock_note = models.CharField(_("计时说明"), max_length=255, blank=True)
    # Outcome
    decision_ground = models.CharField(_("依据"), max_length=16, blank=True)
    decision_text = models.TextField(_("决定内容"), blank=True)
    amount_recovered = models.DecimalField(_("挽回经济损失（元）"), max_digits=14, decimal_places=2, null=True,
                                           blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    closed_on = models.DateField(_("办结日期"), null=True, blank=True)
    lead_id = models.BigIntegerField(_("案件线索"), null=True, blank=True)
    # Links: art. 9 split, art. 35 repeat / merge
    related = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("拆分关联件"))
    duplicate_of = models.ForeignKey("self", models.SET_NULL, null=True, blank=True, related_name="duplicates",
                                     verbose_name=_("重复/合并至"))
    flag_count = models.PositiveSmallIntegerField(_("第十七条提示"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
                                   db_index=False, verbose_name=_("登记人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("投诉举报")
        verbose_name_plural = _("投诉举报")
        ordering = ["-received_at", "-id"]
        # Every index costs each intake an insert (the API takes hundreds a second), so there are no single-column
        # indexes where a composite one starts with the column, and exact-match text columns get a plain index
        # (a `unique=True` / `db_index=True` CharField would add a second, LIKE-pattern index on PostgreSQL).
        constraints = [models.UniqueConstraint(fields=["tracking_number"], name="case_tracking_number_uniq")]
        indexes = [
            models.Index(fields=["external_ref"], name="case_external_ref_idx"),
            models.Index(fields=["unit", "status", "next_due"], name="case_unit_due_idx"),
            models.Index(fields=["handler", "status", "next_due"], name="case_handler_due_idx"),
            models.Index(fields=["intake_unit", "status"], name="case_intake_status_idx"),
            models.Index(fields=["entity", "received_on"], name="case_entity_received_idx"),
            models.Index(fields=["complainant_phone", "received_on"], name="case_phone_received_idx"),
            # Art. 17 "shared address" flag looks up earlier complaints by phone OR address at every intake.
            models.Index(fields=["complainant_address", "received_on"], name="case_address_received_idx"),
            models.Index(fields=["kind", "received_on"], name="case_kind_received_idx"),
            # Dashboard "most complained-about respondents": an index-only scan over a year (with the scope units).
            models.Index(fields=["received_on", "kind", "entity", "unit", "intake_unit"],
                         name="case_received_entity_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.tracking_number}"

    def get_absolute_url(self) -> str:
        return reverse("complaints:case_detail", args=[self.tracking_number])

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED


class Attachment(models.Model):
    """A file a complainant or clerk attached (receipt, photo, contract)."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="attachments", verbose_name=_("投诉举报"))
    file = models.FileField(_("文件"), upload_to="complaints/%Y/%m/")
    name = models.CharField(_("文件名"), max_length=255)
    size = models.PositiveIntegerField(_("大小（字节）"))
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")

    def __str__(self) -> str:
        return self.name


class Pause(models.Model):
    """Clock stopped for testing/appraisal (art. 22), with reason and evidence; excluded from the period."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="pauses", verbose_name=_("投诉举报"))
    period = models.CharField(_("期限"), max_length=16)
    start = models.DateField(_("中止自"))
    end = models.DateField(_("恢复于"), null=True, blank=True)
    reason = models.TextField(_("理由"))
    evidence = models.TextField(_("依据材料"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("中止计时")
        verbose_name_plural = _("中止计时")
        ordering = ["start", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.start}-{self.end or ''}"


class Extension(models.Model):
    """An extension of a period requested by the handler and approved (or not) by the head."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待审批")
        APPROVED = "approved", _("已批准")
        REFUSED = "refused", _("不批准")

    case = models.ForeignKey(Case, models.CASCADE, related_name="extensions", verbose_name=_("投诉举报"))
    period = models.CharField(_("期限"), max_length=16)
    days = models.PositiveSmallIntegerField(_("延长天数"))
    reason = models.TextField(_("理由"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("延期")
        verbose_name_plural = _("延期")
        ordering = ["requested_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.days}"


class MediationSession(models.Model):
    """One mediation session (调解) held on a complaint."""

    class Mode(models.TextChoices):
        ON_SITE = "on_site", _("现场调解")
        PHONE = "phone", _("电话调解")
        ONLINE = "online", _("网络/视频调解")

    case = models.ForeignKey(Case, models.CASCADE, related_name="sessions", verbose_name=_("投诉"))
    held_on = models.DateField(_("调解日期"))
    mode = models.CharField(_("方式"), max_length=16, choices=Mode.choices)
    notes = models.TextField(_("调解记录"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")

    class Meta:
        verbose_name = _("调解记录")
        verbose_name_plural = _("调解记录")
        ordering = ["held_on", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.held_on}"


class Flag(models.Model):
    """An art. 17 factor found at intake, with its evidence (a hint for the handler, never a rejection)."""

    case = models.ForeignKey(Case, models.CASCADE, related_name="flags", verbose_name=_("投诉"))
    code = models.CharField(_("因素"), max_length=32)
    article = models.CharField(_("条款"), max_length=32)
    message = models.CharField(_("说明"), max_length=255)
    evidence = models.JSONField(_("相关登记编号"), default=list)

    class Meta:
        verbose_name = _("第十七条提示")
        verbose_name_plural = _("第十七条提示")

    def __str__(self) -> str:
        return self.message


class IdempotencyKey(models.Model):
    """The first answer to an API request with an `Idempotency-Key`, per API key or user."""

    owner = models.CharField(max_length=64)
    key = models.CharField(max_length=128)
    case = models.ForeignKey(Case, models.CASCADE, related_name="+")
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.owner}:{self.key}"


class DayCount(models.Model):
    """Province-wide summary for the dashboard, kept by `complaints.summary` (never edited by hand).

    `dim` is the breakdown: channel / category / division / industry / total (value "") counted by the day the
    case was received, and "due" counted by the day its final deadline falls (`n` due, `on_time` closed by it).
    Day rows and their month sums ("m:<dim>") hold no units and serve users whose data scope covers every unit;
    month rows per unit ("u:<dim>", with `unit` and `intake_unit`) serve narrower scopes, whose partial months are
    counted from the cases.
    """

    dim = models.CharField(max_length=12)
    day = models.DateField()
    kind = models.CharField(max_length=16)
    value = models.CharField(max_length=32, blank=True)
    # Only on the "u:" rows (by month, per assigned and intake unit) that serve narrower data scopes.
    unit = models.ForeignKey(Unit, models.DO_NOTHING, null=True, blank=True, related_name="+", db_constraint=False)
    intake_unit = models.ForeignKey(Unit, models.DO_NOTHING, null=True, blank=True, related_name="+",
                                    db_constraint=False)
    n = models.IntegerField(default=0)
    on_time = models.IntegerField(default=0)
    amount = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        indexes = [models.Index(fields=["dim", "day"], name="daycount_dim_day_idx")]

    def __str__(self) -> str:
        return f"{self.dim} {self.day} {self.kind} {self.value}={self.n}"


class SummaryState(models.Model):
    """When the dashboard summary was last rebuilt, and the last received day it covers (one row)."""

    through = models.DateField(_("统计截至"))
    refreshed_at = models.DateTimeField(_("刷新时间"))
    rows = models.IntegerField(default=0)
    seconds = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"{self.through} @ {self.refreshed_at:%Y-%m-%d %H:%M}"


class OdrAccessCode(models.Model):
    """A code staff issue to an ODR enterprise so that it can open its ODR page on the portal (stored hashed).

    One active code per entity; issuing a new one revokes the old. The enterprise sees only the complaints in
    the ODR stage against it, without any report or reporter (art. 37).
    """

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", db_constraint=False,
                               verbose_name=_("名录主体"))
    code_hash = models.CharField(max_length=128, unique=True)
    hint = models.CharField(_("访问码末四位"), max_length=4)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+",
                                  verbose_name=_("发放人"))
    issued_at = models.DateTimeField(_("发放时间"), auto_now_add=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("撤销人"))
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        verbose_name = _("ODR访问码")
        verbose_name_plural = _("ODR访问码")
        ordering = ["-issued_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["entity"], condition=models.Q(revoked_at__isnull=True),
                                               name="one_active_odr_code")]

    def __str__(self) -> str:
        return f"{self.entity_id} ****{self.hint}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
