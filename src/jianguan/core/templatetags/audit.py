"""Audit entries for people: `{{ entry|action_label }}` (what the action code means, `core.audit_labels`) and
`{{ entry|audit_changes }}` (its before/after as rows of field, old value, new value)."""

from __future__ import annotations

import json
from typing import Any

from django import template
from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext as _

from jianguan.core.audit_labels import action_label as _label
from jianguan.core.audit_labels import key_label

register = template.Library()


@register.filter
def action_label(entry: Any) -> str:
    return _label(entry.action, getattr(entry, "object_type", ""))


def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, key: str) -> Any:
    """The field (or relation) ``key`` names on the model, by name or by column (`division_id`); None if none."""
    if model is None:
        return None
    try:
        return model._meta.get_field(key)
    except FieldDoesNotExist:
        return next((f for f in model._meta.concrete_fields if f.attname == key), None)


def _name(field: Any, key: str, object_type: str) -> str:
    if field is None:
        return key_label(object_type, key) or key
    if getattr(field, "verbose_name", None):
        return str(field.verbose_name)
    related = getattr(field, "related_model", None)  # a reverse relation (an entity's labels)
    return str(related._meta.verbose_name) if related is not None else key


def _shown(value: Any, field: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):  # before the choices: a bool is an int, and True would be read as choice 1
        return _("是") if value else _("否")
    if getattr(field, "choices", None) and isinstance(value, str | int):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@register.filter
def audit_changes(entry: Any) -> list[tuple[str, str, str]] | None:
    """(field, before, after) for each key of the entry's before/after objects, fields named as the record's model
    names them; None when they are not JSON objects (then the page shows the text as stored)."""
    try:
        before = json.loads(entry.before) if entry.before else {}
        after = json.loads(entry.after) if entry.after else {}
    except ValueError:
        return None
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    object_type = getattr(entry, "object_type", "")
    model = _model(object_type)
    fields = {key: _field(model, key) for key in [*after, *(k for k in before if k not in after)]}
    # Stored with sorted keys: shown in the model's order, keys of no field last.
    order: dict[str, int] = {f.name: i for i, f in enumerate(model._meta.get_fields())} if model else {}

    def place(key: str) -> int:
        return order.get(str(getattr(fields[key], "name", key)), len(order))

    return [(_name(fields[key], key, object_type),
             _shown(before.get(key), fields[key]) if key in before else "—",
             _shown(after.get(key), fields[key]) if key in after else "—") for key in sorted(fields, key=place)]
