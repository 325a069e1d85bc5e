"""`fus.qrc.response` writes exactly the bytes spyne's Soap11 serialiser writes for the same
answer (hypothesis over offers: markup, quotes, CR, non-ASCII, empty and absent optional values,
time zones), and refuses what lxml refuses, so the service falls back to spyne for those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spyne import MethodContext
from spyne.protocol import ProtocolBase

from fus.qrc import messages as msg
from fus.qrc.answers import Location, Offer, OfferedFile
from fus.qrc.response import response_bytes
from fus.qrc.service import _to_soap
from fus.qrc.views import _application, _server


def spyne_bytes(offers: list[Offer]) -> bytes:
    """What spyne's own serialiser writes for the service's return value."""
    ctx = MethodContext(_server, MethodContext.SERVER)
    ctx.descriptor = _application.interface.service_method_map[
        f"{{{msg.NAMESPACE}}}FirmwareUpdateCheck"
    ][0]
    ctx.out_object = [[_to_soap(offer) for offer in offers]]
    _application.out_protocol.serialize(ctx, message=ProtocolBase.RESPONSE)
    _application.out_protocol.create_out_string(ctx)
    return b"".join(ctx.out_string)


# XML-writable text, with the characters that need escaping made likely.
xml_text = st.text(
    st.one_of(
        st.sampled_from(list("&<>\"'\r\n\t é€😀]]>")),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff"),
    ).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20),
    max_size=12,
)
datetimes = st.one_of(
    st.none(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), None])),
)
locations = st.builds(
    Location,
    xml_text,
    st.sampled_from(["Unicast Delivery", "Multicast Delivery"]),
    st.one_of(st.none(), st.integers(0, 65535)),
)
files = st.builds(
    OfferedFile,
    xml_text,
    st.integers(0, 2**40),
    xml_text,
    xml_text,
    st.lists(locations, max_size=3).map(tuple),
)
offers = st.builds(
    Offer,
    software_version=xml_text,
    package_name=xml_text,
    package_size=st.integers(0, 2**40),
    update_flag=xml_text,
    update_method=xml_text,
    update_priority=st.integers(1, 4),
    valid_from=datetimes,
    valid_until=datetimes,
    message=xml_text,
    files=st.lists(files, max_size=2).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(offers, max_size=3))
def test_the_same_bytes_as_spynes_serialiser(answer):
    assert response_bytes(answer) == spyne_bytes(answer)


def test_an_empty_answer_is_the_same_too():
    assert response_bytes([]) == spyne_bytes([])
    assert b"<tns:Updates/>" in response_bytes([])


@pytest.mark.parametrize("bad", ["\x00", "a\x01b", "\x1f", "\ud800", "\uffff"])
def test_text_lxml_refuses_is_refused_here_too(bad):
    offer = Offer("1.0", bad, 1, "automatic", "immediate", 1, None, None, "", ())
    with pytest.raises(ValueError):
        spyne_bytes([offer])
    with pytest.raises(ValueError):
        response_bytes([offer])


def test_a_real_datetime_is_written_as_spyne_writes_it():
    at = datetime(2026, 11, 20, 12, 30, 1, 5, tzinfo=UTC)
    offer = Offer("2.0", "p", 1, "automatic", "immediate", 1, at, None, "", ())
    assert b"<tns:StartTime>2026-11-20T12:30:01.000005+00:00</tns:StartTime>" in response_bytes(
        [offer]
    )
    assert response_bytes([offer]) == spyne_bytes([offer])
