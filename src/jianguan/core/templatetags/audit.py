"""`{{ entry|action_label }}`: an audit entry's action as its module labels it (`core.audit_labels`)."""

from __future__ import annotations

from typing import Any

from django import template

from jianguan.core.audit_labels import action_label as _label

register = template.Library()


@register.filter
def action_label(entry: Any) -> str:
    return _label(entry.action, getattr(entry, "object_type", ""))
