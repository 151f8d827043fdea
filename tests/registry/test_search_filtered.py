"""Lists filtered by division + status + label or licence: exact capped counts and list-order pages.

On PostgreSQL such a list is counted by a merge join of two id-ordered indexes (migration 0006); the page must
still come in list order (division, USCC), not in the id order the join reads, and count each entity once.
"""

from __future__ import annotations

import pytest
from django.db import connection

from jianguan.registry.selectors import EntityFilters, capped_page, entity_search, entity_search_page
from tests.conftest import create_user
from tests.registry.factories import add_label, create_entity, create_licence, next_uscc

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif("__import__('django.db').db.connection.vendor != 'postgresql'",
                                     reason="PostgreSQL indexes")


@pytest.fixture
def city_user(org):
    return create_user(unit=org.weihai, roles=(("handler", "subtree"),))


@pytest.fixture
def shops():
    """Seven active 文登 entities created in *descending* USCC order (ids run against list order); the odd ones
    carry the catering label and a valid food licence (plus an expired one), the even ones neither. Around them:
    a cancelled labelled entity, a labelled one in 荣成, and one with only an expired licence."""
    codes = sorted((next_uscc() for _ in range(7)), reverse=True)
    made = [create_entity(uscc=code) for code in codes]
    for i, entity in enumerate(made):
        if i % 2 == 0:
            add_label(entity, "catering")
            create_licence(entity)
            create_licence(entity, status="expired")
    cancelled = create_entity(status="cancelled")
    add_label(cancelled, "catering")
    create_licence(cancelled)
    elsewhere = create_entity(division="371082")
    add_label(elsewhere, "catering")
    create_licence(elsewhere)
    create_licence(create_entity(), status="expired")
    return sorted((e.uscc for i, e in enumerate(made) if i % 2 == 0))  # the 4 matches, in list order


@pytest.mark.parametrize("extra", [
    pytest.param({"label": "catering"}, id="label"),
    pytest.param({"licence": "food_business"}, id="valid licence"),
])
def test_a_filtered_list_is_counted_exactly_and_paged_in_uscc_order(city_user, shops, extra):
    f = EntityFilters(division="371003", status="active", **extra)
    pages = [entity_search_page(city_user, f, n, per_page=3) for n in (1, 2)]
    assert [p.count for p in pages] == [4, 4] and not pages[0].count_capped
    assert [[e.uscc for e in p] for p in pages] == [shops[:3], shops[3:]]


@pytest.mark.parametrize("extra", [
    pytest.param({"label": "catering"}, id="label"),
    pytest.param({"licence": "food_business"}, id="valid licence"),
])
def test_a_filtered_list_over_the_cap_says_more_and_still_pages_in_uscc_order(city_user, shops, extra):
    qs = entity_search(city_user, EntityFilters(division="371003", status="active", **extra))
    pages = [capped_page(qs, n, per_page=2, cap=3) for n in (1, 2)]
    assert all(p.count_capped and p.num_pages == 2 for p in pages)
    assert [[e.uscc for e in p] for p in pages] == [shops[:2], shops[2:4]]


def test_a_filtered_list_keeps_to_the_users_jurisdiction(org, shops):
    wendeng = create_user(unit=org.wendeng, roles=(("handler", "subtree"),))
    rongcheng = create_user(unit=org.rongcheng, roles=(("handler", "subtree"),))
    page = entity_search_page(wendeng, EntityFilters(label="catering"))
    assert page.count == 5 and all(e.division_id == "371003" for e in page)  # 4 active + 1 cancelled
    assert entity_search_page(rongcheng, EntityFilters(status="active", label="catering")).count == 1
    assert entity_search_page(rongcheng, EntityFilters(division="371003", label="catering")).count == 0


@postgresql_only
def test_on_postgresql_the_id_ordered_indexes_of_migration_0006_exist():
    with connection.cursor() as cur:
        cur.execute("SELECT indexname FROM pg_indexes WHERE indexname IN "
                    "('registry_entity_status_id_idx', 'registry_licence_type_entity_idx')")
        assert sorted(r[0] for r in cur.fetchall()) == ["registry_entity_status_id_idx",
                                                        "registry_licence_type_entity_idx"]


@postgresql_only
@pytest.mark.parametrize(("extra", "index"), [
    pytest.param({"label": "catering"}, "entitylabel_label_idx", id="label"),
    pytest.param({"licence": "food_business"}, "registry_licence_type_entity_idx", id="valid licence"),
])
def test_on_postgresql_a_filtered_count_can_merge_two_id_ordered_indexes(city_user, shops, extra, index):
    qs = entity_search(city_user, EntityFilters(division="371003", status="active", **extra))
    sql, params = qs.order_by().values_list("division_id", "uscc", "pk").query.sql_with_params()
    with connection.cursor() as cur:
        # Tiny test tables: forbid the alternatives to ask whether the merge-join plan is available at all.
        for setting in ("enable_seqscan", "enable_hashjoin", "enable_nestloop", "enable_sort",
                        "enable_bitmapscan"):
            cur.execute(f"SET LOCAL {setting} = off")
        cur.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cur.fetchall())
    assert "Merge" in plan and "registry_entity_status_id_idx" in plan and index in plan, plan


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_outside_a_transaction_a_capped_walk_leaves_the_planner_settings_as_they_were(org):
    from django.db import transaction

    user = create_user(unit=org.weihai, roles=(("handler", "subtree"),))
    for _ in range(4):
        create_entity(name="华联超市")
    assert not connection.in_atomic_block
    page = capped_page(entity_search(user, EntityFilters(q="华联")), 2, per_page=1, cap=2)
    assert page.count_capped and len(page.items) == 1  # the ordered walk ran with sorting switched off
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT current_setting('enable_sort'), current_setting('enable_incremental_sort')")
        assert cur.fetchone() == ("on", "on")
