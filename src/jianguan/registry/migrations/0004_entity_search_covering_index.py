"""Covering index for registry lists on PostgreSQL, in list order (division, USCC), with the filtered columns.

Lists are ordered by division then USCC. A list page fetches the sort keys of up to 10,001 matches and, when
there are more, walks the list order with LIMIT/OFFSET. With the order as the index key and every filtered
column (status, industry, kind) included, PostgreSQL does both from the index alone (index-only scans) instead
of visiting thousands of table pages — and a walk for one county starts at that county, wherever its codes sort.
On SQLite this migration does nothing.
"""

from django.db import migrations

CREATE = [
    "CREATE INDEX IF NOT EXISTS registry_entity_search_idx ON registry_entity "
    "(division_id, uscc) INCLUDE (status, industry_id, kind, id)",
]
DROP = ["DROP INDEX IF EXISTS registry_entity_search_idx"]


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
        ("registry", "0003_entity_name_bigram"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
