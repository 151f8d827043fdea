"""The monthly classification end to end on the database: bulk read → score → bulk write, and its refusals."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from jianguan.credit.classification import ClassificationError, classification_run
from jianguan.credit.domain.scoring import score_profiles
from jianguan.credit.models import ClassificationRun, RiskResult
from tests.credit.factories import create_abnormal, create_penalty, create_serious
from tests.registry.factories import add_label, create_annual_report, create_entity

pytestmark = pytest.mark.django_db

OCT = dt.date(2026, 10, 1)
TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def population(org):
    """Five operating entities with different records, one cancelled entity."""
    e = {
        "clean": create_entity(name="老字号", established_on=dt.date(2015, 1, 5)),
        "new": create_entity(name="新设商店", established_on=dt.date(2026, 5, 1)),
        "abnormal": create_entity(name="异常商行", established_on=dt.date(2019, 1, 5)),
        "serious": create_entity(name="失信公司", established_on=dt.date(2016, 1, 5), legal_representative="赵六"),
        "sibling": create_entity(name="赵六的另一家店", established_on=dt.date(2016, 1, 5),
                                 legal_representative="赵六"),
        "cancelled": create_entity(name="已注销", status="cancelled"),
    }
    for key in ("clean", "serious", "sibling"):
        create_annual_report(e[key], 2024)
        create_annual_report(e[key], 2025, filed_on=dt.date(2026, 8, 1), on_time=False)
    create_annual_report(e["abnormal"], 2025)
    create_abnormal(e["abnormal"], unit=org.wendeng)
    create_serious(e["serious"], unit=org.wendeng)
    create_penalty(e["serious"], unit=org.wendeng, severity="heavy", decided_on=dt.date(2025, 4, 1))
    add_label(e["clean"], "school_canteen")
    return e


def results(month=OCT):
    return {r.entity_id: r for r in RiskResult.objects.filter(month=month)}


def test_every_operating_entity_gets_a_class_score_contributions_and_model_version(population):
    outcome = classification_run(OCT, today=TODAY)
    got = results()
    assert set(got) == {e.pk for k, e in population.items() if k != "cancelled"}
    clean = got[population["clean"].pk]
    assert json.loads(clean.contributions) == {"年报逾期补报": 4, "存续满三年": -5, "高风险行业或许可": 6}
    assert (clean.risk_class, clean.score, clean.model_version) == ("B", 5.0, "v1")
    assert got[population["new"].pk].risk_class == "B"
    assert got[population["abnormal"].pk].risk_class == "C"  # hard rule: on the abnormal list
    serious = got[population["serious"].pk]
    assert serious.risk_class == "D" and serious.hard_rule == "严重违法失信名单直接判定D类"
    assert json.loads(serious.facts)["penalties_heavy_3y"] == [0, 1, 0]
    assert outcome.counts == {"A": 1, "B": 2, "C": 1, "D": 1}
    run = outcome.run
    assert run.status == "succeeded" and run.counts == outcome.counts
    assert "unqualified_food_samples_3y" in run.missing_features
    assert "associated_cd_entities" not in run.missing_features


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_bulk_reads_see_the_same_data(population):
    """Committed data, no open transaction: on PostgreSQL the reads go through ADBC (Arrow) instead of COPY CSV."""
    from django.db import connection

    assert not connection.in_atomic_block
    outcome = classification_run(OCT, today=TODAY)
    assert outcome.counts == {"A": 1, "B": 2, "C": 1, "D": 1}
    got = results()
    assert json.loads(got[population["clean"].pk].contributions) == {"年报逾期补报": 4, "存续满三年": -5,
                                                                      "高风险行业或许可": 6}
    assert json.loads(got[population["serious"].pk].facts)["penalties_heavy_3y"] == [0, 1, 0]
    assert got[population["abnormal"].pk].risk_class == "C"


def test_the_annual_report_for_2025_counts_as_missing_only_after_30_june_2026(org):
    entity = create_entity(established_on=dt.date(2020, 3, 1))
    create_annual_report(entity, 2023)
    create_annual_report(entity, 2024)
    classification_run(dt.date(2026, 6, 1), today=TODAY)  # data as of Tue 2026-06-30: 2025 still within time
    classification_run(OCT, today=TODAY)
    june = RiskResult.objects.get(entity=entity, month=dt.date(2026, 6, 1))
    october = RiskResult.objects.get(entity=entity, month=OCT)
    assert "annual_report_missing_2y" not in json.loads(june.facts)
    assert json.loads(october.facts)["annual_report_missing_2y"] == 1
    assert json.loads(october.contributions)["年报未报"] == 12


def test_an_entitys_history_and_explanation_come_newest_month_first(org):
    from jianguan.credit.selectors import risk_explain, risk_history

    entity = create_entity(established_on=dt.date(2020, 3, 1))
    other = create_entity(established_on=dt.date(2020, 3, 1))
    for month in (dt.date(2026, 6, 1), OCT, dt.date(2026, 8, 1)):
        classification_run(month, today=TODAY)
    history = list(risk_history(entity))
    assert [r.month for r in history] == [OCT, dt.date(2026, 8, 1), dt.date(2026, 6, 1)]
    assert {r.entity_id for r in history} == {entity.pk} and other.pk != entity.pk
    assert risk_explain(entity.uscc).month == OCT
    assert risk_explain(entity.uscc, dt.date(2026, 8, 1)).month == dt.date(2026, 8, 1)


def test_rerunning_a_month_with_the_same_data_gives_identical_results(population):
    classification_run(OCT, today=TODAY)
    first = sorted(RiskResult.objects.filter(month=OCT).values_list(
        "entity_id", "risk_class", "score", "contributions", "facts", "hard_rule", "model_version"))
    classification_run(OCT, today=TODAY)
    again = sorted(RiskResult.objects.filter(month=OCT).values_list(
        "entity_id", "risk_class", "score", "contributions", "facts", "hard_rule", "model_version"))
    assert first == again and len(first) == 5
    assert ClassificationRun.objects.filter(month=OCT, status="succeeded").count() == 2


def test_association_with_last_months_d_class_entity_through_the_same_legal_representative(population):
    classification_run(dt.date(2026, 9, 1), today=TODAY)
    classification_run(OCT, today=TODAY)
    sibling = RiskResult.objects.get(entity=population["sibling"], month=OCT)
    assert json.loads(sibling.contributions)["关联C/D类主体"] == 4
    assert json.loads(sibling.facts)["associated_cd_entities"] == 1


def test_a_month_in_the_future_is_refused_and_nothing_is_written(population):
    with pytest.raises(ClassificationError, match="不能对未来月份（2026-12）进行分类：今天是 2026-11-20。"):
        classification_run(dt.date(2026, 12, 1), today=TODAY)
    assert not ClassificationRun.objects.exists() and not RiskResult.objects.exists()


def test_a_second_run_of_the_same_month_while_one_is_running_is_refused(population):
    ClassificationRun.objects.create(month=OCT, as_of=TODAY, started_at=timezone.now())
    with pytest.raises(ClassificationError, match="2026-10 的风险分类正在运行中"):
        classification_run(OCT, today=TODAY)
    assert not RiskResult.objects.exists()


def test_the_database_itself_refuses_two_running_runs_of_one_month(db):
    ClassificationRun.objects.create(month=OCT, as_of=TODAY, started_at=timezone.now())
    ClassificationRun.objects.create(month=OCT, as_of=TODAY, started_at=timezone.now(), status="succeeded")
    with pytest.raises(IntegrityError), transaction.atomic():
        ClassificationRun.objects.create(month=OCT, as_of=TODAY, started_at=timezone.now())


def test_a_running_run_whose_job_died_does_not_block_the_month(population):
    from jianguan.core.models import Job

    dead = Job.objects.create(kind="credit.classify", title="x", status="failed")
    ClassificationRun.objects.create(month=OCT, as_of=TODAY, started_at=timezone.now(), job=dead)
    classification_run(OCT, today=TODAY)
    assert RiskResult.objects.filter(month=OCT).count() == 5


def test_the_classify_command_prints_the_count_per_class(population, capsys):
    call_command("credit", "classify", "--month", "2026-10", "--as-of", "2026-11-20")
    out = capsys.readouterr().out
    assert "2026-10 信用风险分类完成（模型 v1" in out
    assert "A\t1" in out and "B\t2" in out and "D\t1" in out and "合计\t5" in out


def test_the_classify_command_refuses_a_future_month_with_exit_status_2(population, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command("credit", "classify", "--month", "2026-12", "--as-of", "2026-11-20")
    assert exit_.value.code == 2
    assert "不能对未来月份（2026-12）进行分类" in capsys.readouterr().err


def test_the_classify_command_refuses_a_malformed_month(db, capsys):
    with pytest.raises(SystemExit):
        call_command("credit", "classify", "--month", "2026/10")
    assert "月份格式应为 YYYY-MM：'2026/10'" in capsys.readouterr().err


def test_explain_prints_class_score_and_each_factor_with_its_facts(population, capsys):
    classification_run(OCT, today=TODAY)
    call_command("credit", "explain", population["serious"].uscc, "--month", "2026-10")
    out = capsys.readouterr().out
    assert "失信公司" in out and "分类 D" in out and "直接判定：严重违法失信名单直接判定D类" in out
    assert "+40\t在严重违法失信名单\t事实 on_serious_list=1" in out
    assert "较重违法处罚\t事实 penalties_heavy_3y=[0, 1, 0]" in out
    assert "食品抽检不合格\t事实 unqualified_food_samples_3y=0  [数据暂缺 (no data source yet)]" in out


def test_explain_for_an_unclassified_entity_says_so(population, capsys):
    with pytest.raises(SystemExit):
        call_command("credit", "explain", population["clean"].uscc, "--month", "2026-10")
    assert "没有" in capsys.readouterr().err


def test_risk_classes_gives_the_latest_month(population):
    from jianguan.credit.selectors import risk_classes

    classification_run(dt.date(2026, 9, 1), today=TODAY)
    classification_run(OCT, today=TODAY)
    classes = risk_classes()
    assert classes[population["serious"].pk] == "D" and population["cancelled"].pk not in classes


def broken_features(as_of, base=None):
    """The credit provider's features with one of them as text, which scoring cannot turn into points."""
    import polars as pl

    from jianguan.credit.features import features

    return features(as_of, base).with_columns(pl.lit("无法计分").alias("licence_revoked"))


