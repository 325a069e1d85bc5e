"""SDP (RFC 4566) and the DVB RMS-FUS announcement profile: the standards' examples, one media
section per target population, round trips and refusals."""

from __future__ import annotations

import contextlib
import ipaddress
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fus.metadata import model as m
from fus.metadata.targeting import DeviceIdentity, match_target
from fus.multicast import sdp
from fus.multicast.errors import DecodeError
from tests.fus.metadata.strategies import identifiers, target_devices

# TS 102 542-4 clause 9.1 (Figure 32), with its "c=" origin line read as the o= line it describes.
CLAUSE_9_1 = (
    "v=0\r\n"
    "o=dvb-fus 2890844526 2890842807 IN IP4 10.47.16.5\r\n"
    "s=dvb-update\r\n"
    "t=2873397496 2873404696\r\n"
    "a= x-dvb-rms-ce-manufacturer:00D09D 00D09E 00D09F\r\n"
    "m=application 49153 FLUTE/UDP *\r\n"
    "c=IN IP4 240.0.0.3\r\n"
    "a= flute-tsi:142\r\n"
    "a= source-filter: incl IN IP4 * 192.168.1.1\r\n"
)

# TS 102 034 annex G.2.5.13, the carousel example (two FLUTE channels).
G_2_5_13 = """v=0
o=provider.org 5678 2 IN IP4 135.27.66.45
s= Example3
i= Example session 3
a=x-dvb-cds-content-item-format:0
a=x-dvb-cds-mode:CMD
a=source-filter: incl IN IP4 * 135.27.66.40
a=flute-tsi:1234765
a=flute-ch:2
t=3034423619 3042462419
m=application 1200 flute/udp *
c=IN IP4 227.124.5.3
b=TIAS:500
m=application 1200 flute/udp *
c=IN IP4 227.124.5.4
b=TIAS:1000
"""


def test_clause_9_1_example_parses():
    session = sdp.parse(CLAUSE_9_1.encode())
    assert session.origin == sdp.Origin("dvb-fus", 2890844526, 2890842807, "10.47.16.5")
    assert session.name == "dvb-update"
    assert session.times == ((2873397496, 2873404696),)
    assert session.values("x-dvb-rms-ce-manufacturer") == ["00D09D 00D09E 00D09F"]
    (media,) = session.media
    assert (media.media, media.port, media.proto, media.formats) == (
        "application",
        49153,
        "FLUTE/UDP",
        ("*",),
    )
    assert media.connections == (sdp.Connection("240.0.0.3"),)
    assert media.values("flute-tsi") == ["142"]
    assert media.values("source-filter") == ["incl IN IP4 * 192.168.1.1"]


def test_annex_g_example_parses_with_media_bandwidths():
    session = sdp.parse(G_2_5_13.encode())
    assert [m.connections[0].address for m in session.media] == ["227.124.5.3", "227.124.5.4"]
    assert [m.bandwidths for m in session.media] == [(("TIAS", 500),), (("TIAS", 1000),)]
    assert session.values("flute-ch") == ["2"]
    assert sdp.parse(sdp.write(session)) == session


def population(target: m.Target, **delivery) -> sdp.Population:
    return sdp.Population(
        target=target,
        software_version="3.0.21",
        package_name="Fred firmware",
        package_size=12345,
        files=(("fred1001.bin", 12000), ("fred1001.sig", 345)),
        delivery=sdp.Delivery(
            **{
                "protocol": sdp.FLUTE_PROTO,
                "group": ipaddress.ip_address("239.255.1.1"),
                "port": 49153,
                "source": ipaddress.ip_address("192.168.1.1"),
                "ttl": 1,
                "tsi": 142,
                **delivery,
            }
        ),
        update=m.UpdateDescriptor(m.UpdateFlag.AUTOMATIC, m.UpdateMethod.NEXT_RESTART, 2),
    )


SEED_RANGES = m.RangeList(
    (
        m.Range("123123", "456456"),
        m.Range("231231", "255555", m.Availability.EXCLUSIVE),
        m.Item(("678678", "678688", "678698", "678778")),
    )
)


