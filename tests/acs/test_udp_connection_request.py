"""UDP connection requests (TR-111 Part 2 / TR-069 Annex G) against a real UDP socket; the
signature is checked here with hmac, independent of acs.services.connection."""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from acs.choices import DeviceEventKind
from acs.models import Device, DeviceEvent
from acs.services import connection
from acs.tasks import connection_request
from tests.acs.cpe import Box, inform

pytestmark = pytest.mark.django_db


@pytest.fixture
def udp_listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def _device(address: str, **extra) -> Device:
    return Device.objects.create(
        oui="00D09E",
        product_class="A-STB",
        serial_number="UDP1",
        manufacturer="Alpha",
        udp_connection_request_address=address,
        connection_request_username="cr-user",
        connection_request_password="cr-pass",
        **extra,
    )


def _receive(sock) -> tuple[str, dict[str, str], str]:
    data, _ = sock.recvfrom(2048)
    head = data.decode()
    request_line, host = head.split("\r\n")[0], head.split("\r\n")[1]
    method, uri, version = request_line.split(" ")
    assert (method, version) == ("GET", "HTTP/1.1") and head.endswith("\r\n\r\n")
    query = {k: v[0] for k, v in parse_qs(urlsplit(uri).query).items()}
    return uri, query, host


def test_a_box_with_a_udp_address_gets_signed_datagrams(udp_listener):
    port = udp_listener.getsockname()[1]
    device = _device(f"127.0.0.1:{port}", connection_request_url="http://192.0.2.1:7547/cr")
    before = int(time.time())
    assert connection_request(device.pk) == f"sent over UDP to 127.0.0.1:{port}"
    copies = [_receive(udp_listener) for _ in range(connection.UDP_REPEATS)]
    uri, query, host = copies[0]
    assert uri.startswith(f"http://127.0.0.1:{port}?") and host == f"Host: 127.0.0.1:{port}"
    assert set(query) == {"ts", "id", "un", "cn", "sig"}
    assert query["un"] == "cr-user" and before <= int(query["ts"]) <= int(time.time())
    text = query["ts"] + query["id"] + query["un"] + query["cn"]
    expected = hmac.new(b"cr-pass", text.encode(), hashlib.sha1).hexdigest()
    assert hmac.compare_digest(query["sig"], expected)
    assert {c[1]["id"] for c in copies} == {query["id"]}  # repeats carry the same id
    event = DeviceEvent.objects.get(device=device, kind=DeviceEventKind.CONNECTION_REQUEST)
    assert "sent over UDP" in event.message


def test_a_wrong_password_gives_another_signature(udp_listener):
    port = udp_listener.getsockname()[1]
    message = connection.udp_message(
        f"127.0.0.1:{port}", username="u", password="p1", ts=1, message_id=2, cnonce="c"
    )
    other = connection.udp_message(
        f"127.0.0.1:{port}", username="u", password="p2", ts=1, message_id=2, cnonce="c"
    )
    assert message != other
    assert b"sig=" + hmac.new(b"p1", b"12uc", hashlib.sha1).hexdigest().encode() in message


def test_unusable_udp_address_and_missing_credentials_are_reported():
    device = _device("no-port-here")
    result = connection.send_connection_request(device)
    assert not result.ok and "not host:port" in result.outcome
    device.connection_request_username = ""
    device.save()
    result = connection.send_connection_request(device)
    assert not result.ok and "credentials" in result.outcome


def test_the_inform_records_the_udp_address(tenants, settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    extra = {"Device.ManagementServer.UDPConnectionRequestAddress": "198.51.100.7:30005"}
    box = Box()
    box.session(inform(extra=extra))
    assert Device.objects.get().udp_connection_request_address == "198.51.100.7:30005"
    box.client.cookies.clear()
    extra = {"Device.ManagementServer.UDPConnectionRequestAddress": "198.51.100.7:30006"}
    box.session(inform(events=("2 PERIODIC",), extra=extra))
    assert Device.objects.get().udp_connection_request_address == "198.51.100.7:30006"


@pytest.mark.django_db(transaction=True)
def test_the_portal_wakes_cpesim_boxes_over_udp_end_to_end(live_server, tenants, settings):
    """The whole path with real peers: cpesim boxes announce a UDP address to the portal's /cwmp
    (over HTTP, pytest-django's live server), the ACS gives them connection-request credentials
    in their first session, and the ACS's connection request (over UDP, signed with those new
    credentials) makes exactly the woken box Inform `6 CONNECTION REQUEST`."""
    from django.db import connection as db

    from cpesim.fleet import Fleet, FleetConfig, Group
    from cpesim.profiles import DeviceSpec
    from tests.cpesim.peer import FleetThread, free_udp_port

    if db.vendor == "sqlite":
        pytest.skip(
            "the live server's threads share one in-memory SQLite connection; runs on PostgreSQL "
            "(DATABASE_URL, as in CI)"
        )
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS = True
    address = f"127.0.0.1:{free_udp_port()}"
    fleet = Fleet(
        FleetConfig(
            acs_url=live_server.url + "/cwmp",
            udp_connection_request_address=address,
            periodic_interval=3600,
            http_timeout=10,
        ),
        [Group(DeviceSpec("00D09E", "A-STB", manufacturer="Alpha"), 3, 1)],
    )
    host, port = address.split(":")
    runner = FleetThread(fleet, None, udp_listen=(host, int(port)), ramp_seconds=0)
    runner.start()
    try:
        assert runner.started.wait(10)

        def provisioned() -> bool:
            return (
                Device.objects.filter(udp_connection_request_address=address)
                .exclude(connection_request_username="")
                .count()
                == 3
            )

        deadline = time.monotonic() + 60
        while not provisioned():
            assert time.monotonic() < deadline, "the boxes did not register with credentials"
            time.sleep(0.2)
        device = Device.objects.get(serial_number="00000002")
        assert device.connection_request_username != "00000002"  # the ACS's, not the template's

        result = connection.send_connection_request(device)
        assert result.ok, result.outcome

        def woken(d: Device) -> bool:
            d.refresh_from_db()
            return "6 CONNECTION REQUEST" in d.last_events

        while not woken(device):
            assert time.monotonic() < deadline + 30, "the box did not Inform after the request"
            time.sleep(0.2)
        others = Device.objects.exclude(pk=device.pk)
        assert not any("6 CONNECTION REQUEST" in d.last_events for d in others)
        assert fleet.stats.counts["udp_connection_requests"] == 1
    finally:
        runner.stop()