def test_a_failure_while_scoring_leaves_the_months_previous_results_untouched(population, monkeypatch):
    from django.apps import apps

    classification_run(OCT, today=TODAY)
    before = sorted(RiskResult.objects.filter(month=OCT).values_list("entity_id", "risk_class", "score"))
    monkeypatch.setattr(apps.get_app_config("credit"), "credit_features",
                        "tests.credit.test_classify.broken_features")
    with pytest.raises(Exception) as failure:  # whatever Polars raises, while scoring (before anything is deleted)
        classification_run(OCT, today=TODAY)
    assert any(frame.name == "score_frame" for frame in failure.traceback)
    after = sorted(RiskResult.objects.filter(month=OCT).values_list("entity_id", "risk_class", "score"))
    assert after == before and len(after) == 5
    assert list(ClassificationRun.objects.filter(month=OCT).order_by("id").values_list("status", flat=True)) == [
        "succeeded", "failed"]


def test_a_failure_in_the_scoring_thread_while_writing_rolls_the_month_back(population, monkeypatch):
    """The entities take their scores in the background thread while the month's old rows are already deleted."""
    from jianguan.credit import classification

    classification_run(OCT, today=TODAY)
    before = sorted(RiskResult.objects.filter(month=OCT).values_list("entity_id", "risk_class", "score"))

    def mistyped_profiles(feats, model):  # a key column of the wrong type: the join in the thread raises
        keys, profiles = score_profiles(feats, model)
        return keys, profiles.with_columns(pl.col(keys[0]).cast(pl.String))

    monkeypatch.setattr(classification, "score_profiles", mistyped_profiles)
    with pytest.raises(pl.exceptions.PolarsError) as failure:
        classification_run(OCT, today=TODAY)
    assert any(frame.name == "scored_chunks" for frame in failure.traceback)
    after = sorted(RiskResult.objects.filter(month=OCT).values_list("entity_id", "risk_class", "score"))
    assert after == before and len(after) == 5
    assert ClassificationRun.objects.filter(month=OCT).order_by("-id").first().status == "failed"


