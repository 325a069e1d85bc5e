"""The SD&S RMSFUSDiscovery codec: the examples, XSD validity of what we write (sdns_v1.4r13.xsd,
with its imports resolved from the local copies), round trips, and hostile or invalid records."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from fus.discovery import sdns
from fus.discovery.sdns import (
    AnnouncementProtocol,
    FUSAnnouncement,
    FUSProvider,
    MulticastAddress,
    RMSFUSDiscovery,
    RMSProvider,
    SdnsError,
    ServiceDiscovery,
    Text,
)
from tests.fus.discovery.strategies import records, service_discoveries

SPECS = Path("/work/shared/specs")
XSD = SPECS / "dvb" / "ts102034-v1.4.1" / "sdns_v1.4r13.xsd"
EXAMPLES = SPECS / "sdns"
NS = sdns.NAMESPACE


class _LocalOnly(etree.Resolver):
    def resolve(self, system_url, public_id, context):  # type: ignore[no-untyped-def]
        if system_url.startswith(("http:", "https:", "ftp:")):
            raise AssertionError(f"the schema asked for {system_url!r}: no network here")
        return None  # a local file next to the schema: the default loader reads it


@functools.cache
def schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_LocalOnly())
    return etree.XMLSchema(etree.parse(str(XSD), parser))


def assert_valid(data: bytes) -> None:
    document = etree.fromstring(data)
    if not schema().validate(document):
        raise AssertionError(f"{schema().error_log}\n{data.decode()}")


def refusal(data: bytes | str) -> SdnsError:
    with pytest.raises(SdnsError) as caught:
        sdns.parse(data.encode() if isinstance(data, str) else data)
    return caught.value


def wrap(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<ServiceDiscovery xmlns="{NS}">{body}</ServiceDiscovery>'


FUS = FUSProvider(
    names=(Text("Example FUS"),),
    fus_id="1",
    announcements=(
        FUSAnnouncement(
            description="Firmware announcements",
            multicast_address=MulticastAddress(
                "239.255.1.1", 9875, protocol=AnnouncementProtocol.SAP
            ),
            unicast_announcement="http://fus.example.org/announce",
            qrc_location="http://fus.example.org/qrc",
        ),
    ),
)
RMS = RMSProvider(
    location="http://acs.example.org:7547/acs",
    names=(Text("Example RMS (TR-069 ACS)"),),
    rms_id="1",
)


def test_the_examples_parse():
    fus = sdns.parse((EXAMPLES / "rmsfus_discovery_fus.xml").read_bytes())
    assert fus == ServiceDiscovery((RMSFUSDiscovery("example.org", (FUS,), version=1),))
    rms = sdns.parse((EXAMPLES / "rmsfus_discovery_rms.xml").read_bytes())
    assert rms == ServiceDiscovery((RMSFUSDiscovery("example.org", (RMS,), version=1),))


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(ServiceDiscovery(), id="no entities"),
        pytest.param(ServiceDiscovery((RMSFUSDiscovery("example.org", (FUS,), 1),)), id="one FUS"),
        pytest.param(
            ServiceDiscovery(
                (
                    RMSFUSDiscovery("operator.example", (FUS, FUS), 0xFF),
                    RMSFUSDiscovery("operator.example", (RMS,), 0x00),
                )
            ),
            id="FUS and RMS records",
        ),
        pytest.param(
            ServiceDiscovery(
                (
                    RMSFUSDiscovery(
                        "127.0.0.1",
                        (
                            FUSProvider(
                                names=(Text("Bare FUS", "fra"), Text("Nackter FUS", "deu")),
                                fus_id="123456789012345678",
                                descriptions=(Text("no locations yet"),),
                                logo_uri="https://fus.example/logo.png",
                            ),
                        ),
                    ),
                )
            ),
            id="FUS without locations",
        ),
        pytest.param(
            ServiceDiscovery(
                (
                    RMSFUSDiscovery(
                        "iptv.example.net",
                        (
                            FUSProvider(
                                names=(Text("FUS"),),
                                fus_id="7",
                                announcements=(
                                    FUSAnnouncement(
                                        multicast_address=MulticastAddress(
                                            "239.1.1.1",
                                            3937,
                                            "10.0.0.1",
                                            AnnouncementProtocol.DVBSTP,
                                        )
                                    ),
                                    FUSAnnouncement(qrc_location="https://qrc.example.net/qrc"),
                                ),
                            ),
                        ),
                        version=0x2A,
                    ),
                    RMSFUSDiscovery(
                        "iptv.example.net",
                        (RMSProvider("https://acs.example.net/cwmp", (Text("ACS"),)),),
                    ),
                )
            ),
            id="several locations, no ids",
        ),
    ],
)
def test_written_records_are_valid_and_read_back(doc):
    data = sdns.write(doc)
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert_valid(data)
    assert sdns.parse(data) == doc


def test_version_is_two_upper_case_hex_digits():
    data = sdns.write(ServiceDiscovery((RMSFUSDiscovery("example.org", (RMS,), 10),)))
    assert b'Version="0A"' in data
    assert sdns.parse(data.replace(b'"0A"', b'"0a"')).records[0].version == 10


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(service_discoveries)
def test_every_written_record_is_schema_valid_and_round_trips(doc):
    data = sdns.write(doc)
    assert_valid(data)
    assert sdns.parse(data) == doc


# --- the writer refuses what the schema refuses -----------------------------------------------


@pytest.mark.parametrize(
    ("record", "path", "message"),
    [
        (RMSFUSDiscovery("localhost", (RMS,)), "@DomainName", "at least one dot"),
        (RMSFUSDiscovery("example.org", (RMS,), 256), "@Version", "0-255"),
        (RMSFUSDiscovery("example.org", ()), "RMSFUSDiscovery[1]", "at least one"),
        (RMSFUSDiscovery("example.org", (FUS, RMS)), "RMSFUSDiscovery[1]", "not both"),
        (
            RMSFUSDiscovery("example.org", (FUSProvider((Text("x"),), "1A"),)),
            "FUSID",
            "decimal",
        ),
        (
            RMSFUSDiscovery("example.org", (FUSProvider((), "1"),)),
            "FUSName",
            "at least one",
        ),
        (
            RMSFUSDiscovery("example.org", (FUSProvider((Text("x", "en"),), "1"),)),
            "@Language",
            "ISO 639-2",
        ),
        (
            RMSFUSDiscovery(
                "example.org",
                (
                    FUSProvider(
                        (Text("x"),),
                        "1",
                        (FUSAnnouncement(multicast_address=MulticastAddress("ff0e::1", 9875)),),
                    ),
                ),
            ),
            "@Address",
            "no IPv6",
        ),
        (
            RMSFUSDiscovery(
                "example.org",
                (FUSProvider((Text("x"),), "1", (FUSAnnouncement(qrc_location="http://a b/"),)),),
            ),
            "QRCLocation",
            "white space",
        ),
        (
            RMSFUSDiscovery("example.org", (RMSProvider("http://h/", (Text("bad \x01"),)),)),
            "RMSName[1]",
            "XML cannot carry",
        ),
    ],
)
def test_writer_refuses(record, path, message):
    with pytest.raises(SdnsError, match=message) as caught:
        sdns.write(ServiceDiscovery((record,)))
    assert path in caught.value.issues[0].path


# --- the reader: hostile and invalid records ----------------------------------------------------


def test_external_entities_are_refused_and_never_fetched(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE ServiceDiscovery [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        + wrap(
            '<RMSFUSDiscovery DomainName="e.org"><RMSProvider RMSLocation="http://h/">'
            '<RMSName Language="eng">&x;</RMSName></RMSProvider></RMSFUSDiscovery>'
        ).split("\n", 1)[1]
    )
    error = refusal(data)
    assert "DOCTYPE is not allowed" in str(error) and error.issues[0].line == 2
    assert "TOP-SECRET" not in str(error)


def test_entity_bomb_and_undeclared_entities():
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        + wrap("&lol3;").split("\n", 1)[1]
    )
    assert "DOCTYPE is not allowed" in str(refusal(bomb))
    assert "not well-formed" in str(refusal(wrap("&undeclared;")))


def test_doctype_after_a_comment_is_still_refused():
    data = '<?xml version="1.0"?><!-- hi --><!DOCTYPE x SYSTEM "http://evil.example/x.dtd">' + wrap(
        ""
    )
    assert "DOCTYPE" in str(refusal(data))


def test_oversized_record_is_refused_before_parsing():
    data = wrap("<!--" + "x" * sdns.MAX_DOCUMENT_BYTES + "-->").encode()
    error = refusal(data)
    assert "limit" in str(error) and str(sdns.MAX_DOCUMENT_BYTES) in str(error)


def test_wrong_namespace_and_root():
    error = refusal('<ServiceDiscovery xmlns="urn:dvb:metadata:iptv:sdns:2012-1"/>')
    assert "expected ServiceDiscovery in namespace 'urn:dvb:metadata:iptv:sdns:2008-1'" in str(
        error
    )
    assert error.issues[0].value == "urn:dvb:metadata:iptv:sdns:2012-1"
    assert "expected ServiceDiscovery" in str(refusal(f'<RMSFUSDiscovery xmlns="{NS}"/>'))
    assert "not well-formed" in str(refusal("<ServiceDiscovery"))


def test_other_offering_types_are_not_an_rms_fus_record():
    error = refusal(wrap('<BroadcastDiscovery DomainName="e.org"/>'))
    assert "/ServiceDiscovery/BroadcastDiscovery[1]" in str(
        error
    ) and "not an RMS-FUS record" in str(error)


def test_invalid_values_name_line_path_and_value():
    data = wrap(
        """
