"""Reads of the registry: search and filtered lists at city scale, entity detail, and the public record.

Search never counts a whole city: lists are counted up to `COUNT_CAP + 1` rows ("超过 10,000 条") inside the
database, which returns the count and the page's ids in one statement, and paged by offset up to that cap (see
`capped_page`). On PostgreSQL a name substring of two or more characters uses the bigram-key GIN index (migration
0005; the trigram index of 0002 went in 0009); lists filtered by division and status read the list
index (division, status, USCC) and other lists the covering index in list order (division, USCC), which also
holds the name (0004, 0005); a label or licence filter on top is counted by merging id-ordered indexes (0006).
`*_public` selectors return only what the public record may show; personal data (phones, an individual
business operator's full name) never leaves them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.lookups import DataContains
from django.core.exceptions import EmptyResultSet
from django.db import connection, connections
from django.db.models import BigIntegerField, Exists, Func, OuterRef, Q, QuerySet, Value
from django.utils.translation import gettext_lazy as _

from jianguan.core.db import planner_settings
from jianguan.core.models import User
from jianguan.registry.access import access_entity, access_entity_list
from jianguan.registry.models import AnnualReport, Entity, EntityLabel, Industry, Label, Licence

COUNT_CAP = 10_000
PER_PAGE = 20
# Lists are ordered by division, then USCC: the key of the covering index of migration 0004.
LIST_ORDER = ("division_id", "uscc")
# A query made only of these characters and at least this long is read as (the start of) a USCC.
USCC_PREFIX_MIN = 6
_USCC_CHARS = re.compile(r"[0-9A-Za-z]+")
BIGRAM_FUNCTION = "jianguan_bigram_keys"  # created by migration 0005 on PostgreSQL


@dataclass(frozen=True)
class EntityFilters:
    """What a search asks for; empty strings mean "any"."""

    q: str = ""          # a name substring, a USCC, or the first ≥ 6 characters of a USCC
    division: str = ""   # GB/T 2260 code: the division and everything under it
    industry: str = ""   # GB/T 4754 section letter or 2-4 digit code: that code and everything under it
    label: str = ""      # label code
    status: str = ""     # Entity.Status value
    licence: str = ""    # Licence.Type value: holds a valid licence of that type
    kind: str = ""       # Entity.Kind value

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


def query_kind(q: str) -> str:
    """How a search box entry is read: "uscc" (18 characters), "uscc_prefix", "name", or "" (empty)."""
    q = q.strip()
    if not q:
        return ""
    if _USCC_CHARS.fullmatch(q):
        if len(q) == 18:
            return "uscc"
        if len(q) >= USCC_PREFIX_MIN and any(c.isdigit() for c in q):
            return "uscc_prefix"
    return "name"


def _division_prefix(code: str) -> str:
    """Entities under a division share its code prefix (37 / 3710 / 371003)."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


class _BigramKeys(Func):
    """`jianguan_bigram_keys(text)`: each pair of neighbouring characters as one bigint (migration 0005)."""

    function = BIGRAM_FUNCTION
    output_field = ArrayField(BigIntegerField())


def name_contains(q: str, field: str = "name", *, bigram_index: bool = True) -> Q:
    """Entities whose name (``field``, e.g. ``entity__name`` from a related model) contains ``q``, case as typed
    (LIKE '%…%'; names are Chinese).

    On PostgreSQL, for two or more characters, with the condition that lets the bigram-key GIN index (migration
    0005) find them: a name contains q only if its bigram keys contain q's, and LIKE keeps exactly those that
    contain q. One character: no index can help. `bigram_index=False` leaves that condition out (see
    `entity_filter`)."""
    condition = Q(**{f"{field}__contains": q})
    if bigram_index and len(q) >= 2 and connection.vendor == "postgresql":
        condition &= Q(DataContains(_BigramKeys(field), _BigramKeys(Value(q))))
    return condition


