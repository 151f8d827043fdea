"""Registry search: how the search box is read, each filter, capped counting and paging, form messages."""

from __future__ import annotations

import pytest
from django.db import connection

from jianguan.registry.forms import EntitySearchForm
from jianguan.registry.selectors import EntityFilters, capped_count, capped_page, entity_search, query_kind
from tests.conftest import create_user
from tests.registry.factories import add_label, create_entity, create_licence

pytestmark = pytest.mark.django_db


@pytest.fixture
def city_user(org):
    return create_user(unit=org.weihai, roles=(("handler", "subtree"),))


def names(qs):
    return sorted(e.name for e in qs)


@pytest.mark.parametrize(("q", "kind"), [
    pytest.param("", "", id="empty"),
    pytest.param("  ", "", id="blank"),
    pytest.param("文登商贸", "name", id="chinese name"),
    pytest.param("91371003MA3C8K1A2B", "uscc", id="18 characters"),
    pytest.param("91371003", "uscc_prefix", id="8-character prefix"),
    pytest.param("913710", "uscc_prefix", id="6-character prefix"),
    pytest.param("91371", "name", id="5 characters are too few for a USCC prefix"),
    pytest.param("ABCDEFG", "name", id="letters only are a name"),
])
def test_the_search_box_is_read_as_a_name_or_a_uscc(q, kind):
    assert query_kind(q) == kind


def test_a_name_substring_finds_entities_containing_it_anywhere_in_the_name(city_user):
    create_entity(name="威海市文登区华联商贸有限公司")
    create_entity(name="文登区华联超市")
    create_entity(name="荣成市海鲜大酒店", division="371082")
    found = names(entity_search(city_user, EntityFilters(q="华联")))
    assert found == ["威海市文登区华联商贸有限公司", "文登区华联超市"]


def test_a_full_uscc_finds_exactly_that_entity_even_typed_in_lower_case(city_user):
    target = create_entity()
    create_entity()
    found = list(entity_search(city_user, EntityFilters(q=target.uscc.lower())))
    assert found == [target]


def test_the_start_of_a_uscc_finds_entities_whose_code_begins_with_it(city_user):
    wendeng = create_entity()
    create_entity(division="371082")
    assert list(entity_search(city_user, EntityFilters(q="92371003"))) == []
    assert list(entity_search(city_user, EntityFilters(q="91371003"))) == [wendeng]


def test_division_filter_on_a_city_includes_its_counties(city_user):
    create_entity(name="文登一号", division="371003")
    create_entity(name="荣成一号", division="371082")
    assert names(entity_search(city_user, EntityFilters(division="371082"))) == ["荣成一号"]
    assert names(entity_search(city_user, EntityFilters(division="371000"))) == ["文登一号", "荣成一号"]


@pytest.mark.parametrize(("code", "expected"), [
    pytest.param("F", ["百货店"], id="section F 批发和零售业"),
    pytest.param("H", ["饭店"], id="section H 住宿和餐饮业"),
    pytest.param("62", ["饭店"], id="division 62 餐饮业"),
    pytest.param("521", ["百货店"], id="group 521 综合零售"),
    pytest.param("6210", ["饭店"], id="class 6210 正餐服务"),
    pytest.param("6220", [], id="class 6220 快餐服务: nobody"),
])
def test_industry_filter_takes_a_code_at_any_level_and_everything_under_it(city_user, code, expected):
    create_entity(name="百货店", industry="5211")
    create_entity(name="饭店", industry="6210")
    assert names(entity_search(city_user, EntityFilters(industry=code))) == expected


def test_label_filter_finds_only_entities_carrying_the_label(city_user):
    canteen = create_entity(name="学校食堂甲", industry="6210")
    add_label(canteen, "catering")
    create_entity(name="百货店")
    assert names(entity_search(city_user, EntityFilters(label="catering"))) == ["学校食堂甲"]


def test_licence_filter_counts_only_valid_licences_and_lists_an_entity_once(city_user):
    shop = create_entity(name="两证商店")
    create_licence(shop)
    create_licence(shop, type="food_business", number="JY999")
    expired = create_entity(name="过期商店")
    create_licence(expired, status="expired")
    assert names(entity_search(city_user, EntityFilters(licence="food_business"))) == ["两证商店"]


