"""Drop on SQLite the registry indexes that another index already serves there (PostgreSQL dropped them in 0007).

On SQLite the composite indexes of 0005 and 0006 do not exist, so only these are covered:

| dropped | served by |
|---|---|
| registry_entity (division_id) | entity_division_status_idx (division_id, status) |
| registry_entity (industry_id) | entity_industry_status_idx (industry_id, status) |
| registry_entitylabel (entity_id) | unique_entity_label (entity_id, label_id) |
| registry_entitylabel (label_id) | entitylabel_label_idx (label_id, entity_id) |
| registry_annualreport (entity_id) | unique_annual_report (entity_id, year) |
| registry_entity (name) | nothing: names are searched by substring (`LIKE '%…%'`), which no B-tree serves |

Every imported or generated entity paid for these: five more B-tree entries per entity and its labels, and a
first load rebuilt them (decision 0004). The licence indexes stay: on SQLite nothing else covers them.

The model state is unchanged (the indexes come from `db_index` of the foreign keys and the name), so when a later
migration makes Django rebuild one of these tables on SQLite, the index comes back: harmless, only slower. Django
drops an index with `DROP INDEX IF EXISTS`, so such a migration also runs cleanly where it is gone.
"""

from django.db import migrations

INDEXES = {
    "registry_entity_division_id_239178f5": 'ON "registry_entity" ("division_id")',
    "registry_entity_industry_id_a161316f": 'ON "registry_entity" ("industry_id")',
    "registry_entity_name_6f9f5c16": 'ON "registry_entity" ("name")',
    "registry_entitylabel_entity_id_49df6621": 'ON "registry_entitylabel" ("entity_id")',
    "registry_entitylabel_label_id_c47f865f": 'ON "registry_entitylabel" ("label_id")',
    "registry_annualreport_entity_id_355f590b": 'ON "registry_annualreport" ("entity_id")',
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name in INDEXES:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name, definition in INDEXES.items():
            schema_editor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" {definition}')


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0007_drop_covered_indexes"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
