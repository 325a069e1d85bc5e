"""Live task state: the device page's websocket consumer, fed by the model signals of acs.ui.live,
driven by real service calls and a real CWMP session through the /cwmp endpoint."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client

from acs.choices import TaskState
from acs.cwmp import messages as m
from acs.services import tasks as task_services
from acs.ui import live
from acs.ui.routing import websocket_urlpatterns
from portal.watchers import Lease
from tests.acs.cpe import Box, inform

pytestmark = pytest.mark.django_db(transaction=True)

APP = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
TIMEOUT = 20  # a ceiling for a loaded shared machine, not a speed target


@pytest.fixture(autouse=True)
def _open_acs(settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"


def cookie_for(user) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return [(b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode())]


async def connect(user, device_id, app=APP, headers=()):
    headers = list(headers) + (await database_sync_to_async(cookie_for)(user) if user else [])
    communicator = WebsocketCommunicator(app, f"/ws/devices/{device_id}/", headers=headers)
    connected, code = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected, code


async def next_snapshot(communicator, until=None):
    """Snapshots until one satisfies `until` (the first one without it)."""
    while True:
        message = await communicator.receive_json_from(timeout=TIMEOUT)
        assert message["type"] == "snapshot"
        if until is None or until(message):
            return message


def task_states(snapshot) -> list[str]:
    return [t["state"] for t in snapshot["tasks"]]


def test_the_page_sees_a_reboot_queued_sent_and_done_live(tenants, devices):
    a1, helpdesk = devices["a1"], tenants["helpdesk"]
    box = Box()

    async def scenario():
        communicator, connected, _ = await connect(helpdesk, a1.pk)
        assert connected
        first = await next_snapshot(communicator)
        assert first["tasks"] == [] and first["device"]["online"] is True
        assert first["poll_url"] == f"/devices/{a1.pk}/live.json"

        task = await database_sync_to_async(task_services.reboot)(a1, actor=helpdesk)
        queued = await next_snapshot(communicator)
        assert [(t["id"], t["rpc"], t["state"]) for t in queued["tasks"]] == [
            (task.pk, "Reboot", TaskState.QUEUED)
        ]

        send = database_sync_to_async(box.send)
        no_cr = {"Device.ManagementServer.ConnectionRequestURL": ""}
        response = await send(
            inform("A0001", events=("6 CONNECTION REQUEST",), extra=no_cr), cwmp_id="i"
        )
        assert response.status_code == 200
        await next_snapshot(communicator, until=lambda s: s["device"]["in_session"])
        response = await send(None)
        request = box.parsed(response)
        assert isinstance(request.message, m.Reboot)
        sent = await next_snapshot(communicator, until=lambda s: task_states(s) == ["sent"])
        assert sent["tasks"][0]["sent"] is not None
        # Nothing else queued: the ACS ends the session with its answer to the RebootResponse.
        response = await send(m.RebootResponse(), cwmp_id=request.cwmp_id)
        assert response.status_code == 204
        done = await next_snapshot(communicator, until=lambda s: task_states(s) == ["done"])
        assert done["tasks"][0]["completed"] is not None
        assert done["device"]["in_session"] is False
        await communicator.disconnect()

    async_to_sync(scenario)()


def test_the_same_snapshot_is_served_as_json_for_polling(client, tenants, devices):
    task = task_services.reboot(devices["a1"], actor=tenants["noc"])
    client.force_login(tenants["helpdesk"])
    body = client.get(f"/devices/{devices['a1'].pk}/live.json").json()
    assert body["type"] == "snapshot"
    assert [(t["id"], t["state"]) for t in body["tasks"]] == [(task.pk, "queued")]


@pytest.mark.parametrize("who", [None, "supplier_b", "noc_of_nothing"])
def test_devices_out_of_reach_refuse_the_websocket(tenants, devices, who):
    from tests.factories import UserFactory

    user = (
        None
        if who is None
        else UserFactory(username="nobody")
        if who == "noc_of_nothing"
        else tenants[who]
    )

    async def scenario():
        _refused, connected, _ = await connect(user, devices["a1"].pk)
        assert not connected
        _communicator, connected, _ = await connect(tenants["noc"], 999999)
        assert not connected

    async_to_sync(scenario)()


def test_a_supplier_follows_its_own_box_read_only(tenants, devices):
    own = task_services.reboot(devices["a1"], actor=tenants["noc"])
    task_services.reboot(devices["b1"], actor=tenants["noc"])

    async def scenario():
        communicator, connected, _ = await connect(tenants["supplier_a"], devices["a1"].pk)
        assert connected
        snapshot = await next_snapshot(communicator)
        assert snapshot["device"]["id"] == devices["a1"].pk
        assert [t["id"] for t in snapshot["tasks"]] == [own.pk]
        await communicator.disconnect()

    # Whether suppliers view tasks is the role map's choice; with the permission, only their own.
    tenants["supplier_a"].user_permissions.add(Permission.objects.get(codename="view_task"))
    async_to_sync(scenario)()


def test_the_portal_asgi_application_routes_the_websocket(tenants, devices):
    from portal.asgi import application

    async def scenario():
        communicator, connected, _ = await connect(
            tenants["helpdesk"],
            devices["a1"].pk,
            app=application,
            headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")],
        )
        assert connected
        await next_snapshot(communicator)
        await communicator.disconnect()
        # A foreign origin is refused before any consumer runs.
        _foreign, connected, _ = await connect(
            tenants["helpdesk"],
            devices["a1"].pk,
            app=application,
            headers=[(b"origin", b"http://evil.example"), (b"host", b"localhost")],
        )
        assert not connected

    async_to_sync(scenario)()


def test_one_transaction_announces_a_device_once_and_a_rollback_announces_nothing(tenants, devices):
    a1, noc = devices["a1"], tenants["noc"]

    def three_tasks():
        with transaction.atomic():
            for _ in range(3):
                task_services.reboot(a1, actor=noc)

    def rolled_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            task_services.reboot(a1, actor=noc)
            raise RuntimeError("abort")

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        page = Lease(layer, live.group_name(a1.pk), channel)  # as a page joins (portal.watchers)
        await page.join()
        await database_sync_to_async(three_tasks)()
        message = await asyncio.wait_for(layer.receive(channel), TIMEOUT)
        assert message == {"type": live.MESSAGE_TYPE, "device": a1.pk}
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.3)
        await database_sync_to_async(rolled_back)()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(layer.receive(channel), 0.3)
        # ... and the next transaction still announces (nothing was left behind by the rollback).
        await database_sync_to_async(task_services.reboot)(a1, actor=noc)
        assert await asyncio.wait_for(layer.receive(channel), TIMEOUT) == message
        await page.leave()

    async_to_sync(scenario)()


def test_nobody_listening_costs_no_send_on_the_in_memory_layer(settings, devices):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)  # the layer of these settings
    a1 = devices["a1"]
    assert live.send(a1.pk) is False

    async def scenario():
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(live.group_name(a1.pk), channel)
        assert await database_sync_to_async(live.send)(a1.pk) is True
        assert await asyncio.wait_for(layer.receive(channel), TIMEOUT) == {
            "type": live.MESSAGE_TYPE,
            "device": a1.pk,
        }
        await layer.group_discard(live.group_name(a1.pk), channel)

    async_to_sync(scenario)()
    assert live.send(a1.pk) is False
    channel_layers.backends.pop("default", None)
