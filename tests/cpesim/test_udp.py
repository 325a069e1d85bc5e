"""UDP connection requests (TR-069 Annex G, TR-111 Part 2) on cpesim's side: the datagrams the
ACS really sends (`acs.services.connection`) over real UDP on loopback wake the right box once;
forged, replayed and malformed datagrams wake nobody; the parser is fuzzed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acs.models import Device
from acs.services import connection
from cpesim import udp
from cpesim.fleet import Fleet, FleetConfig, Group
from cpesim.profiles import DeviceSpec
from tests.cpesim.peer import AcsPeer, free_udp_port, until

SPEC = DeviceSpec("00D09E", "NL-STB4000", manufacturer="Nordlicht")
UDP_ADDRESS = "Device.ManagementServer.UDPConnectionRequestAddress"


def acs_datagram(address: str, username: str, password: str, *, ts=None, message_id=7) -> bytes:
    return connection.udp_message(
        address,
        username=username,
        password=password,
        ts=int(time.time()) if ts is None else ts,
        message_id=message_id,
        cnonce="0a1b2c3d",
    )


# --- the parser ------------------------------------------------------------------------------------


def test_the_acs_datagram_parses_and_verifies():
    request = udp.parse(acs_datagram("192.0.2.1:7549", "box1", "s3cret", ts=1_700_000_000))
    assert (request.ts, request.id, request.un, request.cn) == (
        1_700_000_000,
        "7",
        "box1",
        "0a1b2c3d",
    )
    assert request.signed_with("s3cret")
    assert not request.signed_with("other")


@pytest.mark.parametrize(
    ("datagram", "reason"),
    [
        (b"x" * 1501, "1501 bytes"),
        (b"GET http://h?ts=1 HTTP/1.1\r\n\xff", "non-ASCII byte at offset 28"),
        (b"POST http://h?ts=1 HTTP/1.1\r\n\r\n", "method 'POST'"),
        (b"GET http://h?ts=1 HTTP/1.0\r\n\r\n", "version 'HTTP/1.0'"),
        (b"GET http://h HTTP/1.1 extra\r\n\r\n", "is not 'GET <uri> HTTP/1.1'"),
        (b"GET http://h?ts=1&id=2&un=u&cn=c HTTP/1.1\r\n\r\n", "field 'sig' appears 0 times"),
        (b"GET http://h?ts=1&ts=2&id=2&un=u&cn=c&sig=0 HTTP/1.1\r\n\r\n", "field 'ts' appears 2"),
        (b"GET http://h?ts=x&id=2&un=u&cn=c&sig=0 HTTP/1.1\r\n\r\n", "ts 'x' is not seconds"),
        (b"GET http://h?ts=1&id=&un=u&cn=c&sig=0 HTTP/1.1\r\n\r\n", "field 'id' is empty"),
        (b"GET http://h?ts=1&id=2&un=u&cn=c&sig=zz HTTP/1.1\r\n\r\n", "sig is not 40"),
        (b"GET http://h?ts=1&&&id HTTP/1.1\r\n\r\n", "unreadable query"),
    ],
)
def test_malformed_datagrams_are_refused_with_the_reason(datagram, reason):
    with pytest.raises(udp.UdpRequestError, match=reason.replace("?", r"\?")):
        udp.parse(datagram)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_anything_else(data):
    try:
        request = udp.parse(data)
    except udp.UdpRequestError:
        return
    assert isinstance(request.ts, int) and len(request.sig) == 40


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.characters(codec="ascii", exclude_characters="\r\n"), max_size=200),
    st.sampled_from(["ts", "id", "un", "cn", "sig", "&", "=", "?", "%", " "]),
)
def test_mangled_acs_datagrams_never_raise_anything_else(junk, token):
    good = acs_datagram("192.0.2.1:7549", "box1", "s3cret").decode()
    mangled = good.replace(token, junk, 1).encode()
    with contextlib.suppress(udp.UdpRequestError):
        udp.parse(mangled)


# --- a fleet woken over real UDP by the ACS's own sender -----------------------------------------


def test_the_acs_wakes_one_box_over_udp_and_forgeries_wake_nobody():
    port = free_udp_port()
    address = f"127.0.0.1:{port}"
    with AcsPeer(auth="none") as peer:
        fleet = Fleet(
            FleetConfig(
                acs_url=peer.url,
                udp_connection_request_address=address,
                reboot_seconds=0.05,
                time_scale=0.01,
                http_timeout=5,
                session_concurrency=4,
            ),
            [Group(SPEC, 3, 1)],
        )
        device = Device(
            udp_connection_request_address=address,
            connection_request_username="00000002",
            connection_request_password="cr-00000002",
        )

        def sessions(serial):
            return len(peer.records[serial].informs)

        async def send_raw(datagram: bytes):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(datagram, ("127.0.0.1", port))
            await asyncio.sleep(0.2)

        async def main():
            await fleet.start(udp_listen=("127.0.0.1", port))
            try:
                await until(
                    lambda: all(peer.records[f"{n:08d}"].sessions_closed for n in (1, 2, 3))
                )
                first = peer.records["00000002"].informs[0]
                assert {p.name: p.value.text for p in first.parameters}[UDP_ADDRESS] == address

                # The ACS's real sender: three copies of one signed datagram, one session.
                result = await asyncio.to_thread(connection.send_udp_connection_request, device)
                assert result.ok, result.outcome
                await until(lambda: sessions("00000002") == 2)
                woken = peer.records["00000002"].informs[1]
                assert [e.event_code for e in woken.events] == ["6 CONNECTION REQUEST"]
                await asyncio.sleep(0.3)
                assert fleet.stats.counts["udp_connection_requests"] == 1
                assert fleet.stats.counts["udp_connection_requests_repeated"] == 2

                # Wrong password, another box's username, a replay of an older message, garbage.
                await send_raw(acs_datagram(address, "00000002", "wrong", message_id=8))
                await send_raw(acs_datagram(address, "nobody", "cr-00000002", message_id=9))
                await send_raw(
                    acs_datagram(address, "00000002", "cr-00000002", ts=1, message_id=10)
                )
                await send_raw(b"\x00\x01 not a request")
                assert fleet.stats.counts["udp_connection_requests_refused"] == 3
                assert fleet.stats.counts["udp_connection_requests_invalid"] == 1
                assert [sessions(f"{n:08d}") for n in (1, 2, 3)] == [1, 2, 1]

                # A later, correctly signed request wakes the box again.
                await send_raw(acs_datagram(address, "00000002", "cr-00000002", message_id=11))
                await until(lambda: sessions("00000002") == 3)
                assert [sessions(f"{n:08d}") for n in (1, 3)] == [1, 1]
            finally:
                await fleet.stop()

        asyncio.run(main())
