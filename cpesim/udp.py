"""UDP connection requests, the box side (TR-069 Annex G, TR-111 Part 2).

A box behind a NAT cannot take the ACS's HTTP GET; it announces a UDP address instead
(`Device.ManagementServer.UDPConnectionRequestAddress`, "host:port") and the ACS sends one datagram
there: an HTTP/1.1 GET whose query carries

    ts   seconds since the epoch when the ACS sent it
    id   the message id (the ACS repeats a datagram with the same id: UDP may drop one)
    un   the box's ConnectionRequestUsername
    cn   a random cnonce
    sig  hex HMAC-SHA1, keyed with ConnectionRequestPassword, over ts + id + un + cn

Nothing is answered on UDP. A box accepts a message only when it parses, names its own username,
carries the right signature, is not a repeat of the last id and is not older than the last one it
accepted (a replayed capture is refused); it then Informs with `6 CONNECTION REQUEST`, as after an
HTTP connection request. STUN (finding the NAT's public address) is not simulated: the fleet's one
socket is the address every box announces, and messages are told apart by `un`.

`parse` is the only reader of outside bytes here: bounded, ASCII only, every field checked, any
fault a `UdpRequestError` naming it (fuzzed in tests/cpesim/test_udp.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger("cpesim.udp")

#: Larger datagrams are refused unread (a real one is about 200 bytes).
MAX_DATAGRAM = 1500
#: The fields of a request, each required exactly once.
FIELDS = ("ts", "id", "un", "cn", "sig")
_MAX_FIELD = 256


class UdpRequestError(ValueError):
    """A datagram that is not a valid UDP connection request (the message says why)."""


@dataclass(frozen=True, slots=True)
class UdpRequest:
    ts: int
    id: str
    un: str
    cn: str
    sig: str

    def signed_with(self, password: str) -> bool:
        """Whether `sig` is this message's HMAC-SHA1 under `password` (constant time)."""
        return hmac.compare_digest(
            signature(password, self.ts, self.id, self.un, self.cn), self.sig
        )


def signature(password: str, ts: int, message_id: str, username: str, cnonce: str) -> str:
    text = f"{ts}{message_id}{username}{cnonce}"
    return hmac.new(password.encode(), text.encode(), hashlib.sha1).hexdigest()


def parse(datagram: bytes) -> UdpRequest:
    """A UDP connection request's fields, or UdpRequestError."""
    if len(datagram) > MAX_DATAGRAM:
        raise UdpRequestError(f"datagram of {len(datagram)} bytes (at most {MAX_DATAGRAM})")
    try:
        text = datagram.decode("ascii")
    except UnicodeDecodeError as exc:
        raise UdpRequestError(f"non-ASCII byte at offset {exc.start}") from None
    request_line = text.split("\r\n", 1)[0]
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise UdpRequestError(f"request line {request_line[:80]!r} is not 'GET <uri> HTTP/1.1'")
    method, uri, version = parts
    if method != "GET":
        raise UdpRequestError(f"method {method[:20]!r} (only GET)")
    if version != "HTTP/1.1":
        raise UdpRequestError(f"version {version[:20]!r} (only HTTP/1.1)")
    try:
        query = urlsplit(uri).query
        values = parse_qs(query, keep_blank_values=True, strict_parsing=True, max_num_fields=10)
    except ValueError as exc:
        raise UdpRequestError(f"unreadable query: {exc}") from None
    fields: dict[str, str] = {}
    for name in FIELDS:
        found = values.get(name, [])
        if len(found) != 1:
            raise UdpRequestError(f"field {name!r} appears {len(found)} times (exactly once)")
        if not found[0] or len(found[0]) > _MAX_FIELD:
            raise UdpRequestError(f"field {name!r} is empty or longer than {_MAX_FIELD}")
        fields[name] = found[0]
    if not fields["ts"].isdigit():
        raise UdpRequestError(f"ts {fields['ts'][:20]!r} is not seconds since the epoch")
    sig = fields["sig"].lower()
    if len(sig) != 40 or any(c not in "0123456789abcdef" for c in sig):
        raise UdpRequestError("sig is not 40 hexadecimal digits (HMAC-SHA1)")
    return UdpRequest(int(fields["ts"]), fields["id"], fields["un"], fields["cn"], sig)


class UdpListener(asyncio.DatagramProtocol):
    """Parses every datagram and hands valid requests to `on_request(request, source)`; counts the
    rest with `on_invalid(reason)`."""

    def __init__(
        self,
        on_request: Callable[[UdpRequest, tuple], None],
        on_invalid: Callable[[str], None],
    ) -> None:
        self.on_request = on_request
        self.on_invalid = on_invalid
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            request = parse(data)
        except UdpRequestError as exc:
            log.debug("UDP connection request from %s refused: %s", addr, exc)
            self.on_invalid(str(exc))
            return
        self.on_request(request, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors: nothing to do for a box
        log.debug("UDP connection request socket: %s", exc)


async def listen(
    host: str,
    port: int,
    on_request: Callable[[UdpRequest, tuple], None],
    on_invalid: Callable[[str], None],
) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: UdpListener(on_request, on_invalid), local_addr=(host, port)
    )
    return transport
