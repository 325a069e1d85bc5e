"""Who is POSTing to /cwmp: HTTP digest (RFC 7616), basic over TLS only, or none (labs).

Every refusal looks the same whatever the reason (unknown username, wrong password, unknown device,
refused by policy): 401 with a fresh challenge, so nobody learns whether a device exists. The
reason goes to the log only. Nonces are HMAC-signed with the portal's SECRET_KEY and carry their
issue time, so every process checks them without storage; the highest nonce count accepted per
nonce is kept in `CwmpNonce` (shared by all processes), so a replayed request is refused.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from acs import digest
from acs.conf import acs_settings
from acs.models import CwmpNonce, Device
from acs.services import store

log = logging.getLogger("acs.auth")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a device's own credentials, the bootstrap credentials, or nobody
    (CWMP_AUTH=none). Which device it may speak for is checked against the Inform's DeviceId."""

    kind: str  # "device" | "bootstrap" | "anonymous" | "session"
    device_id: int | None = None
    username: str = ""
    #: A digest answer's (nonce, nc), recorded by `record_nonce` in the transaction of the
    #: request it authenticates (an Inform's commit carries it: no commit of its own).
    nonce: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True)
class AuthRequest:
    authorization: str
    method: str
    path: str
    query: str
    secure: bool
    remote_addr: str | None


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    reason: str = ""
    extra: dict = field(default_factory=dict)


def _secret() -> bytes:
    return hashlib.sha256(b"acs-digest-nonce:" + settings.SECRET_KEY.encode()).digest()


def challenge(*, stale: bool = False) -> Refusal:
    """The 401 every refused request gets (digest or basic, by CWMP_AUTH)."""
    conf = acs_settings()
    if conf.auth == "basic":
        headers = (("WWW-Authenticate", f'Basic realm="{conf.realm}", charset="UTF-8"'),)
    else:
        nonce = digest.make_nonce(_secret())
        values = digest.challenge(conf.realm, nonce, conf.digest_algorithms, stale=stale)
        headers = tuple(("WWW-Authenticate", value) for value in values)
    return Refusal(401, headers, b"Authentication required.\n")


def _refuse(reason: str, remote_addr: str | None, *, stale: bool = False) -> Refusal:
    log.info("CWMP authentication refused from %s: %s", remote_addr or "?", reason)
    refusal = challenge(stale=stale)
    return Refusal(refusal.status, refusal.headers, refusal.body, reason)


_warned_none = False


def authenticate(request: AuthRequest) -> Principal | Refusal:
    """The principal of a request that carries no session cookie, or the refusal to send."""
    global _warned_none
    conf = acs_settings()
    if conf.auth == "none":
        if not _warned_none:
            log.warning(
                "CWMP_AUTH=none: the ACS accepts every box WITHOUT authentication. "
                "Labs only: never expose this portal to a real network."
            )
            _warned_none = True
        return Principal("anonymous")
    if conf.auth == "basic":
        return _basic(request, conf)
    return _digest(request, conf)


def _lookup_ha1(username: str, algorithm: str, realm: str) -> tuple[str, Principal] | None:
    """The stored HA1 for a username: a device's own, one being provisioned, or the bootstrap
    credentials'."""
    column = "cwmp_ha1_md5" if algorithm == "MD5" else "cwmp_ha1_sha256"
    row = store.device_credentials(username, algorithm)
    if row is not None and row[1] and row[2] == realm:
        return row[1], Principal("device", row[0], username)
    pending = (
        Device.objects.filter(pending_username=username)
        .exclude(pending_username="")
        .values_list("pk", "pending_credentials")
        .first()
    )
    if pending is not None and pending[1].get("cwmp_realm") == realm:
        return pending[1].get(column, ""), Principal("device", pending[0], username)
    conf = acs_settings()
    if conf.bootstrap_username and conf.bootstrap_password and username == conf.bootstrap_username:
        return (
            digest.ha1(algorithm, username, realm, conf.bootstrap_password),
            Principal("bootstrap", None, username),
        )
    return None


