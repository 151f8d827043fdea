"""Cheaper name bigrams and list indexes that match the filters, for city-scale registries (PostgreSQL only).

* The bigram index of 0003 stored text pairs produced by a SQL function with a subquery: at 1.3 million names
  it took ~32 CPU-seconds to build (half of a bulk load's index work). `jianguan_bigram_keys` returns each pair
  of neighbouring characters as one bigint (code point << 21 | next code point), in PL/pgSQL: the same
  containment test (`name` contains a two-character query exactly when its keys contain the query's key), a
  third of the build cost and a smaller index. The index keeps its name, `registry_entity_name_bigram_idx`.
* `registry_entity_list_idx` (division, status, USCC) with industry and kind included: a list filtered by
  division and status is a range of this index, already in list order (status is fixed by the filter), so a
  page and the capped count read only the matching index entries.
* `registry_entity_search_idx` (0004, list order) now also includes the name: when more than 10,000 names
  contain a word, a page is found by walking the list order and testing names inside the index, without
  visiting the table.
* `registry_licence_entity_type_idx` (entity, type, status): "holds a valid licence of type T" is one
  index-only probe per candidate entity instead of a hash of every valid licence of the city.

On SQLite this migration does nothing.
"""

from django.db import migrations

FUNCTION = "jianguan_bigram_keys"
OLD_FUNCTION = "jianguan_bigrams"
CREATE = [
    f"""CREATE OR REPLACE FUNCTION {FUNCTION}(t text) RETURNS bigint[]
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
        DECLARE
          keys bigint[] := '{{}}';
          prev bigint;
          cur bigint;
        BEGIN
          FOR i IN 1 .. char_length(t) LOOP
            cur := ascii(substr(t, i, 1));
            IF i > 1 THEN
              keys := keys || ((prev << 21) | cur);
            END IF;
            prev := cur;
          END LOOP;
          RETURN keys;
        END
        $$""",
    "DROP INDEX IF EXISTS registry_entity_name_bigram_idx",
    f"DROP FUNCTION IF EXISTS {OLD_FUNCTION}(text)",
    f"CREATE INDEX IF NOT EXISTS registry_entity_name_bigram_idx ON registry_entity USING gin ({FUNCTION}(name))",
    "DROP INDEX IF EXISTS registry_entity_search_idx",
    "CREATE INDEX IF NOT EXISTS registry_entity_search_idx ON registry_entity "
    "(division_id, uscc) INCLUDE (status, industry_id, kind, id, name)",
    "CREATE INDEX IF NOT EXISTS registry_entity_list_idx ON registry_entity "
    "(division_id, status, uscc) INCLUDE (industry_id, kind, id)",
    "CREATE INDEX IF NOT EXISTS registry_licence_entity_type_idx ON registry_licence (entity_id, type, status)",
]
DROP = [
    "DROP INDEX IF EXISTS registry_licence_entity_type_idx",
    "DROP INDEX IF EXISTS registry_entity_list_idx",
    "DROP INDEX IF EXISTS registry_entity_name_bigram_idx",
    f"DROP FUNCTION IF EXISTS {FUNCTION}(text)",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in CREATE:
            schema_editor.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        bigram_0003 = import_module("jianguan.registry.migrations.0003_entity_name_bigram")
        covering_0004 = import_module("jianguan.registry.migrations.0004_entity_search_covering_index")
        for sql in [*DROP, *bigram_0003.CREATE, "DROP INDEX IF EXISTS registry_entity_search_idx",
                    *covering_0004.CREATE]:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("registry", "0004_entity_search_covering_index"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
