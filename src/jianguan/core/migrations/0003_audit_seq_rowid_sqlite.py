"""On SQLite, make the audit trail's sequence number the table's own row key.

SQLite treats only a column declared exactly `INTEGER PRIMARY KEY` as the row key; Django declares a
`BigIntegerField(primary_key=True)` as `bigint`, so SQLite stored every entry twice over: in the table under a
hidden rowid, and in a separate unique index on `seq`. Re-declaring the column `integer` (the same 64-bit values)
keeps the entries in `seq` order in the table itself and drops that index: one B-tree less per audit entry, and a
registry import writes an entry per created or changed entity (decision 0004).

PostgreSQL is unchanged. The model state is unchanged too; if a later migration makes Django rebuild this table on
SQLite, it declares `bigint` again — correct, only slower. One difference: as the row key, a `seq` left out of an
INSERT is numbered by SQLite instead of refused; the audit trail always gives it (`core.audit`).
"""

from django.db import migrations

TABLE = "core_auditentry"


def _rebuild(schema_editor, old: str, new: str) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [TABLE])
        create = cursor.fetchone()[0]
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                       [TABLE])
        indexes = [row[0] for row in cursor.fetchall()]
    if old not in create:
        return  # already as wanted (or rebuilt by Django with another definition)
    scratch = f"{TABLE}__rebuild"
    table_sql = create.replace(old, new)
    _head, _sep, body = table_sql.partition("(")
    schema_editor.execute(f'CREATE TABLE "{scratch}" ({body}')
    schema_editor.execute(f'INSERT INTO "{scratch}" SELECT * FROM "{TABLE}"')  # noqa: S608  (constant names)
    schema_editor.execute(f'DROP TABLE "{TABLE}"')
    schema_editor.execute(f'ALTER TABLE "{scratch}" RENAME TO "{TABLE}"')
    for sql in indexes:
        schema_editor.execute(sql)


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        _rebuild(schema_editor, '"seq" bigint NOT NULL PRIMARY KEY', '"seq" integer NOT NULL PRIMARY KEY')


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        _rebuild(schema_editor, '"seq" integer NOT NULL PRIMARY KEY', '"seq" bigint NOT NULL PRIMARY KEY')


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0002_scheduledrun"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
