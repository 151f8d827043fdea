"""The respondent's (ODR enterprise's) view: access codes issued by staff, and the outcome the enterprise records.

The portal has no enterprise accounts. Staff of the bureau whose jurisdiction covers an ODR enterprise
(`Entity.odr_enabled`) issue it an access code; the code is shown once, stored only as a SHA-256 hash, one active
code per enterprise (a new one revokes the old), revocable, every issue, revocation and use audited. With the code
the enterprise opens its ODR page on the portal, sees the complaints against it that are in the ODR stage — never a
report, never a reporter, the complainant masked (art. 37) — and records "settled (amount)" or "not settled" within
the ODR period. That outcome goes through `services.odr_outcome` with no staff actor: its audit entry names the
enterprise and the code (by its last four characters) as the ones who recorded it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from jianguan.complaints import access, services
from jianguan.complaints.domain.text import mask_name, mask_phone
from jianguan.complaints.models import Case, OdrAccessCode
from jianguan.core.access import can_write, data_scope, has_role
from jianguan.core.audit import audit_record
from jianguan.core.models import User
from jianguan.registry.models import Entity

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or typed from paper
CODE_GROUPS = 4
MAX_AMOUNT = Decimal("100000000")


class OdrError(Exception):
    """A request the respondent view refuses, with the message to show (Chinese)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(f"jianguan-odr:{_normalise(code)}".encode()).hexdigest()


def _new_code() -> str:
    groups = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(CODE_GROUPS)]
    return "-".join(groups)  # 16 characters from 31: about 79 bits


def can_issue(user: User, entity: Entity) -> bool:
    """Handling staff whose jurisdiction covers the enterprise's division."""
    return (has_role(user, *access.HANDLING_ROLES) and can_write(user)
            and data_scope(user).covers_division(entity.division_id or ""))


def odr_code_issue(entity: Entity, *, actor: User) -> tuple[OdrAccessCode, str]:
    """Issue a new access code for an ODR enterprise (revoking its current one); the plain code is returned once."""
    if not can_issue(actor, entity):
        raise OdrError("只有该企业所在辖区的承办人员可以发放ODR访问码")
    if not entity.odr_enabled:
        raise OdrError("该企业未登记为在线消费纠纷解决（ODR）企业，不能发放访问码")
    plain = _new_code()
    with transaction.atomic():
        Entity.objects.select_for_update().filter(pk=entity.pk).first()
        for old in OdrAccessCode.objects.select_for_update().filter(entity=entity, revoked_at__isnull=True):
            _revoke(old, actor=actor, reason="发放新访问码，原访问码作废")
        code = OdrAccessCode.objects.create(entity=entity, code_hash=_hash(plain), hint=_normalise(plain)[-4:],
                                            issued_by=actor)
        audit_record(code, "odr_code_issue", actor=actor, after={"entity_id": entity.pk, "hint": code.hint},
                     reason=f"向 {entity.name} 发放ODR访问码")
    return code, plain


def _revoke(code: OdrAccessCode, *, actor: User, reason: str) -> None:
    code.revoked_at, code.revoked_by = timezone.now(), actor
    code.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(code, "odr_code_revoke", actor=actor, before={"active": True}, after={"active": False},
                 reason=reason)


def odr_code_revoke(code: OdrAccessCode, *, actor: User, reason: str = "") -> OdrAccessCode:
    with transaction.atomic():
        code = OdrAccessCode.objects.select_for_update().select_related("entity").get(pk=code.pk)
        if not can_issue(actor, code.entity):
            raise OdrError("只有该企业所在辖区的承办人员可以撤销ODR访问码")
        if code.revoked_at is not None:
            raise OdrError("该访问码已撤销")
        _revoke(code, actor=actor, reason=reason.strip() or "撤销访问码")
    return code


def odr_code_check(plain: str) -> OdrAccessCode | None:
    """The active code for what the enterprise typed, or None (unknown, revoked, or no longer an ODR enterprise)."""
    if len(_normalise(plain)) != 4 * CODE_GROUPS:
        return None
    code = (OdrAccessCode.objects.select_related("entity").filter(code_hash=_hash(plain), revoked_at__isnull=True)
            .first())
    if code is None or not code.entity.odr_enabled:
        return None
    return code


