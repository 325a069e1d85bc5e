"""HTTP Digest access authentication (RFC 7616), both sides, without any framework.

Server side (the `/cwmp` endpoint): `make_nonce` issues HMAC-signed nonces that carry their issue
time, so every web process checks a nonce's origin and age without storage; the caller records the
highest nonce count (nc) seen per nonce to refuse replays (`acs.services.auth`). `parse_authorization`
reads an ``Authorization: Digest ...`` header, `verify` checks the response against a stored HA1.
`challenge` writes one ``WWW-Authenticate`` value per algorithm (MD5, SHA-256), all with the same
nonce, so clients that read only the first header, or merge them, still authenticate.

Client side (connection requests to a box): `client_authorization` answers a challenge.

Only ``qop=auth`` is offered and accepted (not ``auth-int``; no ``-sess`` algorithms, no
``userhash``). Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass

ALGORITHMS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
MAX_HEADER = 4096

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*(?:,|$)')


class DigestError(ValueError):
    """An Authorization header that is not a usable Digest response (the reason is in the text)."""


def _h(algorithm: str, text: str) -> str:
    return ALGORITHMS[algorithm](text.encode("utf-8")).hexdigest()


def ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """H(username:realm:password): what the ACS stores instead of a box's password."""
    return _h(algorithm, f"{username}:{realm}:{password}")


