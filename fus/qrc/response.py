"""`FirmwareUpdateCheckResponse` written straight to bytes: the same bytes spyne's Soap11 writes
for `fus.qrc.messages.Updates`, without building spyne objects and an lxml tree per check.

spyne lets a method write its own outgoing byte stream (`ctx.out_string` set by the method: spyne
then skips its serialiser; `spyne.server._base.ServerBase.get_out_string_pull`), so the QRC stays a
spyne service: spyne parses and validates the request, dispatches, and writes faults and the WSDL;
only the success answer's serialisation is ours. Serialising one answer through spyne took about a
third of a check's CPU (docs/benchmarks/qrc.md).

Byte-for-byte equality with spyne's serialiser is a test (`tests/fus/qrc/test_qrc_response.py`,
hypothesis over offers with markup, control characters and non-ASCII text). A value lxml cannot
write (a control character, a lone surrogate) raises `ValueError` here as it does in lxml: the
service then hands the answer to spyne, which fails the same way it always did (a `Server` fault).
"""

from __future__ import annotations

import re
from datetime import datetime

from spyne.protocol.soap import Soap11

from fus.qrc import messages as msg
from fus.qrc.answers import Offer

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    f'<soap11env:Envelope xmlns:soap11env="{SOAP_ENV}" xmlns:tns="{msg.NAMESPACE}">'
    "<soap11env:Body><tns:FirmwareUpdateCheckResponse>"
)
_TAIL = "</tns:FirmwareUpdateCheckResponse></soap11env:Body></soap11env:Envelope>"
_EMPTY = (_HEAD + "<tns:Updates/>" + _TAIL).encode()

# What lxml refuses in text: C0 controls but tab, LF and CR; surrogates; U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DATETIME = msg.ValidityTimeRange._type_info["StartTime"]
_PROTOCOL = Soap11()  # only for its DateTime text (the same function spyne's serialiser uses)


def _text(value: str) -> str:
    """Element text escaped as libxml2 writes it (&, <, > and CR; quotes stay)."""
    if _NOT_XML.search(value):
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control "
            f"characters: {value!r}"
        )
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _datetime(value: datetime) -> str:
    return _PROTOCOL.to_unicode(_DATETIME, value)


def _offer(offer: Offer, out: list[str]) -> None:
    add = out.append
    add("<tns:FirmwareUpdate><tns:SoftwareVersion>")
    add(_text(offer.software_version))
    add("</tns:SoftwareVersion><tns:PackageName>")
    add(_text(offer.package_name))
    add(f"</tns:PackageName><tns:PackageSize>{int(offer.package_size)}</tns:PackageSize>")
    add("<tns:UpdateDescriptor><tns:UpdateFlag>")
    add(_text(offer.update_flag))
    add("</tns:UpdateFlag><tns:UpdateMethod>")
    add(_text(offer.update_method))
    add(
        f"</tns:UpdateMethod><tns:UpdatePriority>{int(offer.update_priority)}"
        "</tns:UpdatePriority></tns:UpdateDescriptor>"
    )
    if offer.valid_from or offer.valid_until:
        add("<tns:ValidityTimeRange>")
        if offer.valid_from is not None:
            add(f"<tns:StartTime>{_datetime(offer.valid_from)}</tns:StartTime>")
        if offer.valid_until is not None:
            add(f"<tns:EndTime>{_datetime(offer.valid_until)}</tns:EndTime>")
        add("</tns:ValidityTimeRange>")
    if offer.message:
        add(f"<tns:MessageDescriptor>{_text(offer.message)}</tns:MessageDescriptor>")
    if not offer.files:
        add("<tns:Files/></tns:FirmwareUpdate>")
        return
    add("<tns:Files>")
    for file in offer.files:
        add("<tns:PackageFile><tns:FileName>")
        add(_text(file.file_name))
        add(f"</tns:FileName><tns:FileSize>{int(file.file_size)}</tns:FileSize><tns:SHA256>")
        add(_text(file.sha256))
        add("</tns:SHA256>")
        if file.module_type:
            add(f"<tns:ModuleType>{_text(file.module_type)}</tns:ModuleType>")
        if not file.locations:
            add("<tns:Locations/></tns:PackageFile>")
            continue
        add("<tns:Locations>")
        for location in file.locations:
            add("<tns:Location><tns:URL>")
            add(_text(location.url))
            add("</tns:URL><tns:Interface>")
            add(_text(location.interface))
            add("</tns:Interface>")
            if location.preference is not None:
                add(f"<tns:Preference>{int(location.preference)}</tns:Preference>")
            add("</tns:Location>")
        add("</tns:Locations></tns:PackageFile>")
    add("</tns:Files></tns:FirmwareUpdate>")


def response_bytes(offers: list[Offer]) -> bytes:
    """The whole SOAP envelope answering `offers` (best first), UTF-8, as spyne writes it."""
    if not offers:
        return _EMPTY
    out = [_HEAD, "<tns:Updates>"]
    for offer in offers:
        _offer(offer, out)
    out.append("</tns:Updates>")
    out.append(_TAIL)
    return "".join(out).encode()
