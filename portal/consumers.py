"""The one shape of the portal's live pages: a websocket that follows one object.

A page (device, rollout, a device's home-network state) opens ``/ws/<thing>/<id>/``; the consumer
checks the user may see the object by building its snapshot (None: refused with `CLOSE_REFUSED`,
the same code for "not yours" and "not found": no existence oracle), joins the object's group and
leases it (`portal.watchers`: on Redis, senders skip groups no page leases), and sends
``{"type": "snapshot", ...}`` on connect, again whenever the group is told the object changed,
and when the page asks ``{"type": "refresh"}`` (e.g. after it regained focus). Read-only:
actions are forms. A subclass names the snapshot function, the group, and the group message's
type (Channels calls the method of that name: bind it to `changed`).
"""

from __future__ import annotations

from collections.abc import Callable

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from portal.watchers import Lease

#: Close code for "not yours to see / not found" (the same for both).
CLOSE_REFUSED = 4404


class ObjectSnapshotConsumer(AsyncJsonWebsocketConsumer):
    #: (pk, user) -> the page's state as a JSON-able dict, or None when the user may not see it;
    #: runs in a thread (database access). Set with staticmethod().
    snapshot_of: Callable[[int, object], dict | None]
    #: pk -> the channel-layer group told about the object's changes. Set with staticmethod().
    group_of: Callable[[int], str]

    pk: int
    lease: Lease | None = None  # the page's membership of its group, once accepted

    async def _snapshot(self) -> dict | None:
        return await database_sync_to_async(self.snapshot_of)(self.pk, self.scope.get("user"))

    async def connect(self) -> None:
        self.pk = int(self.scope["url_route"]["kwargs"]["pk"])
        state = await self._snapshot()
        if state is None:
            await self.close(code=CLOSE_REFUSED)
            return
        await self.accept()
        self.lease = Lease(self.channel_layer, self.group_of(self.pk), self.channel_name)
        if await self.lease.join():  # waited for the senders to see it: the state may be older
            state = await self._snapshot()
            if state is None:
                await self.close(code=CLOSE_REFUSED)
                return
        await self.send_json({"type": "snapshot", **state})

    async def disconnect(self, code) -> None:
        if self.lease is not None:
            await self.lease.leave()

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "refresh":
            await self.changed({})

    async def changed(self, event) -> None:
        state = await self._snapshot()
        if state is None:  # access withdrawn, or the object deleted, while subscribed
            await self.close(code=CLOSE_REFUSED)
            return
        await self.send_json({"type": "snapshot", **state})
