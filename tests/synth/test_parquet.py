"""`--out DIR`: Parquet files, byte-identical for the same seed."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jianguan.synth.registry import TABLES

TABLE_FILES = [f"{t}.parquet" for t in TABLES]


def _digest(path):
    return {f: hashlib.sha256((path / f).read_bytes()).hexdigest() for f in [*TABLE_FILES, "synth.json"]}


def _run(out, seed):
    call_command("synth", "--divisions", "371003,371082", "--entities", "1200", "--seed", str(seed),
                 "--out", str(out), "--registry-only", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_the_same_seed_writes_byte_identical_parquet(tmp_path):
    _run(tmp_path / "a", 21)
    _run(tmp_path / "b", 21)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_another_seed_writes_other_data(tmp_path):
    _run(tmp_path / "a", 21)
    _run(tmp_path / "c", 22)
    assert _digest(tmp_path / "a")["entities.parquet"] != _digest(tmp_path / "c")["entities.parquet"]


def test_parquet_tables_have_the_model_columns_and_consistent_keys(tmp_path):
    _run(tmp_path, 21)
    entities = pl.read_parquet(tmp_path / "entities.parquet")
    assert entities.columns == list(TABLES["entities"])
    assert entities.height == 1200 and entities["id"].to_list() == list(range(1, 1201))
    for table in ("premises", "licences", "entity_labels", "annual_reports"):
        frame = pl.read_parquet(tmp_path / f"{table}.parquet")
        assert frame.columns == list(TABLES[table])
        assert frame["entity_id"].is_in(entities["id"].implode()).all(), table
        assert frame["id"].to_list() == list(range(1, frame.height + 1)), table


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["--scale", "county"], "请指定 --load（载入数据库）或 --out 目录", id="neither load nor out"),
    pytest.param(["--out", "x"], "请指定 --scale", id="no scale"),
    pytest.param(["--scale", "county", "--divisions", "371003", "--entities", "5", "--out", "x"],
                 "--scale 与 --divisions 只能指定一个", id="scale and divisions"),
    pytest.param(["--divisions", "371003", "--out", "x"], "请用 --entities 指定主体总数", id="no entity count"),
    pytest.param(["--divisions", "123456", "--entities", "5", "--out", "x"], "行政区划代码“123456”不存在",
                 id="unknown division"),
    pytest.param(["--scale", "county", "--entities", "5", "--out", "x"], "--entities 只能与 --divisions 一起使用",
                 id="entities with scale"),
    pytest.param(["--scale", "county", "--out", "x", "--replace"], "--replace 只能与 --load 一起使用",
                 id="replace without load"),
    pytest.param(["--scale", "county", "--out", "x", "--workers", "0"], "--workers 必须是正整数", id="no workers"),
    pytest.param(["--scale", "county", "--out", "x", "--today", "2026-13-01"], "日期“2026-13-01”格式不对",
                 id="bad today"),
])
def test_command_rejects_bad_arguments_in_chinese(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CommandError, match=message):
        call_command("synth", *args)
    assert not (tmp_path / "x" / "entities.parquet").exists()