def test_status_and_kind_filters_combine(city_user):
    create_entity(name="注销个体", kind="individual", status="cancelled")
    create_entity(name="存续个体", kind="individual")
    create_entity(name="存续企业")
    assert names(entity_search(city_user, EntityFilters(status="active", kind="individual"))) == ["存续个体"]


def test_capped_count_stops_one_past_the_cap(city_user):
    for _ in range(6):
        create_entity()
    qs = entity_search(city_user, EntityFilters())
    assert capped_count(qs, cap=4) == 5
    assert capped_count(qs, cap=10) == 6


def test_a_page_past_a_capped_count_says_more_and_offers_only_pages_up_to_the_cap(city_user):
    for _ in range(7):
        create_entity()
    page = capped_page(entity_search(city_user, EntityFilters()), 1, per_page=2, cap=5)
    assert page.count_capped and page.num_pages == 3 and page.has_next()
    last = capped_page(entity_search(city_user, EntityFilters()), 99, per_page=2, cap=5)
    assert last.number == 3 and not last.has_next()  # pages beyond the cap are not offered


def test_lists_are_ordered_by_division_then_uscc(city_user):
    rongcheng_company = create_entity(division="371082")                 # 91371082…
    wendeng_shop = create_entity(division="371003", kind="individual")   # 92371003…
    wendeng_company = create_entity(division="371003")                   # 91371003…
    found = list(capped_page(entity_search(city_user, EntityFilters())).items)
    assert found == [wendeng_company, wendeng_shop, rongcheng_company]
    capped = capped_page(entity_search(city_user, EntityFilters()), 1, per_page=2, cap=2)
    assert capped.count_capped and list(capped.items) == [wendeng_company, wendeng_shop]


def test_pages_below_the_cap_are_in_uscc_order_and_do_not_overlap(city_user):
    made = sorted(create_entity().uscc for _ in range(5))
    pages = [capped_page(entity_search(city_user, EntityFilters()), n, per_page=2) for n in (1, 2, 3)]
    assert [[e.uscc for e in p] for p in pages] == [made[0:2], made[2:4], made[4:5]]


def test_pages_above_the_cap_are_in_uscc_order_too(city_user):
    made = sorted(create_entity().uscc for _ in range(5))
    page = capped_page(entity_search(city_user, EntityFilters()), 2, per_page=2, cap=3)
    assert page.count_capped and [e.uscc for e in page] == made[2:4]


def test_a_page_number_past_the_end_shows_the_last_page(city_user):
    made = [create_entity() for _ in range(5)]
    page = capped_page(entity_search(city_user, EntityFilters()), "7", per_page=2)
    assert page.number == 3 and [e.pk for e in page] == [max(made, key=lambda e: e.uscc).pk]
    assert page.count == 5 and not page.count_capped


def test_a_page_number_that_is_not_a_number_shows_the_first_page(city_user):
    create_entity()
    assert capped_page(entity_search(city_user, EntityFilters()), "abc").number == 1


def test_a_single_character_name_is_refused_with_a_chinese_message(city_user):
    form = EntitySearchForm({"q": "华"}, user=city_user)
    assert not form.is_valid()
    assert form.errors["q"] == ["名称关键词至少输入 2 个字，或输入统一社会信用代码。"]


INDUSTRY_HINT = "（请填写 GB/T 4754-2017 门类字母或 2-4 位代码，如 F、52、5211）"


@pytest.mark.parametrize(("data", "field", "message"), [
    pytest.param({"industry": "9999"}, "industry", "行业代码不存在：9999" + INDUSTRY_HINT, id="unknown industry"),
    pytest.param({"industry": "Z"}, "industry", "行业代码不存在：Z" + INDUSTRY_HINT, id="no section Z"),
    pytest.param({"division": "3710"}, "division", "行政区划代码应为 6 位数字。", id="short division"),
    pytest.param({"division": "379999"}, "division", "行政区划代码不存在：379999", id="unknown division"),
    pytest.param({"status": "open"}, "status", "登记状态不存在：open", id="unknown status"),
    pytest.param({"label": "nope"}, "label", "标签不存在：nope", id="unknown label"),
    pytest.param({"licence": "gun"}, "licence", "许可证类型不存在：gun", id="unknown licence"),
])
def test_bad_filters_are_refused_with_the_reason_in_chinese(city_user, data, field, message):
    form = EntitySearchForm(data, user=city_user)
    assert not form.is_valid()
    assert form.errors[field] == [message]


