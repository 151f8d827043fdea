"""core.db.planner_settings: PostgreSQL planner settings for one block, put back afterwards."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from jianguan.core.db import planner_settings

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner settings")]


def setting(name: str) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting(%s)", [name])
        return cur.fetchone()[0]


def test_inside_a_transaction_the_settings_hold_for_the_block_and_are_put_back_after_it():
    with transaction.atomic():
        with planner_settings(enable_seqscan="off", jit="off"):
            assert (setting("enable_seqscan"), setting("jit")) == ("off", "off")
        assert setting("enable_seqscan") == "on"


def test_a_block_that_fails_has_its_settings_put_back_and_the_transaction_goes_on():
    with transaction.atomic():
        with pytest.raises(DatabaseError), planner_settings(enable_seqscan="off"), connection.cursor() as cur:
            cur.execute("SELECT 1 / 0")
        assert setting("enable_seqscan") == "on"  # the transaction is usable, and the setting is the previous one
