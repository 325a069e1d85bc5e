"""Connection requests (TR-069 3.2.2): the ACS asks a box to open a session now.

An HTTP GET to the box's ConnectionRequestURL, answered with digest authentication (the box's
ConnectionRequestUsername/Password, which the ACS keeps); the box answers 200 or 204 and then
Informs with ``6 CONNECTION REQUEST``. Sent from the Celery task `acs.connection_request` on the
`acs` queue, never from a web request.

A box behind a NAT reports ``ManagementServer.UDPConnectionRequestAddress`` (TR-111 Part 2,
TR-069 Annex G); the request then goes there as one UDP datagram — an HTTP GET whose query
carries ``ts`` (seconds since the epoch), ``id`` (message id), ``un`` (ConnectionRequestUsername),
``cn`` (a random cnonce) and ``sig`` = hex HMAC-SHA1 keyed with ConnectionRequestPassword over
ts + id + un + cn — repeated `UDP_REPEATS` times with the same id (UDP may drop it; the box
ignores repeats of an id). Nothing answers: the outcome is "sent", and the box's Inform
(``6 CONNECTION REQUEST``) is the proof. STUN (discovering the address) is the box's business.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.db import transaction

from acs import digest
from acs.choices import AcsAuditKind, DeviceEventKind
from acs.conf import acs_settings
from acs.models import Device
from acs.services import devices as registry
from portal.audit import record_event

log = logging.getLogger("acs.connection")


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    ok: bool
    outcome: str
    status: int | None = None


def _get(url: str, headers: dict[str, str], timeout: float):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"ConnectionRequestURL {url!r} is not an http(s) URL")
    if parts.scheme == "https":
        # Boxes present self-signed certificates; the request carries no secret (digest).
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname, parts.port or 443, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request("GET", target, headers=headers)
        response = conn.getresponse()
        response.read(65536)
        return response.status, response.headers.get_all("WWW-Authenticate") or [], target
    finally:
        conn.close()


#: Copies of a UDP connection request, and the pause between them (seconds).
UDP_REPEATS = 3
UDP_INTERVAL = 0.2


def udp_message(
    address: str, *, username: str, password: str, ts: int, message_id: int, cnonce: str
) -> bytes:
    """A TR-069 Annex G UDP Connection Request (an HTTP GET in one datagram)."""
    text = f"{ts}{message_id}{username}{cnonce}"
    sig = hmac.new(password.encode(), text.encode(), hashlib.sha1).hexdigest()
    query = urlencode({"ts": ts, "id": message_id, "un": username, "cn": cnonce, "sig": sig})
    return f"GET http://{address}?{query} HTTP/1.1\r\nHost: {address}\r\n\r\n".encode()


def _udp_target(address: str) -> tuple[str, int]:
    host, sep, port = address.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"UDPConnectionRequestAddress {address!r} is not host:port")
    return host, int(port)


def send_udp_connection_request(device: Device) -> ConnectionResult:
    """The UDP connection request (TR-111) to the box's UDPConnectionRequestAddress."""
    address = device.udp_connection_request_address
    if not device.connection_request_username:
        return ConnectionResult(False, "no connection request credentials known (UDP)")
    try:
        host, port = _udp_target(address)
        message = udp_message(
            address,
            username=device.connection_request_username,
            password=device.connection_request_password,
            ts=int(time.time()),
            message_id=secrets.randbelow(2**31),
            cnonce=secrets.token_hex(8),
        )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            for n in range(UDP_REPEATS):
                if n:
                    time.sleep(UDP_INTERVAL)
                sock.sendto(message, (host, port))
        return ConnectionResult(True, f"sent over UDP to {address}")
    except (OSError, ValueError) as exc:
        return ConnectionResult(False, f"unreachable over UDP: {exc}")


def send_connection_request(device: Device) -> ConnectionResult:
    """One connection request: over UDP (TR-111) when the box reports a UDP address, else an HTTP
    GET with digest (MD5 or SHA-256) when the box challenges."""
    if device.udp_connection_request_address:
        result = send_udp_connection_request(device)
        log.info("connection request to %s: %s", device, result.outcome)
        registry.record_device_event(
            device,
            DeviceEventKind.CONNECTION_REQUEST,
            f"Connection request: {result.outcome}",
            status=result.status,
        )
        return result
    url = device.connection_request_url
    if not url:
        return ConnectionResult(False, "no ConnectionRequestURL known")
    timeout = acs_settings().connection_request_timeout
    result = None
    try:
        status, challenges, target = _get(url, {}, timeout)
        if status == 401:
            parsed = digest.parse_challenges(challenges)
            usable = [c for c in parsed if c.get("algorithm", "MD5").upper() in ("MD5", "SHA-256")]
            if not usable:
                result = ConnectionResult(False, "the box offers no usable digest challenge", 401)
            elif not device.connection_request_username:
                result = ConnectionResult(
                    False,
                    "no connection request credentials known (the ACS gives the box some at "
                    "its next session)",
                    401,
                )
            else:
                authorization = digest.client_authorization(
                    usable[0],
                    username=device.connection_request_username,
                    password=device.connection_request_password,
                    method="GET",
                    uri=target,
                )
                status, _, _ = _get(url, {"Authorization": authorization}, timeout)
        if result is not None:
            pass  # decided above, before any answer to a challenge
        elif status in (200, 204):
            result = ConnectionResult(True, "accepted", status)
        elif status == 401:
            result = ConnectionResult(False, "the box refused the credentials", 401)
        else:
            result = ConnectionResult(False, f"the box answered HTTP {status}", status)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        result = ConnectionResult(False, f"unreachable: {exc}")
    log.info("connection request to %s (%s): %s", device, url, result.outcome)
    registry.record_device_event(
        device,
        DeviceEventKind.CONNECTION_REQUEST,
        f"Connection request: {result.outcome}",
        status=result.status,
    )
    return result


@transaction.atomic
def request_connection(device: Device, *, actor) -> None:
    """Ask the box for a session now (audited); sent by the `acs` worker after commit."""
    from acs.tasks import connection_request

    if not device.connection_request_url and not device.udp_connection_request_address:
        raise ValueError(f"{device} has not reported a ConnectionRequestURL")
    record_event(
        AcsAuditKind.CONNECTION_REQUESTED,
        obj=device,
        actor=actor,
        message=f"Connection request to {device}",
    )
    transaction.on_commit(lambda: connection_request.delay(device_id=device.pk))


@transaction.atomic
def set_connection_request_credentials(
    device: Device, *, username: str, password: str, actor
) -> Device:
    """The credentials the ACS answers the box's connection-request challenge with (as the box
    was given them, e.g. by the factory or by a SetParameterValues)."""
    device.connection_request_username = username
    device.connection_request_password = password
    device.save(
        update_fields=["connection_request_username", "connection_request_password", "updated"]
    )
    record_event(
        AcsAuditKind.CREDENTIALS_SET,
        obj=device,
        actor=actor,
        message=f"Connection request credentials set for {device} (username {username})",
    )
    return device
