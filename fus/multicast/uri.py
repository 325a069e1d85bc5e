"""`dvb-mcast://` URIs (TS 102 034 annex G.3; TS 102 824 clause C.4; TS 102 542-4 clause 9).

    dvb-mcast://[src-host@]mcast-addr:port[?payload=sap|dvbstp|mp2t|...]
        [&service-provider=<IPv4>][&dvbstp-payload=<2 hex>][&segment=<4 hex>]
        [&<service id, 4 hex>$<carousel id, 8 hex>][#<fragment>]

IPv6 addresses are written in brackets (RFC 3986 IP-literal), for the group and for a source
address. `src-host` may also be a host name (TS 102 542-4 clause 9.1's `dvb-fus@240.0.0.51`). The
group must be a multicast address; the class E block 240.0.0.0/4 is also accepted because
TS 102 542-4's own examples (clause 9) announce on 240.0.0.x.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fus.multicast.errors import DecodeError

__all__ = ["SCHEME", "McastUri", "format_uri", "is_group", "parse_uri"]

SCHEME = "dvb-mcast"
MAX_URI = 2048
_P = "dvb-mcast URI"
_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_PAYLOAD = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,31}$")
_CAROUSEL = re.compile(r"^([0-9A-Fa-f]{4})\$([0-9A-Fa-f]{8})$")
_FRAGMENT = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_CLASS_E = ipaddress.IPv4Network("240.0.0.0/4")


def is_group(address: Address) -> bool:
    """A multicast group, or an address of the class E block of TS 102 542-4's examples."""
    return address.is_multicast or (address.version == 4 and address in _CLASS_E)


@dataclass(frozen=True, slots=True)
class McastUri:
    group: Address
    port: int
    source: str | None = None  # an IP address (text) or a host name
    payload: str | None = None
    service_provider: ipaddress.IPv4Address | None = None
    dvbstp_payload: int | None = None
    segment: int | None = None
    service_id: int | None = None
    carousel_id: int | None = None
    fragment: str | None = None

    def __str__(self) -> str:
        return format_uri(self)

    @property
    def source_address(self) -> Address | None:
        if self.source is None:
            return None
        try:
            return ipaddress.ip_address(self.source)
        except ValueError:
            return None


def _host(text: str) -> str:
    return f"[{text}]" if ":" in text else text


def format_uri(uri: McastUri) -> str:
    if not is_group(uri.group):
        raise DecodeError(_P, "mcast-addr", "not a multicast address", value=str(uri.group))
    if not 0 < uri.port <= 65535:
        raise DecodeError(_P, "port", "1-65535", value=uri.port)
    out = f"{SCHEME}://"
    if uri.source is not None:
        _check_source(uri.source)
        out += _host(uri.source) + "@"
    out += f"{_host(str(uri.group))}:{uri.port}"
    query = []
    if uri.payload is not None:
        if not _PAYLOAD.match(uri.payload):
            raise DecodeError(_P, "payload", "a short lower-case token", value=uri.payload)
        query.append(f"payload={uri.payload}")
    if uri.service_provider is not None:
        query.append(f"service-provider={uri.service_provider}")
    if uri.dvbstp_payload is not None:
        if not 0 <= uri.dvbstp_payload <= 0xFF:
            raise DecodeError(_P, "dvbstp-payload", "0x00-0xFF", value=uri.dvbstp_payload)
        query.append(f"dvbstp-payload={uri.dvbstp_payload:02X}")
    if uri.segment is not None:
        if not 0 <= uri.segment <= 0xFFFF:
            raise DecodeError(_P, "segment", "0x0000-0xFFFF", value=uri.segment)
        query.append(f"segment={uri.segment:04X}")
    if (uri.service_id is None) != (uri.carousel_id is None):
        raise DecodeError(_P, "serviceId$carouselId", "give both or neither")
    if uri.service_id is not None and uri.carousel_id is not None:
        if not 0 <= uri.service_id <= 0xFFFF or not 0 <= uri.carousel_id <= 0xFFFFFFFF:
            raise DecodeError(
                _P,
                "serviceId$carouselId",
                "16 and 32 bits",
                value=(uri.service_id, uri.carousel_id),
            )
        query.append(f"{uri.service_id:04X}${uri.carousel_id:08X}")
    if query:
        out += "?" + "&".join(query)
    if uri.fragment is not None:
        if not _FRAGMENT.match(uri.fragment):
            raise DecodeError(
                _P, "fragment", "characters RFC 3986 does not allow", value=uri.fragment
            )
        out += "#" + uri.fragment
    return out


