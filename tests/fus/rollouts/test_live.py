"""The progress page's websocket: a snapshot on connect, another after a tick (the engine's
announcement through the channel layer), refusal for a rollout not the user's to see."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from fus.rollouts import engine, services
from fus.rollouts.consumers import CLOSE_REFUSED
from fus.rollouts.routing import websocket_urlpatterns
from tests.fus.rollouts.helpers import create

pytestmark = pytest.mark.django_db(transaction=True)

APP = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
TIMEOUT = 10


def cookie_for(user):
    client = Client()
    client.force_login(user)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return [(b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode())]


@pytest.fixture
def eager_celery(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # not app.conf: a value set there outlives the test


def test_a_tick_is_pushed_to_the_page(package, fleet, tenants, eager_celery):
    async_to_sync(_pushed)(package, tenants)


async def _pushed(package, tenants):
    rollout = await database_sync_to_async(create)(
        package, tenants["noc"], stages=[{"count": 10}, {"percent": 100}]
    )
    headers = await database_sync_to_async(cookie_for)(tenants["noc"])
    communicator = WebsocketCommunicator(APP, f"/ws/rollouts/{rollout.pk}/", headers=headers)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    first = await communicator.receive_json_from(timeout=TIMEOUT)
    assert first["type"] == "snapshot" and first["status"] == "draft"
    # start (its on-commit tick runs inline here) — the page hears about it
    await database_sync_to_async(services.start_rollout)(rollout, actor=tenants["noc"])
    while True:
        message = await communicator.receive_json_from(timeout=TIMEOUT)
        if message["totals"]["in_flight"] == 10:
            break
    assert message["status"] == "running" and message["waves"][0]["state"] == "released"
    await database_sync_to_async(engine.tick)(rollout.pk)
    await communicator.disconnect()


def test_another_manufacturers_rollout_is_refused(package, fleet, tenants):
    async_to_sync(_refused)(package, tenants)


async def _refused(package, tenants):
    rollout = await database_sync_to_async(create)(package, tenants["noc"])
    headers = await database_sync_to_async(cookie_for)(tenants["supplier_b"])
    communicator = WebsocketCommunicator(APP, f"/ws/rollouts/{rollout.pk}/", headers=headers)
    connected, code = await communicator.connect(timeout=TIMEOUT)
    assert not connected and code == CLOSE_REFUSED
