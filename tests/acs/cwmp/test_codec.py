"""The CWMP codec against golden traces, real-world quirks and malformed input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from acs.cwmp import messages as m
from acs.cwmp.codec import (
    CWMP_1_0,
    CWMP_1_1,
    CWMP_1_2,
    CWMP_1_4,
    MAX_ENVELOPE_SIZE,
    CwmpParseError,
    Envelope,
    parse_envelope,
    write_envelope,
)

from .golden_writes import GOLDEN_WRITES, TRACES


def trace(name: str) -> bytes:
    return (TRACES / name).read_bytes()


def envelope_around(body: str, namespace: str = CWMP_1_2, header: str = "") -> bytes:
    return (
        '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:cwmp="{namespace}">'
        f"<SOAP-ENV:Header>{header}</SOAP-ENV:Header>"
        f"<SOAP-ENV:Body>{body}</SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


# --- golden traces from boxes ------------------------------------------------------------------------


def test_inform_with_bootstrap_and_boot_from_a_1_0_box() -> None:
    envelope = parse_envelope(trace("inform-bootstrap-boot-1-0.xml"))
    assert envelope is not None
    assert envelope.namespace == CWMP_1_0
    assert envelope.version == "1.0"
    assert envelope.cwmp_id == "1804289383"
    inform = envelope.message
    assert isinstance(inform, m.Inform)
    assert inform.device_id == m.DeviceId("Vestra Media", "A4B1E9", "VM-4K200", "VM4K2A0123456789")
    assert inform.events == (m.EventStruct("0 BOOTSTRAP", ""), m.EventStruct("1 BOOT", ""))
    assert inform.event_codes == ("0 BOOTSTRAP", "1 BOOT")
    assert inform.max_envelopes == 1
    assert inform.current_time == datetime(2026, 3, 14, 8, 26, 53, tzinfo=UTC)
    assert inform.retry_count == 0
    values = {p.name: p.value for p in inform.parameters}
    assert len(values) == 10
    assert values["Device.DeviceInfo.SoftwareVersion"] == m.TypedValue("4.2.17-r3")
    assert values["Device.DeviceInfo.UpTime"] == m.TypedValue("42", m.XsdType.UNSIGNED_INT)
    assert values["Device.DeviceInfo.UpTime"].to_python() == 42
    assert values["Device.ManagementServer.ParameterKey"] == m.TypedValue("")
    igmp = values["Device.Services.STBService.1.Components.FrontEnd.1.IP.IGMP.Enable"]
    assert igmp.to_python() is True


def test_inform_with_real_world_quirks() -> None:
    """Latin-1, other prefixes, no arrayType, fields shuffled, unknown element, qualified children,
    value without xsi:type, "True", whitespace around the ID, unparseable typed value."""
    envelope = parse_envelope(trace("inform-periodic-quirks-1-2.xml"))
    assert envelope is not None
    assert envelope.namespace == CWMP_1_2
    assert envelope.cwmp_id == "inf-77"
    inform = envelope.message
    assert inform == m.Inform(
        device_id=m.DeviceId("Vestra Média", "A4B1E9", "VM-4K200", "VM4K2A0123456789"),
        events=(m.EventStruct("2 PERIODIC", "ck-1"), m.EventStruct("M Download", "fw-4.2.18")),
        max_envelopes=1,
        current_time=datetime(2026, 3, 14, 10, 0, 0, 123000, tzinfo=UTC),
        retry_count=2,
        parameters=(
            m.ParameterValue("Device.DeviceInfo.SoftwareVersion", m.TypedValue("4.2.18")),
            m.ParameterValue(
                "Device.Services.STBService.1.Enable", m.TypedValue("true", m.XsdType.BOOLEAN)
            ),
            m.ParameterValue(
                "Device.DeviceInfo.X_VESTRA_Temperature", m.TypedValue("-3", m.XsdType.INT)
            ),
            m.ParameterValue(
                "Device.DeviceInfo.FirstUseDate",
                m.TypedValue("0001-01-01T00:00:00Z", m.XsdType.DATE_TIME),
            ),
            m.ParameterValue("Device.DeviceInfo.X_VESTRA_Broken", m.TypedValue("n/a")),
        ),
    )
    assert inform.parameters[3].value.to_python() is None  # Unknown Time


def test_transfer_complete_with_fault_in_the_non_standard_1_4_namespace() -> None:
    envelope = parse_envelope(trace("transfer-complete-fault-1-4.xml"))
    assert envelope == Envelope(
        message=m.TransferComplete(
            command_key="fw-4.2.18",
            fault=m.TransferFault(9010, "Download failed: HTTP 404 from fus.example.net"),
            start_time=datetime(2026, 3, 14, 9, 27, 10, tzinfo=UTC),
            complete_time=None,
        ),
        namespace=CWMP_1_4,
        cwmp_id="tc-2",
    )
    assert envelope.version == "1.4"


def test_get_parameter_values_response_keeps_every_type() -> None:
    envelope = parse_envelope(trace("get-parameter-values-response-1-0.xml"))
    assert envelope is not None
    response = envelope.message
    assert isinstance(response, m.GetParameterValuesResponse)
    types = [p.value.type for p in response.parameters]
    assert types == [
        m.XsdType.BOOLEAN,
        m.XsdType.UNSIGNED_INT,
        m.XsdType.UNSIGNED_LONG,
        m.XsdType.HEX_BINARY,
        m.XsdType.BASE64,
        m.XsdType.DATE_TIME,
    ]
    python = [p.value.to_python() for p in response.parameters]
    assert python == [
        False,
        476940,
        2**64 - 1,
        bytes.fromhex("00FFFFFFFFFFFF00"),
        b"\x89PNG\r\n\x1a\n",
        datetime(2026, 3, 14, 10, 26, 53, tzinfo=timezone(timedelta(hours=1))),
    ]


def test_set_parameter_values_fault_with_per_parameter_faults() -> None:
    envelope = parse_envelope(trace("set-parameter-values-fault-1-2.xml"))
    assert envelope is not None
    assert envelope.cwmp_id == "s1.2"
    assert envelope.message == m.Fault(
        9003,
        "Invalid arguments",
        (
            m.SetParameterValuesFault(
                "Device.Services.STBService.1.Components.AudioOutput.1.AudioLevel",
                9007,
                "Value 140 out of range 0..100",
            ),
            m.SetParameterValuesFault("Device.DeviceInfo.SerialNumber", 9008, ""),
        ),
    )


def test_autonomous_transfer_complete() -> None:
    envelope = parse_envelope(trace("autonomous-transfer-complete-1-1.xml"))
    assert envelope is not None
    assert envelope.namespace == CWMP_1_1
    atc = envelope.message
    assert isinstance(atc, m.AutonomousTransferComplete)
    assert atc.is_download is True
    assert atc.file_size == 73400320
    assert atc.fault == m.TransferFault(0, "")
    assert atc.complete_time == datetime(2026, 3, 14, 2, 3, 41, tzinfo=UTC)


def test_request_download() -> None:
    envelope = parse_envelope(trace("request-download-1-2.xml"))
    assert envelope is not None
    assert envelope.message == m.RequestDownload(
        "1 Firmware Upgrade Image",
        (m.FileTypeArg("Version", "4.2.17-r3"), m.FileTypeArg("Channel", "stable")),
    )


def test_unknown_method_parses_to_unknown_method() -> None:
    envelope = parse_envelope(trace("kicked-unknown-method-1-0.xml"))
    assert envelope is not None
    assert envelope.message == m.UnknownMethod("Kicked", CWMP_1_0)
    assert envelope.namespace == CWMP_1_0


def test_empty_body_with_no_more_requests() -> None:
    envelope = parse_envelope(trace("empty-body-no-more-requests-1-0.xml"))
    assert envelope == Envelope(
        message=None, namespace=CWMP_1_0, cwmp_id=None, no_more_requests=True
    )


# --- golden writes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN_WRITES))
def test_writer_output_matches_golden_file(name: str) -> None:
    message, kwargs = GOLDEN_WRITES[name]
    assert write_envelope(message, **kwargs) == trace(name)
    envelope = parse_envelope(trace(name))
    assert envelope is not None
    assert envelope.message == message
    assert envelope.namespace == kwargs["namespace"]


def test_every_trace_file_is_used() -> None:
    used = set(GOLDEN_WRITES) | {
        "inform-bootstrap-boot-1-0.xml",
        "inform-periodic-quirks-1-2.xml",
        "transfer-complete-fault-1-4.xml",
        "get-parameter-values-response-1-0.xml",
        "set-parameter-values-fault-1-2.xml",
        "autonomous-transfer-complete-1-1.xml",
        "request-download-1-2.xml",
        "kicked-unknown-method-1-0.xml",
        "empty-body-no-more-requests-1-0.xml",
    }
    assert {path.name for path in Path(TRACES).glob("*.xml")} == used


def test_writer_answers_in_the_given_namespace_with_must_understand() -> None:
    data = write_envelope(m.Reboot("r1"), cwmp_id="7", namespace=CWMP_1_4)
    assert b'xmlns:cwmp="urn:dslforum-org:cwmp-1-4"' in data
    assert b'<cwmp:ID SOAP-ENV:mustUnderstand="1">7</cwmp:ID>' in data
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')


def test_writer_leaves_out_an_empty_header() -> None:
    data = write_envelope(m.FactoryReset(), cwmp_id=None, namespace=CWMP_1_2)
    assert b"Header" not in data


def test_writer_refuses_what_the_schema_cannot_hold() -> None:
    with pytest.raises(ValueError, match="FileSize"):
        write_envelope(
            m.Download("k", "1 Firmware Upgrade Image", "http://x", file_size=-1),
            cwmp_id="1",
            namespace=CWMP_1_2,
        )
    with pytest.raises(ValueError, match="CWMP namespace"):
        write_envelope(m.Reboot(), cwmp_id="1", namespace="urn:example")
    with pytest.raises(TypeError):
        write_envelope(m.UnknownMethod("Kicked"), cwmp_id="1", namespace=CWMP_1_2)  # type: ignore[arg-type]


# --- quirks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"   \r\n\t"])
def test_empty_post_parses_to_none(body: bytes) -> None:
    assert parse_envelope(body) is None


def test_missing_xsi_type_and_array_type_and_members_under_any_name() -> None:
    data = envelope_around(
        "<cwmp:GetParameterValues><ParameterNames>"
        "<string>Device.A</string><xsd:string>Device.B</xsd:string><item>Device.C</item>"
        "</ParameterNames></cwmp:GetParameterValues>"
    )
    envelope = parse_envelope(data)
    assert envelope is not None
    assert envelope.message == m.GetParameterValues(("Device.A", "Device.B", "Device.C"))


def test_encoding_style_attributes_and_comments_anywhere() -> None:
    style = 'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"'
    data = envelope_around(
        f"<cwmp:AddObject {style}><!-- vendor note --><ObjectName {style}>Device.X.</ObjectName>"
        f"<ParameterKey {style}>k<!-- split -->1</ParameterKey></cwmp:AddObject>"
    )
    envelope = parse_envelope(data)
    assert envelope is not None
    assert envelope.message == m.AddObject("Device.X.", "k1")


def test_optional_fields_may_be_missing() -> None:
    data = envelope_around(
        "<cwmp:Inform><DeviceId><Manufacturer>M</Manufacturer><OUI>A4B1E9</OUI>"
        "<ProductClass>P</ProductClass><SerialNumber>S</SerialNumber></DeviceId>"
        "<Event><EventStruct><EventCode>2 PERIODIC</EventCode></EventStruct></Event>"
        "<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>2026-01-01T00:00:00</CurrentTime>"
        "<RetryCount>0</RetryCount></cwmp:Inform>"
    )
    envelope = parse_envelope(data)
    assert envelope is not None
    inform = envelope.message
    assert isinstance(inform, m.Inform)
    assert inform.events == (m.EventStruct("2 PERIODIC", ""),)
    assert inform.parameters == ()
    assert inform.current_time == datetime(2026, 1, 1)  # no offset: naive


def test_all_zero_time_reads_as_unknown_time() -> None:
    data = envelope_around(
        "<cwmp:DownloadResponse><Status>1</Status><StartTime>0000-00-00T00:00:00</StartTime>"
        "<CompleteTime>0001-01-01T00:00:00Z</CompleteTime></cwmp:DownloadResponse>"
    )
    envelope = parse_envelope(data)
    assert envelope is not None
    assert envelope.message == m.DownloadResponse(1, None, None)


def test_hold_requests_header_and_header_without_must_understand() -> None:
    data = envelope_around(
        "<cwmp:RebootResponse/>",
        header="<cwmp:ID>abc</cwmp:ID><cwmp:HoldRequests>true</cwmp:HoldRequests>"
        "<vendor:Trace xmlns:vendor='urn:vendor'>x</vendor:Trace>"
        "<vendor:ID xmlns:vendor='urn:vendor'>not ours</vendor:ID>",
    )
    assert parse_envelope(data) == Envelope(
        m.RebootResponse(), CWMP_1_2, cwmp_id="abc", hold_requests=True
    )


def test_method_without_namespace_is_accepted_and_foreign_namespace_is_unknown() -> None:
    envelope = parse_envelope(envelope_around("<RebootResponse/>", namespace=CWMP_1_1))
    assert envelope is not None
    assert envelope.message == m.RebootResponse()
    assert envelope.namespace == CWMP_1_1  # declared on the root
    envelope = parse_envelope(envelope_around("<x:Reboot xmlns:x='urn:vendor'/>"))
    assert envelope is not None
    assert envelope.message == m.UnknownMethod("Reboot", "urn:vendor")


def test_vendor_method_in_cwmp_namespace_is_unknown_method() -> None:
    envelope = parse_envelope(
        envelope_around("<cwmp:X_VESTRA_Diagnose><A>1</A></cwmp:X_VESTRA_Diagnose>")
    )
    assert envelope is not None
    assert envelope.message == m.UnknownMethod("X_VESTRA_Diagnose", CWMP_1_2)


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<not-xml", "malformed XML"),
        (b"<a/>", "not a SOAP 1.1 Envelope"),
        (
            b'<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>',
            "not a SOAP 1.1 Envelope",
        ),
        (
            b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"/>',
            "<SOAP-ENV:Body> is missing",
        ),
        (
            envelope_around("<cwmp:Reboot/><cwmp:FactoryReset/>"),
            "expected one message, found 2: Reboot, FactoryReset",
        ),
        (
            envelope_around("<cwmp:AddObjectResponse><Status>0</Status></cwmp:AddObjectResponse>"),
            "Envelope/Body/AddObjectResponse: required element <InstanceNumber> is missing",
        ),
        (
            envelope_around(
                "<cwmp:InformResponse><MaxEnvelopes>one</MaxEnvelopes></cwmp:InformResponse>"
            ),
            "Envelope/Body/InformResponse/MaxEnvelopes: 'one' is not an unsignedInt",
        ),
        (
            envelope_around(
                "<cwmp:InformResponse><MaxEnvelopes>-1</MaxEnvelopes></cwmp:InformResponse>"
            ),
            "MaxEnvelopes: -1 is outside the unsignedInt range",
        ),
        (
            envelope_around(
                "<cwmp:GetParameterNames><ParameterPath>Device.</ParameterPath>"
                "<NextLevel>maybe</NextLevel></cwmp:GetParameterNames>"
            ),
            "Envelope/Body/GetParameterNames/NextLevel: 'maybe' is not a boolean",
        ),
        (
            envelope_around(
                "<cwmp:GetParameterNamesResponse><ParameterList>"
                "<ParameterInfoStruct><Name>a</Name><Writable>1</Writable></ParameterInfoStruct>"
                "<ParameterInfoStruct><Name>b</Name></ParameterInfoStruct>"
                "</ParameterList></cwmp:GetParameterNamesResponse>"
            ),
            "GetParameterNamesResponse/ParameterList/ParameterInfoStruct[2]: "
            "required element <Writable> is missing",
        ),
        (
            envelope_around(
                "<cwmp:TransferComplete><CommandKey/><FaultStruct><FaultCode>0</FaultCode>"
                "<FaultString/></FaultStruct><StartTime>yesterday</StartTime>"
                "<CompleteTime>2026-01-01T00:00:00Z</CompleteTime></cwmp:TransferComplete>"
            ),
            "Envelope/Body/TransferComplete/StartTime: 'yesterday' is not an xsd:dateTime",
        ),
        (
            envelope_around("<cwmp:Reboot><CommandKey><b>bold</b></CommandKey></cwmp:Reboot>"),
            "Envelope/Body/Reboot/CommandKey: expected text, found child element <b>",
        ),
        (
            envelope_around(
                "<SOAP-ENV:Fault><faultcode>Server</faultcode>"
                "<faultstring>boom</faultstring></SOAP-ENV:Fault>"
            ),
            "SOAP Fault without <detail> (faultstring 'boom')",
        ),
        (
            envelope_around("<cwmp:Reboot/>", header="<cwmp:HoldRequests>2</cwmp:HoldRequests>"),
            "Envelope/Header/HoldRequests: '2' is not a boolean",
        ),
    ],
)
def test_malformed_envelopes_raise_a_clear_error(data: bytes, expected: str) -> None:
    with pytest.raises(CwmpParseError) as info:
        parse_envelope(data)
    assert expected in str(info.value)


def test_doctype_is_refused_and_entities_are_not_expanded() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol"><!ENTITY lol2 '
        b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        + envelope_around("<cwmp:Reboot><CommandKey>&lol2;</CommandKey></cwmp:Reboot>")
    )
    with pytest.raises(CwmpParseError, match="DOCTYPE"):
        parse_envelope(data)


def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]>'.encode()
        + envelope_around("<cwmp:Reboot><CommandKey>&xxe;</CommandKey></cwmp:Reboot>")
    )
    with pytest.raises(CwmpParseError) as info:
        parse_envelope(data)
    assert "TOP SECRET" not in str(info.value)


def test_size_limit() -> None:
    with pytest.raises(CwmpParseError, match="exceeds the limit"):
        parse_envelope(b" " * (MAX_ENVELOPE_SIZE + 1))
    small = envelope_around("<cwmp:Reboot><CommandKey>k</CommandKey></cwmp:Reboot>")
    with pytest.raises(CwmpParseError, match="exceeds the limit of 100"):
        parse_envelope(small, max_size=100)


def test_deep_nesting_is_refused_not_recursed() -> None:
    deep = "<a>" * 100_000 + "</a>" * 100_000
    with pytest.raises(CwmpParseError, match="malformed XML"):
        parse_envelope(
            envelope_around(f"<cwmp:Reboot><CommandKey>{deep}</CommandKey></cwmp:Reboot>")
        )
