"""Every message the ACS writes validates against the Broadband Forum schema of its namespace."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from acs.cwmp import messages as m
from acs.cwmp.codec import CWMP_1_0, CWMP_1_1, CWMP_1_2, write_envelope
from acs.cwmp.faults import FaultCode

from .strategies import ACS_WRITTEN, MESSAGES, acs_faults, cwmp_ids
from .xsd import cwmp_schema, declared_elements

#: (schema file, namespace it validates). cwmp-1-4.xsd includes 1-3 and 1-2 by URL.
SCHEMAS = [
    ("cwmp-1-0.xsd", CWMP_1_0),
    ("cwmp-1-1.xsd", CWMP_1_1),
    ("cwmp-1-2.xsd", CWMP_1_2),
    ("cwmp-1-4.xsd", CWMP_1_2),
]
#: Written only when the box itself used the method, which CWMP 1.0 does not have.
NOT_IN_1_0 = {m.AutonomousTransferCompleteResponse}


def _strategy(cls: type) -> st.SearchStrategy:
    return acs_faults if cls is m.Fault else MESSAGES[cls]


def assert_valid(schema: etree.XMLSchema, data: bytes) -> None:
    document = etree.fromstring(data)
    assert schema.validate(document), f"{schema.error_log}\n{data.decode()}"
    for header in document.iterfind("{*}Header/*"):
        assert header.get("{http://schemas.xmlsoap.org/soap/envelope/}mustUnderstand") == "1"


def test_schemas_declare_what_the_acs_writes() -> None:
    for xsd_file, _ in SCHEMAS:
        declared = declared_elements(xsd_file)
        missing = {cls for cls in ACS_WRITTEN if cls.__name__ not in declared}
        assert missing == (NOT_IN_1_0 if xsd_file == "cwmp-1-0.xsd" else set())


@pytest.mark.parametrize(("xsd_file", "namespace"), SCHEMAS, ids=[s[0] for s in SCHEMAS])
@pytest.mark.parametrize("cls", ACS_WRITTEN, ids=lambda cls: cls.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_acs_written_message_validates(
    xsd_file: str, namespace: str, cls: type, data: st.DataObject
) -> None:
    if namespace == CWMP_1_0 and cls in NOT_IN_1_0:
        return
    message = data.draw(_strategy(cls))
    written = write_envelope(
        message,
        cwmp_id=data.draw(cwmp_ids),
        namespace=namespace,
        hold_requests=data.draw(st.booleans()),
    )
    assert_valid(cwmp_schema(xsd_file), written)


@pytest.mark.parametrize(("xsd_file", "namespace"), SCHEMAS, ids=[s[0] for s in SCHEMAS])
def test_every_acs_fault_code_validates(xsd_file: str, namespace: str) -> None:
    for code in FaultCode:
        if code < 9000:
            written = write_envelope(
                m.Fault(code, code.description), cwmp_id="1", namespace=namespace
            )
            assert_valid(cwmp_schema(xsd_file), written)


def test_validation_catches_an_invalid_message() -> None:
    """The control: the schemas really are applied to the body and the header."""
    schema = cwmp_schema("cwmp-1-2.xsd")
    bad_object = write_envelope(m.AddObject("Device.X"), cwmp_id="1", namespace=CWMP_1_2)
    assert not schema.validate(etree.fromstring(bad_object))
    bad_value = write_envelope(
        m.SetParameterValues((m.ParameterValue("Device.A", m.TypedValue("5", m.XsdType.INT)),)),
        cwmp_id="1",
        namespace=CWMP_1_2,
    ).replace(b">5<", b">five<")
    assert not schema.validate(etree.fromstring(bad_value))
    bad_header = write_envelope(m.Reboot(), cwmp_id="1", namespace=CWMP_1_2).replace(
        b' SOAP-ENV:mustUnderstand="1"', b""
    )
    assert not schema.validate(etree.fromstring(bad_header))
