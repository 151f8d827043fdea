"""Drop the registry indexes that no query needs (PostgreSQL only): single-column ones that a composite index
already leads with, and the btree indexes on the entity name.

Each single-column one is a prefix of another index on the same table, so every query that could use it can use
the composite one instead (a btree serves any leading prefix of its columns). Keeping them only costs writes and,
above all, the index rebuild of a bulk load (`jianguan synth --load`, the province's 15 million entities: ≈ 78 s
for the covered ones, ≈ 49 s for the two name indexes).

| dropped | served by |
|---|---|
| registry_entity (division_id) | entity_division_status_idx (division_id, status) |
| registry_entity (industry_id) | entity_industry_status_idx (industry_id, status) |
| registry_licence (entity_id) | registry_licence_entity_type_idx (entity_id, type, status) — migration 0005 |
| registry_licence (type, status) | registry_licence_type_entity_idx (type, status, entity_id) — migration 0006 |
| registry_annualreport (entity_id) | unique_annual_report (entity_id, year) |
| registry_entitylabel (entity_id) | unique_entity_label (entity_id, label_id) |
| registry_entitylabel (label_id) | entitylabel_label_idx (label_id, entity_id) |
| registry_entity (name), (name varchar_pattern_ops) | nothing needs them: names are searched by substring through the trigram and bigram GIN indexes (0002, 0003), and no query filters on a whole name or a name prefix or sorts by name |

The `varchar_pattern_ops` indexes on division and industry stay: they serve the prefix searches (`LIKE '3701%'`)
under the database's non-C collation. The model state is unchanged (the covering indexes of 0005 and 0006 exist
only on PostgreSQL, so SQLite keeps these), and Django drops an index with `DROP INDEX IF EXISTS`, so a later
change of these fields migrates cleanly. On SQLite this migration does nothing.
"""

from django.db import migrations

# name → definition (for the way back); the names are Django's, derived from table and columns.
INDEXES = {
    "registry_entity_division_id_239178f5": "ON registry_entity (division_id)",
    "registry_entity_industry_id_a161316f": "ON registry_entity (industry_id)",
    "registry_licence_entity_id_1b7f584f": "ON registry_licence (entity_id)",
    "licence_type_status_idx": "ON registry_licence (type, status)",
    "registry_annualreport_entity_id_355f590b": "ON registry_annualreport (entity_id)",
    "registry_entitylabel_entity_id_49df6621": "ON registry_entitylabel (entity_id)",
    "registry_entitylabel_label_id_c47f865f": "ON registry_entitylabel (label_id)",
    "registry_entity_name_6f9f5c16": "ON registry_entity (name)",
    "registry_entity_name_6f9f5c16_like": "ON registry_entity (name varchar_pattern_ops)",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0006_filtered_list_merge_indexes"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
