"""The plan's large documents compressed with LZ4 where PostgreSQL has it (PostgreSQL only).

A province plan's `draw_json` is ≈ 61 MB of JSON (its `manifest_json` ≈ 8.5 MB). PostgreSQL compresses a value this
large when it stores it; with its default method (pglz) storing the draw took 1.3 s, with LZ4 0.4 s, for the same
stored size (31 MB: the tickets are random hexadecimal). Only the compression of values written from now on changes
(no table rewrite); values stored before stay readable. A server built without LZ4 keeps pglz, and SQLite does not
compress.
"""

from django.db import migrations

TABLE = "inspections_inspectionplan"
COLUMNS = ("draw_json", "manifest_json")


def _lz4_available(schema_editor) -> bool:
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        row = cur.fetchone()
    return bool(row and row[0])


def _set(method: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql" or not _lz4_available(schema_editor):
            return
        for column in COLUMNS:
            schema_editor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {column} SET COMPRESSION {method}")
    return run


class Migration(migrations.Migration):
    dependencies = [("inspections", "0003_entity_references_without_constraint")]

    operations = [migrations.RunPython(_set("lz4"), _set("default"))]