def response_value(
    algorithm: str,
    ha1_hex: str,
    *,
    method: str,
    uri: str,
    nonce: str,
    nc: str,
    cnonce: str,
    qop: str = "auth",
) -> str:
    ha2 = _h(algorithm, f"{method}:{uri}")
    return _h(algorithm, f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


# --- nonces ---------------------------------------------------------------------------------------


def make_nonce(secret: bytes, *, now: float | None = None) -> str:
    """``<issued>.<random>.<hmac>``: any process holding `secret` can check it and its age."""
    issued = int(time.time() if now is None else now)
    rand = base64.urlsafe_b64encode(os.urandom(12)).decode().rstrip("=")
    body = f"{issued:x}.{rand}"
    mac = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{mac}"


def nonce_age(secret: bytes, nonce: str, *, now: float | None = None) -> float | None:
    """Seconds since `nonce` was issued, or None when it was not issued with `secret`."""
    parts = nonce.split(".")
    if len(parts) != 3 or len(nonce) > 128:
        return None
    body = f"{parts[0]}.{parts[1]}"
    mac = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(mac, parts[2]):
        return None
    try:
        issued = int(parts[0], 16)
    except ValueError:
        return None
    return (time.time() if now is None else now) - issued


def challenge(
    realm: str, nonce: str, algorithms: tuple[str, ...], *, stale: bool = False, opaque: str = ""
) -> list[str]:
    """One ``WWW-Authenticate`` header value per algorithm, in order of preference."""
    values = []
    for algorithm in algorithms:
        parts = [
            f'realm="{_quote(realm)}"',
            'qop="auth"',
            f"algorithm={algorithm}",
            f'nonce="{nonce}"',
        ]
        if opaque:
            parts.append(f'opaque="{_quote(opaque)}"')
        if stale:
            parts.append("stale=true")
        values.append("Digest " + ", ".join(parts))
    return values


# --- parsing and checking a response ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestResponse:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str
    qop: str
    nc: str
    cnonce: str
    opaque: str = ""

    @property
    def nc_value(self) -> int:
        return int(self.nc, 16)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_params(text: str) -> dict[str, str]:
    """``a="b", c=d`` as a dict with lower-case keys; DigestError on anything else."""
    params: dict[str, str] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _PARAM.match(text, pos)
        if match is None or match.end() == pos:
            raise DigestError(f"cannot read the parameters at {text[pos : pos + 20]!r}")
        params[match.group(1).lower()] = _unquote(match.group(2))
        pos = match.end()
    return params


def parse_authorization(header: str) -> DigestResponse:
    """An ``Authorization: Digest ...`` value; DigestError names what is missing or wrong."""
    if len(header) > MAX_HEADER:
        raise DigestError("Authorization header too long")
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        raise DigestError(f"not a Digest response (scheme {scheme!r})")
    params = parse_params(rest)
    for name in ("username", "realm", "nonce", "uri", "response", "nc", "cnonce", "qop"):
        if not params.get(name):
            raise DigestError(f"missing {name}")
    algorithm = params.get("algorithm", "MD5")
    canonical = {a.upper(): a for a in ALGORITHMS}.get(algorithm.upper())
    if canonical is None:
        raise DigestError(f"unsupported algorithm {algorithm!r}")
    if params["qop"] != "auth":
        raise DigestError(f"unsupported qop {params['qop']!r}")
    if not re.fullmatch(r"[0-9a-fA-F]{8}", params["nc"]):
        raise DigestError(f"nc {params['nc']!r} is not 8 hex digits")
    if params.get("userhash", "false").lower() == "true":
        raise DigestError("userhash is not supported")
    return DigestResponse(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"].lower(),
        algorithm=canonical,
        qop=params["qop"],
        nc=params["nc"],
        cnonce=params["cnonce"],
        opaque=params.get("opaque", ""),
    )


def verify(answer: DigestResponse, ha1_hex: str, *, method: str) -> bool:
    """Whether the box knew the password whose HA1 is `ha1_hex` (for `answer.algorithm`)."""
    expected = response_value(
        answer.algorithm,
        ha1_hex,
        method=method,
        uri=answer.uri,
        nonce=answer.nonce,
        nc=answer.nc,
        cnonce=answer.cnonce,
        qop=answer.qop,
    )
    return hmac.compare_digest(expected, answer.response)


def uri_matches(answer_uri: str, request_path: str, query: str = "") -> bool:
    """The digest-uri names the requested resource (absolute form or path, RFC 7616 3.4.6)."""
    uri = answer_uri
    if "://" in uri:
        uri = "/" + uri.split("://", 1)[1].partition("/")[2]
    target = request_path + (f"?{query}" if query else "")
    return uri in (request_path, target)


# --- client side ----------------------------------------------------------------------------------


def parse_challenges(values: list[str]) -> list[dict[str, str]]:
    """Digest challenges from ``WWW-Authenticate`` values (each value one challenge)."""
    out = []
    for value in values:
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() != "digest":
            continue
        try:
            out.append(parse_params(rest))
        except DigestError:
            continue
    return out


def client_authorization(
    chal: dict[str, str],
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The ``Authorization`` value answering one parsed challenge."""
    algorithm = {a.upper(): a for a in ALGORITHMS}.get(chal.get("algorithm", "MD5").upper())
    if algorithm is None:
        raise DigestError(f"unsupported algorithm {chal.get('algorithm')!r}")
    realm, nonce = chal.get("realm", ""), chal.get("nonce", "")
    qops = [q.strip() for q in chal.get("qop", "").split(",") if q.strip()]
    cnonce = cnonce or os.urandom(8).hex()
    nc_text = f"{nc:08x}"
    key = ha1(algorithm, username, realm, password)
    if qops and "auth" not in qops:
        raise DigestError(f"no supported qop in {qops}")
    if qops:
        resp = response_value(
            algorithm, key, method=method, uri=uri, nonce=nonce, nc=nc_text, cnonce=cnonce
        )
        extra = f', qop=auth, nc={nc_text}, cnonce="{cnonce}"'
    else:  # RFC 2069 compatibility
        resp = _h(algorithm, f"{key}:{nonce}:{_h(algorithm, f'{method}:{uri}')}")
        extra = ""
    opaque = f', opaque="{_quote(chal["opaque"])}"' if chal.get("opaque") else ""
    return (
        f'Digest username="{_quote(username)}", realm="{_quote(realm)}", nonce="{nonce}", '
        f'uri="{uri}", algorithm={algorithm}, response="{resp}"{extra}{opaque}'
    )
