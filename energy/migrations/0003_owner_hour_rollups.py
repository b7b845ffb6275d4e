# Each owner's hours in one rollup; the readings and rollups lose their node_id index, which
# the (node, ts) and (node, start) constraints' indexes already give.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The hours of the nodes already stored, summed per owner (what rollups.add keeps from now on).
FILL = (
    "INSERT INTO energy_ownerhourrollup (owner_id, start, energy_used) "
    "SELECT n.owner_id, h.start, SUM(h.energy_used) FROM energy_hourrollup h "
    "JOIN energy_node n ON n.id = h.node_id GROUP BY n.owner_id, h.start"
)
NODE_TABLES = {
    "reading": "energy_reading",
    "minuterollup": "energy_minuterollup",
    "hourrollup": "energy_hourrollup",
    "dayrollup": "energy_dayrollup",
}


def drop_node_indexes(apps, schema_editor):
    """DROP INDEX, not AlterField: on SQLite that would copy each table whole."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        for table in NODE_TABLES.values():
            constraints = connection.introspection.get_constraints(cursor, table)
            for name, info in constraints.items():
                if info["index"] and not info["unique"] and info["columns"] == ["node_id"]:
                    schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def node_field(related_name):
    return models.ForeignKey(
        db_index=False,
        on_delete=django.db.models.deletion.CASCADE,
        related_name=related_name,
        to="energy.node",
    )


class Migration(migrations.Migration):

    dependencies = [
        ('energy', '0002_alerts_advice_automation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name=model,
                    name="node",
                    field=node_field("readings" if model == "reading" else "+"),
                )
                for model in NODE_TABLES
            ],
            database_operations=[
                migrations.RunPython(drop_node_indexes, migrations.RunPython.noop),
            ],
        ),
        migrations.CreateModel(
            name='OwnerHourRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('start', models.DateTimeField()),
                ('energy_used', models.FloatField(default=0)),
                ('owner', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('owner', 'start'), name='energy_owner_hour_start')],
            },
        ),
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
    ]
