"""`dvb-mcast://` URIs (TS 102 034 G.3, TS 102 542-4 clause 9): the standards' examples, IPv6,
round trips and refusals."""

from __future__ import annotations

import contextlib
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fus.multicast.errors import DecodeError
from fus.multicast.uri import McastUri, format_uri, parse_uri


def test_clause_9_1_sap_example():
    uri = parse_uri("dvb-mcast://dvb-fus@240.0.0.51:32000?payload=sap")
    assert uri == McastUri(
        ipaddress.IPv4Address("240.0.0.51"), 32000, source="dvb-fus", payload="sap"
    )
    assert str(uri) == "dvb-mcast://dvb-fus@240.0.0.51:32000?payload=sap"


def test_clause_9_2_dsmcc_examples():
    assert parse_uri("dvb-mcast://240.0.0.51:32000?payload=mp2t").payload == "mp2t"
    uri = parse_uri("dvb-mcast://240.0.0.51:32000?payload=mp2t&0202$045F1A23")
    assert (uri.service_id, uri.carousel_id) == (0x0202, 0x045F1A23)
    assert str(uri) == "dvb-mcast://240.0.0.51:32000?payload=mp2t&0202$045F1A23"


def test_annex_g_3_2_dvbstp_form():
    uri = parse_uri(
        "dvb-mcast://10.0.0.1@232.255.255.254:3937?payload=dvbstp&service-provider=10.1.2.3"
        "&dvbstp-payload=08&segment=0000#?dvb-cds-session-id=7"
    )
    assert uri.source_address == ipaddress.IPv4Address("10.0.0.1")
    assert uri.service_provider == ipaddress.IPv4Address("10.1.2.3")
    assert (uri.dvbstp_payload, uri.segment, uri.fragment) == (8, 0, "?dvb-cds-session-id=7")
    assert parse_uri(str(uri)) == uri


def test_ipv6_group_and_source_in_brackets():
    uri = parse_uri("dvb-mcast://[2001:db8::5]@[ff3e::8000:1]:49153?payload=sap")
    assert uri.group == ipaddress.IPv6Address("ff3e::8000:1") and uri.source == "2001:db8::5"
    assert str(uri) == "dvb-mcast://[2001:db8::5]@[ff3e::8000:1]:49153?payload=sap"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("http://239.1.1.1:1", "scheme"),
        ("dvb-mcast://10.0.0.1:5000", "mcast-addr"),
        ("dvb-mcast://239.1.1.1", "port"),
        ("dvb-mcast://239.1.1.1:0", "port"),
        ("dvb-mcast://239.1.1.1:70000", "port"),
        ("dvb-mcast://ff3e::1:5000", "mcast-addr"),
        ("dvb-mcast://[ff3e::1:5000", "mcast-addr"),
        ("dvb-mcast://bad_host!@239.1.1.1:5000", "src-host"),
        ("dvb-mcast://239.1.1.1:5000?payload=sap&payload=sap", "payload"),
        ("dvb-mcast://239.1.1.1:5000?colour=red", "colour"),
        ("dvb-mcast://239.1.1.1:5000?segment=12", "segment"),
        ("dvb-mcast://239.1.1.1:5000?dvbstp-payload=1FF", "dvbstp-payload"),
        ("dvb-mcast://239.1.1.1:5000?service-provider=::1", "service-provider"),
        ("dvb-mcast://239.1.1.1:5000?payload=sap #x", "uri"),
    ],
)
def test_bad_uris_name_the_part(text, field):
    with pytest.raises(DecodeError) as caught:
        parse_uri(text)
    assert caught.value.field == field


uris = st.builds(
    McastUri,
    group=st.one_of(st.ip_addresses(network="224.0.0.0/4"), st.ip_addresses(network="ff00::/8")),
    port=st.integers(1, 65535),
    source=st.none()
    | st.ip_addresses().map(str)
    | st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,5})?", fullmatch=True),
    payload=st.none() | st.sampled_from(["sap", "dvbstp", "mp2t"]),
    service_provider=st.none() | st.ip_addresses(v=4),
    dvbstp_payload=st.none() | st.integers(0, 255),
    segment=st.none() | st.integers(0, 0xFFFF),
    fragment=st.none() | st.from_regex(r"[A-Za-z0-9?=\-]{0,12}", fullmatch=True),
).flatmap(
    lambda u: st.one_of(
        st.just(u),
        st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)).map(
            lambda ids: McastUri(
                **{
                    **{s: getattr(u, s) for s in McastUri.__slots__},
                    "service_id": ids[0],
                    "carousel_id": ids[1],
                }
            )
        ),
    )
)


@settings(max_examples=300, deadline=None)
@given(uris)
def test_round_trip(uri):
    assert parse_uri(format_uri(uri)) == uri


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_fuzzed_text_parses_or_raises_decode_error(text):
    with contextlib.suppress(DecodeError):
        parse_uri("dvb-mcast://" + text)
