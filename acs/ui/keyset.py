"""Keyset pagination of the device list: no OFFSET, no COUNT(*).

Rows are ordered by the indexed ``(oui, product_class, serial_key)`` with the primary key as the
last tie-breaker (``serial_key`` is empty for serial numbers it cannot index, and may tie). A page
is the first `per_page` rows strictly after (or before) a cursor: the key of the last (first) row of
the page the user came from, in an opaque URL-safe token. One row more than the page is fetched to
know whether there is a next page, so no page ever counts the whole (filtered) table.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.db.models.fields.tuple_lookups import (
    Tuple,
    TupleGreaterThanOrEqual,
    TupleLessThanOrEqual,
)

ORDER = ("oui", "product_class", "serial_key", "pk")
MAX_CURSOR = 512


class CursorError(ValueError):
    """An unreadable cursor in the URL (hand-edited, truncated)."""


Key = tuple[str, str, str, int]


def key_of(row) -> Key:
    return (row.oui, row.product_class, row.serial_key, row.pk)


def encode(key: Key) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> Key:
    if len(token) > MAX_CURSOR:
        raise CursorError(f"cursor longer than {MAX_CURSOR} characters")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise CursorError(f"cursor {token[:40]!r} is not readable") from exc
    if (
        not isinstance(value, list)
        or len(value) != 4
        or not all(isinstance(v, str) for v in value[:3])
        or not isinstance(value[3], int)
        or isinstance(value[3], bool)
    ):
        raise CursorError(f"cursor {token[:40]!r} is not a device list position")
    return (value[0], value[1], value[2], value[3])


def _beyond(key: Key, direction: str) -> Q:
    """Rows strictly after (`gt`) or before (`lt`) `key` in ORDER.

    Two equivalent conditions, for PostgreSQL's planner: the exact one, expanded column by column
    (``oui > k0 OR (oui = k0 AND (product_class > k1 OR ...))``), whose selectivity it estimates
    well, and the row-value bound ``(oui, product_class, serial_key) >= (k0, k1, k2)`` on the
    index's columns, which it uses as the index condition that starts the ordered scan at the
    cursor. Either alone gave plans that scanned a whole device class (or a whole manufacturer's
    devices, for a supplier) near the end of the list; see docs/benchmarks/device-list.md."""
    oui, product_class, serial_key, pk = key
    op = direction
    inner = Q(**{f"serial_key__{op}": serial_key}) | Q(serial_key=serial_key, **{f"pk__{op}": pk})
    inner = Q(**{f"product_class__{op}": product_class}) | (Q(product_class=product_class) & inner)
    exact = Q(**{f"oui__{op}": oui}) | (Q(oui=oui) & inner)
    bound = TupleGreaterThanOrEqual if op == "gt" else TupleLessThanOrEqual
    index = bound(
        Tuple(F("oui"), F("product_class"), F("serial_key")), [oui, product_class, serial_key]
    )
    return Q(index) & exact


@dataclass(frozen=True)
class Page:
    rows: list
    next_cursor: str | None
    prev_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        return self.prev_cursor is not None


def paginate(
    queryset: QuerySet, *, after: str | None = None, before: str | None = None, per_page: int = 50
) -> Page:
    """The page after cursor `after`, before cursor `before`, or the first page."""
    if before:
        rows = list(
            queryset.filter(_beyond(decode(before), "lt")).order_by(*(f"-{f}" for f in ORDER))[
                : per_page + 1
            ]
        )
        more_before = len(rows) > per_page
        rows = rows[:per_page][::-1]
        return Page(
            rows,
            next_cursor=encode(key_of(rows[-1])) if rows else None,
            prev_cursor=encode(key_of(rows[0])) if rows and more_before else None,
        )
    ordered = queryset.order_by(*ORDER)
    if after:
        ordered = ordered.filter(_beyond(decode(after), "gt"))
    rows = list(ordered[: per_page + 1])
    more_after = len(rows) > per_page
    rows = rows[:per_page]
    return Page(
        rows,
        next_cursor=encode(key_of(rows[-1])) if rows and more_after else None,
        prev_cursor=encode(key_of(rows[0])) if rows and after else None,
    )
