"""Follow-up records handed to enforcement (案件线索): from report verification and inspection findings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jianguan.core.models import Unit
from jianguan.registry.models import Entity


class Lead(models.Model):
    """A follow-up record for enforcement (案件线索): a report to open a case on, or an inspection finding."""

    class Source(models.TextChoices):
        REPORT = "report", _("举报核查")
        INSPECTION = "inspection", _("双随机抽查")
        COMPLAINT = "complaint", _("投诉处理")
        OTHER = "other", _("其他")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        CASE_OPENED = "case_opened", _("已立案")
        CLOSED = "closed", _("已办结")

    source = models.CharField(_("来源"), max_length=16, choices=Source.choices)
    source_ref = models.CharField(_("来源编号"), max_length=64)
    entity = models.ForeignKey(Entity, models.PROTECT, null=True, blank=True, related_name="+",
                               verbose_name=_("当事人"))
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="+", verbose_name=_("承办单位"))
    summary = models.TextField(_("线索摘要"))
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("移送人"))
    created_at = models.DateTimeField(_("移送时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("案件线索")
        verbose_name_plural = _("案件线索")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["source", "source_ref"], name="unique_lead_source")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.source_ref}"
