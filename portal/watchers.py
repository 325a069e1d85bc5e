"""Which channel-layer groups some live page watches, known to every process (the Redis layer).

Why. On Redis a `group_send` costs a web process about 0.35 ms of CPU even when nobody listens:
the layer cannot tell (a group is a sorted set of channels that outlives them). Every CWMP
session announces itself twice to its device's page, which is almost never open; with a fleet
informing, those announcements were a sixth of a session's CPU (docs/benchmarks/acs-sessions.md).
The in-memory layer knows its listeners and needs none of this.

How.
* A live page's consumer *leases* its group (`Lease`): the group is a member of one Redis sorted
  set, scored with its expiry on Redis's own clock (no skew between hosts), for `LEASE` seconds,
  renewed every `RENEW` seconds while the page is open. A lease is never taken back (another page
  may watch the same group); senders skip a closed page's group once its lease has run out.
* Senders (`watched`) read the set at most every `REFRESH` seconds per process and skip groups
  that nobody leases (`portal.live.group_send`).
* A sender acts on a reading at most `REFRESH` seconds old (or sends to every group), so a page
  whose lease is new takes its first snapshot `CATCH_UP` seconds after leasing: every sender sees
  the lease by then, and a change committed before that is in the snapshot.
* When the set cannot be read (Redis down, a layer this module does not know), `watched` returns
  None and senders send to every group, as before: a lost announcement is worse than a wasted one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time

import redis
from channels_redis.core import RedisChannelLayer

log = logging.getLogger(__name__)

LEASE = 60.0
RENEW = 20.0
REFRESH = 1.0
CATCH_UP = REFRESH + 0.5
#: Socket time-outs of the registry's Redis calls (a sender waits at most this, once a REFRESH).
TIMEOUT = 0.5

# Redis's clock for both sides; expired leases are dropped as the set is read. A lease answers
# whether its page must wait for the senders to see it (1) or they already do (0).
_LEASE_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
local held = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', now + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], math.ceil(2 * tonumber(ARGV[2])))
-- seen by every sender already: a running lease held for ARGV[3] seconds (renewals count from then)
if held and tonumber(held) >= now and tonumber(held) - tonumber(ARGV[2]) <= now - tonumber(ARGV[3])
then return 0 end
return 1
"""
_READ_SCRIPT = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class _Registry:
    """This process's client of the registry and its last reading, for one channel layer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._layer: object | None = None
        self._pid = 0
        self._client: redis.Redis | None = None
        self._key = ""
        self._scripts: tuple | None = None
        self._watched: frozenset[str] | None = None
        self._read_at = float("-inf")

    def _bind(self, layer) -> bool:
        """Use `layer`'s first Redis host (True), or nothing for a layer without one."""
        if self._layer is layer and self._pid == os.getpid():
            return self._client is not None
        with self._lock:
            if self._layer is not layer or self._pid != os.getpid():
                self._client, self._key, self._scripts = _client_of(layer), "", None
                if self._client is not None:
                    self._key = f"{layer.prefix}:live-watched"
                    self._scripts = (
                        self._client.register_script(_LEASE_SCRIPT),
                        self._client.register_script(_READ_SCRIPT),
                    )
                self._watched, self._read_at = None, float("-inf")
                self._layer, self._pid = layer, os.getpid()
        return self._client is not None

    def lease(self, layer, group: str, seconds: float) -> bool | None:
        """Lease `group` for `seconds` (blocking; consumers call it in a thread): whether senders
        may not see it yet (no lease on it has run for CATCH_UP seconds); None when this layer
        has no registry."""
        if not self._bind(layer):
            return None
        return bool(self._scripts[0](keys=[self._key], args=[group, seconds, CATCH_UP]))

    def watched(self, layer) -> frozenset[str] | None:
        """The groups leased now, as read at most REFRESH seconds ago; None when unknown."""
        if not self._bind(layer):
            return None
        if time.monotonic() - self._read_at < REFRESH:
            return self._watched
        if _on_a_loop() or not self._lock.acquire(blocking=False):
            # An event loop's thread never waits on Redis here, nor a thread while another
            # reads; an older reading could miss a lease that a page already relies on.
            return None
        try:
            started = time.monotonic()  # the reading is as of this time or later
            if started - self._read_at >= REFRESH:
                try:
                    members = self._scripts[1](keys=[self._key])
                except redis.RedisError as exc:
                    if self._watched is not None or self._read_at == float("-inf"):
                        log.warning("live-page registry unreadable, announcing to all: %r", exc)
                    self._watched = None
                else:
                    self._watched = frozenset(m.decode() for m in members)
                self._read_at = started
            return self._watched
        finally:
            self._lock.release()


def _client_of(layer) -> redis.Redis | None:
    if not isinstance(layer, RedisChannelLayer) or not layer.hosts:
        return None
    host = dict(layer.hosts[0])
    if "master_name" in host:  # Sentinel: not followed here; senders send to every group
        return None
    options = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}
    if "address" in host:
        address = host.pop("address")
        return redis.Redis.from_url(address, **{**host, **options})
    return redis.Redis(**{**host, **options})


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_registry = _Registry()
watched = _registry.watched


class Lease:
    """A live page's membership of its group while its consumer is connected: `await join()` adds
    the consumer's channel to the group and leases the group, before the page's first snapshot;
    `await leave()` on disconnect. When the lease is new, `join()` returns only CATCH_UP seconds
    later, once every process's senders see it, so the snapshot taken then misses no change. On a
    layer without a registry (the in-memory layer knows its listeners) it only joins the group."""

    def __init__(self, layer, group: str, channel: str) -> None:
        self.layer, self.group, self.channel = layer, group, channel
        self._task: asyncio.Task | None = None

    async def join(self) -> bool:
        """Whether it waited (the page's state read before may be older than the lease)."""
        await self.layer.group_add(self.group, self.channel)
        new = await self._renew()
        if new is None:
            return False
        if new:
            await asyncio.sleep(CATCH_UP)
        self._task = asyncio.ensure_future(self._keep())
        return bool(new)

    async def leave(self) -> None:
        """Stop renewing (the lease runs out by itself: another page may watch the group) and
        leave the group."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.layer.group_discard(self.group, self.channel)

    async def _renew(self) -> bool | None:
        """Whether the lease is new (None: no registry)."""
        try:
            return await asyncio.to_thread(_registry.lease, self.layer, self.group, LEASE)
        except redis.RedisError as exc:  # renewed again in RENEW seconds
            log.warning("could not lease live group %s: %r", self.group, exc)
            return False

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(RENEW)
            await self._renew()
