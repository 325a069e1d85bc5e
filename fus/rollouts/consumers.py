"""The progress page's websocket ``/ws/rollouts/<id>/``: a snapshot on connect and again after
every change of the rollout (`fus.rollouts.live`). Read-only: controls are forms."""

from __future__ import annotations

from fus.rollouts import live, progress
from portal.consumers import CLOSE_REFUSED, ObjectSnapshotConsumer

__all__ = ["CLOSE_REFUSED", "RolloutConsumer"]


class RolloutConsumer(ObjectSnapshotConsumer):
    snapshot_of = staticmethod(progress.snapshot)
    group_of = staticmethod(live.group_name)
    rollout_changed = ObjectSnapshotConsumer.changed  # the group message `rollout.changed`
