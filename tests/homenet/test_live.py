"""Live compliance: the dashboard's and a device page's websockets (channels' WebsocketCommunicator
over the real in-memory channel layer), driven by real profile applications and a real CWMP
session of a cpesim box through /cwmp."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client

from acs.homenet import live, services
from acs.homenet.choices import ComplianceState
from acs.homenet.models import Compliance
from acs.homenet.routing import websocket_urlpatterns
from tests.acs.ui.test_live import cookie_for
from tests.cds.conftest import SimBox
from tests.homenet.test_sessions import OUT, av_profile, open_acs, profile  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

APP = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
TIMEOUT = 20  # a ceiling for a loaded shared machine, not a speed target


async def connect(user, path, app=APP, headers=()):
    headers = list(headers) + (await database_sync_to_async(cookie_for)(user) if user else [])
    communicator = WebsocketCommunicator(app, path, headers=headers)
    connected, code = await communicator.connect(timeout=TIMEOUT)
    return communicator, connected, code


async def receive_until(communicator, until):
    while True:
        message = await communicator.receive_json_from(timeout=TIMEOUT)
        if until(message):
            return message


def test_a_device_fault_reaches_the_dashboard_and_the_device_page_live(open_acs):  # noqa: F811
    noc = open_acs["noc"]
    av_profile()
    box = SimBox("LV0001")
    box.session()
    device = box.device()
    assert Compliance.objects.get(device=device).state == ComplianceState.IN_SYNC

    async def scenario():
        page, connected, _ = await connect(noc, f"/ws/home-network/devices/{device.pk}/")
        assert connected
        first = await page.receive_json_from(timeout=TIMEOUT)
        assert first["type"] == "snapshot" and first["compliance"]["state"] == "in_sync"
        assert first["plan"]["converged"] is True
        assert first["poll_url"] == f"/home-network/devices/{device.pk}/live.json"
        board, connected, _ = await connect(noc, "/ws/home-network/")
        assert connected
        counts = await board.receive_json_from(timeout=TIMEOUT)
        assert counts == {
            "type": "counts",
            "counts": {**dict.fromkeys(ComplianceState.values, 0), "in_sync": 1},
        }

        # An operator adds a profile the box will refuse and applies it: converging, then the
        # box's session brings the fault.
        await database_sync_to_async(profile)(
            "Bad video format",
            values=[{"path": OUT + "VideoOutput.1.VideoFormat", "value": "SCART"}],
        )
        await database_sync_to_async(services.apply_profiles)(device, actor=noc)
        converging = await receive_until(page, lambda s: s["compliance"]["state"] == "converging")
        assert converging["compliance"]["pending_tasks"]
        await database_sync_to_async(box.session)("6 CONNECTION REQUEST")
        failed = await receive_until(page, lambda s: s["compliance"]["state"] == "failed")
        assert failed["compliance"]["fault_code"] in (9003, 9007)
        assert failed["compliance"]["fault_details"][0]["name"] == OUT + "VideoOutput.1.VideoFormat"
        assert failed["plan"]["converged"] is False  # the dry run still wants SCART

        update = await receive_until(
            board, lambda m: m["type"] == "update" and m["rows"][0]["state"] == "failed"
        )
        (row,) = update["rows"]
        assert row["device"] == device.pk and row["url"] == f"/home-network/devices/{device.pk}/"
        assert row["reasons"][0].startswith(f"fault {failed['compliance']['fault_code']}: ")
        assert update["counts"]["failed"] == 1 and update["counts"]["in_sync"] == 0
        await page.disconnect()
        await board.disconnect()

    async_to_sync(scenario)()


def test_the_once_per_inform_bookkeeping_save_is_not_announced(open_acs):  # noqa: F811
    av_profile()
    box = SimBox("LV0002")
    box.session()
    device = box.device()

    async def scenario():
        page, connected, _ = await connect(
            open_acs["noc"], f"/ws/home-network/devices/{device.pk}/"
        )
        assert connected
        await page.receive_json_from(timeout=TIMEOUT)
        compliance = await database_sync_to_async(Compliance.objects.get)(device=device)
        await database_sync_to_async(compliance.save)(update_fields=["last_inform"])
        assert await page.receive_nothing(timeout=0.5)
        await database_sync_to_async(services.evaluate)(device)  # a real re-evaluation is
        message = await page.receive_json_from(timeout=TIMEOUT)
        assert message["compliance"]["state"] == "in_sync"
        await page.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("who", [None, "supplier_a", "supplier_b"])
def test_users_who_may_not_see_compliance_are_refused(open_acs, who):  # noqa: F811
    box = SimBox("LV0003")
    box.session()
    device = box.device()
    user = open_acs[who] if who else None

    async def scenario():
        for path in ("/ws/home-network/", f"/ws/home-network/devices/{device.pk}/"):
            _communicator, connected, code = await connect(user, path)
            assert not connected and code == 4404, (who, path)

    async_to_sync(scenario)()


@pytest.fixture
def in_memory_layer(settings):
    """The in-memory layer (the one that knows its groups): with Redis (REDIS_URL, as in CI) a
    group_send cannot tell whether anybody listens, so the saving under test does not apply."""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


def test_help_desk_sees_it_live_and_nobody_listening_costs_nothing(open_acs, in_memory_layer):  # noqa: F811
    box = SimBox("LV0004")
    box.session()
    device = box.device()
    assert live.send(device.pk) == 0  # no subscriber: nothing goes through the layer

    async def scenario():
        board, connected, _ = await connect(open_acs["helpdesk"], "/ws/home-network/")
        assert connected
        await board.receive_json_from(timeout=TIMEOUT)
        assert await database_sync_to_async(live.send)(device.pk) == 1
        await board.disconnect()

    async_to_sync(scenario)()


def test_polling_fallbacks(open_acs):  # noqa: F811
    av_profile()
    box = SimBox("LV0005")
    box.session()
    device = box.device()
    client = Client()
    client.force_login(open_acs["helpdesk"])
    board = client.get("/home-network/live.json?state=in_sync").json()
    assert board["type"] == "update" and [r["device"] for r in board["rows"]] == [device.pk]
    assert client.get("/home-network/live.json?state=failed").json()["rows"] == []
    page = client.get(f"/home-network/devices/{device.pk}/live.json").json()
    assert page["compliance"]["state"] == "in_sync" and page["profiles"] == ["STB A/V"]
    client.force_login(open_acs["supplier_b"])
    assert client.get(f"/home-network/devices/{device.pk}/live.json").status_code == 404
    assert client.get("/home-network/live.json").status_code == 403


def test_the_portal_asgi_application_routes_the_home_network_websockets(open_acs):  # noqa: F811
    from portal.asgi import application

    local = [(b"origin", b"http://localhost"), (b"host", b"localhost")]

    async def scenario():
        board, connected, _ = await connect(
            open_acs["noc"], "/ws/home-network/", app=application, headers=local
        )
        assert connected
        assert (await board.receive_json_from(timeout=TIMEOUT))["type"] == "counts"
        await board.disconnect()

    async_to_sync(scenario)()
