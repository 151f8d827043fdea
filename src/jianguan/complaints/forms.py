"""Forms of the complaints pages: intake (staff and portal), workflow actions, hotline import."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jianguan.complaints.domain.categories import CATEGORY_CHOICES
from jianguan.complaints.models import Case, MediationSession
from jianguan.complaints.services import IntakeData


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):  # type: ignore[no-untyped-def]
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class IntakeForm(forms.Form):
    """The 12315 clerk's registration form (art. 10 fields)."""

    kind = forms.ChoiceField(label=_("类型"), choices=Case.Kind.choices, initial="complaint")
    channel = forms.ChoiceField(label=_("来源渠道"), choices=Case.Channel.choices, initial="12315_hotline")
    received_at = forms.DateTimeField(label=_("收到时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"])
    complainant_name = forms.CharField(label=_("投诉（举报）人姓名"), max_length=64, required=False)
    complainant_phone = forms.CharField(label=_("联系电话"), max_length=24, required=False)
    complainant_address = forms.CharField(label=_("通讯地址"), max_length=255, required=False)
    respondent_uscc = forms.CharField(label=_("被投诉（举报）人统一社会信用代码"), max_length=24, required=False)
    respondent_name = forms.CharField(label=_("被投诉（举报）人名称"), max_length=200, required=False)
    respondent_address = forms.CharField(label=_("被投诉（举报）人地址"), max_length=255, required=False)
    request = forms.CharField(label=_("投诉请求"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    facts = forms.CharField(label=_("事实与理由"), widget=forms.Textarea(attrs={"rows": 5}), required=False)
    report_facts = forms.CharField(label=_("同时举报的违法线索（第九条，拆分为举报件）"),
                                   widget=forms.Textarea(attrs={"rows": 3}), required=False)
    answer = forms.CharField(label=_("咨询答复（第四十四条）"), widget=forms.Textarea(attrs={"rows": 2}),
                             required=False)
    category = forms.ChoiceField(label=_("分类（空白则采用系统建议）"),
                                 choices=[("", "—— 系统建议 ——"), *CATEGORY_CHOICES], required=False)
    quantity = forms.IntegerField(label=_("购买数量"), required=False, min_value=0)
    amount_claimed = forms.DecimalField(label=_("涉及金额（元）"), required=False, min_value=0, max_digits=14,
                                        decimal_places=2)
    attachments = MultipleFileField(label=_("附件"), required=False)

    def to_data(self, files: list) -> IntakeData:  # type: ignore[type-arg]
        c = self.cleaned_data
        received = c["received_at"]
        if received is not None and timezone.is_naive(received):
            received = timezone.make_aware(received)
        return IntakeData(
            kind=c["kind"], channel=c["channel"], received_at=received, facts=c["facts"] or "",
            complainant_name=c["complainant_name"] or "", complainant_phone=c["complainant_phone"] or "",
            complainant_address=c["complainant_address"] or "", respondent_name=c["respondent_name"] or "",
            respondent_address=c["respondent_address"] or "", respondent_uscc=c["respondent_uscc"] or "",
            request=c["request"] or "", category=c["category"] or "", quantity=c["quantity"],
            amount_claimed=c["amount_claimed"], report_facts=c["report_facts"] or "", answer=c["answer"] or "",
            attachments=files)


class PortalForm(forms.Form):
    """The public complaint form (mobile-first): the received time is now, the channel is the portal."""

    kind = forms.ChoiceField(label=_("我要"),
                             choices=[("complaint", _("投诉（消费纠纷）")), ("report", _("举报（违法线索）"))],
                             initial="complaint")
    complainant_name = forms.CharField(label=_("您的姓名"), max_length=64, required=False)
    complainant_phone = forms.CharField(label=_("手机号码"), max_length=24, required=False)
    complainant_address = forms.CharField(label=_("通讯地址"), max_length=255, required=False)
    respondent_name = forms.CharField(label=_("商家名称"), max_length=200, required=False)
    respondent_address = forms.CharField(label=_("商家地址"), max_length=255, required=False)
    respondent_uscc = forms.CharField(label=_("统一社会信用代码（选填）"), max_length=24, required=False)
    request = forms.CharField(label=_("您的请求"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    facts = forms.CharField(label=_("发生了什么"), widget=forms.Textarea(attrs={"rows": 5}), required=False)
    attachments = MultipleFileField(label=_("凭证照片（小票、合同等）"), required=False)

    def to_data(self, files: list, now: dt.datetime) -> IntakeData:  # type: ignore[type-arg]
        c = self.cleaned_data
        return IntakeData(kind=c["kind"], channel="portal", received_at=now, facts=c["facts"] or "",
                          complainant_name=c["complainant_name"] or "",
                          complainant_phone=c["complainant_phone"] or "",
                          complainant_address=c["complainant_address"] or "",
                          respondent_name=c["respondent_name"] or "",
                          respondent_address=c["respondent_address"] or "",
                          respondent_uscc=c["respondent_uscc"] or "", request=c["request"] or "", attachments=files)


class ProgressForm(forms.Form):
    tracking_number = forms.CharField(label=_("登记编号"), max_length=24)
    phone_last4 = forms.CharField(label=_("手机号后四位"), min_length=4, max_length=4)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("12345热线工单（Excel .xlsx）"))


SESSION_MODES = MediationSession.Mode.choices
