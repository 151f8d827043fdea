"""Id-ordered indexes for lists filtered by division + status + label or licence (PostgreSQL only).

A label or licence filter is a semi-join between the entities of a division and status and the entities holding
the label (valid licence). With the list index (division, status, USCC) the entity side comes in USCC order, so
PostgreSQL either probes the label (licence) index once per candidate (~30,000 probes for 10,000 matches) or
sorts ~100,000 candidate ids by id (spilling to disk) for a merge join: 50-100 ms at city scale.

* `registry_entity_status_id_idx` (division, status, id) with USCC, industry and kind included: the entities of
  one division and status in id order, index-only.
* `registry_licence_type_entity_idx` (type, status, entity_id): the holders of a valid licence of a type in
  entity order (labels already have `entitylabel_label_idx` (label, entity)).

Both sides then arrive in entity-id order and a merge join stops after the `cap + 1` matches the capped count
needs, reading only index pages. On SQLite this migration does nothing.
"""

from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS registry_entity_status_id_idx ON registry_entity "
    "(division_id, status, id) INCLUDE (uscc, industry_id, kind)",
    "CREATE INDEX IF NOT EXISTS registry_licence_type_entity_idx ON registry_licence (type, status, entity_id)",
]
DROP = [
    "DROP INDEX IF EXISTS registry_licence_type_entity_idx",
    "DROP INDEX IF EXISTS registry_entity_status_id_idx",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0005_search_indexes_city_scale"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
