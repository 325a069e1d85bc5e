"""The benchmarks' inventory: `acs.Device` rows loaded by one INSERT ... SELECT generate_series
(PostgreSQL), so a million devices take seconds, not the ORM's minutes."""

from __future__ import annotations

import json
import time


def insert_devices(n: int, explicit: dict[str, str]) -> float:
    """Replace the inventory with `n` devices; `explicit` maps field names to SQL expressions of
    the row number `i` (0..n-1; `%%` for a literal %). Other columns get NULL or their default.
    Returns the seconds taken (ANALYZE included)."""
    from django.db import connection

    from acs.models import Device

    started = time.perf_counter()
    columns, values = [], []
    for field in Device._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.name in explicit:
            values.append(explicit[field.name])
        elif field.null:
            values.append("NULL")
        else:
            default = field.get_default()
            if isinstance(default, list | dict):
                values.append(f"'{json.dumps(default)}'::jsonb")
            elif isinstance(default, bool):
                values.append("true" if default else "false")
            elif isinstance(default, int):
                values.append(str(default))
            else:
                values.append("''")
    # Our own constants and column names only, no outside input:
    sql = (
        f'INSERT INTO "{Device._meta.db_table}" ({", ".join(columns)}) '  # noqa: S608
        f"SELECT {', '.join(values)} FROM generate_series(0, %s) AS s(i)"
    )
    with connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{Device._meta.db_table}" CASCADE')
        cursor.execute(sql, [n - 1])
        cursor.execute(f'ANALYZE "{Device._meta.db_table}"')
    return time.perf_counter() - started
