"""Demo step of the complaints module: an ODR access code, so the enterprise's side can be tried on the portal."""

from __future__ import annotations

from typing import Any


def odr_access_code(ctx: Any) -> None:
    """在线消费纠纷解决（ODR）演示访问码 (an ODR access code for the demo)"""
    from django.db.models import Count

    from jianguan.complaints.models import Case
    from jianguan.complaints.respondent import OdrError, can_issue, odr_code_issue
    from jianguan.core.models import User
    from jianguan.registry.models import Entity

    busiest = (Case.objects.filter(status=Case.Status.ODR, entity__odr_enabled=True).values("entity_id")
               .annotate(n=Count("id")).order_by("-n", "entity_id").first())
    if busiest is None:
        ctx.say("没有处于企业协商阶段的投诉，跳过\n")
        return
    entity = Entity.objects.get(pk=busiest["entity_id"])
    county = (entity.division_id or "")[:6]
    staff = [u for u in User.objects.filter(username__endswith="_handler", is_active=True).order_by("username")
             if can_issue(u, entity)]
    preferred = [u for u in staff if u.unit and (u.unit.division_id or "").startswith(county)]
    if not (preferred or staff):
        ctx.say(f"没有可为 {entity.name} 发放访问码的承办人员，跳过\n")
        return
    try:
        _code, plain = odr_code_issue(entity, actor=(preferred or staff)[0])
    except OdrError as exc:
        ctx.say(f"未能发放访问码：{exc}\n")
        return
    ctx.say(f"{entity.name}（{entity.uscc}）有 {busiest['n']} 件投诉处于企业协商阶段；\n")
    ctx.say(f"门户 /complaints/odr/ 输入访问码 {plain} 即可以企业身份查看并登记协商结果\n")
