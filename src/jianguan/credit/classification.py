"""The monthly credit-risk classification: read features in bulk → score with Polars → write back in bulk."""

from __future__ import annotations

import datetime as dt
import inspect
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, TypeVar

import polars as pl
from django.apps import apps
from django.db import IntegrityError, transaction
from django.utils import timezone

from jianguan.core.audit import audit_record
from jianguan.core.bulk import PendingRead, Read, replace_rows
from jianguan.core.models import Job, User
from jianguan.credit.domain.model import CLASSES, RiskModel
from jianguan.credit.domain.months import month_end, month_start, previous_month
from jianguan.credit.domain.scoring import missing_features, score_profiles
from jianguan.credit.features import read_base
from jianguan.credit.models import ClassificationRun, RiskResult
from jianguan.credit.rules import model_for_month

Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")
SCORE_CHUNK_ROWS = 1_000_000


class ClassificationError(Exception):
    """A classification that must not run (message in plain Chinese)."""


@dataclass
class ClassificationOutcome:
    run: ClassificationRun
    counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)


def check_month(month: dt.date, today: dt.date) -> None:
    if month_start(month) > month_start(today):
        raise ClassificationError(f"不能对未来月份（{month:%Y-%m}）进行分类：今天是 {today:%Y-%m-%d}。")


def feature_providers() -> list[tuple[str, Callable[..., pl.DataFrame]]]:
    """Every installed app's `credit_features` provider (dotted path on its AppConfig)."""
    out = []
    for cfg in apps.get_app_configs():
        path = getattr(cfg, "credit_features", None)
        if path:
            module, _, name = path.rpartition(".")
            out.append((cfg.label, getattr(import_module(module), name)))
    return out


def collect_features(as_of: dt.date, base: pl.DataFrame) -> pl.DataFrame:
    """Join every provider's columns onto the operating entities; absent values are 0.

    A provider whose rows are exactly the base's entities in the base's order (the credit module's, which starts
    from `base`) is put alongside without a join: at province scale a join copies every column of 15 M rows.
    """
    frame = base.select("entity_id")
    for label, provider in feature_providers():
        kwargs = {"base": base} if "base" in inspect.signature(provider).parameters else {}
        part = provider(as_of, **kwargs)
        if "entity_id" not in part.columns:
            raise ClassificationError(f"{label} 模块提供的特征缺少 entity_id 列")
        part = part.with_columns(pl.col("entity_id").cast(pl.Int64))
        clash = (set(part.columns) & set(frame.columns)) - {"entity_id"}
        if clash:
            raise ClassificationError(f"{label} 模块提供的特征与其他模块重名：{'、'.join(sorted(clash))}")
        if part["entity_id"].equals(frame["entity_id"]):
            frame = pl.concat([frame, part.drop("entity_id")], how="horizontal")
        else:
            frame = frame.join(part.unique("entity_id", keep="first"), on="entity_id", how="left",
                               maintain_order="left")
    return frame.fill_null(0)


def _acquire(month: dt.date, as_of: dt.date, model: RiskModel, job: Job | None) -> ClassificationRun:
    """Create the month's running run; the partial unique index refuses a second one (even from another process)."""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return ClassificationRun.objects.create(month=month, as_of=as_of, model_version=model.version,
                                                        job=job, started_at=timezone.now())
        except IntegrityError:
            running = ClassificationRun.objects.filter(month=month, status=ClassificationRun.Status.RUNNING) \
                .select_related("job").first()
            if running is not None and running.job is not None and running.job.finished:
                # Its job died (reaped as failed): release the month and try again.
                ClassificationRun.objects.filter(pk=running.pk).update(
                    status=ClassificationRun.Status.FAILED, finished_at=timezone.now(),
                    error="所属后台任务已中断")
                continue
            raise ClassificationError(f"{month:%Y-%m} 的风险分类正在运行中，请等待其完成后再试。") from None
    raise ClassificationError(f"{month:%Y-%m} 的风险分类正在运行中，请等待其完成后再试。")


class Prefetched(Iterator[T]):
    """Iterate `source` one item ahead in a background thread (pure computation only: no database use there).

    The consumer gets the source's exception re-raised; leaving early stops the thread. `waited` is the time the
    consumer spent waiting for items.
    """

    _DONE = object()

    def __init__(self, source: Iterator[T], depth: int = 1) -> None:
        self.waited = 0.0
        self._finished = False
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(source,), name="credit-scoring", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, source: Iterator[T]) -> None:
        try:
            for item in source:
                if not self._put(("item", item)):
                    return
            self._put(("done", None))
        except BaseException as exc:  # handed to the consumer
            self._put(("error", exc))

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        w0 = time.perf_counter()
        kind, item = self._queue.get()
        self.waited += time.perf_counter() - w0
        if kind == "item":
            return item
        self._finished = True
        self.close()
        if kind == "error":
            raise item
        raise StopIteration

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def __del__(self) -> None:
        self._stop.set()


