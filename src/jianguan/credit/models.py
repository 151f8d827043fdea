"""Credit supervision (信用监管): penalties, 经营异常名录, 严重违法失信名单, credit repair, monthly risk classes."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jianguan.core.models import Division, Job, Unit, User
from jianguan.registry.models import Entity


class Penalty(models.Model):
    """An administrative penalty decision (行政处罚决定), the minimal record credit needs until enforcement owns it."""

    class Severity(models.TextChoices):
        MINOR = "minor", _("轻微")
        GENERAL = "general", _("一般")
        HEAVY = "heavy", _("较重（从重）")

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", verbose_name=_("市场主体"))
    decision_number = models.CharField(_("处罚决定书文号"), max_length=100, unique=True)
    decided_on = models.DateField(_("处罚决定日期"), db_index=True)
    severity = models.CharField(_("情节"), max_length=16, choices=Severity.choices)
    amount = models.DecimalField(_("罚没款金额（元）"), max_digits=14, decimal_places=2, default=0)
    violation = models.TextField(_("违法行为"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("处罚机关"))
    published_on = models.DateField(_("公示日期"), null=True, blank=True)
    # Credit repair (SAMR Order 107) or the end of the display period stops publication; the row stays.
    public_until = models.DateField(_("停止公示日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("行政处罚")
        verbose_name_plural = _("行政处罚")
        ordering = ["-decided_on", "decision_number"]
        indexes = [models.Index(fields=["entity", "decided_on"], name="penalty_entity_idx")]

    def __str__(self) -> str:
        return self.decision_number


class AbnormalListing(models.Model):
    """An entry on the 经营异常名录; never deleted — removal fills the removal fields, so history is kept."""

    class Ground(models.TextChoices):
        # 企业信息公示暂行条例 art. 17 (1)-(3); (4) 企业经营异常名录管理暂行办法 art. 4 (原工商总局令第68号).
        ANNUAL_REPORT = "annual_report", _("未按照规定的期限公示年度报告")
        ORDERED_INFO = "ordered_info", _("未在责令的期限内公示有关企业信息")
        FALSE_INFO = "false_info", _("公示企业信息隐瞒真实情况、弄虚作假")
        UNREACHABLE = "unreachable", _("通过登记的住所或者经营场所无法联系")

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", verbose_name=_("市场主体"))
    ground = models.CharField(_("列入事由"), max_length=32, choices=Ground.choices)
    decision_number = models.CharField(_("列入决定书文号"), max_length=100)
    entered_on = models.DateField(_("列入日期"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("作出决定机关"))
    reason = models.TextField(_("列入理由"), blank=True)
    removed_on = models.DateField(_("移出日期"), null=True, blank=True)
    removal_reason = models.TextField(_("移出原因"), blank=True)
    removal_decision_number = models.CharField(_("移出决定书文号"), max_length=100, blank=True)
    repaired = models.BooleanField(_("经信用修复"), default=False)

    class Meta:
        verbose_name = _("经营异常名录")
        verbose_name_plural = _("经营异常名录")
        ordering = ["-entered_on", "-id"]
        indexes = [models.Index(fields=["entity", "removed_on"], name="abnormal_entity_idx")]

    def __str__(self) -> str:
        return f"{self.decision_number} {self.get_ground_display()}"

    @property
    def active(self) -> bool:
        return self.removed_on is None


class AbnormalCandidateBatch(models.Model):
    """A batch of automatically generated abnormal-list candidates for one county, approved or rejected at once."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")

    ground = models.CharField(_("列入事由"), max_length=32, choices=AbnormalListing.Ground.choices)
    division = models.ForeignKey(Division, models.PROTECT, related_name="+", verbose_name=_("行政区划"))
    report_year = models.PositiveSmallIntegerField(_("年报年度"), null=True, blank=True)
    generated_on = models.DateField(_("生成日期"))
    title = models.CharField(_("批次名称"), max_length=200)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("审批人"))
    decided_on = models.DateField(_("审批日期"), null=True, blank=True)
    decision_reason = models.TextField(_("审批意见"), blank=True)

    class Meta:
        verbose_name = _("经营异常名录候选批次")
        verbose_name_plural = _("经营异常名录候选批次")
        ordering = ["-generated_on", "-id"]

    def __str__(self) -> str:
        return self.title


