"""Search forms of the registry (staff list, export, API filters, public search); messages in plain Chinese."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from jianguan.core.access import data_scope
from jianguan.core.models import Division, User
from jianguan.registry.models import Entity, Industry, Label, Licence
from jianguan.registry.selectors import EntityFilters, query_kind

_INDUSTRY_CODE = re.compile(r"[A-T]|\d{2,4}")
_DIVISION_CODE = re.compile(r"\d{6}")


def _clean_q(value: str) -> str:
    q = (value or "").strip()
    if q and query_kind(q) == "name" and len(q) < 2:
        raise forms.ValidationError(_("名称关键词至少输入 2 个字，或输入统一社会信用代码。"))
    return q


class EntitySearchForm(forms.Form):
    """Staff search: name or USCC, division, industry, label, status, licence, kind."""

    q = forms.CharField(label=_("名称或统一社会信用代码"), required=False, max_length=100,
                        error_messages={"max_length": _("查询内容不能超过 100 个字。")})
    division = forms.CharField(label=_("行政区划"), required=False, max_length=6)
    industry = forms.CharField(label=_("行业代码"), required=False, max_length=4,
                               help_text=_("GB/T 4754-2017 门类字母或 2-4 位代码"))
    label = forms.ChoiceField(label=_("标签"), required=False)
    status = forms.ChoiceField(label=_("登记状态"), required=False,
                               choices=[("", _("全部状态")), *Entity.Status.choices],
                               error_messages={"invalid_choice": _("登记状态不存在：%(value)s")})
    licence = forms.ChoiceField(label=_("许可证"), required=False,
                                choices=[("", _("全部许可")), *Licence.Type.choices],
                                error_messages={"invalid_choice": _("许可证类型不存在：%(value)s")})
    kind = forms.ChoiceField(label=_("主体类型"), required=False,
                             choices=[("", _("全部类型")), *Entity.Kind.choices],
                             error_messages={"invalid_choice": _("主体类型不存在：%(value)s")})

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        label_field = cast(forms.ChoiceField, self.fields["label"])  # declared as a ChoiceField above
        label_field.choices = [("", _("全部标签")),
                               *Label.objects.order_by("category", "code").values_list("code", "name")]
        self.fields["label"].error_messages["invalid_choice"] = _("标签不存在：%(value)s")

    def division_choices(self) -> list[tuple[str, str]]:
        """Divisions the user may filter by: the current cities and counties of their jurisdiction."""
        qs = Division.objects.filter(current=True, level__in=["city", "county"]).order_by("code")
        if self.user is not None:
            qs = qs.filter(data_scope(self.user).divisions_q("code"))
        return [(d.code, f"{d.code} {d.name}") for d in qs.only("code", "name")]

    def clean_q(self) -> str:
        return _clean_q(self.cleaned_data.get("q", ""))

    def clean_division(self) -> str:
        code = (self.cleaned_data.get("division") or "").strip()
        if not code:
            return ""
        if not _DIVISION_CODE.fullmatch(code):
            raise forms.ValidationError(_("行政区划代码应为 6 位数字。"))
        if not Division.objects.filter(code=code).exists():
            raise forms.ValidationError(_("行政区划代码不存在：%(code)s"), params={"code": code})
        return code

    def clean_industry(self) -> str:
        code = (self.cleaned_data.get("industry") or "").strip().upper()
        if not code:
            return ""
        if not _INDUSTRY_CODE.fullmatch(code) or not Industry.objects.filter(code=code).exists():
            raise forms.ValidationError(
                _("行业代码不存在：%(code)s（请填写 GB/T 4754-2017 门类字母或 2-4 位代码，如 F、52、5211）"),
                params={"code": code})
        return code

    def filters(self) -> EntityFilters:
        """The validated filters (call after `is_valid()`); fields with errors are left out."""
        data = getattr(self, "cleaned_data", {})
        return EntityFilters(**{k: data.get(k) or "" for k in ("q", "division", "industry", "label", "status",
                                                                 "licence", "kind")})


class PublicSearchForm(forms.Form):
    """Public search: a name substring or a USCC."""

    q = forms.CharField(label=_("企业名称或统一社会信用代码"), required=False, max_length=100,
                        error_messages={"max_length": _("查询内容不能超过 100 个字。")})

    def clean_q(self) -> str:
        return _clean_q(self.cleaned_data.get("q", ""))
