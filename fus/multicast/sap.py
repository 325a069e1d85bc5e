"""SAP, the Session Announcement Protocol (RFC 2974), as the FUS sends firmware announcements.

Header (RFC 2974 section 3)::

    | V=1 |A|R|T|E|C|   auth len    |         msg id hash           |
    |                originating source (32 or 128 bits)            |
    |                    optional authentication data               |
    |                      optional payload type                    |
    |0|                         payload                             |

`A` is the address type of the origin (0 IPv4, 1 IPv6), `T` the message type (0 announcement,
1 deletion), `E` encryption (refused: "not supported"), `C` zlib compression of everything after
the authentication data. `auth len` counts 32-bit words of authentication data. The payload type is
a MIME type ended by a NUL byte ("application/sdp"); without one the payload must be SDP.

Authentication data (RFC 2974 section 7)::

    | V=1 |P| Auth  |   format specific authentication subheader ... [padding][pad count]

RFC 2974 assigns types 0 (PGP) and 1 (CMS); TS 102 824's profile (clause 6.7.2.1.2) is not public.
We sign with a plain key instead of a PGP/CMS envelope and use type 2 for it (documented in
docs/multicast.md, "SAP authentication"). Its subheader::

    | algorithm (1) | key id length (1) | key id ... | signature length (2) | signature ... |

algorithm 1 = Ed25519, 2 = ECDSA P-256 with SHA-256 (signature r||s, 64 bytes), 3 = RSA
PKCS#1 v1.5 with SHA-256; the key id is the first 8 bytes of the SHA-256 of the public key's
SubjectPublicKeyInfo (DER). As RFC 2974 asks, the signature covers the whole packet except the
authentication data: the 4 header bytes (with the final auth len), the origin, and everything after
the authentication data as sent (compressed, if C is set).
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from fus.multicast.errors import DecodeError

__all__ = [
    "DEFAULT_PORT",
    "MAX_DATAGRAM",
    "MAX_PAYLOAD",
    "SDP_PAYLOAD_TYPE",
    "AuthData",
    "AuthType",
    "MessageType",
    "SapPacket",
    "SignatureAlgorithm",
    "SignatureError",
    "decode",
    "deletion_of",
    "encode",
    "key_id",
    "message_id_hash",
    "sign",
    "verify",
]

#: The well-known SAP port (RFC 2974 section 3).
DEFAULT_PORT = 9875
SDP_PAYLOAD_TYPE = "application/sdp"
#: The largest UDP payload over IPv4.
MAX_DATAGRAM = 65507
#: Decompressed payloads larger than this are refused (RFC 2974 asks for announcements under 1 KB).
MAX_PAYLOAD = 64 * 1024
_MAX_PAYLOAD_TYPE = 255
_P = "SAP"


class MessageType(enum.IntEnum):
    ANNOUNCE = 0
    DELETE = 1


class AuthType(enum.IntEnum):
    """The authentication type of RFC 2974 section 7 (SIGNATURE is this project's profile)."""

    PGP = 0
    CMS = 1
    SIGNATURE = 2


class SignatureAlgorithm(enum.IntEnum):
    ED25519 = 1
    ECDSA_P256_SHA256 = 2
    RSA_PKCS1_SHA256 = 3


class SignatureError(DecodeError):
    """A signed announcement whose signature is missing, malformed, from an unknown key, or wrong."""

    def __init__(self, field: str, reason: str, *, value: object = None) -> None:
        super().__init__(_P, field, reason, value=value)


@dataclass(frozen=True, slots=True)
class AuthData:
    """Authentication data: its type and the format-specific subheader (padding removed)."""

    auth_type: int
    subheader: bytes


@dataclass(frozen=True, slots=True)
class SapPacket:
    """One SAP message. `payload` is always the uncompressed payload; `compressed` says whether it
    travels zlib-compressed (the C bit)."""

    origin: ipaddress.IPv4Address | ipaddress.IPv6Address
    msg_id_hash: int
    payload: bytes
    message_type: MessageType = MessageType.ANNOUNCE
    payload_type: str | None = SDP_PAYLOAD_TYPE
    auth: AuthData | None = None
    compressed: bool = False

    @property
    def is_deletion(self) -> bool:
        return self.message_type == MessageType.DELETE


def message_id_hash(payload: bytes) -> int:
    """A 16-bit hash of the payload, never 0 (RFC 2974: 0 means "no hash"); it changes when the
    announced session changes."""
    value = int.from_bytes(hashlib.sha256(payload).digest()[:2], "big")
    return value or 1


def deletion_of(announcement: SapPacket) -> SapPacket:
    """The deletion message (RFC 2974 section 6, T=1) for an announced session: the payload is
    the session's `o=` line alone (what identifies the session: user name, session id, version,
    origin address), sent from the same origin with the same msg id hash, so that a receiver can
    match it to the exact announcement it deletes. Not signed: `sign` it like the announcement."""
    if announcement.is_deletion:
        raise DecodeError(_P, "T", "already a deletion message", value=1)
    origin_line = next(
        (
            line
            for line in announcement.payload.replace(b"\r\n", b"\n").split(b"\n")
            if line.startswith(b"o=")
        ),
        None,
    )
    if origin_line is None:
        raise DecodeError(
            _P,
            "payload",
            "the announcement has no o= line to delete",
            value=announcement.payload[:40],
        )
    return SapPacket(
        origin=announcement.origin,
        msg_id_hash=announcement.msg_id_hash,
        payload=origin_line + b"\r\n",
        message_type=MessageType.DELETE,
        payload_type=SDP_PAYLOAD_TYPE,
        compressed=False,
    )


def _auth_bytes(auth: AuthData) -> bytes:
    if not 0 <= auth.auth_type <= 15:
        raise DecodeError(_P, "auth type", "must fit in 4 bits", value=auth.auth_type)
    body = bytes([0x20 | auth.auth_type]) + auth.subheader  # V=1 in the top 3 bits, P=0
    pad = (-len(body)) % 4
    if pad:
        body = bytes([body[0] | 0x10]) + body[1:] + b"\0" * (pad - 1) + bytes([pad])
    if len(body) // 4 > 255:
        raise DecodeError(_P, "auth len", "authentication data exceeds 255 words", value=len(body))
    return body


def _after_auth(packet: SapPacket) -> bytes:
    rest = b""
    if packet.payload_type is not None:
        ptype = packet.payload_type.encode("ascii")
        if b"\0" in ptype or not ptype or len(ptype) > _MAX_PAYLOAD_TYPE:
            raise DecodeError(_P, "payload type", "must be a short MIME type", value=ptype)
        rest = ptype + b"\0"
    rest += packet.payload
    return zlib.compress(rest, 9) if packet.compressed else rest


def _header(packet: SapPacket, auth_words: int) -> bytes:
    if not 0 <= packet.msg_id_hash <= 0xFFFF:
        raise DecodeError(_P, "msg id hash", "must fit in 16 bits", value=packet.msg_id_hash)
    ipv6 = isinstance(packet.origin, ipaddress.IPv6Address)
    flags = 0x20 | (0x10 if ipv6 else 0) | (0x04 if packet.message_type else 0)
    flags |= 0x01 if packet.compressed else 0
    return struct.pack("!BBH", flags, auth_words, packet.msg_id_hash) + packet.origin.packed


def encode(packet: SapPacket) -> bytes:
    """The datagram of `packet` (its `auth` included as given; see `sign` to sign it)."""
    if len(packet.payload) > MAX_PAYLOAD:
        raise DecodeError(
            _P, "payload", f"larger than {MAX_PAYLOAD} bytes", value=len(packet.payload)
        )
    auth = _auth_bytes(packet.auth) if packet.auth is not None else b""
    data = _header(packet, len(auth) // 4) + auth + _after_auth(packet)
    if len(data) > MAX_DATAGRAM:
        raise DecodeError(_P, "packet", "does not fit in one UDP datagram", value=len(data))
    return data


def decode(data: bytes) -> SapPacket:
    """Parse one SAP datagram. Raises `DecodeError` for anything RFC 2974 does not allow, for
    encrypted payloads (not supported) and for oversized or corrupt compressed payloads."""
    data = bytes(data)
    if len(data) > MAX_DATAGRAM:
        raise DecodeError(_P, "packet", "larger than a UDP datagram", value=len(data))
    if len(data) < 8:
        raise DecodeError(_P, "header", "truncated (at least 8 bytes)", value=data, offset=0)
    flags, auth_words, msg_hash = struct.unpack_from("!BBH", data)
    version = flags >> 5
    if version != 1:
        raise DecodeError(_P, "V", "must be 1", value=version, offset=0)
    if flags & 0x02:
        raise DecodeError(_P, "E", "encrypted payloads are not supported", value=1, offset=0)
    ipv6 = bool(flags & 0x10)
    end = 4 + (16 if ipv6 else 4)
    if len(data) < end:
        raise DecodeError(_P, "originating source", "truncated", value=data[4:], offset=4)
    origin = (ipaddress.IPv6Address if ipv6 else ipaddress.IPv4Address)(data[4:end])
    auth = None
    if auth_words:
        auth_end = end + 4 * auth_words
        if len(data) < auth_end:
            raise DecodeError(_P, "auth len", "longer than the packet", value=auth_words, offset=1)
        auth = _decode_auth(data[end:auth_end], end)
        end = auth_end
    rest = data[end:]
    compressed = bool(flags & 0x01)
    if compressed:
        rest = _inflate(rest, end)
    payload_type: str | None = None
    if not rest.startswith(b"v=0"):
        nul = rest.find(b"\0", 0, _MAX_PAYLOAD_TYPE + 1)
        if nul <= 0:
            raise DecodeError(
                _P,
                "payload type",
                "neither a NUL-terminated MIME type nor SDP",
                value=rest[:40],
                offset=end,
            )
        try:
            payload_type = rest[:nul].decode("ascii")
        except UnicodeDecodeError:
            raise DecodeError(
                _P, "payload type", "not ASCII", value=rest[:nul], offset=end
            ) from None
        rest = rest[nul + 1 :]
    if len(rest) > MAX_PAYLOAD:
        raise DecodeError(_P, "payload", f"larger than {MAX_PAYLOAD} bytes", value=len(rest))
    return SapPacket(
        origin=origin,
        msg_id_hash=msg_hash,
        payload=rest,
        message_type=MessageType.DELETE if flags & 0x04 else MessageType.ANNOUNCE,
        payload_type=payload_type,
        auth=auth,
        compressed=compressed,
    )


def _inflate(data: bytes, offset: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_PAYLOAD + _MAX_PAYLOAD_TYPE + 2)
    except zlib.error as exc:
        raise DecodeError(
            _P, "C", f"corrupt zlib data ({exc})", value=data[:16], offset=offset
        ) from None
    if inflater.unconsumed_tail:
        raise DecodeError(_P, "C", f"decompresses to more than {MAX_PAYLOAD} bytes", offset=offset)
    if not inflater.eof:
        raise DecodeError(_P, "C", "truncated zlib data", value=data[-16:], offset=offset)
    return out


def _decode_auth(raw: bytes, offset: int) -> AuthData:
    first = raw[0]
    if first >> 5 != 1:
        raise DecodeError(_P, "auth V", "must be 1", value=first >> 5, offset=offset)
    body = raw[1:]
    if first & 0x10:
        pad = raw[-1]
        if pad == 0 or pad > len(body):
            raise DecodeError(_P, "auth padding", "bad pad count", value=pad, offset=offset)
        body = body[:-pad]
    return AuthData(auth_type=first & 0x0F, subheader=body)


# --- signatures ------------------------------------------------------------------------------

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def key_id(public_key: PublicKey) -> bytes:
    """The 8-byte key id: SHA-256 of the SubjectPublicKeyInfo, truncated."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:8]


def _algorithm(key: PrivateKey | PublicKey) -> tuple[SignatureAlgorithm, int]:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return SignatureAlgorithm.ED25519, 64
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"ECDSA keys must be P-256, not {key.curve.name}")
        return SignatureAlgorithm.ECDSA_P256_SHA256, 64
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if not 2048 <= key.key_size <= 4096:
            raise ValueError(f"RSA keys must have 2048-4096 bits, not {key.key_size}")
        return SignatureAlgorithm.RSA_PKCS1_SHA256, key.key_size // 8
    raise TypeError(f"unsupported key type {type(key).__name__}")


def _subheader(alg: SignatureAlgorithm, kid: bytes, signature: bytes) -> bytes:
    return bytes([alg, len(kid)]) + kid + struct.pack("!H", len(signature)) + signature


def sign(packet: SapPacket, private_key: PrivateKey) -> bytes:
    """`packet` as a signed datagram (authentication type 2, see the module docstring)."""
    alg, sig_len = _algorithm(private_key)
    kid = key_id(private_key.public_key())
    placeholder = AuthData(AuthType.SIGNATURE, _subheader(alg, kid, b"\0" * sig_len))
    auth = _auth_bytes(placeholder)
    header = _header(packet, len(auth) // 4)
    rest = _after_auth(packet)
    signed = header + rest
    if alg == SignatureAlgorithm.ED25519:
        signature = private_key.sign(signed)
    elif alg == SignatureAlgorithm.ECDSA_P256_SHA256:
        r, s = decode_dss_signature(private_key.sign(signed, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = private_key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    auth = _auth_bytes(AuthData(AuthType.SIGNATURE, _subheader(alg, kid, signature)))
    data = header + auth + rest
    if len(data) > MAX_DATAGRAM:
        raise DecodeError(_P, "packet", "does not fit in one UDP datagram", value=len(data))
    return data


def verify(data: bytes, trusted_keys: Iterable[PublicKey]) -> SapPacket:
    """Decode `data` and check its signature against `trusted_keys`; raises `SignatureError` when
    the packet is unsigned, signed by a key not in `trusted_keys`, or the signature is wrong."""
    packet = decode(data)
    if packet.auth is None:
        raise SignatureError("auth len", "the announcement is not signed", value=0)
    if packet.auth.auth_type != AuthType.SIGNATURE:
        raise SignatureError(
            "auth type", "not a signature this receiver can check", value=packet.auth.auth_type
        )
    sub = packet.auth.subheader
    if len(sub) < 4:
        raise SignatureError("auth subheader", "truncated", value=sub)
    alg, kid_len = sub[0], sub[1]
    kid = sub[2 : 2 + kid_len]
    if len(sub) < 4 + kid_len:
        raise SignatureError("auth subheader", "truncated key id", value=sub)
    (sig_len,) = struct.unpack_from("!H", sub, 2 + kid_len)
    signature = sub[4 + kid_len : 4 + kid_len + sig_len]
    if len(signature) != sig_len:
        raise SignatureError("signature", "truncated", value=sig_len)
    key = next((k for k in trusted_keys if key_id(k) == kid), None)
    if key is None:
        raise SignatureError("key id", "signed by an unknown key", value=kid)
    expected, expected_len = _algorithm(key)
    if alg != expected or sig_len != expected_len:
        raise SignatureError(
            "algorithm", f"the key {kid.hex()} signs with {expected.name}", value=alg
        )
    auth_words = data[1]
    origin_len = 16 if data[0] & 0x10 else 4
    auth_end = 4 + origin_len + 4 * auth_words
    signed = bytes(data[: 4 + origin_len]) + bytes(data[auth_end:])
    try:
        if alg == SignatureAlgorithm.ED25519:
            key.verify(signature, signed)
        elif alg == SignatureAlgorithm.ECDSA_P256_SHA256:
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("signature", "does not match the packet", value=signature) from None
    return packet
