"""Access control of the FUS's public endpoints: signed, time-limited download URLs and HTTP digest
authentication (RFC 7616) with per-box credentials.

Signed URLs: ``?expires=<unix time>&box=<box id>&sig=<hmac>``, the HMAC-SHA-256 (key
`FUS_DOWNLOAD_URL_SECRET`, else derived from SECRET_KEY) of the path, the expiry and the box; any web
process checks them without storage.

Digest: a box's user name is its id, ``<ManufacturerOUI>-<SerialNumber>`` (as TR-069 spells a
device), and its password is derived from the FUS secret: ``hex(HMAC-SHA-256(FUS_DIGEST_SECRET,
user name))[:32]`` — unique per box, provisioned at the factory with `box_password()`, nothing stored
here. Nonces are HMAC-signed with their issue time (`acs.digest`); the highest nonce count seen per
nonce is kept in Django's cache to refuse replays.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from acs import digest
from fus.delivery.conf import FusDeliverySettings, delivery_settings

SIG_LENGTH = 32


def box_id(oui: str, serial_number: str) -> str:
    return f"{oui.upper()}-{serial_number}"


# --- signed URLs ---------------------------------------------------------------------------------


def _signature(secret: bytes, path: str, expires: int, box: str) -> str:
    message = f"{path}\n{expires}\n{box}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:SIG_LENGTH]


def sign_path(path: str, *, box: str = "", ttl: int | None = None, now: float | None = None) -> str:
    """`path` with ``expires``, ``box`` and ``sig`` query parameters."""
    conf = delivery_settings()
    expires = int((time.time() if now is None else now) + (ttl or conf.download_url_ttl))
    params = {"expires": expires}
    if box:
        params["box"] = box
    params["sig"] = _signature(conf.url_secret, path, expires, box)
    return f"{path}?{urlencode(params)}"


class AccessDenied(Exception):
    """The request may not have the file; the text says why (it goes to the box as-is)."""


def check_signed(request: HttpRequest, *, now: float | None = None) -> str:
    """The box a valid signed URL names ("" if none); AccessDenied otherwise."""
    conf = delivery_settings()
    sig = request.GET.get("sig", "")
    expires_text = request.GET.get("expires", "")
    box = request.GET.get("box", "")
    if not sig or not expires_text:
        raise AccessDenied("This download needs a signed URL (expires and sig parameters).")
    try:
        expires = int(expires_text)
    except ValueError:
        raise AccessDenied(f"expires={expires_text[:20]!r} is not a Unix time.") from None
    expected = _signature(conf.url_secret, request.path, expires, box)
    if not hmac.compare_digest(expected, sig):
        raise AccessDenied("The URL signature does not match.")
    if expires < (time.time() if now is None else now):
        raise AccessDenied("This signed URL has expired; ask the QRC again.")
    return box


# --- digest --------------------------------------------------------------------------------------


def box_password(username: str, *, conf: FusDeliverySettings | None = None) -> str:
    """The digest password of a box (what the factory provisions)."""
    conf = conf or delivery_settings()
    return hmac.new(conf.digest_secret, username.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class DigestOutcome:
    username: str | None
    challenge: HttpResponse | None


def _challenge(conf: FusDeliverySettings, *, stale: bool, reason: str) -> HttpResponse:
    response = HttpResponse(reason, status=401, content_type="text/plain; charset=utf-8")
    nonce = digest.make_nonce(conf.digest_secret)
    # One challenge, the preferred algorithm: Django sends one value per header name, and folding
    # several challenges into one header confuses common clients. Any configured algorithm is
    # accepted in the answer.
    (value,) = digest.challenge(conf.digest_realm, nonce, conf.digest_algorithms[:1], stale=stale)
    response.headers["WWW-Authenticate"] = value
    return response


def check_digest(request: HttpRequest) -> DigestOutcome:
    """The authenticated box's user name, or the 401 challenge to send."""
    conf = delivery_settings()
    header = request.headers.get("Authorization", "")
    if not header:
        return DigestOutcome(None, _challenge(conf, stale=False, reason="Authentication required."))
    try:
        answer = digest.parse_authorization(header)
    except digest.DigestError as exc:
        return DigestOutcome(
            None, _challenge(conf, stale=False, reason=f"Bad Authorization: {exc}.")
        )
    age = digest.nonce_age(conf.digest_secret, answer.nonce)
    if answer.realm != conf.digest_realm or answer.algorithm not in conf.digest_algorithms:
        return DigestOutcome(
            None, _challenge(conf, stale=False, reason="Wrong realm or algorithm.")
        )
    if not digest.uri_matches(answer.uri, request.path, request.META.get("QUERY_STRING", "")):
        return DigestOutcome(None, _challenge(conf, stale=False, reason="Wrong digest uri."))
    ha1 = digest.ha1(
        answer.algorithm,
        answer.username,
        conf.digest_realm,
        box_password(answer.username, conf=conf),
    )
    if not digest.verify(answer, ha1, method=request.method or "GET"):
        return DigestOutcome(None, _challenge(conf, stale=False, reason="Wrong credentials."))
    if age is None or age > conf.nonce_lifetime or age < -60:
        return DigestOutcome(None, _challenge(conf, stale=True, reason="Stale nonce."))
    key = f"fus:digest-nc:{hashlib.sha256(answer.nonce.encode()).hexdigest()[:32]}"
    if answer.nc_value <= (cache.get(key) or 0):
        return DigestOutcome(None, _challenge(conf, stale=True, reason="Replayed nonce count."))
    cache.set(key, answer.nc_value, timeout=conf.nonce_lifetime + 60)
    return DigestOutcome(answer.username, None)
