"""Names are searched through the bigram-key index alone; two indexes that only cost a bulk load go (PostgreSQL only).

* `registry_entity_name_trgm_idx` (pg_trgm, migration 0002). A name contains a query of two or more characters only
  if its bigram keys (`jianguan_bigram_keys`, migration 0005) contain the query's, so the bigram index finds the
  candidates for every query length (`selectors.entity_filter`), and `LIKE` keeps exactly the names containing it,
  as before. The trigram index was the second GIN index over the same names: on 1 M names it took 7.8 s of one
  core to build (the bigram index 8.3 s), about half of a first import's index rebuild, and 105–127 s of a
  province load's.
* `entity_division_status_idx` (division_id, status): `registry_entity_list_idx` (division_id, status, uscc, 0005)
  and `registry_entity_status_id_idx` (division_id, status, id, 0006) lead with the same two columns, so every
  query that could use it can use either; 1.0 s per million rows of a rebuild. The model state keeps it, as in
  0007: on SQLite it is the index that serves these queries.

On SQLite this migration does nothing.
"""

from django.db import migrations

# name → definition (for the way back)
INDEXES = {
    "registry_entity_name_trgm_idx": "ON registry_entity USING gin (name gin_trgm_ops)",
    "entity_division_status_idx": "ON registry_entity (division_id, status)",
}
DROP = [f"DROP INDEX IF EXISTS {name}" for name in INDEXES]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in DROP:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} {definition}")


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0008_drop_covered_indexes_sqlite"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
