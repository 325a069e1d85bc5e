"""Telling the live pages that something changed (the sending side of `portal.consumers`).

* `group_send(groups, message)`: send to channel-layer groups now; never raises (a live update
  must not fail the change it announces); skips, on the in-memory layer, groups nobody listens to
  (a fleet's sessions then cost no trip through the event loop). Returns how many groups were
  told.
* `after_commit(send, key)`: call ``send(key)`` once the current transaction commits (at once
  outside one), once per key however often the transaction announces it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def group_send(groups: Iterable[str], message: dict) -> int:
    layer = get_channel_layer()
    if layer is None:
        return 0
    told = 0
    for group in groups:
        if isinstance(layer, InMemoryChannelLayer) and not layer.groups.get(group):
            continue
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # a live update must never fail the change it announces
            log.warning("could not announce %s to %s", message, group, exc_info=True)
            continue
        told += 1
    return told


class _Batch:
    """The on-commit callback of one transaction for one `send`: the keys to announce."""

    def __init__(self, send: Callable[[int], object]) -> None:
        self.send = send
        self.keys: set[int] = set()

    def __call__(self) -> None:
        for key in sorted(self.keys):
            self.send(key)


def after_commit(send: Callable[[int], object], key: int | None) -> None:
    if key is None:
        return
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        send(key)
        return
    for _sids, func, _robust in conn.run_on_commit:
        if isinstance(func, _Batch) and func.send is send:
            func.keys.add(key)
            return
    batch = _Batch(send)
    batch.keys.add(key)
    transaction.on_commit(batch, robust=True)
