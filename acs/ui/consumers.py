"""The device page's websocket: ``/ws/devices/<id>/`` sends a snapshot of the device's tasks on
connect and again whenever the device changes (`acs.ui.live`). Read-only: actions are forms."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from acs.ui import live

#: Close code for "not yours to see / not found" (the same for both: no existence oracle).
CLOSE_REFUSED = 4404


class DeviceConsumer(AsyncJsonWebsocketConsumer):
    device_id: int
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.device_id = int(self.scope["url_route"]["kwargs"]["pk"])
        state = await database_sync_to_async(live.snapshot)(self.device_id, user)
        if state is None:
            await self.close(code=CLOSE_REFUSED)
            return
        self.group = live.group_name(self.device_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "snapshot", **state})

    async def disconnect(self, code) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The only message a page sends is "refresh" (e.g. after it regained focus).
        if isinstance(content, dict) and content.get("type") == "refresh":
            await self.device_changed({})

    async def device_changed(self, event) -> None:
        state = await database_sync_to_async(live.snapshot)(self.device_id, self.scope.get("user"))
        if state is None:  # access withdrawn (or device deleted) while subscribed
            await self.close(code=CLOSE_REFUSED)
            return
        await self.send_json({"type": "snapshot", **state})