def _check_source(text: str) -> None:
    try:
        ipaddress.ip_address(text)
        return
    except ValueError:
        pass
    if not _HOST.match(text):
        raise DecodeError(_P, "src-host", "not an IP address or host name", value=text)


def _address(text: str, what: str) -> Address:
    if text.startswith("["):
        if not text.endswith("]"):
            raise DecodeError(_P, what, "unclosed '['", value=text)
        inner = text[1:-1]
        try:
            return ipaddress.IPv6Address(inner)
        except ValueError:
            raise DecodeError(_P, what, "not an IPv6 address", value=text) from None
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise DecodeError(
            _P, what, "not an IPv4 address (IPv6 goes in brackets)", value=text
        ) from None


def _hex(value: str, digits: int, what: str) -> int:
    if len(value) != digits or not re.fullmatch(r"[0-9A-Fa-f]+", value):
        raise DecodeError(_P, what, f"{digits} hex digits", value=value)
    return int(value, 16)


def parse_uri(text: str) -> McastUri:
    """Parse a `dvb-mcast://` URI; `DecodeError` names the part that is wrong."""
    if len(text) > MAX_URI:
        raise DecodeError(_P, "uri", f"longer than {MAX_URI} characters", value=len(text))
    if not text.isascii() or any(c.isspace() or ord(c) < 0x20 for c in text):
        raise DecodeError(_P, "uri", "non-ASCII, white space or control characters", value=text)
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() != SCHEME:
        raise DecodeError(_P, "scheme", f"must be {SCHEME}://", value=text[:20])
    rest, hash_, fragment = rest.partition("#")
    authority, qmark, query = rest.partition("?")
    source = None
    if "@" in authority:
        src, _, authority = authority.rpartition("@")
        source = src[1:-1] if src.startswith("[") and src.endswith("]") else src
        if src.startswith("[") != src.endswith("]"):
            raise DecodeError(_P, "src-host", "unbalanced brackets", value=src)
        if src.startswith("[") and ":" not in source:
            raise DecodeError(_P, "src-host", "brackets are for IPv6 addresses", value=src)
        _check_source(source)
    host, colon, port_text = authority.rpartition(":")
    if not colon or not host:
        raise DecodeError(_P, "port", "mcast-addr ':' port is required", value=authority)
    group = _address(host, "mcast-addr")
    if not is_group(group):
        raise DecodeError(_P, "mcast-addr", "not a multicast address", value=host)
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise DecodeError(_P, "port", "1-65535", value=port_text)
    fields: dict = {}
    if qmark:
        for part in query.split("&"):
            if not part:
                raise DecodeError(_P, "query", "empty parameter", value=query)
            if m := _CAROUSEL.match(part):
                if "service_id" in fields:
                    raise DecodeError(_P, "serviceId$carouselId", "given twice", value=part)
                fields["service_id"], fields["carousel_id"] = int(m[1], 16), int(m[2], 16)
                continue
            key, eq, value = part.partition("=")
            if not eq:
                raise DecodeError(
                    _P, "query", "expected key=value or serviceId$carouselId", value=part
                )
            name = {
                "payload": "payload",
                "service-provider": "service_provider",
                "dvbstp-payload": "dvbstp_payload",
                "segment": "segment",
            }.get(key)
            if name is None:
                raise DecodeError(_P, key, "unknown parameter", value=part)
            if name in fields:
                raise DecodeError(_P, key, "given twice", value=part)
            if name == "payload":
                if not _PAYLOAD.match(value.lower()):
                    raise DecodeError(
                        _P, "payload", "a short token (sap, dvbstp, mp2t, ...)", value=value
                    )
                fields[name] = value.lower()
            elif name == "service_provider":
                try:
                    fields[name] = ipaddress.IPv4Address(value)
                except ValueError:
                    raise DecodeError(_P, key, "an IPv4 address", value=value) from None
            elif name == "dvbstp_payload":
                fields[name] = _hex(value.removeprefix("0x"), 2, key)
            else:
                fields[name] = _hex(value.removeprefix("0x"), 4, key)
    if hash_ and not _FRAGMENT.match(fragment):
        raise DecodeError(_P, "fragment", "characters RFC 3986 does not allow", value=fragment)
    return McastUri(
        group=group,
        port=int(port_text),
        source=source,
        fragment=fragment if hash_ else None,
        **fields,
    )
