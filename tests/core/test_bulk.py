"""Bulk reads: several independent SELECTs at once, and planner settings for one statement only."""

from __future__ import annotations

import polars as pl
import pytest
from django.db import connection

from jianguan.core.bulk import PendingRead, Read, concurrent_reads, read_frames
from tests.registry.factories import create_entity

pytestmark = pytest.mark.django_db


def _setting_read(value: str) -> Read:
    return Read("SELECT current_setting('enable_hashjoin')", None, {"value": pl.String},
                {"enable_hashjoin": value})


def _entities_read(lo: int, hi: int) -> Read:
    return Read("SELECT id FROM registry_entity WHERE id BETWEEN %s AND %s ORDER BY id", [lo, hi],
                {"entity_id": pl.Int64})


def test_inside_a_transaction_reads_run_one_after_another_and_see_its_uncommitted_rows():
    ids = sorted(create_entity().pk for _ in range(4))
    assert concurrent_reads() == 1
    first, second = read_frames([_entities_read(ids[0], ids[1]), _entities_read(ids[2], ids[3])])
    assert first["entity_id"].to_list() == ids[:2] and second["entity_id"].to_list() == ids[2:]
    later = PendingRead(_entities_read(ids[0], ids[3]))
    assert later.result()["entity_id"].to_list() == ids


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner settings are PostgreSQL's")
def test_a_reads_planner_settings_apply_to_it_alone():
    before = _current_hashjoin()
    [frame] = read_frames([_setting_read("off")])
    assert frame["value"].to_list() == ["off"]
    assert _current_hashjoin() == before == "on"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent reads are PostgreSQL's (ADBC)")
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_reads_run_concurrently_and_come_back_in_order():
    ids = sorted(create_entity().pk for _ in range(6))
    assert concurrent_reads() == 2
    reads = [_entities_read(ids[i], ids[i + 1]) for i in range(0, 6, 2)] + [_setting_read("off")]
    *parts, setting = read_frames(reads)
    assert [p["entity_id"].to_list() for p in parts] == [ids[0:2], ids[2:4], ids[4:6]]
    assert setting["value"].to_list() == ["off"]
    assert _current_hashjoin() == "on"  # the setting went with the read's own connection
    later = PendingRead(_entities_read(ids[0], ids[5]))
    assert later._future is not None  # started in the background
    assert later.result()["entity_id"].to_list() == ids


def _current_hashjoin() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_hashjoin')")
        return cursor.fetchone()[0]


def test_booleans_and_nulls_read_back_as_they_are_inside_a_transaction():
    """On PostgreSQL a read inside a transaction goes through COPY … CSV, which spells booleans t/f."""
    from jianguan.core.bulk import read_frame

    frame = read_frame("SELECT 1 AS n, true AS yes, false AS no, NULL AS unknown", [],
                       {"n": pl.Int64, "yes": pl.Boolean, "no": pl.Boolean, "unknown": pl.Boolean})
    assert frame.row(0) == (1, True, False, None)


_ARRAYS = ("SELECT k, array_agg(v ORDER BY v) FROM (VALUES (1, 30), (1, 10), (2, 20), (3, NULL)) AS t(k, v) "
           "WHERE v IS NOT NULL GROUP BY k UNION ALL SELECT 4, ARRAY[]::bigint[] UNION ALL SELECT 5, NULL ORDER BY 1")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="arrays are PostgreSQL's")
def test_arrays_read_back_as_lists_inside_a_transaction():
    """COPY … CSV spells an array {10,30}; read back it is the same list as through ADBC (below)."""
    from jianguan.core.bulk import read_frame

    frame = read_frame(_ARRAYS, [], {"k": pl.Int64, "ids": pl.List(pl.Int64)})
    assert frame.rows() == [(1, [10, 30]), (2, [20]), (4, []), (5, None)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="arrays are PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_arrays_read_back_as_lists_through_adbc():
    [frame, _] = read_frames([Read(_ARRAYS, [], {"k": pl.Int64, "ids": pl.List(pl.Int64)}), _setting_read("on")])
    assert frame.rows() == [(1, [10, 30]), (2, [20]), (4, []), (5, None)]
