"""Bulk writes that check each foreign key once at the end instead of row by row (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from jianguan.core import db as core_db
from jianguan.core.db import MissingReference, references_checked_once

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row triggers")]


@pytest.fixture
def tables():
    with connection.cursor() as cur:
        cur.execute("CREATE TEMP TABLE ref_parent (id int PRIMARY KEY)")
        cur.execute("CREATE TEMP TABLE ref_child (id serial PRIMARY KEY, batch int NOT NULL, "
                    "parent_id int REFERENCES ref_parent (id) DEFERRABLE INITIALLY DEFERRED, "
                    "other_id int REFERENCES ref_parent (id) DEFERRABLE INITIALLY DEFERRED)")
        cur.execute("INSERT INTO ref_parent VALUES (1), (2)")
    return cur


def insert(rows: list[tuple[int, int | None]]) -> None:
    with connection.cursor() as cur:
        cur.executemany("INSERT INTO ref_child (batch, parent_id) VALUES (%s, %s)", rows)


def queries_of(block) -> list[str]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        block()
    return [q["sql"] for q in ctx.captured_queries]


def test_rows_that_refer_to_existing_rows_pass_and_the_setting_is_put_back(tables):
    def block():
        with references_checked_once([("ref_child", "batch = %s", [1])]) as once:
            assert once
            insert([(1, 1), (1, 2), (1, 2), (1, None)])

    sql = queries_of(block)
    assert any("'session_replication_role', 'replica'" in q for q in sql)
    assert any("FOR KEY SHARE" in q and "ref_parent" in q for q in sql)
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('session_replication_role'), count(*) FROM ref_child")
        assert cur.fetchone() == ("origin", 4)


def test_a_row_that_refers_to_nothing_is_named(tables):
    with (pytest.raises(MissingReference) as caught, transaction.atomic(),
          references_checked_once([("ref_child", "batch = %s", [2])])):
        insert([(2, 1), (2, 7), (2, 9), (2, 7)])
    exc = caught.value
    assert isinstance(exc, IntegrityError)
    assert (exc.table, exc.column, exc.referenced, exc.referenced_column, exc.values) == \
        ("ref_child", "parent_id", "ref_parent", "id", [7, 9])
    assert "ref_child.parent_id" in str(exc) and "7, 9" in str(exc)


def test_only_the_rows_the_condition_selects_are_read_once_for_all_their_keys(tables):
    """The condition names the rows of this write (the others were checked when they were written); the values of
    both keys come from one read of them."""
    def block():
        with references_checked_once([("ref_child", "batch = %s", [3])]), connection.cursor() as cur:
            cur.execute("INSERT INTO ref_child (batch, parent_id, other_id) VALUES (3, 1, 2), (3, 2, NULL)")

    sql = queries_of(block)
    reads = [q for q in sql if 'FROM "ref_child"' in q]
    assert len(reads) == 1 and "batch = 3" in reads[0]
    assert len([q for q in sql if "FOR KEY SHARE" in q]) == 2


def test_a_missing_row_is_named_with_the_key_that_refers_to_it(tables):
    with (pytest.raises(MissingReference) as caught, transaction.atomic(),
          references_checked_once([("ref_child", "batch = %s", [5])]), connection.cursor() as cur):
        cur.execute("INSERT INTO ref_child (batch, parent_id, other_id) VALUES (5, 1, 1), (5, 2, 8)")
    assert (caught.value.column, caught.value.values) == ("other_id", [8])


def test_without_the_right_rows_are_checked_one_by_one(tables, monkeypatch):
    monkeypatch.setattr(core_db, "_row_triggers_may_be_skipped", lambda cur, names: False)
    with references_checked_once([("ref_child", "batch = %s", [4])]) as once:
        assert not once
        insert([(4, 8)])
    with pytest.raises(IntegrityError), connection.cursor() as cur:  # the deferred check, as ever
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_a_table_with_a_trigger_of_its_own_is_never_written_with_triggers_off(tables):
    with connection.cursor() as cur:
        cur.execute("CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'")
        cur.execute("CREATE TRIGGER child_noop BEFORE INSERT ON ref_child FOR EACH ROW EXECUTE FUNCTION pg_temp.noop()")
    with references_checked_once([("ref_child", "TRUE", [])]) as once:
        assert not once


def test_an_error_caught_inside_the_transaction_leaves_the_rows_checked_again(tables):
    """A caller that catches an error from the block and goes on writing in the same transaction writes checked."""
    with transaction.atomic():
        try:
            with references_checked_once([("ref_child", "batch = %s", [5])]):
                insert([(5, 1)])
                raise ValueError("stop")
        except ValueError:
            pass
        with connection.cursor() as cur:
            cur.execute("SELECT current_setting('session_replication_role')")
            assert cur.fetchone()[0] == "origin"
