"""Websockets of the configurator's pages (`acs.homenet.live` announces the changes):

* ``/ws/home-network/`` — the compliance dashboard: the counts per state on connect, then, for
  every batch of compliance changes, the new counts and the changed rows the user may see.
  Changes arriving within `BATCH_SECONDS` go out as one message (a fleet converging at once does
  not flood the browser).
* ``/ws/home-network/devices/<id>/`` — a device's home-network page: its compliance and dry run on
  connect and after every change.

Read-only (actions are forms); a user who may not see compliance, or the device, is refused with
the same close code either way (no existence oracle)."""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from acs.homenet import live
from portal.consumers import CLOSE_REFUSED, ObjectSnapshotConsumer
from portal.watchers import Lease

BATCH_SECONDS = 0.25


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    lease: Lease | None = None  # membership of the dashboard group, once accepted

    async def connect(self) -> None:
        self.pending: set[int] = set()
        self.flush: asyncio.Task | None = None
        counts = await database_sync_to_async(live.counts)(self.scope.get("user"))
        if counts is None:
            await self.close(code=CLOSE_REFUSED)
            return
        await self.accept()
        self.lease = Lease(self.channel_layer, live.DASHBOARD_GROUP, self.channel_name)
        if await self.lease.join():  # waited for the senders to see it (portal.watchers)
            counts = await database_sync_to_async(live.counts)(self.scope.get("user"))
            if counts is None:
                await self.close(code=CLOSE_REFUSED)
                return
        await self.send_json({"type": "counts", "counts": counts})

    async def disconnect(self, code) -> None:
        if self.lease is not None:
            await self.lease.leave()
        if getattr(self, "flush", None) is not None:
            self.flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.flush

    async def compliance_changed(self, event) -> None:
        self.pending.add(int(event["device"]))
        if self.flush is None or self.flush.done():
            self.flush = asyncio.ensure_future(self._send_batch())

    async def _send_batch(self) -> None:
        await asyncio.sleep(BATCH_SECONDS)
        device_ids, self.pending = self.pending, set()
        snapshot = await database_sync_to_async(live.dashboard_snapshot)(
            self.scope.get("user"), device_ids
        )
        if snapshot is None:  # access withdrawn while subscribed
            await self.close(code=CLOSE_REFUSED)
            return
        if snapshot["rows"]:
            await self.send_json({"type": "update", **snapshot})


class DeviceComplianceConsumer(ObjectSnapshotConsumer):
    snapshot_of = staticmethod(live.device_snapshot)
    group_of = staticmethod(live.device_group)
    compliance_changed = ObjectSnapshotConsumer.changed  # the group message `compliance.changed`