def test_one_media_section_per_population_and_the_targeting_survives():
    group = m.DeviceGroup(m.DeviceClassInfo("00D09D", "Fred", ("1.01",), ("2.003",)), SEED_RANGES)
    other = m.DeviceClass("00D09E", "Barney")
    ann = sdp.Announcement(
        fus_name="dvb-fus",
        session_id=2890844526,
        session_version=7,
        origin_address=ipaddress.ip_address("10.47.16.5"),
        populations=(
            population(group),
            population(
                other,
                protocol=sdp.DSMCC_PROTO,
                tsi=None,
                pid=0x1F4,
                service_id=0x0202,
                carousel_id=0x045F1A23,
                port=32000,
            ),
        ),
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=datetime(2026, 6, 30, tzinfo=UTC),
    )
    text = sdp.write_announcement(ann).decode()
    assert text.count("\r\nm=application ") == 2
    assert "a=x-dvb-rms-ce-manufacturer:00D09D 00D09E\r\n" in text
    assert "m=application 32000 MP2T/UDP *" in text
    assert "a=x-dvb-rms-dsmcc:500 0202$045F1A23" in text
    assert "a=x-dvb-rms-range:SerialNumber exclusive 231231 255555" in text
    assert "a=x-dvb-rms-package:12345 Fred%20firmware" in text
    back = sdp.parse_announcement(text.encode())
    assert back == ann
    # a receiver decides with the metadata's targeting rules
    target = back.populations[0].target
    inside = DeviceIdentity("00D09D", "Fred", "1.01", "2.003", serial_number="123500")
    excluded = DeviceIdentity("00D09D", "Fred", "1.01", "2.003", serial_number="240000")
    assert match_target(target, inside) and not match_target(target, excluded)


def test_ipv6_delivery():
    ann = sdp.Announcement(
        "fus",
        1,
        1,
        ipaddress.ip_address("2001:db8::1"),
        (
            population(
                m.DeviceClass("00D09D", "Fred"),
                group=ipaddress.ip_address("ff3e::8000:1"),
                source=ipaddress.ip_address("2001:db8::1"),
                ttl=None,  # IPv6 c= lines carry no TTL
            ),
        ),
    )
    text = sdp.write_announcement(ann).decode()
    assert "o=fus 1 1 IN IP6 2001:db8::1" in text
    assert "c=IN IP6 ff3e::8000:1\r\n" in text
    assert "a=source-filter: incl IN IP6 * 2001:db8::1" in text
    assert sdp.parse_announcement(text.encode()) == ann


@pytest.mark.parametrize(
    ("text", "field", "where"),
    [
        ("o=x 1 1 IN IP4 1.2.3.4\r\n", "v", "line 1"),
        ("v=0\r\no=x 1 IN IP4 1.2.3.4\r\ns=x\r\n", "o", "line 2"),
        ("v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=x\r\nt=a 0\r\n", "t start", "line 4"),
        (
            "v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=x\r\nm=application 99999 FLUTE/UDP *\r\n",
            "m port",
            "line 4",
        ),
        ("v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\ns=x\r\nm=app 1 X *\r\ns=again\r\n", "s", "line 5"),
        ("v=0\r\no=x 1 1 IN IP4 1.2.3.4\r\nq=what\r\n", "q", "line 3"),
        ("v=0\r\ns=x\r\n", "o", "missing"),
    ],
)
def test_bad_sdp_names_line_and_field(text, field, where):
    with pytest.raises(DecodeError) as caught:
        sdp.parse(text.encode())
    assert caught.value.field == field and where in str(caught.value)


def _announcement_text(media_lines: str) -> bytes:
    return (
        "v=0\r\no=fus 1 1 IN IP4 10.0.0.1\r\ns=dvb-update\r\nt=0 0\r\n"
        "m=application 5000 FLUTE/UDP *\r\n" + media_lines
    ).encode()


BASE = (
    "c=IN IP4 239.1.1.1\r\na=flute-tsi:1\r\na=x-dvb-rms-target:DeviceClass\r\n"
    "a=x-dvb-rms-ce-manufacturer:00D09D\r\na=x-dvb-rms-product-class:Fred\r\n"
    "a=x-dvb-rms-software-version:2\r\na=x-dvb-rms-package:10 p\r\na=x-dvb-rms-file:10 f\r\n"
)


def test_minimal_announcement_parses():
    ann = sdp.parse_announcement(_announcement_text(BASE))
    assert ann.populations[0].target == m.DeviceClass("00D09D", "Fred")


