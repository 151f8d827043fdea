"""Registry of market entities (市场主体名录): entities, premises, licences, labels, annual reports, industries."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from jianguan.core.models import Division


class Industry(models.Model):
    """GB/T 4754-2017 国民经济行业分类 code (section letter, 2-digit division, 3-digit group, 4-digit class)."""

    class Level(models.TextChoices):
        SECTION = "section", _("门类")
        DIVISION = "division", _("大类")
        GROUP = "group", _("中类")
        CLASS = "class", _("小类")

    code = models.CharField(_("行业代码"), max_length=4, primary_key=True)
    name = models.CharField(_("行业名称"), max_length=128)
    level = models.CharField(_("层级"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey("self", models.DO_NOTHING, null=True, blank=True, db_constraint=False,
                               related_name="children", verbose_name=_("上级"))
    section = models.CharField(_("门类"), max_length=1, db_index=True)

    class Meta:
        verbose_name = _("国民经济行业")
        verbose_name_plural = _("国民经济行业")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Entity(models.Model):
    """A market entity (市场主体): enterprise, 个体工商户 or 农民专业合作社, keyed by its USCC."""

    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("企业")
        INDIVIDUAL = "individual", _("个体工商户")
        COOPERATIVE = "cooperative", _("农民专业合作社")

    class Status(models.TextChoices):
        ACTIVE = "active", _("存续（在业）")
        SUSPENDED = "suspended", _("歇业")
        REVOKED = "revoked", _("吊销")
        CANCELLED = "cancelled", _("注销")
        MOVED_OUT = "moved_out", _("迁出")

    uscc = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    name = models.CharField(_("名称"), max_length=200, db_index=True)
    kind = models.CharField(_("主体类型"), max_length=16, choices=Kind.choices)
    subtype = models.CharField(_("企业类型"), max_length=32, blank=True,
                               help_text=_("如 有限责任公司、股份有限公司、分公司、个人独资企业、合伙企业"))
    status = models.CharField(_("登记状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_date = models.DateField(_("状态日期"), null=True, blank=True)
    registration_authority = models.CharField(_("登记机关"), max_length=100)
    division = models.ForeignKey(Division, models.PROTECT, related_name="+", verbose_name=_("行政区划"))
    street = models.CharField(_("乡镇（街道）"), max_length=64, blank=True)
    road = models.CharField(_("道路"), max_length=64, blank=True)
    house_number = models.CharField(_("门牌号"), max_length=64, blank=True)
    address = models.CharField(_("住所（经营场所）"), max_length=255)
    industry = models.ForeignKey(Industry, models.PROTECT, related_name="+", verbose_name=_("行业"))
    established_on = models.DateField(_("成立日期"))
    registered_capital = models.DecimalField(_("注册资本（万元）"), max_digits=16, decimal_places=2, null=True,
                                             blank=True)
    legal_representative = models.CharField(_("法定代表人（经营者）"), max_length=64)
    business_scope = models.TextField(_("经营范围"), blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    is_ecommerce_platform = models.BooleanField(_("电子商务平台经营者"), default=False)
    odr_enabled = models.BooleanField(_("在线消费纠纷解决（ODR）企业"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("市场主体")
        verbose_name_plural = _("市场主体")
        ordering = ["uscc"]
        indexes = [
            models.Index(fields=["division", "status"], name="entity_division_status_idx"),
            models.Index(fields=["industry", "status"], name="entity_industry_status_idx"),
            models.Index(fields=["legal_representative"], name="entity_legal_rep_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("registry:entity_detail", args=[self.uscc])

    @property
    def is_operating(self) -> bool:
        return self.status in (self.Status.ACTIVE, self.Status.SUSPENDED)


class Premises(models.Model):
    """An additional business premises of an entity (一照多址)."""

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="premises", verbose_name=_("市场主体"))
    division = models.ForeignKey(Division, models.PROTECT, related_name="+", verbose_name=_("行政区划"))
    street = models.CharField(_("乡镇（街道）"), max_length=64, blank=True)
    road = models.CharField(_("道路"), max_length=64, blank=True)
    house_number = models.CharField(_("门牌号"), max_length=64, blank=True)
    address = models.CharField(_("经营场所"), max_length=255)

    class Meta:
        verbose_name = _("经营场所")
        verbose_name_plural = _("经营场所")

    def __str__(self) -> str:
        return self.address


class Licence(models.Model):
    """An administrative licence held by an entity (e.g. 食品经营许可证)."""

    class Type(models.TextChoices):
        FOOD_BUSINESS = "food_business", _("食品经营许可证")
        FOOD_PRODUCTION = "food_production", _("食品生产许可证")
        SPECIAL_EQUIPMENT = "special_equipment", _("特种设备使用登记证")
        DRUG_BUSINESS = "drug_business", _("药品经营许可证")
        MEDICAL_DEVICE = "medical_device", _("医疗器械经营许可证")
        INDUSTRIAL_PRODUCT = "industrial_product", _("工业产品生产许可证")

    class Status(models.TextChoices):
        VALID = "valid", _("有效")
        EXPIRED = "expired", _("已过期")
        REVOKED = "revoked", _("已吊销")
        CANCELLED = "cancelled", _("已注销")

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="licences", verbose_name=_("市场主体"))
    type = models.CharField(_("许可证类型"), max_length=32, choices=Type.choices)
    number = models.CharField(_("许可证编号"), max_length=64)
    issuer = models.CharField(_("发证机关"), max_length=100)
    valid_from = models.DateField(_("有效期自"))
    valid_to = models.DateField(_("有效期至"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.VALID)

    class Meta:
        verbose_name = _("许可证")
        verbose_name_plural = _("许可证")
        constraints = [models.UniqueConstraint(fields=["type", "number"], name="unique_licence_number")]
        indexes = [models.Index(fields=["type", "status"], name="licence_type_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.number}"


class Label(models.Model):
    """A label (标签) used to target inspections, e.g. 学校食堂, 电梯使用单位."""

    class Source(models.TextChoices):
        RULE = "rule", _("规则生成")
        MANUAL = "manual", _("人工设置")

    code = models.SlugField(_("标签代码"), max_length=64, unique=True)
    name = models.CharField(_("标签名称"), max_length=64)
    category = models.CharField(_("类别"), max_length=32)
    description = models.CharField(_("说明"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return self.name


class EntityLabel(models.Model):
    """A label on an entity, with where it came from."""

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="entity_labels", verbose_name=_("市场主体"))
    label = models.ForeignKey(Label, models.PROTECT, related_name="entity_labels", verbose_name=_("标签"))
    source = models.CharField(_("来源"), max_length=16, choices=Label.Source.choices)
    assigned_on = models.DateField(_("设置日期"))

    class Meta:
        verbose_name = _("主体标签")
        verbose_name_plural = _("主体标签")
        constraints = [models.UniqueConstraint(fields=["entity", "label"], name="unique_entity_label")]
        indexes = [models.Index(fields=["label", "entity"], name="entitylabel_label_idx")]

    def __str__(self) -> str:
        return f"{self.entity_id}:{self.label_id}"


class AnnualReport(models.Model):
    """An annual report (年度报告) for year Y, due by 30 June of Y+1 (企业信息公示暂行条例 art. 8)."""

    entity = models.ForeignKey(Entity, models.CASCADE, related_name="annual_reports", verbose_name=_("市场主体"))
    year = models.PositiveSmallIntegerField(_("报告年度"))
    filed_on = models.DateField(_("报送日期"), null=True, blank=True)
    on_time = models.BooleanField(_("按时报送"), default=False)

    class Meta:
        verbose_name = _("年度报告")
        verbose_name_plural = _("年度报告")
        constraints = [models.UniqueConstraint(fields=["entity", "year"], name="unique_annual_report")]
        ordering = ["-year"]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.year}"