def summarise(scored: pl.DataFrame, base: pl.DataFrame, previous: pl.DataFrame) -> dict[str, Any]:
    """Counts by county, industry section and class, and transitions from the previous month per county."""
    joined = scored.select("entity_id", "risk_class").join(
        base.select("entity_id", "division_id", "section"), on="entity_id", how="left")
    by = joined.group_by("division_id", "section", "risk_class").len() \
        .sort("division_id", "section", "risk_class")
    moves = joined.join(previous.rename({"risk_class": "prev"}), on="entity_id", how="left") \
        .with_columns(pl.col("prev").fill_null("-")) \
        .group_by("division_id", "prev", "risk_class").len().sort("division_id", "prev", "risk_class")
    return {"by_section": [list(r) for r in by.iter_rows()], "transitions": [list(r) for r in moves.iter_rows()]}


def classification_run(month: dt.date, *, today: dt.date, as_of: dt.date | None = None, user: User | None = None,
                       job: Job | None = None, progress: Progress | None = None) -> ClassificationOutcome:
    """Classify every operating entity for `month` and replace that month's results in one transaction."""
    month = month_start(month)
    check_month(month, today)
    as_of = as_of or min(month_end(month), today)
    model = model_for_month(month)
    say = progress or (lambda step, done, total: None)
    run = _acquire(month, as_of, model, job)
    timings: dict[str, float] = {}
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        say("读取市场主体", 0, None)
        base = read_base(as_of)
        total = base.height
        say("读取特征数据", 0, total)
        feats = collect_features(as_of, base)
        timings["read"] = time.perf_counter() - t0
        timings["read_cpu"] = time.process_time() - c0
        say("计算分值与分类", 0, total)
        missing = missing_features(model, set(feats.columns))
        if not feats["entity_id"].is_sorted():  # usually is: skip a copy of the whole table at province scale
            feats = feats.sort("entity_id")
        classes: list[pl.DataFrame] = []
        s0, cs = time.perf_counter(), time.process_time()
        keys, profiles = score_profiles(feats, model)
        scoring_s = [time.perf_counter() - s0]

        def scored_chunks() -> Iterator[pl.DataFrame]:
            # Each entity takes its profile's output (see score_profiles); chunks bound the memory the JSON text
            # columns take at province scale.
            for offset in range(0, feats.height, SCORE_CHUNK_ROWS):
                s0 = time.perf_counter()
                part = feats.slice(offset, SCORE_CHUNK_ROWS).join(
                    profiles, on=keys, how="left", maintain_order="left", nulls_equal=True)
                classes.append(part.select("entity_id", "risk_class"))
                out = part.select(
                    "entity_id", pl.lit(month).alias("month"), "risk_class", "score", "contributions", "facts",
                    "hard_rule", pl.lit(model.version).alias("model_version"))
                scoring_s[0] += time.perf_counter() - s0
                yield out

        # Last month's classes, for the transitions in the summary: read while the database takes this month's rows.
        previous_read = PendingRead(Read("SELECT entity_id, risk_class FROM credit_riskresult WHERE month = %s",
                                         [previous_month(month)], {"entity_id": pl.Int64, "risk_class": pl.String}))
        t2 = time.perf_counter()
        # Delete-then-insert the month in one transaction (see bulk.replace_rows), then close the run. The next
        # chunk is scored in a background thread while the database takes the current one.
        chunks = Prefetched(scored_chunks())
        try:
            replace_rows(RiskResult._meta.db_table, "month = %s", [month], chunks,
                         progress=lambda n: say("写入分类结果", n, total))
        finally:
            chunks.close()
        # Overlapped: "compute" counts the scoring thread's time, "write" the time not spent waiting for it.
        timings["write"] = time.perf_counter() - t2 - chunks.waited
        timings["score_write_cpu"] = time.process_time() - cs
        t1, c1 = time.perf_counter(), time.process_time()
        scored = pl.concat(classes) if classes else pl.DataFrame(schema={"entity_id": pl.Int64,
                                                                         "risk_class": pl.String})
        counts = {c: 0 for c in CLASSES}
        counts.update(dict(scored.group_by("risk_class").len().iter_rows()))
        summary = summarise(scored, base, previous_read.result())
        timings["compute"] = scoring_s[0] + time.perf_counter() - t1
        timings["summary_cpu"] = time.process_time() - c1
        t3, c3 = time.perf_counter(), time.process_time()
        with transaction.atomic():
            run.status = ClassificationRun.Status.SUCCEEDED
            run.counts = counts
            run.missing_features = missing
            run.summary = summary
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "counts", "missing_features", "summary", "finished_at"])
            audit_record(run, "credit.classify", actor=user,
                         after={"month": f"{month:%Y-%m}", "as_of": as_of.isoformat(), "model": model.version,
                                "counts": counts})
        timings["write"] += time.perf_counter() - t3
        timings["summary_cpu"] += time.process_time() - c3
        say("完成", total, total)
        return ClassificationOutcome(run, counts, timings)
    except BaseException as exc:
        ClassificationRun.objects.filter(pk=run.pk, status=ClassificationRun.Status.RUNNING).update(
            status=ClassificationRun.Status.FAILED, finished_at=timezone.now(), error=str(exc)[:2000])
        raise