class AbnormalCandidate(models.Model):
    """One entity proposed for the 经营异常名录, with where the proposal came from."""

    batch = models.ForeignKey(AbnormalCandidateBatch, models.CASCADE, related_name="candidates",
                              verbose_name=_("批次"))
    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", verbose_name=_("市场主体"))
    source_ref = models.CharField(_("来源"), max_length=200, blank=True)
    listing = models.ForeignKey(AbnormalListing, models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("列入记录"))

    class Meta:
        verbose_name = _("经营异常名录候选")
        verbose_name_plural = _("经营异常名录候选")
        constraints = [models.UniqueConstraint(fields=["batch", "entity"], name="unique_candidate_per_batch")]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.entity_id}"


class SeriousListing(models.Model):
    """An entry on the 严重违法失信名单 (SAMR Order 44); early removal after 1 year, automatic after 3."""

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", verbose_name=_("市场主体"))
    basis = models.ForeignKey(Penalty, models.CASCADE, null=True, blank=True, related_name="+",
                              verbose_name=_("所依据的行政处罚"))
    abnormal_listing = models.ForeignKey(AbnormalListing, models.CASCADE, null=True, blank=True, related_name="+",
                                         verbose_name=_("所依据的经营异常名录记录"))
    decision_number = models.CharField(_("列入决定书文号"), max_length=100)
    reason = models.TextField(_("列入理由"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("作出决定机关"))
    entered_on = models.DateField(_("列入日期"))
    earliest_removal_on = models.DateField(_("可申请提前移出日期"))
    auto_removal_on = models.DateField(_("届满移出日期"))
    removed_on = models.DateField(_("移出日期"), null=True, blank=True)
    removal_reason = models.TextField(_("移出原因"), blank=True)
    repaired = models.BooleanField(_("经信用修复"), default=False)

    class Meta:
        verbose_name = _("严重违法失信名单")
        verbose_name_plural = _("严重违法失信名单")
        ordering = ["-entered_on", "-id"]
        indexes = [models.Index(fields=["entity", "removed_on"], name="serious_entity_idx")]

    def __str__(self) -> str:
        return self.decision_number

    @property
    def active(self) -> bool:
        return self.removed_on is None


class SeriousCandidate(models.Model):
    """An entity three years on the 经营异常名录: warned 60 days before, then due for the serious list."""

    class Status(models.TextChoices):
        WARNING = "warning", _("即将届满")
        DUE = "due", _("已届满，待列入")
        LISTED = "listed", _("已列入")
        CLOSED = "closed", _("已移出异常名录，不再列入")

    abnormal_listing = models.OneToOneField(AbnormalListing, models.CASCADE, related_name="+",
                                            verbose_name=_("经营异常名录记录"))
    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", verbose_name=_("市场主体"))
    due_on = models.DateField(_("届满三年日期"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices)
    updated_on = models.DateField(_("更新日期"))

    class Meta:
        verbose_name = _("严重违法失信名单候选")
        verbose_name_plural = _("严重违法失信名单候选")
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.due_on}"


class CreditRepair(models.Model):
    """A credit-repair application (信用修复, SAMR Order 107) with its 7-working-day decision deadline."""

    class Applicant(models.TextChoices):
        ENTERPRISE = "enterprise", _("市场主体申请")
        STAFF = "staff", _("工作人员代录")

    class ItemType(models.TextChoices):
        ABNORMAL = "abnormal", _("经营异常名录")
        SERIOUS = "serious", _("严重违法失信名单")
        PENALTY = "penalty", _("行政处罚信息公示")
        INSPECTION = "inspection", _("抽查检查不良结果")

    class Tier(models.TextChoices):
        MINOR = "minor", _("轻微")
        GENERAL = "general", _("一般")
        SERIOUS = "serious", _("较重")

    class Status(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("准予修复")
        REJECTED = "rejected", _("不予修复")

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="+", verbose_name=_("市场主体"))
    applicant_kind = models.CharField(_("申请方式"), max_length=16, choices=Applicant.choices)
    contact_name = models.CharField(_("联系人"), max_length=64, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    item_type = models.CharField(_("修复事项"), max_length=16, choices=ItemType.choices)
    item_id = models.BigIntegerField(_("事项记录ID"))
    item_ref = models.CharField(_("事项文号"), max_length=100, blank=True)
    tier = models.CharField(_("失信程度"), max_length=16, choices=Tier.choices)
    waiting_until = models.DateField(_("最短公示期届满日"))
    statement = models.TextField(_("申请理由及整改情况"))
    applied_on = models.DateField(_("申请日期"))
    decide_by = models.DateField(_("办理期限"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    decided_on = models.DateField(_("决定日期"), null=True, blank=True)
    decided_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("审核人"))
    decision_reason = models.TextField(_("审核意见"), blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("录入人"))

    class Meta:
        verbose_name = _("信用修复申请")
        verbose_name_plural = _("信用修复申请")
        ordering = ["decide_by", "id"]

    def __str__(self) -> str:
        return f"{self.get_item_type_display()} {self.item_ref}"


class ClassificationRun(models.Model):
    """One monthly risk classification; only one may be running per month (partial unique index)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("执行中")
        SUCCEEDED = "succeeded", _("已完成")
        FAILED = "failed", _("失败")

    month = models.DateField(_("月份"))
    as_of = models.DateField(_("数据截止日"))
    model_version = models.CharField(_("模型版本"), max_length=32, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(_("各类数量"), default=dict, blank=True)
    missing_features = models.JSONField(_("暂缺数据的特征"), default=list, blank=True)
    # Pre-aggregated for the distribution page: [[county, section, class, n]], [[county, prev, class, n]].
    summary = models.JSONField(_("分布汇总"), default=dict, blank=True)
    job = models.ForeignKey(Job, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("任务"))
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)

    class Meta:
        verbose_name = _("风险分类运行")
        verbose_name_plural = _("风险分类运行")
        ordering = ["-month", "-id"]
        constraints = [models.UniqueConstraint(fields=["month"], condition=Q(status="running"),
                                               name="one_running_classification_per_month")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.model_version} {self.status}"


class RiskResult(models.Model):
    """An entity's credit-risk class for a month with its score, factor contributions and facts (internal only)."""

    class RiskClass(models.TextChoices):
        A = "A", _("A 信用风险低")
        B = "B", _("B 信用风险一般")
        C = "C", _("C 信用风险较高")
        D = "D", _("D 信用风险高")

    id = models.BigAutoField(primary_key=True)
    # No FK constraint and no index of its own: millions of rows are deleted and COPYed per month (see Meta).
    entity = models.ForeignKey(Entity, models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+",
                               verbose_name=_("市场主体"))
    month = models.DateField(_("月份"))
    risk_class = models.CharField(_("风险分类"), max_length=1, choices=RiskClass.choices)
    score = models.FloatField(_("分值"))
    contributions = models.TextField(_("各因素得分"), default="{}")
    facts = models.TextField(_("事实依据"), default="{}")
    hard_rule = models.CharField(_("直接判定规则"), max_length=64, blank=True, default="")
    model_version = models.CharField(_("模型版本"), max_length=32)

    class Meta:
        verbose_name = _("信用风险分类结果")
        verbose_name_plural = _("信用风险分类结果")
        # One index only: (month, entity) serves the month's reads and, probed once per classified month
        # (`month IN (…)`, see selectors.classified_months), an entity's history. A second (entity, month) index
        # and Django's default index on the foreign key cost a third of the monthly bulk write.
        constraints = [models.UniqueConstraint(fields=["month", "entity"], name="unique_risk_result")]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.month:%Y-%m} {self.risk_class}"
