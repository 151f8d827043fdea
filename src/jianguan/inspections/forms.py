"""Forms of the inspections back office (errors in plain Chinese next to the field)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from jianguan.core.models import Department
from jianguan.inspections.models import InspectionItem
from jianguan.inspections.rules import result_code_choices

REQUIRED = {"required": _("此项为必填项。")}
DATE = {**REQUIRED, "invalid": _("日期格式应为 YYYY-MM-DD")}


class PlanForm(forms.Form):
    name = forms.CharField(label=_("计划名称"), max_length=200, error_messages=REQUIRED)
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100,
                              error_messages={**REQUIRED, "min_value": _("年度不正确"), "max_value": _("年度不正确"),
                                              "invalid": _("请输入年份数字")})


class RatioField(forms.CharField):
    """A ratio in [0, 1] as an exact decimal string."""

    def clean(self, value):  # type: ignore[no-untyped-def]
        value = super().clean(value)
        if value in ("", None):
            return None
        from jianguan.inspections.domain.draw import DrawInputError, validate_ratio

        try:
            return validate_ratio(value)
        except DrawInputError:
            raise forms.ValidationError(_("比例必须是 0 到 1 之间的小数，例如 0.05")) from None


class TaskForm(forms.Form):
    name = forms.CharField(label=_("任务名称"), max_length=200, error_messages=REQUIRED)
    department = forms.ModelChoiceField(label=_("牵头部门"), queryset=Department.objects.all(), error_messages=REQUIRED)
    items = forms.ModelMultipleChoiceField(label=_("抽查事项"), queryset=InspectionItem.objects.filter(active=True),
                                           error_messages={"required": _("请至少选择一个抽查事项")})
    scope_divisions = forms.CharField(label=_("抽查范围（区划代码，逗号分隔）"), error_messages=REQUIRED)
    period_start = forms.DateField(label=_("检查开始"), error_messages=DATE)
    period_end = forms.DateField(label=_("检查结束"), error_messages=DATE)
    ratio_a = RatioField(label=_("A类比例（留空用事项默认）"), required=False)
    ratio_b = RatioField(label=_("B类比例"), required=False)
    ratio_c = RatioField(label=_("C类比例"), required=False)
    ratio_d = RatioField(label=_("D类比例"), required=False)
    a_slice_ratio = RatioField(label=_("A类随机对照比例"), required=False, initial="0.01")
    min_interval_days = forms.IntegerField(label=_("最短检查间隔（天，留空用事项默认）"), required=False, min_value=0,
                                           error_messages={"min_value": _("不能为负数"), "invalid": _("请输入整数")})
    partner_departments = forms.ModelMultipleChoiceField(label=_("联合检查部门"), required=False,
                                                         queryset=Department.objects.all())

    def clean_scope_divisions(self) -> list[str]:
        raw = self.cleaned_data["scope_divisions"].replace("，", ",").replace(" ", ",")
        codes = [c for c in raw.split(",") if c]
        if not codes or not all(len(c) == 6 and c.isdigit() for c in codes):
            raise forms.ValidationError(_("区划代码应为6位数字，多个用逗号分隔"))
        return codes

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean() or {}
        if data.get("period_start") and data.get("period_end") and data["period_end"] < data["period_start"]:
            self.add_error("period_end", _("检查结束日期不能早于开始日期"))
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}), required=False)


class CorrectionForm(forms.Form):
    reason = forms.CharField(label=_("更正理由"), widget=forms.Textarea(attrs={"rows": 2}),
                             error_messages={"required": _("更正计划必须填写更正理由")})


class RandomnessForm(forms.Form):
    value = forms.CharField(label=_("公开随机数"), max_length=200,
                            help_text=_("现场见证人摇出的数字，或公开的彩票开奖号码、随机信标值"),
                            error_messages={"required": _("请输入公开随机数")})
    source = forms.CharField(label=_("来源说明"), max_length=200, required=False)


class ResultForm(forms.Form):
    """One result per item of the visit; built dynamically."""

    visit_date = forms.DateField(label=_("检查日期"), error_messages=DATE,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=_("检查结束日期"), required=False,
                               error_messages={"invalid": _("日期格式应为 YYYY-MM-DD")},
                               widget=forms.DateInput(attrs={"type": "date"}))
    summary = forms.CharField(label=_("检查情况"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, items=(), **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.item_rows = []
        choices = [("", _("请选择检查结果")), *result_code_choices()]
        for vi in items:
            code_name, note_name = f"result_{vi.pk}", f"note_{vi.pk}"
            self.fields[code_name] = forms.ChoiceField(
                label=vi.item.name, choices=choices, initial=vi.result_code,
                error_messages={"required": _("请选择该事项的检查结果"), "invalid_choice": _("检查结果无效")})
            self.fields[note_name] = forms.CharField(label=_("说明"), required=False, initial=vi.result_note,
                                                     widget=forms.Textarea(attrs={"rows": 2}))
            self.item_rows.append((vi, code_name, note_name))

    def clean(self):  # type: ignore[no-untyped-def]
        data = super().clean() or {}
        if data.get("visit_date") and data.get("end_date") and data["end_date"] < data["visit_date"]:
            self.add_error("end_date", _("检查结束日期不能早于检查日期"))
        return data

    def results(self) -> dict[int, tuple[str, str]]:
        return {vi.pk: (self.cleaned_data[c], self.cleaned_data.get(n, "")) for vi, c, n in self.item_rows}


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("证据文件（JPG/PNG/PDF，≤10MB）"), error_messages={"required": _("请选择文件")})


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Excel 文件（.xlsx）"), error_messages={"required": _("请选择文件")})


class ConflictForm(forms.Form):
    uscc = forms.CharField(label=_("统一社会信用代码"), max_length=18, error_messages=REQUIRED)
    reason = forms.CharField(label=_("回避事由"), max_length=200, error_messages=REQUIRED)
