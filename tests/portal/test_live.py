"""`portal.live`: where live announcements are sent from. On the in-memory layer, on the serving
loop the ASGI entry attached (its subscribers wait there); on Redis, from any thread, over the
process's few connections instead of a new event loop and connection per announcement."""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from acs.asgi import application as cwmp
from acs.models import Device
from acs.ui import live as device_live
from portal import live, watchers
from tests import asgi_client
from tests.acs.cpe import envelope, inform
from tests.portal.conftest import redis_url

TIMEOUT = 20  # a ceiling for a loaded shared machine, not a speed target


@pytest.mark.django_db(transaction=True)
def test_a_cwmp_session_is_announced_on_the_loop_serving_it(settings, layer_of):
    """The lean entry's view runs in a pool thread; its announcement goes to the loop serving
    the request, where an in-memory subscriber waits, and wakes it."""
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    layer = layer_of({"BACKEND": "channels.layers.InMemoryChannelLayer"})
    _, headers, _ = asgi_client.call(cwmp, envelope(inform()), path="/cwmp")  # registers the box
    cookie = asgi_client.header(headers, "Set-Cookie").split(";", 1)[0].encode()
    assert asgi_client.call(cwmp, path="/cwmp", headers=((b"cookie", cookie),))[0] == 204
    device = Device.objects.get()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(device_live.group_name(device.pk), channel)
        status, _, _ = await asgi_client.serve(
            cwmp, envelope(inform(events=("2 PERIODIC",))), path="/cwmp"
        )
        assert status == 200
        # Sent on this loop, the in-memory queues' own (from another loop, as async_to_sync in
        # the pool thread did, waking the subscriber was not thread-safe).
        assert live._loops.serving().loop is asyncio.get_running_loop()
        message = await asyncio.wait_for(layer.receive(channel), TIMEOUT)
        assert message == {"type": device_live.MESSAGE_TYPE, "device": device.pk}

    asyncio.run(scenario())


def test_announcements_from_plain_threads_reuse_a_few_redis_connections(redis_layer):
    """Before: async_to_sync in a thread without a loop (a lean entry's pool, a Celery task)
    made a new loop, hence a new Redis connection, for every announcement."""
    import redis

    layer = redis_layer
    group, count = "announced", 300
    server = redis.Redis.from_url(redis_url())

    def announce_all() -> int:
        return sum(live.group_send([group], {"type": "x.changed", "n": n}) for n in range(count))

    async def scenario():
        channel = await layer.new_channel()
        page = watchers.Lease(layer, group, channel)  # as a live page: senders skip unleased groups
        await page.join()
        before = server.info("stats")["total_connections_received"]
        with ThreadPoolExecutor(1) as pool:  # a plain thread, as a view's or a task's
            handed = await asyncio.get_running_loop().run_in_executor(pool, announce_all)
        assert handed == count
        received = set()
        while len(received) < count:
            received.add((await asyncio.wait_for(layer.receive(channel), TIMEOUT))["n"])
        opened = server.info("stats")["total_connections_received"] - before
        await page.leave()
        return received, opened

    received, opened = asyncio.run(scenario())
    assert received == set(range(count))
    # SENDERS connections at most (plus whatever other tests open meanwhile): not one per send
    assert opened < count // 3, opened


def test_a_failing_layer_never_fails_the_announcing_code(layer_of, caplog):
    layer = layer_of(
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]},  # nothing listens there
        }
    )
    with caplog.at_level(logging.WARNING, logger="portal.live"):
        # Who watches is unknown (the registry is on the same dead host), so it is handed over;
        # the refused connection is logged within group_send's wait, or soon after.
        assert live.group_send(["g"], {"type": "x.changed"}) == 1
        assert watchers.watched(layer) is None
        deadline = time.monotonic() + TIMEOUT
        while not any("could not announce" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the failure was not logged"
            time.sleep(0.05)
