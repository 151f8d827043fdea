"""The credit module's feature provider (`CreditConfig.credit_features`): lists, penalties, annual reports,
entity age, high-risk business and association with C/D-class entities, read in bulk into Polars.

Rows are sparse where they can be (only entities with something to count); the classifier joins every
provider's frame onto the active entities and fills 0.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from jianguan.credit.bulk import read_frame
from jianguan.credit.domain.features import BUCKET_MONTHS, bucket_column
from jianguan.credit.domain.months import add_months, add_years, month_start, previous_month
from jianguan.credit.rules import lists_rules, model_for_month

OPERATING = ("active", "suspended")
PENALTY_WINDOW_YEARS = 3


def read_base(as_of: dt.date) -> pl.DataFrame:
    """Operating entities established by `as_of`: id, county, industry section and two age flags.

    Kept to small values (the county as an integer, flags computed by the database): at city and province scale
    this read dominates, and every Python object per row costs.
    """
    frame = read_frame(
        "SELECT e.id, CAST(e.division_id AS INTEGER), e.industry_id, "
        "  CASE WHEN e.established_on > %(one)s THEN 1 ELSE 0 END, "
        "  CASE WHEN e.established_on <= %(three)s THEN 1 ELSE 0 END "
        "FROM registry_entity e WHERE e.status IN ('active', 'suspended') AND e.established_on <= %(as_of)s",
        {"as_of": as_of, "one": add_years(as_of, -1), "three": add_years(as_of, -3)},
        {"entity_id": pl.Int64, "division_id": pl.Int32, "industry_id": pl.String,
         "established_under_1y": pl.Int8, "established_3y_plus": pl.Int8})
    # The section by a join in Polars: joining the industry table in SQL doubles SQLite's time for this read.
    sections = read_frame("SELECT code, section FROM registry_industry", None,
                          {"industry_id": pl.String, "section": pl.String})
    return frame.join(sections, on="industry_id", how="left").select(
        "entity_id", pl.col("division_id").cast(pl.String), "section", "established_under_1y",
        "established_3y_plus")


def annual_report_features(as_of: dt.date) -> pl.DataFrame:
    """Years whose filing deadline (30 June of the next year) has passed: missing vs. filed late, last two."""
    mm, dd = (int(x) for x in lists_rules()["annual_report"]["due_month_day"].split("-"))
    last = as_of.year - 1 if as_of > dt.date(as_of.year, mm, dd) else as_of.year - 2
    y1, y2 = last - 1, last
    params = {"as_of": as_of, "y1": y1, "y2": y2, "y1end": dt.date(y1, 12, 31), "y2end": dt.date(y2, 12, 31),
              "d1": dt.date(y1 + 1, mm, dd), "d2": dt.date(y2 + 1, mm, dd)}
    missing1 = "(e.established_on <= %(y1end)s AND r1.id IS NULL)"
    missing2 = "(e.established_on <= %(y2end)s AND r2.id IS NULL)"
    return read_frame(
        f"SELECT e.id, "  # noqa: S608 — constants only
        f"  (CASE WHEN {missing1} THEN 1 ELSE 0 END) + (CASE WHEN {missing2} THEN 1 ELSE 0 END), "
        f"  (CASE WHEN r1.filed_on > %(d1)s THEN 1 ELSE 0 END) + (CASE WHEN r2.filed_on > %(d2)s THEN 1 ELSE 0 END) "
        f"FROM registry_entity e "
        f"LEFT JOIN registry_annualreport r1 ON r1.entity_id = e.id AND r1.year = %(y1)s AND r1.filed_on <= %(as_of)s "
        f"LEFT JOIN registry_annualreport r2 ON r2.entity_id = e.id AND r2.year = %(y2)s AND r2.filed_on <= %(as_of)s "
        f"WHERE e.status IN ('active', 'suspended') AND e.established_on <= %(as_of)s "
        f"  AND ({missing1} OR {missing2} OR r1.filed_on > %(d1)s OR r2.filed_on > %(d2)s)",
        params, {"entity_id": pl.Int64, "annual_report_missing_2y": pl.Int32, "annual_report_late_2y": pl.Int32})


def list_features(as_of: dt.date) -> pl.DataFrame:
    since = add_years(as_of, -3)
    abnormal = read_frame(
        "SELECT entity_id, MAX(CASE WHEN removed_on IS NULL OR removed_on > %(as_of)s THEN 1 ELSE 0 END), "
        "  SUM(CASE WHEN entered_on > %(since)s THEN 1 ELSE 0 END) "
        "FROM credit_abnormallisting WHERE entered_on <= %(as_of)s GROUP BY entity_id",
        {"as_of": as_of, "since": since},
        {"entity_id": pl.Int64, "on_abnormal_list": pl.Int32, "abnormal_listings_3y": pl.Int32})
    serious = read_frame(
        "SELECT entity_id, 1 FROM credit_seriouslisting WHERE entered_on <= %(as_of)s "
        "AND (removed_on IS NULL OR removed_on > %(as_of)s) GROUP BY entity_id",
        {"as_of": as_of}, {"entity_id": pl.Int64, "on_serious_list": pl.Int32})
    return abnormal.join(serious, on="entity_id", how="full", coalesce=True)


def penalty_features(as_of: dt.date) -> pl.DataFrame:
    """Counts per severity over 3 years, with 12-month age buckets (`@0` newest) for time decay."""
    since = add_years(as_of, -PENALTY_WINDOW_YEARS)
    rows = read_frame(
        "SELECT entity_id, severity, decided_on FROM credit_penalty "
        "WHERE decided_on > %(since)s AND decided_on <= %(as_of)s",
        {"since": since, "as_of": as_of}, {"entity_id": pl.Int64, "severity": pl.String, "decided_on": pl.Date})
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


def licence_and_label_features(as_of: dt.date) -> pl.DataFrame:
    params = model_for_month(month_start(as_of)).parameters
    licence_types = list(params.get("high_risk_licence_types", [])) or ["-"]
    labels = list(params.get("high_risk_labels", [])) or ["-"]
    lt = ", ".join(["%s"] * len(licence_types))
    lb = ", ".join(["%s"] * len(labels))
    high = read_frame(
        f"SELECT entity_id, 1 FROM registry_licence WHERE status = 'valid' AND type IN ({lt}) "  # noqa: S608 — placeholders only
        f"AND valid_from <= %s AND (valid_to IS NULL OR valid_to >= %s) "
        f"UNION SELECT el.entity_id, 1 FROM registry_entitylabel el JOIN registry_label l ON l.id = el.label_id "
        f"WHERE l.code IN ({lb}) AND el.assigned_on <= %s",
        [*licence_types, as_of, as_of, *labels, as_of], {"entity_id": pl.Int64, "high_risk_business": pl.Int32})
    revoked = read_frame(
        "SELECT entity_id, COUNT(*) FROM registry_licence WHERE status = 'revoked' AND valid_from <= %s "
        "GROUP BY entity_id", [as_of], {"entity_id": pl.Int64, "licence_revoked": pl.Int32})
    return high.unique("entity_id").join(revoked, on="entity_id", how="full", coalesce=True)


def association_features(as_of: dt.date) -> pl.DataFrame:
    """Other entities of the same legal representative (same county) that were C or D the previous month.

    Joined in Polars: SQLite plans the name self-join as a nested scan (minutes at county scale); two plain reads
    and a hash join take well under a second.
    """
    schema = {"entity_id": pl.Int64, "associated_cd_entities": pl.Int32}
    flagged = read_frame(
        "SELECT entity_id FROM credit_riskresult WHERE month = %(prev)s AND risk_class IN ('C', 'D')",
        {"prev": previous_month(month_start(as_of))}, {"entity_id": pl.Int64})
    if flagged.is_empty():
        return pl.DataFrame(schema=schema)
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


def base_features(base: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """Entity age flags (from the base read) and association with last month's C/D entities."""
    out = base.select("entity_id", "established_under_1y", "established_3y_plus")
    return out.join(association_features(as_of), on="entity_id", how="left").with_columns(
        pl.col("associated_cd_entities").fill_null(0))


def features(as_of: dt.date, base: pl.DataFrame | None = None) -> pl.DataFrame:
    """All credit-owned features as of a date (the `credit_features` contract); `base` avoids a second read."""
    if base is None:
        base = read_base(as_of)
    frame = base_features(base, as_of)
    for part in (annual_report_features(as_of), list_features(as_of), penalty_features(as_of),
                 licence_and_label_features(as_of)):
        frame = frame.join(part, on="entity_id", how="left")
    return frame.fill_null(0)


__all__ = ["OPERATING", "add_months", "features", "read_base"]