def test_the_base_read_in_several_id_ranges_gives_the_same_rows_as_in_one(population, monkeypatch):
    from jianguan.credit import features

    as_of = dt.date(2026, 10, 31)
    whole = features.read_base(as_of)
    monkeypatch.setattr(features, "BASE_CHUNK_IDS", 2)
    assert len(features._id_ranges(1)) >= 3
    assert features.read_base(as_of).equals(whole)
    assert whole.height == 5 and whole["entity_id"].is_sorted()
    late = whole.filter(pl.col("entity_id") == population["clean"].pk)
    assert late.select("annual_report_missing_2y", "annual_report_late_2y").row(0) == (0, 1)


def test_prefetched_items_arrive_in_order_and_a_source_error_reaches_the_consumer():
    from jianguan.credit.classification import Prefetched

    items = Prefetched(iter(range(7)))
    assert list(items) == list(range(7))
    assert list(items) == []  # exhausted stays exhausted

    def failing():
        yield 1
        raise ValueError("第二块计算失败")

    failing_items = Prefetched(failing())
    assert next(failing_items) == 1
    with pytest.raises(ValueError, match="第二块计算失败"):
        next(failing_items)

    endless = Prefetched(iter(range(10**9)), depth=2)
    assert next(endless) == 0
    endless.close()  # returns: the producer notices the stop while blocked on the full queue
    assert not endless._thread.is_alive()
