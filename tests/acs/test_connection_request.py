"""Connection requests against a real tiny HTTP server (in a thread) that demands digest, as a box's
connection-request listener does; its check is written here with hashlib, independent of
acs.digest."""

from __future__ import annotations

import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from acs.choices import DeviceEventKind
from acs.models import Device, DeviceEvent
from acs.services import connection
from acs.services import tasks as task_services
from acs.tasks import connection_request

pytestmark = pytest.mark.django_db


class Listener(BaseHTTPRequestHandler):
    username = "cr-user"
    password = "cr-pass"
    realm = "box"
    algorithm = "MD5"
    nonce = "n0nce"
    hits: list[str]

    def log_message(self, *args):  # quiet
        pass

    def _h(self, text: str) -> str:
        fn = hashlib.md5 if self.algorithm == "MD5" else hashlib.sha256
        return fn(text.encode()).hexdigest()

    def do_GET(self):
        header = self.headers.get("Authorization", "")
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', header))
        if header.startswith("Digest ") and params.get("username") == self.username:
            ha1 = self._h(f"{self.username}:{self.realm}:{self.password}")
            ha2 = self._h(f"GET:{params['uri']}")
            expected = self._h(
                f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}"
            )
            if params.get("response") == expected and params["uri"] == self.path:
                type(self).hits.append("ok")
                self.send_response(204)
                self.end_headers()
                return
        type(self).hits.append("challenge")
        self.send_response(401)
        self.send_header(
            "WWW-Authenticate",
            f'Digest realm="{self.realm}", qop="auth", nonce="{self.nonce}", '
            f"algorithm={self.algorithm}",
        )
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def listener():
    Listener.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def device(listener):
    return Device.objects.create(
        oui="00D09E",
        product_class="A-STB",
        serial_number="SN1",
        connection_request_url=f"http://127.0.0.1:{listener.server_port}/cr/abc?x=1",
        connection_request_username="cr-user",
        connection_request_password="cr-pass",
    )


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_connection_request_answers_the_digest_challenge(device, listener, algorithm, monkeypatch):
    monkeypatch.setattr(Listener, "algorithm", algorithm)
    result = connection.send_connection_request(device)
    assert result.ok and result.status == 204
    assert Listener.hits == ["challenge", "ok"]
    event = DeviceEvent.objects.get(kind=DeviceEventKind.CONNECTION_REQUEST)
    assert event.message == "Connection request: accepted"


def test_wrong_credentials_are_reported(device, listener):
    device.connection_request_password = "wrong"
    result = connection.send_connection_request(device)
    assert not result.ok and result.outcome == "the box refused the credentials"


def test_an_unreachable_box_is_reported(device, listener):
    port = listener.server_port
    listener.shutdown()
    listener.server_close()
    result = connection.send_connection_request(device)
    assert not result.ok and result.outcome.startswith("unreachable")
    assert str(port) in device.connection_request_url


def test_the_celery_task_sends_it(device, listener):
    assert connection_request.apply(kwargs={"device_id": device.pk}).get() == "accepted"
    assert connection_request.apply(kwargs={"device_id": 999999}).get() == "gone"


def test_queuing_a_task_kicks_the_box_through_the_acs_queue(
    device, listener, tenants, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with django_capture_on_commit_callbacks(execute=True):
        task_services.reboot(device, actor=tenants["noc"])
    assert Listener.hits == ["challenge", "ok"]
    from portal.celery import app

    assert app.amqp.router.route({}, "acs.connection_request")["queue"].name == "acs"
