"""`synth_run`: generate the registry for a plan, send it to Parquet or the database, then run the modules' steps."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import polars as pl
from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string

from jianguan.synth.context import DEFAULT_TODAY, SynthContext
from jianguan.synth.registry import (
    ENTITY_SCHEMA,
    DivisionPlan,
    Reference,
    RegistryGenerator,
    SynthError,
    entity_keys,
    load_reference,
)


def reference() -> Reference:
    return load_reference(settings.JIANGUAN_RULES_DIR)


def synth_steps() -> list[str]:
    """Dotted paths of every installed app's ``synth_steps``, in menu order (the registry itself is not one)."""
    out: list[str] = []
    for cfg in sorted(apps.get_app_configs(), key=lambda c: getattr(c, "menu_order", 100)):
        out.extend(getattr(cfg, "synth_steps", ()) or ())
    return out


def synth_run(plan: Sequence[DivisionPlan], *, seed: int, scale: str, load: bool, out_dir: str | Path | None = None,
              replace: bool = False, today: dt.date = DEFAULT_TODAY, out: IO[str] | Any = None,
              ref: Reference | None = None, steps: Sequence[str] | None = None, actor: Any = None,
              say: Callable[[str], None] | None = None, workers: int = 1) -> SynthContext:
    """Generate the registry for `plan`; load it (`load`) or write Parquet to `out_dir`; then run the synth steps.

    `steps` defaults to every app's ``synth_steps``; pass ``[]`` to generate the registry only. `workers` > 1
    generates divisions in that many processes (same result)."""
    if load == (out_dir is not None):
        raise SynthError("请指定 --load（载入数据库）或 --out 目录（写 Parquet 文件）之一")
    ref = ref or reference()
    divisions = [p.code for p in plan]
    ctx = SynthContext(seed=seed, scale=scale, divisions=divisions, entities=pl.DataFrame(), load=load,
                       out_dir=Path(out_dir) if out_dir is not None else None, today=today, out=out)
    report = say or ctx.say
    generator = RegistryGenerator(ref, seed=seed, today=today)
    info = {"seed": seed, "scale": scale, "today": today.isoformat()}
    sink: Any
    if load:
        from jianguan.synth.load import DatabaseSink

        sink = DatabaseSink(divisions, replace=replace, summary=info, actor=actor,
                            expected=sum(p.entities for p in plan))
    else:
        from jianguan.synth.load import ParquetSink

        sink = ParquetSink(out_dir)  # type: ignore[arg-type]
    keys: list[pl.DataFrame] = []
    started = time.monotonic()
    with sink:
        for chunk in generator.chunks(plan, first_ids=sink.first_ids, workers=workers):
            t0 = time.monotonic()
            sink.write(chunk)
            keys.append(entity_keys(chunk, ref))
            name = ref.divisions[chunk.division].name
            report(f"{chunk.division} {name}：{chunk.entities.height} 个市场主体，许可证 {chunk.licences.height}，"
                   f"年报 {chunk.annual_reports.height}（写入 {time.monotonic() - t0:.1f}s）")
    if load:
        sink.analyze()
        if sink.timings:
            report("数据库：" + "，".join(f"{k}={v}" for k, v in sink.timings.items()))
        if sink.index_timings:
            report("重建索引：" + "，".join(f"{k}={v}" for k, v in sink.index_timings.items()))
    else:
        sink.manifest(**info, divisions=divisions)
    total = sink.counts["entities"]
    report(f"市场主体合计 {total}，用时 {time.monotonic() - started:.1f}s")
    ctx.entities = pl.concat(keys) if keys else pl.DataFrame(schema={"id": ENTITY_SCHEMA["id"]})
    ctx.facts["registry_counts"] = dict(sink.counts)
    for path in synth_steps() if steps is None else steps:
        try:
            fn = import_string(path)
        except ImportError as exc:
            raise SynthError(f"合成步骤 {path} 无法导入（{exc}）；可加 --registry-only 只生成名录") from exc
        t0 = time.monotonic()
        fn(ctx)
        report(f"{path} 完成（{time.monotonic() - t0:.1f}s）")
    return ctx
