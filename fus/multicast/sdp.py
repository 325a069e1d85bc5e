"""SDP (RFC 4566) sessions, and the DVB RMS-FUS firmware announcement carried in them.

`parse`/`write` handle any SDP session (the fields of RFC 4566 section 5, media sections with
their own i/c/b/k/a lines). `Announcement`/`announcement_from_sdp`/`announcement_to_sdp` are the
DVB profile: TS 102 542-4 clause 9.1's example (`s=dvb-update`, `a=x-dvb-rms-ce-manufacturer`,
`m=application 49153 FLUTE/UDP *`, `a=flute-tsi`, `a=source-filter`) with one media section per
target population (TS 102 542-4 clause 12.1.1: "media descriptions present an announcement message
for a target population of CPEs").

TS 102 824's exact `a=x-dvb-rms-*` attribute set is not public. Ours, per media section (also listed
in docs/multicast.md; names follow the metadata elements of clause 7)::

    m=application <port> FLUTE/UDP *            (FLUTE; or MP2T/UDP for a DSM-CC carousel)
    c=IN IP4 <group>[/<ttl>]                    (IP6 for IPv6)
    a=source-filter: incl IN IP4 * <source>     (optional, SSM; TS 102 034 G.2.5.2)
    a=flute-tsi:<tsi>                           (FLUTE)
    a=x-dvb-rms-dsmcc:<pid> <service id hex>$<carousel id hex>   (DSM-CC)
    a=x-dvb-rms-target:<DeviceClass|DeviceClassHardwareVersion|DeviceClassSoftware|DeviceGroup>
    a=x-dvb-rms-ce-manufacturer:<OUI>
    a=x-dvb-rms-product-class:<ProductClass>
    a=x-dvb-rms-hardware-version:<HardwareVersion>      (0..n)
    a=x-dvb-rms-from-software-version:<SoftwareVersion> (0..n: the versions it updates)
    a=x-dvb-rms-range:<SerialNumber|MACAddress> <inclusive|exclusive> <lower> <upper>   (0..n)
    a=x-dvb-rms-item:<SerialNumber|MACAddress> <inclusive|exclusive> <id> [<id> ...]     (0..n)
    a=x-dvb-rms-software-version:<the new SoftwareVersion>
    a=x-dvb-rms-package:<PackageSize> <PackageName>
    a=x-dvb-rms-file:<FileSize> <FileName>               (1..n, in carousel order)
    a=x-dvb-rms-update:<UpdateFlag> <UpdateMethod> <UpdatePriority>   (optional)

At session level: `a=x-dvb-rms-ce-manufacturer:` with every OUI announced (clause 9.1's example),
and `t=` the ValidityTimeRange in NTP seconds (0 0 = unbounded). Tokens that may contain spaces
(names) come last on their line; `%`, CR, LF and space-less tokens are percent-encoded where needed.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from fus.metadata import model as m
from fus.multicast.errors import DecodeError
from fus.multicast.uri import is_group

__all__ = [
    "MAX_SDP",
    "Announcement",
    "Connection",
    "Delivery",
    "Media",
    "Origin",
    "Population",
    "Session",
    "announcement_from_sdp",
    "announcement_to_sdp",
    "from_ntp",
    "parse",
    "parse_announcement",
    "to_ntp",
    "write",
    "write_announcement",
]

MAX_SDP = 64 * 1024
_P = "SDP"
_NTP_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_SESSION_ORDER = "vosiuepcbtrzkam"
_MEDIA_ORDER = "icbka"


# --- generic SDP -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    username: str
    session_id: int
    session_version: int
    address: str
    nettype: str = "IN"
    addrtype: str = "IP4"


@dataclass(frozen=True, slots=True)
class Connection:
    address: str  # with /ttl[/count] when given
    nettype: str = "IN"
    addrtype: str = "IP4"


@dataclass(frozen=True, slots=True)
class Media:
    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    number_of_ports: int | None = None
    title: str | None = None
    connections: tuple[Connection, ...] = ()
    bandwidths: tuple[tuple[str, int], ...] = ()
    key: str | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()

    def values(self, name: str) -> list[str]:
        return [v or "" for n, v in self.attributes if n == name]


@dataclass(frozen=True, slots=True)
class Session:
    origin: Origin
    name: str
    info: str | None = None
    uri: str | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    connection: Connection | None = None
    bandwidths: tuple[tuple[str, int], ...] = ()
    times: tuple[tuple[int, int], ...] = ((0, 0),)
    repeats: tuple[str, ...] = ()
    zone: str | None = None
    key: str | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()
    media: tuple[Media, ...] = ()

    def values(self, name: str) -> list[str]:
        return [v or "" for n, v in self.attributes if n == name]


def _int(value: str, what: str, line: int, *, lo: int = 0, hi: int = 2**64 - 1) -> int:
    if not value.isascii() or not value.isdigit():
        raise DecodeError(_P, what, f"line {line}: not a decimal number", value=value)
    number = int(value)
    if not lo <= number <= hi:
        raise DecodeError(_P, what, f"line {line}: out of range {lo}..{hi}", value=value)
    return number


def _attribute(value: str) -> tuple[str, str | None]:
    name, sep, rest = value.partition(":")
    return name.strip(), (rest.strip() if sep else None)


def _connection(value: str, line: int) -> Connection:
    parts = value.split()
    if len(parts) != 3:
        raise DecodeError(
            _P, "c", f"line {line}: expected '<nettype> <addrtype> <address>'", value=value
        )
    return Connection(nettype=parts[0], addrtype=parts[1], address=parts[2])


def _bandwidth(value: str, line: int) -> tuple[str, int]:
    kind, sep, number = value.partition(":")
    if not sep or not kind:
        raise DecodeError(_P, "b", f"line {line}: expected '<bwtype>:<bandwidth>'", value=value)
    return kind, _int(number, "b", line)


def parse(data: bytes | str) -> Session:
    """Parse an SDP session description (CRLF or LF line ends). Raises `DecodeError` naming the
    line and field for anything RFC 4566 does not allow."""
    if isinstance(data, bytes | bytearray):
        if len(data) > MAX_SDP:
            raise DecodeError(_P, "session", f"larger than {MAX_SDP} bytes", value=len(data))
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(_P, "session", f"not UTF-8 at byte {exc.start}") from None
    else:
        text = data
        if len(text) > MAX_SDP:
            raise DecodeError(_P, "session", f"larger than {MAX_SDP} characters", value=len(text))
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    session: dict = {
        "emails": [],
        "phones": [],
        "bandwidths": [],
        "times": [],
        "repeats": [],
        "attributes": [],
    }
    media: list[dict] = []
    seen_v = False
    for number, line in enumerate(lines, 1):
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise DecodeError(_P, "line", f"line {number}: not '<type>=<value>'", value=line)
        kind, value = line[0], line[2:]
        if "\0" in value:
            raise DecodeError(_P, kind, f"line {number}: contains a NUL byte", value=value)
        if number == 1:
            if kind != "v" or value.strip() != "0":
                raise DecodeError(_P, "v", "line 1: a session starts with v=0", value=line)
            seen_v = True
            continue
        if kind == "m":
            parts = value.split()
            if len(parts) < 4:
                raise DecodeError(
                    _P,
                    "m",
                    f"line {number}: expected '<media> <port> <proto> <fmt> ...'",
                    value=value,
                )
            port, _, count = parts[1].partition("/")
            media.append(
                {
                    "media": parts[0],
                    "port": _int(port, "m port", number, hi=65535),
                    "number_of_ports": _int(count, "m port count", number, lo=1) if count else None,
                    "proto": parts[2],
                    "formats": tuple(parts[3:]),
                    "connections": [],
                    "bandwidths": [],
                    "attributes": [],
                }
            )
            continue
        if media:
            target = media[-1]
            if kind == "i":
                target["title"] = value
            elif kind == "c":
                target["connections"].append(_connection(value, number))
            elif kind == "b":
                target["bandwidths"].append(_bandwidth(value, number))
            elif kind == "k":
                target["key"] = value
            elif kind == "a":
                target["attributes"].append(_attribute(value))
            else:
                raise DecodeError(
                    _P, kind, f"line {number}: not allowed in a media section", value=line
                )
            continue
        if kind == "v":
            raise DecodeError(_P, "v", f"line {number}: a second v= line", value=line)
        if kind == "o":
            parts = value.split()
            if len(parts) != 6:
                raise DecodeError(
                    _P,
                    "o",
                    f"line {number}: expected 6 fields "
                    "'<username> <sess-id> <sess-version> <nettype> <addrtype> <address>'",
                    value=value,
                )
            session["origin"] = Origin(
                username=parts[0],
                session_id=_int(parts[1], "o sess-id", number),
                session_version=_int(parts[2], "o sess-version", number),
                nettype=parts[3],
                addrtype=parts[4],
                address=parts[5],
            )
        elif kind == "s":
            session["name"] = value
        elif kind in "iuzk":
            session[{"i": "info", "u": "uri", "z": "zone", "k": "key"}[kind]] = value
        elif kind == "e":
            session["emails"].append(value)
        elif kind == "p":
            session["phones"].append(value)
        elif kind == "c":
            session["connection"] = _connection(value, number)
        elif kind == "b":
            session["bandwidths"].append(_bandwidth(value, number))
        elif kind == "t":
            parts = value.split()
            if len(parts) != 2:
                raise DecodeError(_P, "t", f"line {number}: expected '<start> <stop>'", value=value)
            session["times"].append(
                (_int(parts[0], "t start", number), _int(parts[1], "t stop", number))
            )
        elif kind == "r":
            session["repeats"].append(value)
        elif kind == "a":
            session["attributes"].append(_attribute(value))
        else:
            raise DecodeError(_P, kind, f"line {number}: unknown line type", value=line)
    if not seen_v:
        raise DecodeError(_P, "v", "empty session description")
    for required in ("origin", "name"):
        if required not in session:
            raise DecodeError(_P, "o" if required == "origin" else "s", "missing")
    if not session["times"]:
        session["times"] = [(0, 0)]
    return Session(
        **{k: tuple(v) if isinstance(v, list) else v for k, v in session.items()},
        media=tuple(
            Media(**{k: tuple(v) if isinstance(v, list) else v for k, v in med.items()})
            for med in media
        ),
    )


def _check(value: str, what: str) -> str:
    if "\r" in value or "\n" in value or "\0" in value:
        raise DecodeError(_P, what, "must not contain CR, LF or NUL", value=value)
    return value


def _attr_line(name: str, value: str | None) -> str:
    _check(name, "a")
    return f"a={name}" if value is None else f"a={name}:{_check(value, 'a=' + name)}"


def write(session: Session) -> bytes:
    """The session as SDP text with CRLF line ends."""
    o = session.origin
    out = [
        "v=0",
        f"o={_check(o.username, 'o')} {o.session_id} {o.session_version} {o.nettype} {o.addrtype} {o.address}",
        f"s={_check(session.name, 's') or ' '}",
    ]
    out += [f"i={_check(session.info, 'i')}"] if session.info is not None else []
    out += [f"u={_check(session.uri, 'u')}"] if session.uri is not None else []
    out += [f"e={_check(e, 'e')}" for e in session.emails]
    out += [f"p={_check(p, 'p')}" for p in session.phones]
    if session.connection is not None:
        c = session.connection
        out.append(f"c={c.nettype} {c.addrtype} {c.address}")
    out += [f"b={k}:{v}" for k, v in session.bandwidths]
    out += [f"t={start} {stop}" for start, stop in session.times or ((0, 0),)]
    out += [f"r={_check(r, 'r')}" for r in session.repeats]
    out += [f"z={_check(session.zone, 'z')}"] if session.zone is not None else []
    out += [f"k={_check(session.key, 'k')}"] if session.key is not None else []
    out += [_attr_line(n, v) for n, v in session.attributes]
    for med in session.media:
        port = f"{med.port}/{med.number_of_ports}" if med.number_of_ports else str(med.port)
        out.append(f"m={med.media} {port} {med.proto} {' '.join(med.formats)}")
        out += [f"i={_check(med.title, 'i')}"] if med.title is not None else []
        out += [f"c={c.nettype} {c.addrtype} {c.address}" for c in med.connections]
        out += [f"b={k}:{v}" for k, v in med.bandwidths]
        out += [f"k={_check(med.key, 'k')}"] if med.key is not None else []
        out += [_attr_line(n, v) for n, v in med.attributes]
    text = "\r\n".join(out) + "\r\n"
    data = text.encode("utf-8")
    if len(data) > MAX_SDP:
        raise DecodeError(_P, "session", f"larger than {MAX_SDP} bytes", value=len(data))
    return data


# --- NTP time ----------------------------------------------------------------------------------


def to_ntp(when: datetime | None) -> int:
    """SDP time (NTP seconds); None is 0 (unbounded)."""
    if when is None:
        return 0
    if when.tzinfo is None:
        raise ValueError("naive datetime: give an aware one")
    return int(when.timestamp()) + _NTP_OFFSET


def from_ntp(seconds: int) -> datetime | None:
    if seconds == 0:
        return None
    return datetime(1900, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


# --- the DVB RMS-FUS announcement profile ------------------------------------------------------

FLUTE_PROTO = "FLUTE/UDP"
DSMCC_PROTO = "MP2T/UDP"
_TARGET_KINDS = {
    m.DeviceClass: "DeviceClass",
    m.DeviceClassHardwareVersion: "DeviceClassHardwareVersion",
    m.DeviceClassSoftware: "DeviceClassSoftware",
    m.DeviceGroup: "DeviceGroup",
}
_OUI = re.compile(r"^[0-9A-F]{6}$")
_TOKEN = re.compile(r"^\S+$")


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where the files are carried: a FLUTE session (tsi) or a DSM-CC carousel (pid, ids)."""

    protocol: str  # FLUTE_PROTO or DSMCC_PROTO
    group: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int
    source: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    ttl: int | None = None
    tsi: int | None = None
    pid: int | None = None
    service_id: int | None = None
    carousel_id: int | None = None
    bandwidth_bps: int | None = None  # b=TIAS


