"""The demo's registry: 文登区 at county scale and 荣成市, then every module's synthetic history for them."""

from __future__ import annotations

from jianguan.core.demo import DemoContext
from jianguan.synth.load import entities_in
from jianguan.synth.registry import DivisionPlan

# (division, entities, entities in small mode)
DEMO_PLAN = (("371003", 70_000, 1_500), ("371082", 15_000, 500))


def load_registry(ctx: DemoContext) -> None:
    """市场主体名录（合成数据：文登区、荣成市）(synthetic registry of Wendeng and Rongcheng)"""
    from jianguan.synth.runner import synth_run

    plan = [DivisionPlan(code, small if ctx.small else full) for code, full, small in DEMO_PLAN]
    existing = entities_in([p.code for p in plan])
    if existing:
        ctx.say(f"数据库中已有 {existing} 个市场主体，跳过合成数据 (registry already loaded, skipped)\n")
        return
    synth = synth_run(plan, seed=ctx.seed, scale="demo", load=True, today=ctx.today, out=ctx.out,
                      say=lambda text: ctx.say(text + "\n"))
    ctx.facts["synth"] = synth
    ctx.facts["entities"] = synth.entities.height
