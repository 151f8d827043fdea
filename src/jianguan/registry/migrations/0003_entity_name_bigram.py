"""Bigram GIN index on entity names, for two-character name searches on PostgreSQL.

Chinese trade names (字号) are two characters ("华联", "鑫源"), the commonest search. pg_trgm cannot use its index
for a LIKE pattern shorter than three characters, so such a search would scan the whole table (1.3 million rows
in a city). This index holds each name's distinct two-character substrings; `name` contains a two-character
query exactly when its bigram array contains the query. On SQLite this migration does nothing.
"""

from django.db import migrations

FUNCTION = "jianguan_bigrams"
CREATE = [
    f"""CREATE OR REPLACE FUNCTION {FUNCTION}(t text) RETURNS text[]
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
          SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{{}}'::text[])
          FROM generate_series(1, char_length(t) - 1) AS i
        $$""",
    f"CREATE INDEX IF NOT EXISTS registry_entity_name_bigram_idx ON registry_entity USING gin ({FUNCTION}(name))",
]
DROP = [
    "DROP INDEX IF EXISTS registry_entity_name_bigram_idx",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in [*DROP, f"DROP FUNCTION IF EXISTS {FUNCTION}(text)"]:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0002_entity_name_trigram"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