def entity_filter(qs: QuerySet[Entity], f: EntityFilters, *, bigram_index: bool = True) -> QuerySet[Entity]:
    """Apply search filters to a queryset of entities (scope is applied by the caller).

    `bigram_index=False` leaves out the (redundant) bigram condition of a name search: it steers
    PostgreSQL to the bigram index, which is right for finding the matches but wrong for walking a long result
    in list order (see `capped_page`).
    """
    q = f.q.strip()
    kind = query_kind(q)
    if kind == "uscc":
        qs = qs.filter(uscc=q.upper())
    elif kind == "uscc_prefix":
        qs = qs.filter(uscc__startswith=q.upper())
    elif kind == "name":
        qs = qs.filter(name_contains(q, bigram_index=bigram_index))
    if f.division:
        prefix = _division_prefix(f.division)
        qs = qs.filter(division_id=prefix) if len(prefix) == 6 else qs.filter(division__pk__startswith=prefix)
    if f.industry:
        code = f.industry.upper()
        if code.isalpha():
            # A section is a contiguous run of 2-digit divisions (F = 51-52): a range on the indexed column,
            # not a join to the industry table.
            divisions = sorted(Industry.objects.filter(section=code, level=Industry.Level.DIVISION)
                               .values_list("code", flat=True))
            if divisions:
                qs = qs.filter(industry__pk__gte=divisions[0], industry__pk__lt=f"{int(divisions[-1]) + 1:02d}")
            else:
                qs = qs.none()
        elif len(code) == 4:
            qs = qs.filter(industry_id=code)
        else:
            qs = qs.filter(industry__pk__startswith=code)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.label:
        # The label's id, not a join on its code: PostgreSQL then knows from its statistics how common it is.
        label_id = Label.objects.filter(code=f.label).values_list("pk", flat=True).first()
        qs = qs.filter(Exists(EntityLabel.objects.filter(entity=OuterRef("pk"), label_id=label_id))) \
            if label_id is not None else qs.none()
    if f.licence:
        qs = qs.filter(Exists(Licence.objects.filter(entity=OuterRef("pk"), type=f.licence,
                                                     status=Licence.Status.VALID)))
    return qs


def entity_search(user: User, f: EntityFilters, *, bigram_index: bool = True) -> QuerySet[Entity]:
    """Entities in the user's jurisdiction matching the filters, in list order, ready for a list page."""
    return entity_filter(access_entity_list(user), f, bigram_index=bigram_index) \
        .select_related("division", "industry").order_by(*LIST_ORDER)


def entity_search_page(user: User, f: EntityFilters, page: object = 1, *, per_page: int = PER_PAGE) -> CappedPage:
    """One page of a staff search, counted up to COUNT_CAP."""
    return capped_page(entity_search(user, f, bigram_index=False), page, per_page=per_page,
                       keys_qs=entity_search(user, f))


def capped_count(qs: QuerySet[Any], cap: int = COUNT_CAP) -> int:
    """Number of rows, counting at most `cap + 1` (so "more than cap" is known without counting them all)."""
    return qs.order_by().values("pk")[: cap + 1].count()


@dataclass
class CappedPage:
    """One page of a list whose total is counted only up to a cap; quacks like Django's Page for templates."""

    items: list[Any]
    number: int
    per_page: int
    count: int          # exact when not `count_capped`, else cap + 1
    cap: int

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def count_capped(self) -> bool:
        return self.count > self.cap

    @property
    def count_display(self) -> str:
        """"10,000" style, whatever the locale's number format (the cap is shown as "超过 10,000 条")."""
        return f"{min(self.count, self.cap):,}"

    @property
    def num_pages(self) -> int:
        return max(1, math.ceil(min(self.count, self.cap) / self.per_page))

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self.number < self.num_pages

    def has_other_pages(self) -> bool:
        return self.has_previous() or self.has_next()

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1

    @property
    def start_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.items else 0


def capped_page(qs: QuerySet[Any], page: object = 1, *, per_page: int = PER_PAGE, cap: int | None = None,
                transform: Callable[[Any], Any] | None = None, order_fields: Sequence[str] = LIST_ORDER,
                keys_qs: QuerySet[Any] | None = None) -> CappedPage:
    """Page `page` of `qs` (1-based; bad or out-of-range numbers are clamped), counting at most `cap + 1` rows.

    `qs` must be ordered by `order_fields` (unique together). One statement takes up to `cap + 1` matches
    without ORDER BY — the database cannot estimate how many names contain a substring, so it must not be
    tempted to walk the list-order index looking for rare matches — and returns, computed in the database, their
    number and the ids of the requested page among them in list order (see `_capped_window`). Then:

    * at most `cap` matches: that is the exact count and the page's rows are fetched by id;
    * more than `cap`: matches are dense, so ORDER BY … LIMIT walking the list-order index finds a page
      after a few thousand rows.

    `keys_qs` (default `qs`) is the same selection written to find matches fast (index hints); `qs` is used
    for the ordered walk.
    """
    cap = COUNT_CAP if cap is None else cap
    try:
        number = max(1, int(str(page)))
    except (TypeError, ValueError):
        number = 1
    keys = (qs if keys_qs is None else keys_qs).order_by().values_list(*order_fields, "pk")[: cap + 1]
    count, ids = _capped_window(keys, order_fields, offset=(number - 1) * per_page, limit=per_page)
    last = max(1, math.ceil(min(count, cap) / per_page))
    if number > last:
        number = last
        if count <= cap:
            count, ids = _capped_window(keys, order_fields, offset=(number - 1) * per_page, limit=per_page)
    offset = (number - 1) * per_page
    if count == 0:
        items: list[Any] = []
    elif count <= cap:
        items = list(qs.filter(pk__in=ids))
    else:
        items = _ordered_walk(qs, offset, per_page)
    if transform is not None:
        items = [transform(i) for i in items]
    return CappedPage(items=items, number=number, per_page=per_page, count=count, cap=cap)