@pytest.mark.parametrize(
    ("replace", "by", "field"),
    [
        ("c=IN IP4 239.1.1.1", "c=IN IP4 10.1.1.1", "c address"),
        ("a=flute-tsi:1", "a=flute-tsi:x", "a=flute-tsi"),
        (
            "a=x-dvb-rms-ce-manufacturer:00D09D",
            "a=x-dvb-rms-ce-manufacturer:00d09d",
            "a=x-dvb-rms-ce-manufacturer",
        ),
        ("a=x-dvb-rms-target:DeviceClass", "a=x-dvb-rms-target:DeviceGroupX", "a=x-dvb-rms-target"),
        ("a=x-dvb-rms-file:10 f", "a=x-dvb-rms-file:ten f", "a=x-dvb-rms-file"),
        ("a=x-dvb-rms-package:10 p", "a=x-dvb-rms-package:10 p%FF", "a=x-dvb-rms-package"),
        ("a=x-dvb-rms-file:10 f", "", "a=x-dvb-rms-file"),
    ],
)
def test_bad_announcements_name_the_attribute(replace, by, field):
    with pytest.raises(DecodeError) as caught:
        sdp.parse_announcement(_announcement_text(BASE.replace(replace, by)))
    assert caught.value.field == field


def test_session_level_oui_list_must_match_the_media():
    text = _announcement_text(BASE).replace(
        b"t=0 0\r\n", b"t=0 0\r\na=x-dvb-rms-ce-manufacturer:00D09E\r\n"
    )
    with pytest.raises(DecodeError, match="differ"):
        sdp.parse_announcement(text)


targets = target_devices().flatmap(lambda td: st.sampled_from(td.entries()))
names = st.one_of(identifiers, st.text(min_size=1, max_size=20).filter(lambda s: "\0" not in s))


@st.composite
def deliveries(draw):
    v6 = draw(st.booleans())
    group = draw(st.ip_addresses(network="ff3e::/96" if v6 else "239.0.0.0/8"))
    source = draw(st.none() | st.ip_addresses(v=6 if v6 else 4))
    if draw(st.booleans()):
        return sdp.Delivery(
            sdp.FLUTE_PROTO,
            group,
            draw(st.integers(1, 65535)),
            source,
            None if v6 else draw(st.none() | st.integers(0, 255)),
            tsi=draw(st.integers(0, 2**48 - 1)),
            bandwidth_bps=draw(st.none() | st.integers(1, 10**10)),
        )
    return sdp.Delivery(
        sdp.DSMCC_PROTO,
        group,
        draw(st.integers(1, 65535)),
        source,
        None,
        pid=draw(st.integers(0, 0x1FFE)),
        service_id=draw(st.integers(0, 0xFFFF)),
        carousel_id=draw(st.integers(0, 0xFFFFFFFF)),
    )


populations = st.builds(
    sdp.Population,
    target=targets,
    software_version=identifiers,
    package_name=names,
    package_size=st.integers(0, 2**40),
    files=st.lists(st.tuples(names, st.integers(0, 2**40)), min_size=1, max_size=3).map(tuple),
    delivery=deliveries(),
    update=st.none()
    | st.builds(
        m.UpdateDescriptor,
        st.sampled_from(m.UpdateFlag),
        st.sampled_from(m.UpdateMethod),
        st.integers(1, 4),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.builds(
        sdp.Announcement,
        fus_name=identifiers,
        session_id=st.integers(0, 2**63),
        session_version=st.integers(0, 2**63),
        origin_address=st.ip_addresses(),
        populations=st.lists(populations, min_size=1, max_size=3).map(tuple),
        valid_from=st.none()
        | st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(lambda d: d.replace(microsecond=0)),
    )
)
def test_announcement_round_trip(ann):
    assert sdp.parse_announcement(sdp.write_announcement(ann)) == ann


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_fuzzed_bytes_parse_or_raise_decode_error(data):
    with contextlib.suppress(DecodeError):
        sdp.parse_announcement(data)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *BASE.split("\r\n")[:-1],
                "a=x-dvb-rms-range:SerialNumber inclusive 1",
                "a=x-dvb-rms-item:MACAddress exclusive",
                "b=TIAS:x",
                "c=IN IP6 ::1",
            ]
        ),
        max_size=12,
    )
)
def test_shuffled_attribute_lines_parse_or_raise_decode_error(lines):
    with contextlib.suppress(DecodeError):
        sdp.parse_announcement(_announcement_text("".join(line + "\r\n" for line in lines)))
