"""Live rollout progress: after a transaction that changed a rollout commits, the Channels group
``rollout-<id>`` is told; subscribers (`fus.rollouts.consumers`) then read a fresh snapshot
(`fus.rollouts.progress.snapshot`) with their own permissions. Announcements carry only the id.

Engine ticks run in Celery workers: their announcements reach browsers through a shared (Redis)
channel layer; with the in-memory layer the page falls back to polling ``live.json``.
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

MESSAGE_TYPE = "rollout.changed"


def group_name(rollout_id: int) -> str:
    return f"rollout-{rollout_id}"


def announce(rollout_id: int) -> None:
    """Tell subscribers of the rollout once the current transaction commits."""
    transaction.on_commit(lambda: send(rollout_id), robust=True)


def send(rollout_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop in this thread: the normal case (views, workers)
    else:  # called from a thread running an event loop: async_to_sync cannot be used here
        log.debug("rollout %s: announced from an event loop thread, left to polling", rollout_id)
        return
    try:
        async_to_sync(layer.group_send)(
            group_name(rollout_id), {"type": MESSAGE_TYPE, "rollout": rollout_id}
        )
    except Exception:  # a live update must never fail the change it announces
        log.warning("could not announce a change of rollout %s", rollout_id, exc_info=True)
