"""``/ws/cds/devices/<id>/``: tells the device page's CDS cards that the box changed (a task of
the device was saved, its session started or ended: `acs.ui.live` announces it to the group
``device-<id>``); the page then fetches the cards. Read-only; refuses a box the user may not see."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from acs.models import Device
from acs.ui import live
from cds import access
from portal.watchers import Lease

CLOSE_REFUSED = 4404


def _may_see(user, device_id: int) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (
        access.may(user, "view")
        and Device.objects.restrict(user, "view").filter(pk=device_id).exists()
    )


class CdsConsumer(AsyncJsonWebsocketConsumer):
    device_id: int
    lease: Lease | None = None  # the page's membership of `device-<id>`, once accepted

    async def connect(self) -> None:
        self.device_id = int(self.scope["url_route"]["kwargs"]["pk"])
        if not await database_sync_to_async(_may_see)(self.scope.get("user"), self.device_id):
            await self.close(code=CLOSE_REFUSED)
            return
        await self.accept()
        self.lease = Lease(self.channel_layer, live.group_name(self.device_id), self.channel_name)
        await self.lease.join()  # the cards fetched after this miss no change (portal.watchers)
        await self.send_json({"type": "changed", "device": self.device_id})

    async def disconnect(self, code) -> None:
        if self.lease is not None:
            await self.lease.leave()

    async def device_changed(self, event) -> None:
        if not await database_sync_to_async(_may_see)(self.scope.get("user"), self.device_id):
            await self.close(code=CLOSE_REFUSED)
            return
        await self.send_json({"type": "changed", "device": self.device_id})