def _digest(request: AuthRequest, conf) -> Principal | Refusal:
    if not request.authorization:
        return Refusal(*_plain_challenge())
    try:
        answer = digest.parse_authorization(request.authorization)
    except digest.DigestError as exc:
        return _refuse(f"unreadable Authorization header: {exc}", request.remote_addr)
    if answer.algorithm not in conf.digest_algorithms:
        return _refuse(f"algorithm {answer.algorithm} is not offered", request.remote_addr)
    age = digest.nonce_age(_secret(), answer.nonce)
    if age is None:
        return _refuse("nonce not issued by this ACS", request.remote_addr)
    if age > conf.nonce_lifetime or age < -60:
        return _refuse(f"nonce expired ({int(age)} s old)", request.remote_addr, stale=True)
    if answer.realm != conf.realm:
        return _refuse(f"realm {answer.realm!r} is not {conf.realm!r}", request.remote_addr)
    if not digest.uri_matches(answer.uri, request.path, request.query):
        return _refuse(
            f"digest uri {answer.uri!r} does not name {request.path}", request.remote_addr
        )
    found = _lookup_ha1(answer.username, answer.algorithm, conf.realm)
    # Unknown user names cost the same hashing as known ones (no timing oracle).
    ha1 = found[0] if found else hashlib.sha256(os.urandom(16)).hexdigest()
    ok = digest.verify(answer, ha1, method=request.method)
    if not ok or found is None:
        return _refuse(f"wrong credentials for username {answer.username!r}", request.remote_addr)
    return dataclasses.replace(found[1], nonce=(answer.nonce, answer.nc_value))


def record_nonce(principal: Principal, remote_addr: str | None) -> Refusal | None:
    """Record a digest answer's nonce count, or the refusal of a replay (`stale=true`: a box
    answers with a fresh nonce). Called in the transaction of what the request changes, first,
    so a replay changes nothing and an accepted request needs no commit of its own."""
    if principal.nonce is None:
        return None
    nonce, nc = principal.nonce
    if _accept_nonce_count(nonce, nc):
        return None
    return _refuse(
        f"replayed request: nonce count {nc:08x} already used with this nonce",
        remote_addr,
        stale=True,
    )


def _plain_challenge() -> tuple[int, tuple[tuple[str, str], ...], bytes, str]:
    refusal = challenge()
    return refusal.status, refusal.headers, refusal.body, "no credentials"


def _accept_nonce_count(nonce: str, nc: int) -> bool:
    """Record `nc` for `nonce` if it is higher than any accepted before (one atomic upsert, any
    process)."""
    return store.accept_nonce_count(nonce, nc, timezone.now())


def purge_nonces() -> int:
    """Forget nonce counts of nonces too old to be accepted anyway."""
    cutoff = timezone.now() - timedelta(seconds=acs_settings().nonce_lifetime + 120)
    return CwmpNonce.objects.filter(created__lt=cutoff).delete()[0]


def _basic(request: AuthRequest, conf) -> Principal | Refusal:
    if not request.secure:
        log.error(
            "CWMP_AUTH=basic refuses a request over plain HTTP from %s: basic authentication "
            "sends the password in clear, so it is accepted over TLS only (set PORTAL_TLS_CERT/"
            "PORTAL_TLS_KEY, or use CWMP_AUTH=digest)",
            request.remote_addr or "?",
        )
        return Refusal(
            403,
            (),
            b"Basic authentication is accepted over HTTPS only.\n",
            "basic over plain HTTP",
        )
    scheme, _, value = request.authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return Refusal(*_plain_challenge())
    try:
        username, _, password = (
            base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return _refuse("unreadable basic credentials", request.remote_addr)
    found = _lookup_ha1(username, "SHA-256", conf.realm)
    expected = found[0] if found else ""
    given = digest.ha1("SHA-256", username, conf.realm, password)
    if found is None or not expected or not hmac.compare_digest(expected, given):
        return _refuse(f"wrong credentials for username {username!r}", request.remote_addr)
    return found[1]