def _ordered_walk(qs: QuerySet[Any], offset: int, limit: int) -> list[Any]:
    """Rows offset … offset + limit of `qs` in its order, when more than the cap match (matches are dense).

    PostgreSQL estimates a name substring's matches badly (a common 字号 as "a few hundred") and would then
    fetch every match and sort it; with sorting discouraged for this one statement it walks the list-order
    index (whose entries include the name, migration 0005) and stops after the page, which is right for dense
    matches. JIT compilation alone would cost more than such a walk (its plan's cost crosses `jit_above_cost`).
    The ids come first: that walk reads only the index (its entries hold the filtered columns and the name);
    asking for whole rows would visit the table for every entry the filters skip.
    """
    with planner_settings(qs.db, enable_sort="off", enable_incremental_sort="off", jit="off"):
        ids = list(qs.values_list("pk", flat=True)[offset: offset + limit])
    return list(qs.filter(pk__in=ids)) if ids else []


def _capped_window(keys: QuerySet[Any], order_fields: Sequence[str], *, offset: int,
                   limit: int) -> tuple[int, list[Any]]:
    """(number of rows of `keys`, ids of rows offset … offset + limit in order) in one statement.

    `keys` is a sliced ``values_list(*order_fields, "pk")`` query; the database counts and sorts its rows
    itself, so none of up to 10,001 matches travels to Python. A label or licence filter is a semi-join; on
    PostgreSQL, with a division and a status, both sides come in entity-id order from the indexes of migration
    0006 and a merge join stops after `cap + 1` matches (no sort, no per-candidate probe). The planner is left
    to choose: at city scale its choice (merge, or hash for a small candidate set) was measured as fast as or
    faster than forcing probes, and no planner settings means no extra round trips.
    """
    try:
        inner, params = keys.query.sql_with_params()
    except EmptyResultSet:  # e.g. a user without a role, or an unknown label: nothing can match
        return 0, []
    cols = [f"k{i}" for i in range(len(order_fields))]
    names = ", ".join(cols)
    # The SQL is built from constants and Django's compiled query; values are passed as parameters.
    sql = (f"WITH m ({names}, pk) AS ({inner}) "  # noqa: S608
           f"SELECT c.n, p.pk FROM (SELECT count(*) AS n FROM m) c LEFT JOIN "
           f"(SELECT {names}, pk FROM m ORDER BY {names} LIMIT %s OFFSET %s) p ON 1 = 1 "
           f"ORDER BY {', '.join(f'p.{c}' for c in cols)}")
    with connections[keys.db].cursor() as cur:
        cur.execute(sql, [*params, limit, offset])
        rows = cur.fetchall()
    return int(rows[0][0]), [pk for _, pk in rows if pk is not None]


def entity_detail(user: User, uscc: str) -> Entity:
    """An entity the user may see, with its division and industry (404 when missing or outside scope)."""
    return access_entity(user, uscc)


def entity_premises(entity: Entity) -> QuerySet[Any]:
    return entity.premises.select_related("division").order_by("id")


def entity_licences(entity: Entity) -> QuerySet[Licence]:
    return entity.licences.order_by("type", "-valid_from")


def entity_labels(entity: Entity) -> QuerySet[EntityLabel]:
    return entity.entity_labels.select_related("label").order_by("label__category", "label__code")


def entity_annual_reports(entity: Entity) -> QuerySet[AnnualReport]:
    return entity.annual_reports.order_by("-year")


def entity_counts(user: User) -> dict[str, int]:
    """Counts for the home page: entities in scope, operating (存续) entities, valid licences."""
    entities = access_entity_list(user)
    return {
        "entities": entities.count(),
        "active": entities.filter(status=Entity.Status.ACTIVE).count(),
        "licences": Licence.objects.filter(entity__in=entities, status=Licence.Status.VALID).count(),
    }


# ---------------------------------------------------------------------------------------------------------
# Public portal
# ---------------------------------------------------------------------------------------------------------

# The only columns the portal ever reads. Never: phone, street/road/house number split, business internals.
PUBLIC_ENTITY_FIELDS: Sequence[str] = (
    "id", "uscc", "name", "kind", "subtype", "status", "status_date", "registration_authority", "address",
    "established_on", "registered_capital", "legal_representative", "business_scope", "industry_id",
    "industry__name", "division__full_name", "division__name", "odr_enabled", "is_ecommerce_platform",
)
PUBLIC_LIST_FIELDS: Sequence[str] = ("uscc", "name", "kind", "status", "legal_representative", "established_on",
                                     "division__name")
