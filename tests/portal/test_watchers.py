"""`portal.watchers`: on Redis, announcements go only to groups some live page leases, and a page
whose lease is new takes its first snapshot once every sender sees the lease, so skipping never
hides a change from it. Real Redis (REDIS_URL, as in CI); the in-memory layer needs none of it."""

from __future__ import annotations

import asyncio
import time

import pytest
from channels.layers import InMemoryChannelLayer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.urls import path

from portal import live, watchers
from portal.consumers import ObjectSnapshotConsumer

TIMEOUT = 20  # a ceiling for a loaded shared machine, not a speed target
MESSAGE = {"type": "counter.changed"}


async def announce(group: str) -> int:
    """From a plain thread, as a view in a pool thread or a Celery task announces."""
    return await asyncio.to_thread(live.group_send, [group], MESSAGE)


async def nothing_arrives(layer, channel, seconds: float = 0.5) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), seconds)


def test_a_group_no_page_leases_is_skipped_until_one_does(redis_layer):
    layer, group = redis_layer, "device-1"

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(group, channel)  # a member, but no page leases the group
        assert await announce(group) == 0
        await nothing_arrives(layer, channel)

        page = watchers.Lease(layer, group, channel)
        started = time.monotonic()
        assert await page.join() is True  # new: it waited for every sender to see it
        assert time.monotonic() - started >= watchers.CATCH_UP
        assert await announce(group) == 1
        assert await asyncio.wait_for(layer.receive(channel), TIMEOUT) == MESSAGE

        # A second page on a group leased long enough: the senders see it already, no wait.
        second = watchers.Lease(layer, group, await layer.new_channel())
        assert await second.join() is False
        await page.leave()
        await second.leave()

    asyncio.run(scenario())


def test_a_lease_nobody_renews_runs_out(redis_layer):
    layer = redis_layer
    assert watchers._registry.lease(layer, "device-2", 1.0) is True
    time.sleep(watchers.REFRESH)
    assert "device-2" in watchers.watched(layer)
    assert live.group_send(["device-2"], MESSAGE) == 1
    time.sleep(1.0 + watchers.REFRESH + 0.1)  # the lease's second, then a new reading
    assert "device-2" not in watchers.watched(layer)
    assert live.group_send(["device-2", "device-3"], MESSAGE) == 0


def test_an_open_page_keeps_its_lease(redis_layer, monkeypatch):
    monkeypatch.setattr(watchers, "LEASE", 1.0)
    monkeypatch.setattr(watchers, "RENEW", 0.3)
    layer = redis_layer

    async def scenario():
        page = watchers.Lease(layer, "device-4", await layer.new_channel())
        await page.join()
        await asyncio.sleep(2 * watchers.LEASE)  # renewed every RENEW seconds meanwhile
        assert "device-4" in await asyncio.to_thread(watchers.watched, layer)
        await page.leave()

    asyncio.run(scenario())


# --- a page's first snapshot misses no change ---------------------------------------------------

STATE = {"n": 0}


class CounterConsumer(ObjectSnapshotConsumer):
    snapshot_of = staticmethod(lambda pk, user: {"n": STATE["n"]})
    group_of = staticmethod(lambda pk: f"counter-{pk}")
    counter_changed = ObjectSnapshotConsumer.changed


APP = URLRouter([path("ws/counter/<int:pk>/", CounterConsumer.as_asgi())])


@pytest.mark.django_db
def test_a_change_skipped_while_the_lease_was_new_is_in_the_first_snapshot(
    redis_layer, monkeypatch
):
    """The change is announced while the senders' reading (taken just before) lacks the page's
    group, so its announcement is skipped; the page still shows it, because its first snapshot
    waits until every sender sees the lease. The production timings, not the tests' short ones."""
    monkeypatch.setattr(watchers, "REFRESH", 1.0)
    monkeypatch.setattr(watchers, "CATCH_UP", 1.5)
    layer = redis_layer
    STATE["n"] = 0

    def change() -> int:
        STATE["n"] = 1
        return live.group_send(["counter-7"], MESSAGE)

    async def scenario():
        assert "counter-7" not in await asyncio.to_thread(watchers.watched, layer)  # fresh
        page = WebsocketCommunicator(APP, "/ws/counter/7/")
        connected, _ = await page.connect(timeout=TIMEOUT)
        assert connected
        assert await asyncio.to_thread(change) == 0  # skipped: the reading lacks the lease
        first = await page.receive_json_from(timeout=TIMEOUT)
        assert first == {"type": "snapshot", "n": 1}
        # ... and once the senders see the lease, a change reaches the page.
        assert await asyncio.to_thread(change) == 1
        assert await page.receive_json_from(timeout=TIMEOUT) == {"type": "snapshot", "n": 1}
        await page.disconnect()

    asyncio.run(scenario())


def test_the_in_memory_layer_needs_no_lease(layer_of):
    layer = layer_of({"BACKEND": "channels.layers.InMemoryChannelLayer"})
    assert isinstance(layer, InMemoryChannelLayer)
    assert watchers.watched(layer) is None  # group_send asks the layer itself

    async def scenario():
        channel = await layer.new_channel()
        page = watchers.Lease(layer, "device-5", channel)
        assert await page.join() is False  # no wait, nothing kept running
        assert page._task is None and layer.groups["device-5"]  # but the channel joined
        await page.leave()
        assert "device-5" not in layer.groups

    asyncio.run(scenario())