<RMSFUSDiscovery DomainName="example.org" Version="1G">
  <FUSProvider>
    <FUSName Language="eng">FUS</FUSName>
    <FUSID>one</FUSID>
    <FUSAnnouncement>
      <MulticastAnnouncementAddress Address="239.1.1.1" Port="70000" Protocol="3 FLUTE"/>
      <Extra/>
    </FUSAnnouncement>
  </FUSProvider>
</RMSFUSDiscovery>"""
    )
    error = refusal(data)
    found = {(i.line, i.path.rsplit("/", 1)[-1], i.value) for i in error.issues}
    assert (3, "@Version", "1G") in found
    assert (6, "FUSID[1]", "one") in found
    assert (8, "@Port", "70000") in found
    assert (8, "@Protocol", "3 FLUTE") in found
    assert any(i.line == 9 and "unexpected element 'Extra'" in i.message for i in error.issues)


def test_structure_errors():
    both = wrap(
        '<RMSFUSDiscovery DomainName="e.org">'
        '<FUSProvider><FUSName Language="eng">F</FUSName><FUSID>1</FUSID><FUSAnnouncement/></FUSProvider>'
        '<RMSProvider RMSLocation="http://h/"><RMSName Language="eng">R</RMSName></RMSProvider>'
        "</RMSFUSDiscovery>"
    )
    assert "not both" in str(refusal(both))
    missing = wrap(
        '<RMSFUSDiscovery DomainName="e.org"><FUSProvider><FUSName Language="eng">F</FUSName></FUSProvider></RMSFUSDiscovery>'
    )
    message = str(refusal(missing))
    assert "FUSID is required" in message and "FUSAnnouncement is required" in message
    order = wrap(
        '<RMSFUSDiscovery DomainName="e.org"><FUSProvider><FUSID>1</FUSID>'
        '<FUSName Language="eng">F</FUSName><FUSAnnouncement/></FUSProvider></RMSFUSDiscovery>'
    )
    assert "out of order" in str(refusal(order))
    attribute = wrap(
        '<RMSFUSDiscovery DomainName="e.org" Colour="red"><RMSProvider RMSLocation="http://h/"><RMSName Language="eng">R</RMSName></RMSProvider></RMSFUSDiscovery>'
    )
    assert "unexpected attribute 'Colour'" in str(refusal(attribute))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(records, st.data())
def test_fuzz_mutated_records(record, data):
    """Whatever the reader accepts is schema-valid; whatever it refuses comes with reasons."""
    text = sdns.write(ServiceDiscovery((record,))).decode()
    position = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 8))
    insert = data.draw(st.text(st.sampled_from('<>/="&;: aZ0.\n'), max_size=6))
    mutated = (text[:position] + insert + text[position + cut :]).encode()
    try:
        result = sdns.parse(mutated)
    except SdnsError as error:
        assert error.issues and all(i.message and i.path for i in error.issues)
    else:
        assert_valid(mutated)
        assert sdns.parse(sdns.write(result)) == result


@given(st.binary(max_size=300))
def test_fuzz_bytes(data):
    try:
        sdns.parse(data)
    except SdnsError as error:
        assert error.issues
