"""What the audit trail's action codes mean, in the reader's language.

An audit entry keeps its action as a short code (`create`, `credit.abnormal_enter`, `status:frozen`): the code is
hashed into the chain and filtered on, so it never changes. Pages show the label each module registers for its codes
(`register_action_labels`, from its AppConfig.ready); `status:<value>` is labelled from the status names the module
registers for its record type. A code nobody registered is shown as it is (the complaint workflow records its
actions in Chinese already)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_ACTIONS: dict[str, Any] = {
    "create": gettext_lazy("创建"),
    "update": gettext_lazy("修改"),
    "import": gettext_lazy("导入"),
    "synth_load": gettext_lazy("载入合成演示数据"),
    "view_personal_data": gettext_lazy("查看个人信息"),
}
_STATUSES: dict[str, Mapping[str, Any]] = {}  # record type (app_label.model) → status value → its name
_KEYS: dict[str, Mapping[str, Any]] = {}  # record type → name of a before/after key that is no field of its model


def register_action_labels(actions: Mapping[str, Any], *, statuses: Mapping[str, Mapping[str, Any]] | None = None,
                           keys: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Labels (lazy translations) for a module's action codes, the status names of its record types, and the names
    of the keys its entries' before/after hold besides the model's fields (an entity's `labels`)."""
    _ACTIONS.update(actions)
    _STATUSES.update(statuses or {})
    _KEYS.update(keys or {})


def key_label(object_type: str, key: str) -> str | None:
    """The registered name of a before/after key that is no field of the record's model."""
    label = _KEYS.get(object_type, {}).get(key)
    return None if label is None else str(label)


def action_label(action: str, object_type: str = "") -> str:
    """The label of an entry's action; the code itself when none is registered."""
    label = _ACTIONS.get(action)
    if label is not None:
        return str(label)
    kind, _sep, value = action.partition(":")
    if kind == "status" and value:
        name = _STATUSES.get(object_type, {}).get(value)
        return _("状态改为“%(status)s”") % {"status": name if name is not None else value}
    return action