def odr_code_active(code_id: int | None) -> OdrAccessCode | None:
    """The session's code if it is still active (revocation ends an open session at its next request)."""
    if not code_id:
        return None
    code = OdrAccessCode.objects.select_related("entity").filter(pk=code_id, revoked_at__isnull=True).first()
    if code is None or not code.entity.odr_enabled:
        return None
    return code


def odr_code_used(code: OdrAccessCode) -> None:
    """Note a sign-in with the code (audited: who came in, when)."""
    with transaction.atomic():
        OdrAccessCode.objects.filter(pk=code.pk).update(last_used_at=timezone.now())
        audit_record(code, "odr_code_use", actor=None, reason=f"{code.entity.name} 凭ODR访问码登录门户")


def _odr_cases(entity: Entity) -> Any:
    # Complaints only: a report (举报) never reaches the respondent's view, whatever its state.
    return Case.objects.filter(entity=entity, kind=Case.Kind.COMPLAINT, status=Case.Status.ODR)


def odr_cases_for_respondent(entity: Entity, *, today: dt.date) -> list[dict[str, Any]]:
    """What the enterprise needs to settle, and nothing more: no reporter, complainant masked (art. 37)."""
    rows = []
    for c in _odr_cases(entity).order_by("odr_due", "received_at").only(
            "tracking_number", "received_on", "odr_due", "category", "request", "facts", "complainant_name",
            "complainant_phone", "amount_claimed", "kind", "status"):
        rows.append({
            "tracking_number": c.tracking_number, "received_on": c.received_on, "odr_due": c.odr_due,
            "open": c.odr_due is not None and today <= c.odr_due,
            "complainant": mask_name(c.complainant_name), "phone": mask_phone(c.complainant_phone),
            "request": c.request, "facts": c.facts, "amount_claimed": c.amount_claimed,
        })
    return rows


def parse_amount(text: str) -> Decimal:
    try:
        amount = Decimal((text or "").strip().replace(",", ""))
    except InvalidOperation:
        raise OdrError("金额格式不正确，请填写数字（元），如 128.50") from None
    if not amount.is_finite() or amount < 0 or amount >= MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise OdrError("金额须为不小于 0 的数字，最多两位小数（元）")
    return amount


def odr_respondent_outcome(code: OdrAccessCode, tracking_number: str, *, settled: bool,
                           amount: Decimal | None = None, today: dt.date | None = None) -> Case:
    """The enterprise records the ODR outcome of one of its complaints, within the ODR period."""
    today = today or services.today_local()
    if settled and amount is None:
        raise OdrError("请填写和解金额（元）；未涉及退款赔偿的填 0")
    with transaction.atomic():
        live = odr_code_active(code.pk)
        if live is None:
            raise OdrError("访问码已失效，请联系市场监管部门重新获取")
        case = (_odr_cases(live.entity).select_for_update(of=("self",)).select_related("unit", "handler")
                .filter(tracking_number=tracking_number).first())
        if case is None:
            raise OdrError("找不到该投诉，或该投诉已不在企业协商（ODR）阶段")
        if case.odr_due is None or today > case.odr_due:
            raise OdrError(f"企业协商期限已于 {case.odr_due} 届满，不能再登记协商结果；该投诉将由市场监管部门依法处理")
        try:
            case = services.odr_outcome(
                case, actor=None, settled=settled, amount=amount if settled else None, on=today,
                respondent=f"{live.entity.name} 凭ODR访问码（尾号 {live.hint}）登记协商结果")
        except services.WorkflowError as exc:
            raise OdrError(exc.message) from None
    return case


def odr_codes_for_staff(user: User) -> Any:
    """The access codes of enterprises in the user's jurisdiction, newest first, with who issued and revoked them."""
    scope = data_scope(user)
    qs = OdrAccessCode.objects.select_related("entity", "issued_by", "revoked_by")
    if not scope.everything:
        qs = qs.filter(scope.divisions_q("entity__division_id"))
    return qs.order_by("-issued_at", "-id")
