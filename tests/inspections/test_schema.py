"""The indexes of the tables a draw writes by the hundred thousand: only those a query reads (decision 0006), with the
foreign keys still enforced."""

from __future__ import annotations

import pytest
from django.db import connection


def _indexed_columns(table: str) -> dict[tuple[str, ...], dict]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {tuple(c["columns"]): c for c in found.values() if c["index"] or c["unique"] or c["primary_key"]}


@pytest.mark.django_db
def test_visit_items_and_selections_are_not_indexed_by_task_or_stratum():
    items = _indexed_columns("inspections_visititem")
    assert ("task_id",) not in items and ("stratum_id",) not in items
    assert ("item_id",) in items  # the freeze reads the last visits per item
    assert ("visit_id", "task_id", "item_id") in items
    selections = _indexed_columns("inspections_drawselection")
    assert ("stratum_id",) not in selections and ("plan_id",) in selections


@pytest.mark.django_db
def test_their_foreign_keys_stay():
    for table, columns in (("inspections_visititem", {"task_id": "inspections_inspectiontask",
                                                      "stratum_id": "inspections_drawstratum"}),
                           ("inspections_drawselection", {"stratum_id": "inspections_drawstratum"})):
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, table)
        references = {c["columns"][0]: c["foreign_key"][0] for c in found.values() if c["foreign_key"]}
        assert {column: references.get(column) for column in columns} == columns
