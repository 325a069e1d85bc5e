"""Indexes for the device list's two unindexed filters (issue 4, item 7; docs/benchmarks/device-list.md).

* SerialNumber prefix (`q=ABC*`, `serial_number LIKE 'ABC%'`): the database's collation is a locale
  one (C.UTF-8, en_US...), under which a plain B-tree cannot serve LIKE; a `varchar_pattern_ops`
  index can, and serves equality too, so it replaces the plain `acs_device_sn_idx`. On SQLite the
  opclass is ignored (a plain index).
* Tag (`tags @> '["x"]'`): a GIN index with `jsonb_path_ops` (containment only, smaller than the
  default opclass). PostgreSQL only, by raw SQL: SQLite has neither GIN nor jsonb; its tag filter
  matches the JSON text instead (acs/ui/filtersets.py).
"""

from django.db import migrations, models

TAGS_INDEX = "acs_device_tags_gin_idx"


def create_tags_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("acs", "Device")._meta.db_table)
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(TAGS_INDEX)} "
        f"ON {table} USING gin (tags jsonb_path_ops)"
    )


def drop_tags_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(TAGS_INDEX)}")


class Migration(migrations.Migration):
    dependencies = [
        ("acs", "0005_device_udp_connection_request_address"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="device",
            name="acs_device_sn_idx",
        ),
        migrations.AddIndex(
            model_name="device",
            index=models.Index(
                fields=["serial_number"],
                name="acs_device_sn_like_idx",
                opclasses=["varchar_pattern_ops"],
            ),
        ),
        migrations.RunPython(create_tags_index, drop_tags_index, elidable=False),
    ]
