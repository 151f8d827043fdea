"""`jianguan synth --scale county|city|province --seed N (--load [--replace] | --out DIR)` — synthetic data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jianguan.synth.context import DEFAULT_TODAY
from jianguan.synth.registry import PRESET_TOTALS, SynthError, custom_plan, preset_plan


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"日期“{value}”格式不对，应为 YYYY-MM-DD") from exc


class Command(BaseCommand):
    help = ("生成合成的市场主体名录及各模块的历史数据 (generate synthetic registry and module history): "
            "--scale county=文登区 7万 / city=济南市 130万 / province=山东省 1500万，或 --divisions … --entities N")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(PRESET_TOTALS), help="预设规模 (preset scale)")
        parser.add_argument("--divisions", help="自定义区划代码，逗号分隔，如 371003,371082 (custom divisions)")
        parser.add_argument("--entities", type=int, help="自定义主体总数 (entities for --divisions)")
        parser.add_argument("--seed", type=int, default=2026, help="随机种子；同一种子得到相同数据 (seed)")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--load", action="store_true", help="批量载入数据库 (bulk-load into the database)")
        where.add_argument("--out", metavar="DIR", help="写 Parquet 文件到目录 (write Parquet files to DIR)")
        parser.add_argument("--replace", action="store_true",
                            help="替换这些区划中已有的市场主体 (replace entities already in those divisions)")
        parser.add_argument("--today", type=_date, default=DEFAULT_TODAY,
                            help=f"合成数据的“今天” (the synthetic today), 默认 {DEFAULT_TODAY.isoformat()}")
        parser.add_argument("--workers", type=int, default=1,
                            help="并行生成的进程数，结果与 1 相同 (processes generating divisions; same result)")
        parser.add_argument("--registry-only", action="store_true",
                            help="只生成名录，不运行其他模块的合成步骤 (skip other modules' synth steps)")

    def handle(self, *args: Any, **opts: Any) -> None:
        from jianguan.synth.runner import reference, synth_run

        if not opts["load"] and not opts["out"]:
            raise CommandError("请指定 --load（载入数据库）或 --out 目录（写 Parquet 文件）之一")
        if opts["replace"] and not opts["load"]:
            raise CommandError("--replace 只能与 --load 一起使用")
        if opts["workers"] < 1:
            raise CommandError("--workers 必须是正整数")
        ref = reference()
        try:
            if opts["divisions"]:
                if opts["scale"]:
                    raise SynthError("--scale 与 --divisions 只能指定一个")
                if opts["entities"] is None:
                    raise SynthError("使用 --divisions 时请用 --entities 指定主体总数")
                codes = [c.strip() for c in opts["divisions"].split(",") if c.strip()]
                if not codes:
                    raise SynthError("--divisions 中没有区划代码")
                plan, scale = custom_plan(codes, opts["entities"], ref), "custom"
            else:
                if not opts["scale"]:
                    raise SynthError("请指定 --scale（county、city、province）或 --divisions 与 --entities")
                if opts["entities"] is not None:
                    raise SynthError("--entities 只能与 --divisions 一起使用")
                plan, scale = preset_plan(opts["scale"], ref), opts["scale"]
            synth_run(plan, seed=opts["seed"], scale=scale, load=opts["load"], out_dir=opts["out"],
                      replace=opts["replace"], today=opts["today"], out=self.stdout, ref=ref,
                      steps=[] if opts["registry_only"] else None, workers=opts["workers"])
        except SynthError as exc:
            raise CommandError(str(exc)) from exc