@dataclass(frozen=True, slots=True)
class Population:
    """One media section: one target population, the update announced for it and its delivery."""

    target: m.Target
    software_version: str
    package_name: str
    package_size: int
    files: tuple[tuple[str, int], ...]  # (FileName, FileSize) in carousel order
    delivery: Delivery
    update: m.UpdateDescriptor | None = None


@dataclass(frozen=True, slots=True)
class Announcement:
    """A firmware announcement (one SDP session): the FUS's origin and one media section per
    target population. `valid_from`/`valid_until` are the ValidityTimeRange (None = unbounded)."""

    fus_name: str
    session_id: int
    session_version: int
    origin_address: ipaddress.IPv4Address | ipaddress.IPv6Address
    populations: tuple[Population, ...]
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    name: str = "dvb-update"
    info: str | None = None
    extra: tuple[tuple[str, str | None], ...] = field(default=())

    @property
    def manufacturer_ouis(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for pop in self.populations:
            seen.setdefault(_class_info(pop.target)[0], None)
        return tuple(seen)


def _class_info(
    target: m.Target,
) -> tuple[str, str, tuple[str, ...], tuple[str, ...], m.RangeList | None]:
    if isinstance(target, m.DeviceGroup):
        info = target.device_class_info
        return (
            info.manufacturer_oui,
            info.product_class,
            info.hardware_versions,
            info.software_versions,
            target.range_list,
        )
    hw = getattr(target, "hardware_versions", ())
    sw = getattr(target, "software_versions", ())
    return target.manufacturer_oui, target.product_class, hw, sw, None


def _enc(text: str) -> str:
    """Percent-encode what would break a space-separated SDP token."""
    return quote(text, safe="!$&'()*+,;=:@/.-_~[]")


def _addrtype(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return "IP6" if address.version == 6 else "IP4"


def _media_of(pop: Population) -> Media:
    d = pop.delivery
    oui, product_class, hw, sw, range_list = _class_info(pop.target)
    if not _OUI.match(oui):
        raise DecodeError(_P, "x-dvb-rms-ce-manufacturer", "six upper-case hex digits", value=oui)
    attrs: list[tuple[str, str | None]] = []
    if d.source is not None:
        attrs.append(("source-filter", f" incl IN {_addrtype(d.source)} * {d.source}"))
    if d.protocol == FLUTE_PROTO:
        if d.tsi is None:
            raise DecodeError(_P, "flute-tsi", "a FLUTE delivery needs a TSI")
        attrs.append(("flute-tsi", str(d.tsi)))
    elif d.protocol == DSMCC_PROTO:
        if d.pid is None:
            raise DecodeError(_P, "x-dvb-rms-dsmcc", "a DSM-CC delivery needs a PID")
        ids = f" {d.service_id or 0:04X}${d.carousel_id or 0:08X}"
        attrs.append(("x-dvb-rms-dsmcc", f"{d.pid}{ids}"))
    else:
        raise DecodeError(_P, "m proto", "FLUTE/UDP or MP2T/UDP", value=d.protocol)
    attrs += [
        ("x-dvb-rms-target", _TARGET_KINDS[type(pop.target)]),
        ("x-dvb-rms-ce-manufacturer", oui),
        ("x-dvb-rms-product-class", _enc(product_class)),
    ]
    attrs += [("x-dvb-rms-hardware-version", _enc(v)) for v in hw]
    attrs += [("x-dvb-rms-from-software-version", _enc(v)) for v in sw]
    for entry in range_list.entries if range_list else ():
        head = f"{entry.identifier_type.value} {entry.availability.value}"
        if isinstance(entry, m.Range):
            attrs.append(
                ("x-dvb-rms-range", f"{head} {_enc(entry.lower_bound)} {_enc(entry.upper_bound)}")
            )
        else:
            if not entry.item_ids:
                raise DecodeError(_P, "x-dvb-rms-item", "an Item needs at least one ItemID")
            attrs.append(("x-dvb-rms-item", f"{head} {' '.join(_enc(i) for i in entry.item_ids)}"))
    attrs.append(("x-dvb-rms-software-version", _enc(pop.software_version)))
    attrs.append(("x-dvb-rms-package", f"{pop.package_size} {_enc(pop.package_name)}"))
    attrs += [("x-dvb-rms-file", f"{size} {_enc(name)}") for name, size in pop.files]
    if pop.update is not None:
        u = pop.update
        attrs.append(
            (
                "x-dvb-rms-update",
                f"{u.update_flag.value} {u.update_method.value} {u.update_priority}",
            )
        )
    ttl = f"/{d.ttl}" if d.ttl is not None and d.group.version == 4 else ""
    return Media(
        media="application",
        port=d.port,
        proto=d.protocol,
        formats=("*",),
        connections=(Connection(f"{d.group}{ttl}", addrtype=_addrtype(d.group)),),
        bandwidths=(("TIAS", d.bandwidth_bps),) if d.bandwidth_bps else (),
        attributes=tuple(attrs),
    )


def announcement_to_sdp(ann: Announcement) -> Session:
    if not ann.populations:
        raise DecodeError(_P, "m", "an announcement has at least one target population")
    return Session(
        origin=Origin(
            username=_enc(ann.fus_name) or "-",
            session_id=ann.session_id,
            session_version=ann.session_version,
            addrtype=_addrtype(ann.origin_address),
            address=str(ann.origin_address),
        ),
        name=ann.name,
        info=ann.info,
        times=((to_ntp(ann.valid_from), to_ntp(ann.valid_until)),),
        attributes=(("x-dvb-rms-ce-manufacturer", " ".join(ann.manufacturer_ouis)), *ann.extra),
        media=tuple(_media_of(p) for p in ann.populations),
    )


def write_announcement(ann: Announcement) -> bytes:
    return write(announcement_to_sdp(ann))


def _ip(text: str, what: str, addrtype: str | None = None):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise DecodeError(_P, what, "not an IP address", value=text) from None
    if addrtype is not None and _addrtype(address) != addrtype:
        raise DecodeError(_P, what, f"not an {addrtype} address", value=text)
    return address


def _one(med: Media, name: str, index: int, *, required: bool = True) -> str | None:
    values = med.values(name)
    if len(values) > 1:
        raise DecodeError(_P, f"a={name}", f"media section {index}: given {len(values)} times")
    if not values:
        if required:
            raise DecodeError(_P, f"a={name}", f"media section {index}: missing")
        return None
    return values[0]


def _number(text: str, what: str, *, hi: int = 2**63 - 1) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > hi:
        raise DecodeError(_P, what, f"a number up to {hi}", value=text)
    return int(text)


def _dec(text: str, what: str) -> str:
    if not _TOKEN.match(text):
        raise DecodeError(_P, what, "empty or contains white space", value=text)
    if "%" not in text:
        return text
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise DecodeError(_P, what, "percent-encoding is not UTF-8", value=text) from None


def _sized_name(value: str, what: str) -> tuple[int, str]:
    size, _, name = value.partition(" ")
    return _number(size, what), _dec(name.strip(), what)


def _population(med: Media, index: int) -> Population:
    if med.proto.upper() not in (FLUTE_PROTO, DSMCC_PROTO):
        raise DecodeError(
            _P, "m proto", f"media section {index}: FLUTE/UDP or MP2T/UDP", value=med.proto
        )
    proto = med.proto.upper()
    if len(med.connections) != 1:
        raise DecodeError(_P, "c", f"media section {index}: exactly one c= line (one channel)")
    conn = med.connections[0]
    address, *scope = conn.address.split("/")
    group = _ip(address, "c address", conn.addrtype)
    if not is_group(group):
        raise DecodeError(
            _P, "c address", f"media section {index}: not a multicast group", value=address
        )
    ttl = _number(scope[0], "c ttl", hi=255) if scope and group.version == 4 else None
    source = None
    if (sf := _one(med, "source-filter", index, required=False)) is not None:
        parts = sf.split()
        if len(parts) != 5 or parts[0] != "incl" or parts[1] != "IN" or parts[3] != "*":
            raise DecodeError(
                _P, "a=source-filter", "expected 'incl IN IP4|IP6 * <source>'", value=sf
            )
        source = _ip(parts[4], "a=source-filter", parts[2])
    tsi = pid = service_id = carousel_id = None
    if proto == FLUTE_PROTO:
        tsi = _number(_one(med, "flute-tsi", index) or "", "a=flute-tsi", hi=2**48 - 1)
    else:
        raw = _one(med, "x-dvb-rms-dsmcc", index) or ""
        pid_text, _, ids = raw.partition(" ")
        pid = _number(pid_text, "a=x-dvb-rms-dsmcc pid", hi=0x1FFE)
        if ids:
            sid, dollar, cid = ids.strip().partition("$")
            try:
                service_id, carousel_id = int(sid, 16), int(cid, 16)
            except ValueError:
                raise DecodeError(
                    _P, "a=x-dvb-rms-dsmcc", "ids are '<service hex>$<carousel hex>'", value=raw
                ) from None
            if not dollar or service_id > 0xFFFF or carousel_id > 0xFFFFFFFF:
                raise DecodeError(_P, "a=x-dvb-rms-dsmcc", "ids out of range", value=raw)
    bandwidth = next((v for k, v in med.bandwidths if k == "TIAS"), None)
    delivery = Delivery(
        protocol=proto,
        group=group,
        port=med.port,
        source=source,
        ttl=ttl,
        tsi=tsi,
        pid=pid,
        service_id=service_id,
        carousel_id=carousel_id,
        bandwidth_bps=bandwidth,
    )
    kind = _one(med, "x-dvb-rms-target", index)
    oui = _one(med, "x-dvb-rms-ce-manufacturer", index) or ""
    if not _OUI.match(oui):
        raise DecodeError(_P, "a=x-dvb-rms-ce-manufacturer", "six upper-case hex digits", value=oui)
    product_class = _dec(
        _one(med, "x-dvb-rms-product-class", index) or "", "a=x-dvb-rms-product-class"
    )
    hw = tuple(
        _dec(v, "a=x-dvb-rms-hardware-version") for v in med.values("x-dvb-rms-hardware-version")
    )
    sw = tuple(
        _dec(v, "a=x-dvb-rms-from-software-version")
        for v in med.values("x-dvb-rms-from-software-version")
    )
    entries: list[m.RangeListEntry] = []
    for name, value in med.attributes:
        if name not in ("x-dvb-rms-range", "x-dvb-rms-item"):
            continue
        parts = (value or "").split()
        try:
            id_type, availability = m.IdentifierType(parts[0]), m.Availability(parts[1])
        except (IndexError, ValueError):
            raise DecodeError(
                _P,
                f"a={name}",
                "starts with SerialNumber|MACAddress inclusive|exclusive",
                value=value,
            ) from None
        if name == "x-dvb-rms-range":
            if len(parts) != 4:
                raise DecodeError(
                    _P, "a=x-dvb-rms-range", "needs a lower and an upper bound", value=value
                )
            entries.append(
                m.Range(_dec(parts[2], name), _dec(parts[3], name), availability, id_type)
            )
        else:
            if len(parts) < 3:
                raise DecodeError(_P, "a=x-dvb-rms-item", "needs at least one ItemID", value=value)
            entries.append(m.Item(tuple(_dec(p, name) for p in parts[2:]), availability, id_type))
    target: m.Target
    if kind == "DeviceClass" and not (hw or sw or entries):
        target = m.DeviceClass(oui, product_class)
    elif kind == "DeviceClassHardwareVersion" and hw and not (sw or entries):
        target = m.DeviceClassHardwareVersion(oui, product_class, hw)
    elif kind == "DeviceClassSoftware" and sw and not (hw or entries):
        target = m.DeviceClassSoftware(oui, product_class, sw)
    elif kind == "DeviceGroup":
        target = m.DeviceGroup(
            m.DeviceClassInfo(oui, product_class, hw, sw),
            m.RangeList(tuple(entries)) if entries else None,
        )
    else:
        raise DecodeError(
            _P,
            "a=x-dvb-rms-target",
            f"media section {index}: unknown kind, or attributes that kind cannot have",
            value=kind,
        )
    size, package_name = _sized_name(
        _one(med, "x-dvb-rms-package", index) or "", "a=x-dvb-rms-package"
    )
    files = tuple(
        (name, size)
        for size, name in (_sized_name(v, "a=x-dvb-rms-file") for v in med.values("x-dvb-rms-file"))
    )
    if not files:
        raise DecodeError(_P, "a=x-dvb-rms-file", f"media section {index}: no file announced")
    update = None
    if (raw := _one(med, "x-dvb-rms-update", index, required=False)) is not None:
        parts = raw.split()
        try:
            update = m.UpdateDescriptor(
                m.UpdateFlag(parts[0]),
                m.UpdateMethod(parts[1]),
                _number(parts[2], "priority", hi=4),
            )
        except (IndexError, ValueError):
            raise DecodeError(
                _P, "a=x-dvb-rms-update", "'<flag> <method> <priority 1-4>'", value=raw
            ) from None
        if update.update_priority < 1:
            raise DecodeError(_P, "a=x-dvb-rms-update", "priority is 1-4", value=raw)
    return Population(
        target=target,
        software_version=_dec(
            _one(med, "x-dvb-rms-software-version", index) or "", "a=x-dvb-rms-software-version"
        ),
        package_name=package_name,
        package_size=size,
        files=files,
        delivery=delivery,
        update=update,
    )


_PROFILE_SESSION_ATTRS = {"x-dvb-rms-ce-manufacturer"}


def announcement_from_sdp(session: Session) -> Announcement:
    """The announcement a session carries; `DecodeError` names the media section and attribute."""
    if not session.media:
        raise DecodeError(_P, "m", "an announcement has at least one media section")
    origin = session.origin
    populations = tuple(_population(med, i) for i, med in enumerate(session.media, 1))
    start, stop = session.times[0]
    ann = Announcement(
        fus_name=_dec(origin.username, "o username"),
        session_id=origin.session_id,
        session_version=origin.session_version,
        origin_address=_ip(origin.address, "o address", origin.addrtype),
        populations=populations,
        valid_from=from_ntp(start),
        valid_until=from_ntp(stop),
        name=session.name,
        info=session.info,
        extra=tuple((n, v) for n, v in session.attributes if n not in _PROFILE_SESSION_ATTRS),
    )
    declared = (session.values("x-dvb-rms-ce-manufacturer") or [""])[0].split()
    if declared and set(declared) != set(ann.manufacturer_ouis):
        raise DecodeError(
            _P,
            "a=x-dvb-rms-ce-manufacturer",
            "session-level OUIs differ from the media sections'",
            value=" ".join(declared),
        )
    return ann


def parse_announcement(data: bytes) -> Announcement:
    return announcement_from_sdp(parse(data))
