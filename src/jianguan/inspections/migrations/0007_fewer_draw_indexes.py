"""Three indexes a province draw wrote for every row and no query reads (decision 0006, thirteenth round): a visit
item's task and stratum, a selection's stratum. Only the indexes go; the foreign keys stay as they are (Django's
AlterField would drop and re-add each constraint, checking every row again), hence the index names here, which
Django gives alike on PostgreSQL and SQLite."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = [  # (index, table, column)
    ("inspections_drawselection_stratum_id_fd289321", "inspections_drawselection", "stratum_id"),
    ("inspections_visititem_stratum_id_191dc313", "inspections_visititem", "stratum_id"),
    ("inspections_visititem_task_id_35bf250d", "inspections_visititem", "task_id"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('inspections', '0006_plan_large_documents_deferred'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{index}"', f'CREATE INDEX "{index}" ON "{table}" ("{column}")')
                for index, table, column in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='drawselection',
                    name='stratum',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='selections', to='inspections.drawstratum'),
                ),
                migrations.AlterField(
                    model_name='visititem',
                    name='stratum',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='inspections.drawstratum'),
                ),
                migrations.AlterField(
                    model_name='visititem',
                    name='task',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='inspections.inspectiontask'),
                ),
            ],
        ),
    ]
