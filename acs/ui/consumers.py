"""The device page's websocket: ``/ws/devices/<id>/`` sends a snapshot of the device's tasks on
connect and again whenever the device changes (`acs.ui.live`). Read-only: actions are forms."""

from __future__ import annotations

from acs.ui import live
from portal.consumers import CLOSE_REFUSED, ObjectSnapshotConsumer

__all__ = ["CLOSE_REFUSED", "DeviceConsumer"]


class DeviceConsumer(ObjectSnapshotConsumer):
    snapshot_of = staticmethod(live.snapshot)
    group_of = staticmethod(live.group_name)
    device_changed = ObjectSnapshotConsumer.changed  # the group message `device.changed`
