"""Forms of the credit pages (staff and portal); messages in plain Chinese."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from jianguan.credit.domain.model import parse_month
from jianguan.credit.models import AbnormalListing, CreditRepair

DATE = forms.DateInput(attrs={"type": "date"})
DECISION = [("approve", _("批准")), ("reject", _("驳回"))]


class MonthField(forms.CharField):
    def to_python(self, value: object) -> dt.date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return parse_month(text)
        except ValueError:
            raise forms.ValidationError(_("月份格式应为 YYYY-MM，例如 2026-10。")) from None


class MonthForm(forms.Form):
    month = MonthField(label=_("月份"), required=False, widget=forms.TextInput(attrs={"placeholder": "2026-10"}))


class ClassifyForm(forms.Form):
    month = MonthField(label=_("分类月份"), widget=forms.TextInput(attrs={"placeholder": "2026-10"}))


class AbnormalEnterForm(forms.Form):
    uscc = forms.CharField(label=_("统一社会信用代码"), max_length=18)
    ground = forms.ChoiceField(label=_("列入事由"), choices=AbnormalListing.Ground.choices)
    decision_number = forms.CharField(label=_("列入决定书文号"), max_length=100)
    entered_on = forms.DateField(label=_("列入日期"), widget=DATE)
    reason = forms.CharField(label=_("列入理由"), widget=forms.Textarea(attrs={"rows": 3}))


class AbnormalRemoveForm(forms.Form):
    removed_on = forms.DateField(label=_("移出日期"), widget=DATE)
    removal_decision_number = forms.CharField(label=_("移出决定书文号"), max_length=100)
    removal_reason = forms.CharField(label=_("移出原因"), widget=forms.Textarea(attrs={"rows": 3}))


class BatchDecideForm(forms.Form):
    decision = forms.ChoiceField(label=_("审批结果"), choices=DECISION, widget=forms.RadioSelect)
    decision_number = forms.CharField(label=_("列入决定书（公告）文号"), max_length=100, required=False)
    decided_on = forms.DateField(label=_("审批日期"), widget=DATE)
    reason = forms.CharField(label=_("审批意见"), widget=forms.Textarea(attrs={"rows": 3}))


class SeriousEnterForm(forms.Form):
    uscc = forms.CharField(label=_("统一社会信用代码"), max_length=18)
    penalty_number = forms.CharField(label=_("所依据的较重行政处罚决定书文号"), max_length=100, required=False)
    abnormal_decision_number = forms.CharField(label=_("或：届满三年的经营异常名录列入决定书文号"), max_length=100,
                                               required=False)
    decision_number = forms.CharField(label=_("列入决定书文号"), max_length=100)
    entered_on = forms.DateField(label=_("列入日期"), widget=DATE)
    reason = forms.CharField(label=_("列入理由"), widget=forms.Textarea(attrs={"rows": 3}))


class SeriousRemoveForm(forms.Form):
    removed_on = forms.DateField(label=_("移出日期"), widget=DATE)
    reason = forms.CharField(label=_("移出原因"), widget=forms.Textarea(attrs={"rows": 3}))


class RepairApplyForm(forms.Form):
    uscc = forms.CharField(label=_("统一社会信用代码"), max_length=18)
    item_type = forms.ChoiceField(label=_("修复事项"), choices=CreditRepair.ItemType.choices)
    item_ref = forms.CharField(label=_("事项文号（决定书文号或抽查结果编号）"), max_length=100)
    statement = forms.CharField(label=_("申请理由及整改情况"), widget=forms.Textarea(attrs={"rows": 5}))
    contact_name = forms.CharField(label=_("联系人"), max_length=64)
    contact_phone = forms.RegexField(label=_("联系电话"), regex=r"^[0-9\-]{7,20}$",
                                     error_messages={"invalid": _("请填写有效的联系电话。")})

    def clean_uscc(self) -> str:
        from jianguan.registry.domain.uscc import normalize_uscc, validate_uscc

        value = normalize_uscc(self.cleaned_data["uscc"])
        problems = validate_uscc(value, lambda code: True)
        if problems:
            raise forms.ValidationError(problems[0].message)
        return value


class RepairDecideForm(forms.Form):
    decision = forms.ChoiceField(label=_("审核结果"), choices=[("approve", _("准予修复")), ("reject", _("不予修复"))],
                                 widget=forms.RadioSelect)
    decided_on = forms.DateField(label=_("决定日期"), widget=DATE)
    reason = forms.CharField(label=_("审核意见"), widget=forms.Textarea(attrs={"rows": 3}))
