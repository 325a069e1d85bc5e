"""Keyset pagination of the device list: every device exactly once, in index order, forwards and
backwards, without OFFSET or COUNT; hostile cursors are refused with a clear error."""

from __future__ import annotations

import contextlib
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from acs.models import Device
from acs.ui import keyset
from tests.acs.ui.conftest import make_device
from tests.factories import DeviceClassFactory

# Serial numbers whose index keys tie ("7", "007"), order numerically ("9" < "10"), mix letters,
# and use the full 64 characters.
TRICKY = ["7", "007", "0007", "9", "10", "100", "A1", "a1", "A01", "Z", "", "x" * 63, "x" * 64]


def walk_forward(queryset, per_page):
    seen, after, pages = [], None, 0
    while True:
        page = keyset.paginate(queryset, after=after, per_page=per_page)
        seen.extend(page.rows)
        pages += 1
        assert len(page.rows) <= per_page
        if not page.has_next:
            return seen, pages
        after = page.next_cursor


def walk_backward(queryset, per_page, from_cursor):
    seen, before = [], from_cursor
    while True:
        page = keyset.paginate(queryset, before=before, per_page=per_page)
        seen[:0] = page.rows
        if not page.has_prev:
            return seen
        before = page.prev_cursor


@pytest.fixture
def fleet(tenants):
    classes = [tenants["dc_a"], tenants["dc_b"], DeviceClassFactory(manufacturer=tenants["a"])]
    rng = random.Random(4)
    serials = TRICKY + [str(rng.randrange(10**6)) for _ in range(40)]
    devices = []
    for device_class in classes:
        for serial in dict.fromkeys(serials):
            devices.append(make_device(device_class, serial))
    return devices


def expected_order(queryset):
    return sorted(queryset, key=keyset.key_of)


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", [1, 7, 50, 500])
def test_forward_walk_visits_every_device_once_in_index_order(fleet, per_page):
    queryset = Device.objects.all()
    seen, pages = walk_forward(queryset, per_page)
    assert [d.pk for d in seen] == [d.pk for d in expected_order(queryset)]
    assert pages == max(1, -(-len(fleet) // per_page))


@pytest.mark.django_db
def test_ties_in_the_serial_key_are_broken_by_the_primary_key(fleet, tenants):
    sevens = Device.objects.filter(
        product_class=tenants["dc_a"].product_class, serial_number__in=["7", "007", "0007"]
    )
    keys = {d.serial_key for d in sevens}
    assert len(keys) == 1, "the fixture must contain serial numbers with equal index keys"
    seen, _ = walk_forward(Device.objects.filter(pk__in=sevens.values("pk")), 1)
    assert [d.pk for d in seen] == sorted(d.pk for d in sevens)


@pytest.mark.django_db
@pytest.mark.parametrize("per_page", [1, 6, 50])
def test_backward_walk_from_the_end_gives_the_same_order(fleet, per_page):
    queryset = Device.objects.filter(oui__in=["00D09E", "3C62F0"])
    forward, _ = walk_forward(queryset, per_page)
    # "Previous" from past the last row: a cursor made from the last device.
    beyond = keyset.encode((*keyset.key_of(forward[-1])[:3], forward[-1].pk + 1))
    backward = walk_backward(queryset, per_page, beyond)
    assert [d.pk for d in backward] == [d.pk for d in forward]


@pytest.mark.django_db
def test_pages_follow_a_filter_and_link_back(fleet, tenants):
    queryset = Device.objects.filter(product_class=tenants["dc_b"].product_class)
    first = keyset.paginate(queryset, per_page=10)
    assert not first.has_prev and first.has_next
    second = keyset.paginate(queryset, after=first.next_cursor, per_page=10)
    assert second.has_prev
    back = keyset.paginate(queryset, before=second.prev_cursor, per_page=10)
    assert [d.pk for d in back.rows] == [d.pk for d in first.rows]
    assert not back.has_prev
    assert all(d.product_class == tenants["dc_b"].product_class for d in second.rows)


@pytest.mark.django_db
def test_a_page_runs_one_query_without_offset_or_count(fleet):
    cursor = keyset.paginate(Device.objects.all(), per_page=20).next_cursor
    with CaptureQueriesContext(connection) as queries:
        page = keyset.paginate(Device.objects.all(), after=cursor, per_page=20)
    assert len(page.rows) == 20
    assert len(queries.captured_queries) == 1
    sql = queries.captured_queries[0]["sql"].upper()
    assert "OFFSET" not in sql and "COUNT(" not in sql
    assert "LIMIT 21" in sql


@pytest.mark.django_db
def test_an_empty_list_has_no_links(tenants):
    page = keyset.paginate(Device.objects.all(), per_page=10)
    assert page.rows == [] and not page.has_next and not page.has_prev


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64!",
        "W10",
        keyset.encode(("a", "b", "c", 1))[:-3],
        "x" * 600,
        "WyJhIiwxLDIsM10",
    ],
)
def test_unreadable_cursors_are_refused_with_the_reason(token):
    with pytest.raises(keyset.CursorError):
        keyset.decode(token)


def test_cursor_round_trip():
    key = ("00D09E", "STB ü", "0003123", 42)
    assert keyset.decode(keyset.encode(key)) == key


@given(st.text(max_size=700))
@settings(max_examples=300, deadline=None)
def test_any_text_decodes_to_a_key_or_a_cursor_error(token):
    try:
        key = keyset.decode(token)
    except keyset.CursorError:
        return
    assert len(key) == 4 and isinstance(key[3], int)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_bytes_behind_the_base64_decode_or_fail_cleanly(raw):
    import base64

    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with contextlib.suppress(keyset.CursorError):
        keyset.decode(token)
