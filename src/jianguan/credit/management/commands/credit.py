"""`jianguan credit classify|explain|abnormal-candidates|lists-sweep` — the credit module from the command line."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from jianguan.credit.domain.model import parse_month


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"日期格式应为 YYYY-MM-DD：{text!r}") from None


class Command(BaseCommand):
    help = ("信用监管 (credit): classify 月度风险分类；explain 解释一个主体的分类；"
            "abnormal-candidates 生成年报未报异常名录候选批次；lists-sweep 名录到期处理")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        c = sub.add_parser("classify", help="对所有存续主体进行月度信用风险分类")
        c.add_argument("--month", required=True, help="YYYY-MM")
        c.add_argument("--as-of", help="数据截止日 / 今天（测试用），YYYY-MM-DD")
        e = sub.add_parser("explain", help="显示一个主体某月的分类、分值及各因素得分与事实")
        e.add_argument("uscc")
        e.add_argument("--month", help="YYYY-MM（默认最近一次）")
        a = sub.add_parser("abnormal-candidates", help="年报未按期报送 → 经营异常名录候选批次（待科室负责人审批）")
        a.add_argument("--year", type=int, required=True, help="年报年度")
        a.add_argument("--as-of", required=True, help="YYYY-MM-DD（应在报送截止日之后）")
        s = sub.add_parser("lists-sweep", help="异常名录满三年预警/候选，严重违法失信名单届满移出")
        s.add_argument("--as-of", required=True, help="YYYY-MM-DD")

    def handle(self, *args: Any, **opts: Any) -> None:
        getattr(self, "_" + opts["action"].replace("-", "_"))(opts)

    def _fail(self, message: str) -> None:
        self.stderr.write(message)
        sys.exit(2)

    def _classify(self, opts: dict[str, Any]) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from jianguan.core.jobs import job_run_now
        from jianguan.credit.classification import ClassificationError, check_month

        try:
            month = parse_month(opts["month"])
        except ValueError:
            self._fail(f"月份格式应为 YYYY-MM：{opts['month']!r}")
        today = _date(opts["as_of"]) if opts.get("as_of") else timezone.localdate()
        try:
            check_month(month, today)
        except ClassificationError as exc:
            self._fail(str(exc))
        params = {"month": f"{month:%Y-%m}", "today": today.isoformat()}
        if opts.get("as_of"):
            params["as_of"] = min(today, _month_end(month)).isoformat()
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=None, transient=True, disable=not sys.stderr.isatty()) as bar:
            task = bar.add_task("信用风险分类", total=None)

            def on_progress(job: Any) -> None:
                bar.update(task, description=job.step or "信用风险分类", completed=job.done, total=job.total)

            job = job_run_now("credit.classify", f"{month:%Y-%m} 信用风险分类", params, on_progress=on_progress)
        if job.status != job.Status.SUCCEEDED:
            self._fail(f"分类失败：{job.error}")
        counts = job.result["counts"]
        self.stdout.write(f"{month:%Y-%m} 信用风险分类完成（模型 {job.result['model_version']}，任务 {job.pk}）")
        for cls in "ABCD":
            self.stdout.write(f"{cls}\t{counts.get(cls, 0)}")
        self.stdout.write(f"合计\t{sum(counts.values())}")

    def _explain(self, opts: dict[str, Any]) -> None:
        from jianguan.credit.selectors import risk_explain

        month = None
        if opts.get("month"):
            try:
                month = parse_month(opts["month"])
            except ValueError:
                self._fail(f"月份格式应为 YYYY-MM：{opts['month']!r}")
        explained = risk_explain(opts["uscc"].strip().upper(), month)
        if explained is None:
            self._fail(f"没有 {opts['uscc']} 在 {opts.get('month') or '任何月份'} 的分类结果")
            return
        r = explained
        self.stdout.write(f"{r.entity_name}（{r.uscc}）")
        self.stdout.write(f"月份 {r.month:%Y-%m}  分类 {r.risk_class}  分值 {r.score:g}  模型 {r.model_version}")
        if r.hard_rule:
            self.stdout.write(f"直接判定：{r.hard_rule}")
        for f in r.factors:
            facts = json.dumps(f.facts, ensure_ascii=False)
            note = f"  [{f.note}]" if f.note else ""
            self.stdout.write(f"  {f.points:+g}\t{f.name}\t事实 {f.feature}={facts}{note}")

    def _abnormal_candidates(self, opts: dict[str, Any]) -> None:
        from jianguan.credit.services import CreditError, abnormal_candidates_generate

        try:
            batches = abnormal_candidates_generate(opts["year"], as_of=_date(opts["as_of"]), actor=None)
        except CreditError as exc:
            self._fail(str(exc))
            return
        total = sum(b.candidates.count() for b in batches)
        self.stdout.write(f"{opts['year']} 年度年报未报：生成 {len(batches)} 个候选批次，共 {total} 户，"
                          "待科室负责人审批")
        for b in batches:
            self.stdout.write(f"  {b.pk}\t{b.division_id}\t{b.candidates.count()}\t{b.title}")

    def _lists_sweep(self, opts: dict[str, Any]) -> None:
        from jianguan.credit.services import lists_sweep

        result = lists_sweep(as_of=_date(opts["as_of"]), actor=None)
        for key, value in result.items():
            self.stdout.write(f"{key}\t{value}")


def _month_end(month: dt.date) -> dt.date:
    from jianguan.credit.domain.months import month_end

    return month_end(month)
