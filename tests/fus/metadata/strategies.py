"""Hypothesis strategies for RMS-FUS metadata: whole valid documents and device identities.

Every document drawn here is valid (the codec writes and reads it without error). Identifier
strategies can be replaced by small pools (`Universe`) so that targeting tests see devices that
match, nearly match and do not match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from fus.metadata import model as m
from fus.metadata.identifiers import parse_mac, serial_key
from fus.metadata.targeting import DeviceIdentity

# -- scalars ------------------------------------------------------------------------------------

#: Characters XML 1.0 can carry (no controls, surrogates or non-characters).
_XML_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Cn", "Co"))

ouis = st.from_regex(r"[0-9A-F]{6}", fullmatch=True)


def _is_identifier(s: str) -> bool:
    return (
        1 <= len(s) <= 64
        and "\n" not in s
        and "\r" not in s
        and s[0] not in " \t"
        and s[-1] not in " \t"
    )


#: Strings the schema accepts as identifiers: one line, 1-64 characters, no surrounding blanks.
identifiers = st.one_of(
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    st.text(_XML_CHARS | st.just("\t"), min_size=1, max_size=64).filter(_is_identifier),
)

#: Free text (names, VendorSpecificInfo, MessageDescriptor): anything XML can carry.
free_text = st.text(_XML_CHARS | st.sampled_from("\t\n\r "), max_size=40)

serials = st.one_of(
    st.integers(0, 10**12).map(str),
    st.from_regex(r"0{0,3}[0-9]{1,8}", fullmatch=True),
    st.from_regex(r"[0-9A-F]{8}", fullmatch=True),
    st.from_regex(r"SN[0-9]{1,6}", fullmatch=True),
    identifiers,
)

mac_ints = st.integers(0, (1 << 48) - 1)


@st.composite
def mac_notations(draw: st.DrawFn, value: int) -> str:
    """`value` in one of the accepted MAC notations, in random letter case."""
    digits = f"{value:012x}"
    style = draw(st.sampled_from(["colon", "dash", "dot", "bare"]))
    if style == "colon":
        text = ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    elif style == "dash":
        text = "-".join(digits[i : i + 2] for i in range(0, 12, 2))
    elif style == "dot":
        text = ".".join(digits[i : i + 4] for i in range(0, 12, 4))
    else:
        text = digits
    return text.upper() if draw(st.booleans()) else text


macs = mac_ints.flatmap(mac_notations)

_offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
aware_datetimes = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=_offsets
)

# -- a pool of values, so that generated devices and documents meet ------------------------------


@dataclass(frozen=True)
class Universe:
    """Strategies for the identifying fields; defaults draw from everything."""

    ouis: st.SearchStrategy[str] = ouis
    product_classes: st.SearchStrategy[str] = identifiers
    hardware_versions: st.SearchStrategy[str] = identifiers
    software_versions: st.SearchStrategy[str] = identifiers
    serials: st.SearchStrategy[str] = serials
    mac_ints: st.SearchStrategy[int] = mac_ints


EVERYTHING = Universe()

#: A small universe: two OUIs, two classes, a few versions, serials 0-40 and MACs 0-40.
SMALL = Universe(
    ouis=st.sampled_from(["00D09E", "A0B1C2"]),
    product_classes=st.sampled_from(["STB1", "STB2"]),
    hardware_versions=st.sampled_from(["hw1", "hw2", "hw3"]),
    software_versions=st.sampled_from(["1.0", "1.1", "2.0"]),
    serials=st.integers(0, 40).map(str) | st.integers(0, 40).map(lambda n: f"0{n}"),
    mac_ints=st.integers(0, 40),
)

# -- RangeList ----------------------------------------------------------------------------------


@st.composite
def ranges(draw: st.DrawFn, universe: Universe = EVERYTHING) -> m.Range:
    availability = draw(st.sampled_from(m.Availability))
    kind = draw(st.sampled_from(m.IdentifierType))
    if kind is m.IdentifierType.SERIAL_NUMBER:
        a, b = sorted([draw(universe.serials), draw(universe.serials)], key=serial_key)
    else:
        lo, hi = sorted([draw(universe.mac_ints), draw(universe.mac_ints)])
        a, b = draw(mac_notations(lo)), draw(mac_notations(hi))
    return m.Range(a, b, availability, kind)


@st.composite
def items(draw: st.DrawFn, universe: Universe = EVERYTHING) -> m.Item:
    availability = draw(st.sampled_from(m.Availability))
    kind = draw(st.sampled_from(m.IdentifierType))
    if kind is m.IdentifierType.SERIAL_NUMBER:
        ids = draw(st.lists(universe.serials, min_size=1, max_size=5))
    else:
        ids = [
            draw(mac_notations(v))
            for v in draw(st.lists(universe.mac_ints, min_size=1, max_size=5))
        ]
    return m.Item(tuple(ids), availability, kind)


def _drop_duplicate_items(entries: list[m.RangeListEntry]) -> tuple[m.RangeListEntry, ...]:
    """ItemIDs must be unique in a RangeList (by identifier type and compared value)."""
    seen: set[tuple[m.IdentifierType, object]] = set()
    result: list[m.RangeListEntry] = []
    for entry in entries:
        if isinstance(entry, m.Range):
            result.append(entry)
            continue
        kept = []
        for item_id in entry.item_ids:
            key = (
                serial_key(item_id)
                if entry.identifier_type is m.IdentifierType.SERIAL_NUMBER
                else parse_mac(item_id)
            )
            if (entry.identifier_type, key) not in seen:
                seen.add((entry.identifier_type, key))
                kept.append(item_id)
        if kept:
            result.append(m.Item(tuple(kept), entry.availability, entry.identifier_type))
    return tuple(result)


def range_lists(universe: Universe = EVERYTHING) -> st.SearchStrategy[m.RangeList]:
    return (
        st.lists(ranges(universe) | items(universe), min_size=1, max_size=6)
        .map(_drop_duplicate_items)
        .filter(bool)
        .map(m.RangeList)
    )


# -- device classes and targets -----------------------------------------------------------------


def _versions(
    strategy: st.SearchStrategy[str], min_size: int
) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(strategy, min_size=min_size, max_size=3).map(tuple)


def device_classes(u: Universe = EVERYTHING) -> st.SearchStrategy[m.DeviceClass]:
    return st.builds(m.DeviceClass, u.ouis, u.product_classes)


def target_devices(u: Universe = EVERYTHING) -> st.SearchStrategy[m.TargetDevices]:
    hardware = st.builds(
        m.DeviceClassHardwareVersion, u.ouis, u.product_classes, _versions(u.hardware_versions, 1)
    )
    software = st.builds(
        m.DeviceClassSoftware, u.ouis, u.product_classes, _versions(u.software_versions, 1)
    )
    info = st.builds(
        m.DeviceClassInfo,
        u.ouis,
        u.product_classes,
        _versions(u.hardware_versions, 0),
        _versions(u.software_versions, 0),
    )
    group = st.builds(m.DeviceGroup, info, st.none() | range_lists(u))

    def several(s: st.SearchStrategy) -> st.SearchStrategy[tuple]:  # type: ignore[type-arg]
        return st.lists(s, max_size=2).map(tuple)

    return st.builds(
        m.TargetDevices,
        several(device_classes(u)),
        several(hardware),
        several(software),
        several(group),
    ).filter(lambda td: bool(td.entries()))


# -- addresses ----------------------------------------------------------------------------------

ipv4_addresses = st.ip_addresses(v=4).map(str)
ipv6_addresses = st.ip_addresses(v=6).map(str)


@st.composite
def urls(draw: st.DrawFn, ipv6: bool = True) -> str:
    scheme = draw(st.sampled_from(["http", "https", "ftp", "tftp", "dvb-mcast"]))
    hosts = [st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){1,2}", fullmatch=True)]
    hosts.append(ipv4_addresses)
    if ipv6:
        hosts.append(ipv6_addresses.map(lambda a: f"[{a}]"))
    host = draw(st.one_of(hosts))
    port = draw(st.none() | st.integers(1, 65535))
    path = draw(st.from_regex(r"(/[A-Za-z0-9._~-]{1,8}){0,3}", fullmatch=True))
    return f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"


@st.composite
def resource_access_infos(draw: st.DrawFn, ipv6: bool = True) -> m.ResourceAccessInfo:
    addresses = ipv4_addresses | ipv6_addresses if ipv6 else ipv4_addresses
    url = draw(st.none() | urls(ipv6))
    address = draw(addresses) if url is None else draw(st.none() | addresses)
    port = None if address is None else draw(st.none() | st.integers(1, 65535))
    preference = draw(st.none() | st.integers(1, 65535))
    return m.ResourceAccessInfo(url, address, port, preference)


def _locations(
    ipv6: bool, min_size: int = 0
) -> st.SearchStrategy[tuple[m.ResourceAccessInfo, ...]]:
    return st.lists(resource_access_infos(ipv6), min_size=min_size, max_size=3).map(tuple)


# -- package, validity, entities ----------------------------------------------------------------

sizes = st.integers(0, 2**40)

package_files = st.builds(
    m.PackageFile,
    identifiers,
    st.none() | sizes,
    st.none() | free_text,
    st.none() | free_text,
)

software_package_infos = st.builds(
    m.SoftwarePackageInfo,
    identifiers,
    sizes,
    st.lists(package_files, max_size=3, unique_by=lambda f: f.file_name).map(tuple),
    st.none() | st.builds(m.FootprintSize, st.none() | sizes, st.none() | sizes),
    st.none() | st.builds(m.ImagePackaging, st.booleans(), st.booleans()),
    st.none()
    | st.builds(
        m.UpdateDescriptor,
        st.sampled_from(m.UpdateFlag),
        st.sampled_from(m.UpdateMethod),
        st.integers(1, 4),
    ),
)


@st.composite
def validity_time_ranges(draw: st.DrawFn) -> m.ValidityTimeRange:
    a, b = draw(aware_datetimes), draw(aware_datetimes)
    return m.ValidityTimeRange(*sorted([a, b]))


message_descriptors = st.builds(
    m.MessageDescriptor, free_text, st.none() | st.from_regex(r"[a-z]{3}", fullmatch=True)
)


def firmware_upgrades(u: Universe = EVERYTHING) -> st.SearchStrategy[m.FirmwareUpgrade]:
    return st.builds(
        m.FirmwareUpgrade,
        u.software_versions,
        target_devices(u),
        software_package_infos,
        st.none() | validity_time_ranges(),
        st.lists(message_descriptors, max_size=2).map(tuple),
    )


def _interfaces(choices: list[m.Interface]) -> st.SearchStrategy[tuple[m.Interface, ...]]:
    return st.lists(st.sampled_from(choices), unique=True, max_size=4).map(tuple)


def fus_entities(ipv6: bool = True) -> st.SearchStrategy[m.FUS]:
    addresses = ipv4_addresses | ipv6_addresses if ipv6 else ipv4_addresses
    return st.builds(
        m.FUS,
        st.none() | free_text,
        st.none() | identifiers,
        st.none() | addresses,
        _interfaces(list(m.Interface)),
        _locations(ipv6),
        _locations(ipv6),
        _locations(ipv6),
        _locations(ipv6),
        st.none() | st.integers(1, 10**10),
    )


def documents(
    universe: Universe = EVERYTHING, *, ipv6: bool = True
) -> st.SearchStrategy[m.RMSFUSMetadata]:
    """Whole valid documents; `ipv6=False` keeps them expressible in the `rms` namespace."""
    return st.builds(
        m.RMSFUSMetadata,
        st.sampled_from(m.Mode),
        st.builds(
            m.CEManufacturer,
            universe.ouis,
            st.none() | free_text,
            _locations(ipv6),
            _locations(ipv6),
        ),
        firmware_upgrades(universe),
        st.none() | fus_entities(ipv6),
        st.none()
        | st.builds(m.RMS, _locations(ipv6, 1), st.none() | free_text, st.none() | identifiers),
        st.none()
        | st.builds(
            m.TargetDevicesInfo,
            _interfaces(sorted(m.DEVICE_INTERFACES, key=lambda i: i.number)),
            st.none() | free_text,
        ),
    )


# -- devices ------------------------------------------------------------------------------------


@st.composite
def device_identities(draw: st.DrawFn, universe: Universe = EVERYTHING) -> DeviceIdentity:
    """A device; hardware, software, serial and MAC may each be unknown (None)."""
    oui = draw(universe.ouis)
    return DeviceIdentity(
        manufacturer_oui=oui.lower() if draw(st.booleans()) else oui,
        product_class=draw(universe.product_classes),
        hardware_version=draw(st.none() | universe.hardware_versions),
        software_version=draw(st.none() | universe.software_versions),
        serial_number=draw(st.none() | universe.serials),
        mac_address=draw(st.none() | universe.mac_ints.flatmap(mac_notations)),
    )


__all__ = [
    "EVERYTHING",
    "SMALL",
    "Universe",
    "aware_datetimes",
    "device_identities",
    "documents",
    "firmware_upgrades",
    "identifiers",
    "macs",
    "range_lists",
    "serials",
]
