"""The progress page's websocket ``/ws/rollouts/<id>/``: a snapshot on connect and again after
every change of the rollout (`fus.rollouts.live`). Read-only: controls are forms."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from fus.rollouts import live, progress

#: Close code for "not yours to see / not found" (the same for both: no existence oracle).
CLOSE_REFUSED = 4404


class RolloutConsumer(AsyncJsonWebsocketConsumer):
    rollout_id: int
    group: str | None = None

    async def connect(self) -> None:
        self.rollout_id = int(self.scope["url_route"]["kwargs"]["pk"])
        state = await database_sync_to_async(progress.snapshot)(
            self.rollout_id, self.scope.get("user")
        )
        if state is None:
            await self.close(code=CLOSE_REFUSED)
            return
        self.group = live.group_name(self.rollout_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "snapshot", **state})

    async def disconnect(self, code) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "refresh":
            await self.rollout_changed({})

    async def rollout_changed(self, event) -> None:
        state = await database_sync_to_async(progress.snapshot)(
            self.rollout_id, self.scope.get("user")
        )
        if state is None:
            await self.close(code=CLOSE_REFUSED)
            return
        await self.send_json({"type": "snapshot", **state})
