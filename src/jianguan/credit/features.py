"""The credit module's feature provider (`CreditConfig.credit_features`): lists, penalties, annual reports,
entity age, high-risk business and association with C/D-class entities, read in bulk into Polars.

Rows are sparse where they can be (only entities with something to count); the classifier joins every
provider's frame onto the active entities and fills 0.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from django.db import connection

from jianguan.core.bulk import Read, concurrent_reads, is_postgres, read_frame, read_frames
from jianguan.credit.domain.features import BUCKET_MONTHS, bucket_column
from jianguan.credit.domain.months import add_months, add_years, month_start, previous_month
from jianguan.credit.rules import lists_rules, model_for_month

OPERATING = ("active", "suspended")
PENALTY_WINDOW_YEARS = 3


# One base read per this many ids (a range of the primary key): the reads run in parallel streams, and each is
# one statement whose rows the driver holds until it ends.
BASE_CHUNK_IDS = 1_000_000
# Planner settings for the base read on PostgreSQL. A merge join walks the entities and their annual reports in id
# order through the two indexes: no hash tables (at the default work_mem they spill to temporary files, more so
# at province scale), rows already sorted by id, and about a quarter less server CPU than the hash join the
# planner prefers (2.8-3.6 vs 4.3-4.6 CPU-s at 1.3 M entities). No parallel workers: `read_frames` runs its own
# streams, one per core.
BASE_READ_SETTINGS = {"enable_hashjoin": "off", "max_parallel_workers_per_gather": "0"}


def _annual_report_years(as_of: dt.date) -> dict[str, object]:
    """The last two years whose filing deadline (30 June of the next year) has passed by `as_of`."""
    mm, dd = (int(x) for x in lists_rules()["annual_report"]["due_month_day"].split("-"))
    last = as_of.year - 1 if as_of > dt.date(as_of.year, mm, dd) else as_of.year - 2
    y1, y2 = last - 1, last
    return {"y1": y1, "y2": y2, "y1end": dt.date(y1, 12, 31), "y2end": dt.date(y2, 12, 31),
            "d1": dt.date(y1 + 1, mm, dd), "d2": dt.date(y2 + 1, mm, dd)}


def _id_ranges(streams: int) -> list[tuple[int, int]]:
    """Entity id ranges of at most BASE_CHUNK_IDS ids, at least one per read stream."""
    with connection.cursor() as cursor:  # one row: Django's connection, not a bulk read's new one
        cursor.execute("SELECT MIN(id), MAX(id) FROM registry_entity")
        lo, hi = cursor.fetchone()
    if lo is None or hi is None:
        return [(0, 0)]
    parts = max(streams, -(-(hi - lo + 1) // BASE_CHUNK_IDS))
    step = -(-(hi - lo + 1) // parts)
    return [(a, min(a + step - 1, hi)) for a in range(lo, hi + 1, step)]


def read_base(as_of: dt.date) -> pl.DataFrame:
    """Operating entities established by `as_of`: id, county, industry section, two age flags and the annual
    report features (years missing and filed late, of the last two due), sorted by id.

    Kept to small values (the county as an integer, flags and counts computed by the database): at city and
    province scale this read dominates, and every Python object per row costs. The annual reports are joined
    here, in the one pass over the entities, rather than in a second scan of them. Read in id ranges, in parallel
    streams on PostgreSQL (see `bulk.read_frames`).
    """
    params = {"as_of": as_of, "one": add_years(as_of, -1), "three": add_years(as_of, -3),
              **_annual_report_years(as_of)}
    missing1 = "(e.established_on <= %(y1end)s AND r1.id IS NULL)"
    missing2 = "(e.established_on <= %(y2end)s AND r2.id IS NULL)"
    sql = (
        f"SELECT e.id, CAST(e.division_id AS INTEGER), e.industry_id, "  # noqa: S608 — constants only
        f"  CASE WHEN e.established_on > %(one)s THEN 1 ELSE 0 END, "
        f"  CASE WHEN e.established_on <= %(three)s THEN 1 ELSE 0 END, "
        f"  (CASE WHEN {missing1} THEN 1 ELSE 0 END) + (CASE WHEN {missing2} THEN 1 ELSE 0 END), "
        f"  (CASE WHEN r1.filed_on > %(d1)s THEN 1 ELSE 0 END) + (CASE WHEN r2.filed_on > %(d2)s THEN 1 ELSE 0 END) "
        f"FROM registry_entity e "
        f"LEFT JOIN registry_annualreport r1 ON r1.entity_id = e.id AND r1.year = %(y1)s "
        f"  AND r1.filed_on <= %(as_of)s AND r1.entity_id BETWEEN %(lo)s AND %(hi)s "
        f"LEFT JOIN registry_annualreport r2 ON r2.entity_id = e.id AND r2.year = %(y2)s "
        f"  AND r2.filed_on <= %(as_of)s AND r2.entity_id BETWEEN %(lo)s AND %(hi)s "
        f"WHERE e.status IN ('active', 'suspended') AND e.established_on <= %(as_of)s "
        f"  AND e.id BETWEEN %(lo)s AND %(hi)s "
        f"ORDER BY e.id")
    schema = {"entity_id": pl.Int64, "division_id": pl.Int32, "industry_id": pl.String,
              "established_under_1y": pl.Int8, "established_3y_plus": pl.Int8,
              "annual_report_missing_2y": pl.Int8, "annual_report_late_2y": pl.Int8}
    reads = [Read(sql, {**params, "lo": lo, "hi": hi}, schema, BASE_READ_SETTINGS)
             for lo, hi in _id_ranges(concurrent_reads())]
    # The section by a join in Polars: joining the industry table in SQL doubles SQLite's time for this read.
    reads.append(Read("SELECT code, section FROM registry_industry", None,
                      {"industry_id": pl.String, "section": pl.String}))
    *parts, sections = read_frames(reads)
    frame = pl.concat(parts, rechunk=False)
    return frame.join(sections, on="industry_id", how="left", maintain_order="left").select(
        "entity_id", pl.col("division_id").cast(pl.String), "section", "established_under_1y",
        "established_3y_plus", "annual_report_missing_2y", "annual_report_late_2y")


def _list_reads(as_of: dt.date) -> list[Read]:
    since = add_years(as_of, -3)
    abnormal = Read(
        "SELECT entity_id, MAX(CASE WHEN removed_on IS NULL OR removed_on > %(as_of)s THEN 1 ELSE 0 END), "
        "  SUM(CASE WHEN entered_on > %(since)s THEN 1 ELSE 0 END) "
        "FROM credit_abnormallisting WHERE entered_on <= %(as_of)s GROUP BY entity_id",
        {"as_of": as_of, "since": since},
        {"entity_id": pl.Int64, "on_abnormal_list": pl.Int32, "abnormal_listings_3y": pl.Int32})
    serious = Read(
        "SELECT entity_id, 1 FROM credit_seriouslisting WHERE entered_on <= %(as_of)s "
        "AND (removed_on IS NULL OR removed_on > %(as_of)s) GROUP BY entity_id",
        {"as_of": as_of}, {"entity_id": pl.Int64, "on_serious_list": pl.Int32})
    return [abnormal, serious]


def _list_features(abnormal: pl.DataFrame, serious: pl.DataFrame) -> pl.DataFrame:
    return abnormal.join(serious, on="entity_id", how="full", coalesce=True)


def _penalty_read(as_of: dt.date) -> Read:
    since = add_years(as_of, -PENALTY_WINDOW_YEARS)
    return Read(
        "SELECT entity_id, severity, decided_on FROM credit_penalty "
        "WHERE decided_on > %(since)s AND decided_on <= %(as_of)s",
        {"since": since, "as_of": as_of}, {"entity_id": pl.Int64, "severity": pl.String, "decided_on": pl.Date})


def _penalty_features(rows: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Counts per severity over 3 years, with 12-month age buckets (`@0` newest) for time decay."""
    months = (as_of.year * 12 + as_of.month) - (pl.col("decided_on").dt.year().cast(pl.Int32) * 12
                                                 + pl.col("decided_on").dt.month().cast(pl.Int32)) \
        - (pl.col("decided_on").dt.day() > as_of.day).cast(pl.Int32)
    n_buckets = PENALTY_WINDOW_YEARS * 12 // BUCKET_MONTHS
    rows = rows.with_columns((months // BUCKET_MONTHS).clip(0, n_buckets - 1).alias("bucket"))
    aggs = []
    for severity in ("minor", "general", "heavy"):
        feature = f"penalties_{severity}_3y"
        is_sev = pl.col("severity") == severity
        aggs.append(is_sev.sum().cast(pl.Int32).alias(feature))
        aggs += [(is_sev & (pl.col("bucket") == k)).sum().cast(pl.Int32).alias(bucket_column(feature, k))
                 for k in range(n_buckets)]
    return rows.group_by("entity_id").agg(aggs)


def _licence_reads(as_of: dt.date) -> list[Read]:
    params = model_for_month(month_start(as_of)).parameters
    licence_types = list(params.get("high_risk_licence_types", [])) or ["-"]
    labels = list(params.get("high_risk_labels", [])) or ["-"]
    lt = ", ".join(["%s"] * len(licence_types))
    lb = ", ".join(["%s"] * len(labels))
    high = Read(
        f"SELECT entity_id, 1 FROM registry_licence WHERE status = 'valid' AND type IN ({lt}) "  # noqa: S608 — placeholders only
        f"AND valid_from <= %s AND (valid_to IS NULL OR valid_to >= %s) "
        f"UNION SELECT el.entity_id, 1 FROM registry_entitylabel el JOIN registry_label l ON l.id = el.label_id "
        f"WHERE l.code IN ({lb}) AND el.assigned_on <= %s",
        [*licence_types, as_of, as_of, *labels, as_of], {"entity_id": pl.Int64, "high_risk_business": pl.Int32})
    revoked = Read(
        "SELECT entity_id, COUNT(*) FROM registry_licence WHERE status = 'revoked' AND valid_from <= %s "
        "GROUP BY entity_id", [as_of], {"entity_id": pl.Int64, "licence_revoked": pl.Int32})
    return [high, revoked]


def _licence_features(high: pl.DataFrame, revoked: pl.DataFrame) -> pl.DataFrame:
    return high.unique("entity_id").join(revoked, on="entity_id", how="full", coalesce=True)


ASSOCIATION_SCHEMA = {"entity_id": pl.Int64, "associated_cd_entities": pl.Int32}


def _association_read(as_of: dt.date) -> Read:
    """Other entities of the same legal representative (same county) that were C or D the previous month.

    PostgreSQL counts them itself (a hash join on name and county): only the entities with any cross the wire,
    not every entity's name. SQLite plans that self-join as a nested scan (minutes at county scale), so there this
    read gives last month's C/D entities and `_association_sqlite` joins the names in Polars.
    """
    prev = previous_month(month_start(as_of))
    if is_postgres():
        return Read(
            "SELECT e.id, COUNT(*) FROM registry_entity e "
            "JOIN registry_entity o ON o.legal_representative = e.legal_representative "
            "  AND o.division_id = e.division_id AND o.id <> e.id "
            "JOIN credit_riskresult r ON r.entity_id = o.id AND r.month = %(prev)s AND r.risk_class IN ('C', 'D') "
            "WHERE e.status IN ('active', 'suspended') AND e.established_on <= %(as_of)s "
            "  AND e.legal_representative <> '' "
            "GROUP BY e.id", {"prev": prev, "as_of": as_of}, ASSOCIATION_SCHEMA)
    return Read("SELECT entity_id FROM credit_riskresult WHERE month = %(prev)s AND risk_class IN ('C', 'D')",
                {"prev": prev}, {"entity_id": pl.Int64})


def _association_sqlite(flagged: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    if flagged.is_empty():
        return pl.DataFrame(schema=ASSOCIATION_SCHEMA)
    people = read_frame(
        "SELECT id, legal_representative, division_id, status, established_on FROM registry_entity "
        "WHERE legal_representative <> ''", None,
        {"id": pl.Int64, "person": pl.String, "division_id": pl.String, "status": pl.String, "established_on": pl.Date})
    owners = people.join(flagged, left_on="id", right_on="entity_id", how="semi").select(
        pl.col("id").alias("other_id"), "person", "division_id")
    current = people.filter(pl.col("status").is_in(["active", "suspended"]) & (pl.col("established_on") <= as_of))
    return (current.join(owners, on=["person", "division_id"], how="inner")
            .filter(pl.col("id") != pl.col("other_id"))
            .group_by("id").agg(pl.len().cast(pl.Int32).alias("associated_cd_entities"))
            .rename({"id": "entity_id"}))


def features(as_of: dt.date, base: pl.DataFrame | None = None) -> pl.DataFrame:
    """All credit-owned features as of a date (the `credit_features` contract); `base` avoids a second read.

    The age flags and annual-report counts come with the base read; the sparse features (only entities with
    something to count) are read together, concurrently where the database allows (`bulk.read_frames`).
    """
    if base is None:
        base = read_base(as_of)
    abnormal, serious, penalties, high, revoked, associated = read_frames(
        [*_list_reads(as_of), _penalty_read(as_of), *_licence_reads(as_of), _association_read(as_of)])
    if not is_postgres():
        associated = _association_sqlite(associated, as_of)
    # The sparse parts (each unique by entity) are joined among themselves first, then once onto the base: one
    # pass over the whole table instead of one per part. Rows stay in the base's order (see collect_features).
    sparse = associated
    for part in (_list_features(abnormal, serious), _penalty_features(penalties, as_of),
                 _licence_features(high, revoked)):
        sparse = sparse.join(part, on="entity_id", how="full", coalesce=True)
    frame = base.select("entity_id", "established_under_1y", "established_3y_plus", "annual_report_missing_2y",
                        "annual_report_late_2y")
    return frame.join(sparse, on="entity_id", how="left", maintain_order="left").fill_null(0)


__all__ = ["OPERATING", "add_months", "features", "read_base"]
