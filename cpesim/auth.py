"""HTTP authentication for the simulated boxes (RFC 7617 Basic, RFC 7616 Digest, MD5 and SHA-256).

Client side (`ClientAuth`): the box answers the ACS's ``401`` challenge. With several
``WWW-Authenticate`` headers it prefers Digest SHA-256, then Digest MD5, then Basic; it keeps the
nonce for the rest of the session and counts ``nc`` up, so only the first POST of a session costs
a round trip; a ``stale=true`` challenge is answered again with the new nonce.

Server side (`DigestServer`): the connection request listener challenges the ACS with both
algorithms and checks the answer against the box's ``ConnectionRequestUsername/Password``; nonces
expire, and a nonce count that does not grow is a replay.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass, field

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


class AuthError(ValueError):
    """A challenge or Authorization header that cannot be used."""


def _h(algorithm: str, text: str) -> str:
    return ALGORITHMS[algorithm](text.encode("utf-8")).hexdigest()


def parse_params(text: str) -> dict[str, str]:
    """``a="x", b=y`` -> {"a": "x", "b": "y"} (keys lower-cased, quotes and escapes removed)."""
    params: dict[str, str] = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _PARAM.match(text, position)
        if match is None or match.end() == position:
            raise AuthError(f"cannot parse auth parameters at {text[position : position + 30]!r}")
        value = match.group(2)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[match.group(1).lower()] = value
        position = match.end()
    return params


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # "digest" or "basic"
    params: dict[str, str]

    @property
    def algorithm(self) -> str:
        return self.params.get("algorithm", "MD5").upper()


def parse_challenges(values: list[str]) -> list[Challenge]:
    out = []
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        scheme = scheme.lower()
        if scheme not in ("digest", "basic"):
            continue
        try:
            out.append(Challenge(scheme, parse_params(rest)))
        except AuthError:
            continue
    return out


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class ClientAuth:
    """Answers challenges for one session (one username/password)."""

    username: str
    password: str
    _challenge: Challenge | None = None
    _nc: int = 0
    basic: bool = False

    def accept(self, values: list[str]) -> bool:
        """Take the ``WWW-Authenticate`` headers of a 401; False when none can be answered (or
        the same credentials were already refused for a non-stale challenge)."""
        challenges = parse_challenges(values)
        digests = [c for c in challenges if c.scheme == "digest" and c.algorithm in ALGORITHMS]
        qop_ok = [c for c in digests if "qop" not in c.params or "auth" in _split(c.params["qop"])]
        qop_ok.sort(key=lambda c: 0 if c.algorithm == "SHA-256" else 1)
        retry_after_refusal = self._challenge is not None or self.basic
        if qop_ok:
            chosen = qop_ok[0]
            stale = chosen.params.get("stale", "").lower() == "true"
            if retry_after_refusal and not stale:
                return False
            self._challenge, self._nc, self.basic = chosen, 0, False
            return True
        if any(c.scheme == "basic" for c in challenges):
            if retry_after_refusal:
                return False
            self.basic = True
            return True
        return False

    def header(self, method: str, uri: str) -> str | None:
        """The Authorization value for the next request, or None before any challenge."""
        if self.basic:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"
        challenge = self._challenge
        if challenge is None:
            return None
        algorithm = challenge.algorithm
        realm = challenge.params.get("realm", "")
        nonce = challenge.params.get("nonce", "")
        ha1 = _h(algorithm, f"{self.username}:{realm}:{self.password}")
        ha2 = _h(algorithm, f"{method}:{uri}")
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(realm)}",
            f"nonce={_quote(nonce)}",
            f"uri={_quote(uri)}",
            f"algorithm={algorithm}",
        ]
        if "qop" in challenge.params:
            self._nc += 1
            nc = f"{self._nc:08x}"
            cnonce = os.urandom(8).hex()
            response = _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            parts += ["qop=auth", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        else:  # RFC 2069 compatibility
            response = _h(algorithm, f"{ha1}:{nonce}:{ha2}")
        parts.append(f"response={_quote(response)}")
        if "opaque" in challenge.params:
            parts.append(f"opaque={_quote(challenge.params['opaque'])}")
        return "Digest " + ", ".join(parts)


def _split(text: str) -> list[str]:
    return [item.strip().lower() for item in text.split(",")]


@dataclass
class DigestServer:
    """Digest authentication of connection requests (one instance serves a whole fleet)."""

    realm: str = "cpesim"
    lifetime: float = 300.0
    max_nonces: int = 100_000
    _nonces: dict[str, tuple[float, int]] = field(default_factory=dict)

    def challenge(self, *, stale: bool = False) -> list[tuple[str, str]]:
        self._expire()
        nonce = base64.urlsafe_b64encode(os.urandom(18)).decode()
        self._nonces[nonce] = (time.monotonic(), 0)
        extra = ", stale=true" if stale else ""
        return [
            (
                "WWW-Authenticate",
                f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", algorithm={algorithm}{extra}',
            )
            for algorithm in ("SHA-256", "MD5")
        ]

    def _expire(self) -> None:
        now = time.monotonic()
        if len(self._nonces) >= self.max_nonces:
            for nonce in list(self._nonces)[: self.max_nonces // 10]:
                del self._nonces[nonce]
        expired = [n for n, (t, _) in self._nonces.items() if now - t > self.lifetime]
        for nonce in expired:
            del self._nonces[nonce]

    def verify(self, header: str | None, method: str, username: str, password: str) -> str:
        """ "ok", "stale" (a good answer to an expired nonce) or "fail"."""
        if not header or not header.lower().startswith("digest "):
            return "fail"
        try:
            params = parse_params(header[7:])
        except AuthError:
            return "fail"
        algorithm = params.get("algorithm", "MD5").upper()
        if algorithm not in ALGORITHMS or params.get("qop", "").lower() != "auth":
            return "fail"
        nonce, nc_text = params.get("nonce", ""), params.get("nc", "")
        if params.get("username") != username or params.get("realm") != self.realm:
            return "fail"
        try:
            nc = int(nc_text, 16)
        except ValueError:
            return "fail"
        ha1 = _h(algorithm, f"{username}:{self.realm}:{password}")
        ha2 = _h(algorithm, f"{method}:{params.get('uri', '')}")
        expected = _h(algorithm, f"{ha1}:{nonce}:{nc_text}:{params.get('cnonce', '')}:auth:{ha2}")
        if not hmac.compare_digest(expected, params.get("response", "")):
            return "fail"
        issued = self._nonces.get(nonce)
        if issued is None or time.monotonic() - issued[0] > self.lifetime:
            return "stale"
        if nc <= issued[1]:
            return "fail"  # replayed nonce count
        self._nonces[nonce] = (issued[0], nc)
        return "ok"
