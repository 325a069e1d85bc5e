"""Live rollout progress: after a transaction that changed a rollout commits, the Channels group
``rollout-<id>`` is told; subscribers (`fus.rollouts.consumers`) then read a fresh snapshot
(`fus.rollouts.progress.snapshot`) with their own permissions. Announcements carry only the id.

Engine ticks run in Celery workers: their announcements reach browsers through a shared (Redis)
channel layer; with the in-memory layer the page falls back to polling ``live.json``.
"""

from __future__ import annotations

from django.db import transaction

from portal.live import group_send

MESSAGE_TYPE = "rollout.changed"


def group_name(rollout_id: int) -> str:
    return f"rollout-{rollout_id}"


def announce(rollout_id: int) -> None:
    """Tell subscribers of the rollout once the current transaction commits."""
    transaction.on_commit(lambda: send(rollout_id), robust=True)


def send(rollout_id: int) -> int:
    return group_send([group_name(rollout_id)], {"type": MESSAGE_TYPE, "rollout": rollout_id})
