"""Trigram GIN index on entity names, so name-substring search stays fast at city scale (PostgreSQL only).

On SQLite this migration does nothing: a county-sized registry is scanned quickly enough.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS registry_entity_name_trgm_idx ON registry_entity USING gin (name gin_trgm_ops)",
]
DROP = ["DROP INDEX IF EXISTS registry_entity_name_trgm_idx"]


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
        ("registry", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