PUBLIC_LICENCE_FIELDS: Sequence[str] = ("type", "number", "issuer", "valid_from", "valid_to", "status")


def mask_person_name(name: str) -> str:
    """王建国 → 王**: an individual business operator is a private person; the portal shows only the surname."""
    name = name.strip()
    if len(name) <= 1:
        return name
    return name[0] + "*" * (len(name) - 1)


def _public_person(kind: str, name: str) -> str:
    return mask_person_name(name) if kind == Entity.Kind.INDIVIDUAL else name


@dataclass
class PublicEntityRow:
    uscc: str
    name: str
    kind: str
    kind_display: str
    status: str
    status_display: str
    legal_representative: str
    established_on: Any
    division_name: str

    @property
    def url_key(self) -> str:
        return self.uscc


def _public_row(values: dict[str, Any]) -> PublicEntityRow:
    return PublicEntityRow(
        uscc=values["uscc"], name=values["name"], kind=values["kind"],
        kind_display=str(Entity.Kind(values["kind"]).label), status=values["status"],
        status_display=str(Entity.Status(values["status"]).label),
        legal_representative=_public_person(values["kind"], values["legal_representative"]),
        established_on=values["established_on"], division_name=values["division__name"] or "")


def entity_search_public(q: str, page: object = 1) -> CappedPage:
    """Public search by name substring or USCC over all entities; rows carry public fields only."""
    if not q.strip():
        return CappedPage(items=[], number=1, per_page=PER_PAGE, count=0, cap=COUNT_CAP)
    def public(bigram_index: bool) -> QuerySet[Any]:
        return entity_filter(Entity.objects.all(), EntityFilters(q=q), bigram_index=bigram_index) \
            .order_by(*LIST_ORDER).values(*PUBLIC_LIST_FIELDS)

    return capped_page(public(False), page, transform=_public_row, keys_qs=public(True))


@dataclass
class PublicRecord:
    """What the public record (企业信用信息公示) of an entity shows: registration, licences, annual reports."""

    id: int
    uscc: str
    name: str
    kind: str
    kind_display: str
    subtype: str
    status: str
    status_display: str
    status_date: Any
    registration_authority: str
    address: str
    established_on: Any
    registered_capital: Any
    legal_representative: str
    legal_representative_label: str
    business_scope: str
    industry: str
    division: str
    odr_enabled: bool
    is_ecommerce_platform: bool
    licences: list[dict[str, Any]] = field(default_factory=list)
    annual_reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pk(self) -> int:
        return self.id


def entity_public_record(uscc: str) -> PublicRecord | None:
    """The public record of one entity by USCC (None when there is no such entity)."""
    values = Entity.objects.filter(uscc=uscc.strip().upper()).values(*PUBLIC_ENTITY_FIELDS).first()
    if values is None:
        return None
    kind = values["kind"]
    licences = [
        {**lic, "type_display": str(Licence.Type(lic["type"]).label),
         "status_display": str(Licence.Status(lic["status"]).label)}
        for lic in Licence.objects.filter(entity_id=values["id"]).order_by("type", "-valid_from")
        .values(*PUBLIC_LICENCE_FIELDS)
    ]
    reports: list[dict[str, Any]] = [
        dict(r) for r in AnnualReport.objects.filter(entity_id=values["id"]).order_by("-year")
        .values("year", "filed_on", "on_time")]
    return PublicRecord(
        id=values["id"], uscc=values["uscc"], name=values["name"], kind=kind,
        kind_display=str(Entity.Kind(kind).label), subtype=values["subtype"], status=values["status"],
        status_display=str(Entity.Status(values["status"]).label), status_date=values["status_date"],
        registration_authority=values["registration_authority"], address=values["address"],
        established_on=values["established_on"], registered_capital=values["registered_capital"],
        legal_representative=_public_person(kind, values["legal_representative"]),
        legal_representative_label=str(_("经营者") if kind == Entity.Kind.INDIVIDUAL else _("法定代表人（负责人）")),
        business_scope=values["business_scope"],
        industry=f"{values['industry_id']} {values['industry__name']}",
        division=values["division__full_name"] or values["division__name"] or "",
        odr_enabled=values["odr_enabled"], is_ecommerce_platform=values["is_ecommerce_platform"],
        licences=licences, annual_reports=reports)


def entity_for_public_hooks(record: PublicRecord) -> Entity:
    """The entity row handed to `public_record_sections` hooks (personal fields deferred, never rendered)."""
    return Entity.objects.only("id", "uscc", "name", "kind", "status", "division_id").get(pk=record.id)