def test_industry_code_in_lower_case_is_accepted(city_user):
    form = EntitySearchForm({"industry": "f"}, user=city_user)
    assert form.is_valid(), form.errors
    assert form.filters().industry == "F"


def test_division_choices_are_limited_to_the_users_jurisdiction(org):
    county_user = create_user(unit=org.wendeng, roles=(("handler", "subtree"),))
    codes = [c for c, _ in EntitySearchForm(user=county_user).division_choices()]
    assert codes == ["371003"]


postgresql_only = pytest.mark.skipif("__import__('django.db').db.connection.vendor != 'postgresql'",
                                     reason="PostgreSQL name indexes (run with DATABASE_URL=postgresql://…)")


def explain(qs) -> str:
    from django.db import connection

    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")  # a test table is tiny: ask which index the query can use
        cur.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cur.fetchall())


@postgresql_only
@pytest.mark.parametrize(("q", "index"), [
    pytest.param("华联", "registry_entity_name_bigram_idx", id="2 characters: bigram index"),
    pytest.param("华联商", "registry_entity_name_bigram_idx", id="3 characters: bigram index"),
    pytest.param("文登区华联商贸", "registry_entity_name_bigram_idx", id="a whole 字号 with its place: bigram index"),
])
def test_on_postgresql_a_name_search_can_use_a_name_index(city_user, q, index):
    from jianguan.registry.models import Entity

    create_entity(name="威海市文登区华联商贸有限公司")
    # Enough other names that reading a whole list index costs the planner more than the name index.
    template = create_entity(name="文登区鑫源饭店")
    from django.forms.models import model_to_dict

    fields = {k: v for k, v in model_to_dict(template).items() if k not in ("id", "division", "industry")}
    Entity.objects.bulk_create([Entity(**{**fields, "uscc": f"X{i:017d}", "name": f"文登区鑫源饭店{i}"},
                                       division_id=template.division_id, industry_id=template.industry_id)
                                for i in range(5000)])
    with connection.cursor() as cur:
        cur.execute("ANALYZE registry_entity")
    from jianguan.registry.selectors import entity_filter

    qs = entity_filter(Entity.objects.all(), EntityFilters(q=q)).order_by()
    assert index in explain(qs.values("pk"))
    assert [e.name for e in entity_search(city_user, EntityFilters(q=q))] == ["威海市文登区华联商贸有限公司"]


@postgresql_only
@pytest.mark.parametrize(("q", "expected"), [
    pytest.param("华联", ["华联超市", "文登华联商贸有限公司", "联华店华联部"],
                 id="a 2-character 字号 anywhere in the name"),
    pytest.param("联华", ["联华超市", "联华店华联部"], id="the same characters in the other order are another word"),
    pytest.param("𠀾记", ["𠀾记小吃店"], id="a character outside the basic plane"),
    pytest.param("超市", ["华联超市", "联华超市"], id="at the end of the name"),
    pytest.param("华联超", ["华联超市"], id="three characters"),
    pytest.param("华联商贸有限公司", ["文登华联商贸有限公司"], id="a long query"),
    pytest.param("华联华", [], id="a name holding every bigram of the query but not the query itself"),
])
def test_on_postgresql_a_search_through_the_bigram_index_finds_exactly_the_names_containing_it(
        city_user, q, expected):
    for name in ("华联超市", "联华超市", "文登华联商贸有限公司", "𠀾记小吃店", "华X联记", "联华店华联部"):
        create_entity(name=name)
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        found = names(entity_search(city_user, EntityFilters(q=q)))
    assert sorted(found) == sorted(expected)  # (list order is USCC order, tested elsewhere)


@postgresql_only
def test_on_postgresql_a_page_of_a_capped_list_leaves_the_planner_settings_as_they_were(city_user):
    for _ in range(4):
        create_entity(name="华联超市")
    page = capped_page(entity_search(city_user, EntityFilters(q="华联")), 2, per_page=1, cap=2)
    assert page.count_capped and len(page.items) == 1
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('enable_sort'), current_setting('enable_incremental_sort')")
        assert cur.fetchone() == ("on", "on")


def test_a_search_that_cannot_match_anything_is_an_empty_first_page(city_user):
    from jianguan.registry.selectors import entity_search_page

    create_entity()
    page = entity_search_page(city_user, EntityFilters(label="no-such-label"), 3)
    assert (page.count, list(page), page.number, page.count_capped) == (0, [], 1, False)
