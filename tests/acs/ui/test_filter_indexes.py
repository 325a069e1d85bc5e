"""The device list's serial-prefix and tag filters can use their indexes on PostgreSQL
(migration acs 0006; docs/benchmarks/device-list.md).

The planner picks a sequential scan for a table this small, so the test forbids sequential and
plain index scans for the EXPLAIN: the only plan left that is not disabled is a bitmap scan on an
index whose condition the filter's SQL can use. If the filter were written so no index serves it
(UPPER(), LIKE under a locale collation without the pattern opclass, containment as text), the
plan falls back to the disabled sequential scan and the index's name is missing.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import QueryDict

from acs.models import Device
from acs.ui.filtersets import DeviceFilterSet

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="index use is a PostgreSQL planner question"
    ),
]


def plan_of(query: str) -> str:
    queryset = DeviceFilterSet(QueryDict(query), queryset=Device.objects.all()).qs
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_indexonlyscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("q=A000*", "acs_device_sn_like_idx"),
        ("q=A000", "acs_device_sn_like_idx"),  # exact serial: the pattern opclass serves = too
        ("serial=A0002", "acs_device_sn_like_idx"),
        ("tag=lab", "acs_device_tags_gin_idx"),
    ],
)
def test_filter_uses_its_index(devices, query, index):
    plan = plan_of(query)
    assert index in plan, plan
    assert "Seq Scan" not in plan, plan


def test_tag_filter_matches_whole_elements_only(devices):
    """Containment is on list elements, not text: the index does not change what `tag=` means."""
    Device.objects.filter(pk=devices["b1"].pk).update(tags=["laboratory", "x lab"])
    queryset = DeviceFilterSet(QueryDict("tag=lab"), queryset=Device.objects.all()).qs
    assert {d.serial_number for d in queryset} == {"A0001", "A0002"}
