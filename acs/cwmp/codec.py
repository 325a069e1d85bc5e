"""The CWMP SOAP 1.1 codec: bytes <-> `Envelope` (TR-069 Amd. 6 Annex A; SOAP 1.1 sections 4-5).

`parse_envelope` is tolerant where real boxes are sloppy and strict where input could hurt:

* tolerated: any CWMP namespace ``urn:dslforum-org:cwmp-1-N`` (1-0/1-1/1-2 standard, 1-3/1-4
  seen in the field), any namespace prefixes, missing ``SOAP-ENC:arrayType``, ``encodingStyle``
  attributes on any element, child elements in any order or namespace-qualified, unknown extra
  elements, comments, whitespace, array members under any element name, booleans as
  ``1``/``0``/``true``/``false`` in any case, a missing ``xsi:type`` on a parameter value (read as
  string), a value whose text does not fit its ``xsi:type`` (kept verbatim as string), an all-zero
  dateTime (read as Unknown Time, ``None``), a missing ``mustUnderstand`` on ``cwmp:ID``, an empty
  ``<Body/>`` (``Envelope.message is None``);
* refused with `CwmpParseError` (a clear message naming the element path and the offending value):
  a DOCTYPE, more than `MAX_ENVELOPE_SIZE` bytes, malformed XML, a root that is not a SOAP 1.1
  Envelope, a missing Body, more than one body element, a missing required field, a number, boolean
  or dateTime that does not parse;
* an unknown method is not an error: it parses to `UnknownMethod`; the ACS answers it with fault
  8000.

An empty or whitespace-only body (the CPE's "empty POST") parses to ``None``.

`write_envelope` writes the conventional prefixes ``SOAP-ENV``, ``SOAP-ENC``, ``xsd``, ``xsi`` and
``cwmp`` (some boxes match on them), ``cwmp:ID`` with ``SOAP-ENV:mustUnderstand="1"``, SOAP-ENC
arrays with ``arrayType``, and ``xsi:type`` on every parameter value.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from . import messages as m
from .faults import soap_fault_code

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

CWMP_1_0 = "urn:dslforum-org:cwmp-1-0"
CWMP_1_1 = "urn:dslforum-org:cwmp-1-1"
CWMP_1_2 = "urn:dslforum-org:cwmp-1-2"
CWMP_1_3 = "urn:dslforum-org:cwmp-1-3"  # not standard (1.3 kept cwmp-1-2) but sent by some boxes
CWMP_1_4 = "urn:dslforum-org:cwmp-1-4"  # likewise
CWMP_NAMESPACES = (CWMP_1_0, CWMP_1_1, CWMP_1_2, CWMP_1_3, CWMP_1_4)
_CWMP_NS_RE = re.compile(r"urn:dslforum-org:cwmp-1-([0-9]+)")

#: Bodies larger than this are refused before parsing (a full TR-135/TR-140 tree is well below).
MAX_ENVELOPE_SIZE = 8 * 1024 * 1024

_XSI_TYPE = f"{{{XSI}}}type"
_ARRAY_TYPE = f"{{{SOAP_ENC}}}arrayType"
_MUST_UNDERSTAND = f"{{{SOAP_ENV}}}mustUnderstand"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class CwmpParseError(ValueError):
    """The bytes are not a CWMP envelope this codec accepts; the message says where and why."""


def is_cwmp_namespace(namespace: str | None) -> bool:
    """True for ``urn:dslforum-org:cwmp-1-N`` (any N, so later versions are answered in kind)."""
    return namespace is not None and _CWMP_NS_RE.fullmatch(namespace) is not None


def cwmp_version(namespace: str) -> str:
    """``urn:dslforum-org:cwmp-1-2`` -> ``"1.2"``."""
    match = _CWMP_NS_RE.fullmatch(namespace)
    if match is None:
        raise ValueError(f"not a CWMP namespace: {namespace!r}")
    return f"1.{match.group(1)}"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One parsed SOAP envelope.

    `namespace` is the CWMP namespace the box used (of the body message, else of the header, else
    declared on the root); the ACS answers in it. `message` is None for an envelope with an empty
    Body. `no_more_requests` is the CWMP 1.0 ``NoMoreRequests`` header.
    """

    message: m.Message | m.UnknownMethod | None
    namespace: str | None
    cwmp_id: str | None = None
    hold_requests: bool = False
    no_more_requests: bool = False

    @property
    def version(self) -> str | None:
        return cwmp_version(self.namespace) if self.namespace else None


# --- field kinds: how one element maps to one Python value ---------------------------------------


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag: Any) -> str:
    """The local name of a tag ("{ns}name" or "name"); comments and PIs have none."""
    if not isinstance(tag, str):
        return ""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = etree.QName(tag).localname
        if len(_LOCAL_NAMES) < 4096:  # the vocabulary is small; junk tags are not kept
            _LOCAL_NAMES[tag] = name
    return name


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _text(element: etree._Element, path: str) -> str:
    if not len(element):  # no child nodes at all (the common case): its text is all of it
        return element.text or ""
    if _children(element):
        raise CwmpParseError(
            f"{path}: expected text, found child element <{_local(element[0].tag)}>"
        )
    return "".join(element.itertext())


class _Kind:
    def read(self, element: etree._Element, path: str) -> Any:
        raise NotImplementedError

    def write(self, element: etree._Element, value: Any) -> None:
        raise NotImplementedError


class _Text(_Kind):
    def read(self, element: etree._Element, path: str) -> str:
        return _text(element, path)

    def write(self, element: etree._Element, value: str) -> None:
        element.text = value


class _Int(_Kind):
    def __init__(self, low: int, high: int, label: str) -> None:
        self.low, self.high, self.label = low, high, label

    def read(self, element: etree._Element, path: str) -> int:
        text = _text(element, path).strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,20}", text):
            raise CwmpParseError(f"{path}: {text!r} is not an {self.label}")
        value = int(text)
        if not self.low <= value <= self.high:
            raise CwmpParseError(f"{path}: {value} is outside the {self.label} range")
        return value

    def write(self, element: etree._Element, value: int) -> None:
        if isinstance(value, bool) or not self.low <= value <= self.high:
            raise ValueError(f"<{_local(element.tag)}>: {value!r} is not an {self.label}")
        element.text = str(value)


_UINT = _Int(0, 2**32 - 1, "unsignedInt")
_SINT = _Int(-(2**31), 2**31 - 1, "int")


class _Bool(_Kind):
    def read(self, element: etree._Element, path: str) -> bool:
        text = _text(element, path).strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise CwmpParseError(f"{path}: {text!r} is not a boolean")

    def write(self, element: etree._Element, value: bool) -> None:
        element.text = "true" if value else "false"


class _DateTime(_Kind):
    def read(self, element: etree._Element, path: str) -> datetime | None:
        text = _text(element, path)
        try:
            return m.parse_datetime(text)
        except ValueError:
            raise CwmpParseError(f"{path}: {text!r} is not an xsd:dateTime") from None

    def write(self, element: etree._Element, value: datetime | None) -> None:
        element.text = m.format_datetime(value)


_TYPE_NAMES = {t.value.lower(): t for t in m.XsdType} | {"base64binary": m.XsdType.BASE64}


class _Typed(_Kind):
    """A parameter value with ``xsi:type``."""

    def read(self, element: etree._Element, path: str) -> m.TypedValue:
        text = _text(element, path)
        declared = element.get(_XSI_TYPE)
        xsd_type = m.XsdType.STRING
        if declared:
            xsd_type = _TYPE_NAMES.get(
                declared.rpartition(":")[2].strip().lower(), m.XsdType.STRING
            )
        if xsd_type is m.XsdType.STRING:
            return m.TypedValue(text)
        lexical = text.strip()
        if xsd_type is m.XsdType.BOOLEAN:
            lexical = lexical.lower()
        if m.lexical_error(lexical, xsd_type) is not None:
            return m.TypedValue(text)  # kept verbatim; the declared type does not fit
        return m.TypedValue(lexical, xsd_type)

    def write(self, element: etree._Element, value: m.TypedValue) -> None:
        if value.type is m.XsdType.BASE64:
            element.set(_XSI_TYPE, "SOAP-ENC:base64")
        else:
            element.set(_XSI_TYPE, f"xsd:{value.type.value}")
        element.text = value.text


class _Struct(_Kind):
    def __init__(self, cls: type, fields: Iterable[tuple[str, str, _Kind]]) -> None:
        self.cls = cls
        self.fields = tuple(fields)
        self.defaults = {
            f.name: f.default
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING
        }

    def read(self, element: etree._Element, path: str) -> Any:
        first: dict[str, etree._Element] = {}
        every: dict[str, list[etree._Element]] = {}
        for child in _children(element):
            name = _local(child.tag)
            first.setdefault(name, child)
            every.setdefault(name, []).append(child)
        values: dict[str, Any] = {}
        for tag, attr, kind in self.fields:
            if isinstance(kind, _Repeated):
                values[attr] = kind.read_all(every.get(tag, []), f"{path}/{tag}")
                continue
            child = first.get(tag)
            if child is None:
                if attr in self.defaults:
                    values[attr] = self.defaults[attr]
                    continue
                raise CwmpParseError(f"{path}: required element <{tag}> is missing")
            values[attr] = kind.read(child, f"{path}/{tag}")
        try:
            return self.cls(**values)
        except ValueError as exc:
            raise CwmpParseError(f"{path}: {exc}") from None

    def write(self, element: etree._Element, value: Any) -> None:
        for tag, attr, kind in self.fields:
            item = getattr(value, attr)
            if isinstance(kind, _Repeated):
                kind.write_all(element, tag, item)
            else:
                kind.write(etree.SubElement(element, tag), item)


class _Array(_Kind):
    """A SOAP-ENC array; members are read whatever their element name (SOAP 1.1 section 5.4.2)."""

    def __init__(self, item: _Kind, item_tag: str, item_type: str) -> None:
        self.item, self.item_tag, self.item_type = item, item_tag, item_type

    def read(self, element: etree._Element, path: str) -> tuple[Any, ...]:
        return tuple(
            self.item.read(child, f"{path}/{_local(child.tag)}[{index}]")
            for index, child in enumerate(_children(element), start=1)
        )

    def write(self, element: etree._Element, value: tuple[Any, ...]) -> None:
        element.set(_ARRAY_TYPE, f"{self.item_type}[{len(value)}]")
        for item in value:
            self.item.write(etree.SubElement(element, self.item_tag), item)


class _Repeated(_Kind):
    """An element that may occur several times in a row (cwmp:Fault/SetParameterValuesFault)."""

    def __init__(self, item: _Kind) -> None:
        self.item = item

    def read_all(self, elements: list[etree._Element], path: str) -> tuple[Any, ...]:
        return tuple(
            self.item.read(child, f"{path}[{index}]") for index, child in enumerate(elements, 1)
        )

    def write_all(self, element: etree._Element, tag: str, value: tuple[Any, ...]) -> None:
        for item in value:
            self.item.write(etree.SubElement(element, tag), item)


_TEXT = _Text()
_BOOL = _Bool()
_DATETIME = _DateTime()
_STRINGS = _Array(_TEXT, "string", "xsd:string")

_PARAMETER_VALUES = _Array(
    _Struct(m.ParameterValue, [("Name", "name", _TEXT), ("Value", "value", _Typed())]),
    "ParameterValueStruct",
    "cwmp:ParameterValueStruct",
)
_TRANSFER_FAULT = _Struct(
    m.TransferFault, [("FaultCode", "fault_code", _UINT), ("FaultString", "fault_string", _TEXT)]
)


def _struct(cls: type, *fields: tuple[str, str, _Kind]) -> _Struct:
    return _Struct(cls, fields)


_MESSAGE_KINDS: dict[type, _Struct] = {
    m.Inform: _struct(
        m.Inform,
        (
            "DeviceId",
            "device_id",
            _struct(
                m.DeviceId,
                ("Manufacturer", "manufacturer", _TEXT),
                ("OUI", "oui", _TEXT),
                ("ProductClass", "product_class", _TEXT),
                ("SerialNumber", "serial_number", _TEXT),
            ),
        ),
        (
            "Event",
            "events",
            _Array(
                _struct(
                    m.EventStruct,
                    ("EventCode", "event_code", _TEXT),
                    ("CommandKey", "command_key", _TEXT),
                ),
                "EventStruct",
                "cwmp:EventStruct",
            ),
        ),
        ("MaxEnvelopes", "max_envelopes", _UINT),
        ("CurrentTime", "current_time", _DATETIME),
        ("RetryCount", "retry_count", _UINT),
        ("ParameterList", "parameters", _PARAMETER_VALUES),
    ),
    m.InformResponse: _struct(m.InformResponse, ("MaxEnvelopes", "max_envelopes", _UINT)),
    m.GetRPCMethods: _struct(m.GetRPCMethods),
    m.GetRPCMethodsResponse: _struct(m.GetRPCMethodsResponse, ("MethodList", "methods", _STRINGS)),
    m.GetParameterNames: _struct(
        m.GetParameterNames,
        ("ParameterPath", "parameter_path", _TEXT),
        ("NextLevel", "next_level", _BOOL),
    ),
    m.GetParameterNamesResponse: _struct(
        m.GetParameterNamesResponse,
        (
            "ParameterList",
            "parameters",
            _Array(
                _struct(m.ParameterInfo, ("Name", "name", _TEXT), ("Writable", "writable", _BOOL)),
                "ParameterInfoStruct",
                "cwmp:ParameterInfoStruct",
            ),
        ),
    ),
    m.GetParameterValues: _struct(m.GetParameterValues, ("ParameterNames", "names", _STRINGS)),
    m.GetParameterValuesResponse: _struct(
        m.GetParameterValuesResponse, ("ParameterList", "parameters", _PARAMETER_VALUES)
    ),
    m.SetParameterValues: _struct(
        m.SetParameterValues,
        ("ParameterList", "parameters", _PARAMETER_VALUES),
        ("ParameterKey", "parameter_key", _TEXT),
    ),
    m.SetParameterValuesResponse: _struct(
        m.SetParameterValuesResponse, ("Status", "status", _SINT)
    ),
    m.GetParameterAttributes: _struct(
        m.GetParameterAttributes, ("ParameterNames", "names", _STRINGS)
    ),
    m.GetParameterAttributesResponse: _struct(
        m.GetParameterAttributesResponse,
        (
            "ParameterList",
            "parameters",
            _Array(
                _struct(
                    m.ParameterAttribute,
                    ("Name", "name", _TEXT),
                    ("Notification", "notification", _SINT),
                    ("AccessList", "access_list", _STRINGS),
                ),
                "ParameterAttributeStruct",
                "cwmp:ParameterAttributeStruct",
            ),
        ),
    ),
    m.SetParameterAttributes: _struct(
        m.SetParameterAttributes,
        (
            "ParameterList",
            "parameters",
            _Array(
                _struct(
                    m.ParameterAttributeChange,
                    ("Name", "name", _TEXT),
                    ("NotificationChange", "notification_change", _BOOL),
                    ("Notification", "notification", _SINT),
                    ("AccessListChange", "access_list_change", _BOOL),
                    ("AccessList", "access_list", _STRINGS),
                ),
                "SetParameterAttributesStruct",
                "cwmp:SetParameterAttributesStruct",
            ),
        ),
    ),
    m.SetParameterAttributesResponse: _struct(m.SetParameterAttributesResponse),
    m.AddObject: _struct(
        m.AddObject,
        ("ObjectName", "object_name", _TEXT),
        ("ParameterKey", "parameter_key", _TEXT),
    ),
    m.AddObjectResponse: _struct(
        m.AddObjectResponse,
        ("InstanceNumber", "instance_number", _UINT),
        ("Status", "status", _SINT),
    ),
    m.DeleteObject: _struct(
        m.DeleteObject,
        ("ObjectName", "object_name", _TEXT),
        ("ParameterKey", "parameter_key", _TEXT),
    ),
    m.DeleteObjectResponse: _struct(m.DeleteObjectResponse, ("Status", "status", _SINT)),
    m.Download: _struct(
        m.Download,
        ("CommandKey", "command_key", _TEXT),
        ("FileType", "file_type", _TEXT),
        ("URL", "url", _TEXT),
        ("Username", "username", _TEXT),
        ("Password", "password", _TEXT),
        ("FileSize", "file_size", _UINT),
        ("TargetFileName", "target_file_name", _TEXT),
        ("DelaySeconds", "delay_seconds", _UINT),
        ("SuccessURL", "success_url", _TEXT),
        ("FailureURL", "failure_url", _TEXT),
    ),
    m.DownloadResponse: _struct(
        m.DownloadResponse,
        ("Status", "status", _SINT),
        ("StartTime", "start_time", _DATETIME),
        ("CompleteTime", "complete_time", _DATETIME),
    ),
    m.Reboot: _struct(m.Reboot, ("CommandKey", "command_key", _TEXT)),
    m.RebootResponse: _struct(m.RebootResponse),
    m.FactoryReset: _struct(m.FactoryReset),
    m.FactoryResetResponse: _struct(m.FactoryResetResponse),
    m.ScheduleInform: _struct(
        m.ScheduleInform,
        ("DelaySeconds", "delay_seconds", _UINT),
        ("CommandKey", "command_key", _TEXT),
    ),
    m.ScheduleInformResponse: _struct(m.ScheduleInformResponse),
    m.TransferComplete: _struct(
        m.TransferComplete,
        ("CommandKey", "command_key", _TEXT),
        ("FaultStruct", "fault", _TRANSFER_FAULT),
        ("StartTime", "start_time", _DATETIME),
        ("CompleteTime", "complete_time", _DATETIME),
    ),
    m.TransferCompleteResponse: _struct(m.TransferCompleteResponse),
    m.AutonomousTransferComplete: _struct(
        m.AutonomousTransferComplete,
        ("AnnounceURL", "announce_url", _TEXT),
        ("TransferURL", "transfer_url", _TEXT),
        ("IsDownload", "is_download", _BOOL),
        ("FileType", "file_type", _TEXT),
        ("FileSize", "file_size", _UINT),
        ("TargetFileName", "target_file_name", _TEXT),
        ("FaultStruct", "fault", _TRANSFER_FAULT),
        ("StartTime", "start_time", _DATETIME),
        ("CompleteTime", "complete_time", _DATETIME),
    ),
    m.AutonomousTransferCompleteResponse: _struct(m.AutonomousTransferCompleteResponse),
    m.RequestDownload: _struct(
        m.RequestDownload,
        ("FileType", "file_type", _TEXT),
        (
            "FileTypeArg",
            "file_type_args",
            _Array(
                _struct(m.FileTypeArg, ("Name", "name", _TEXT), ("Value", "value", _TEXT)),
                "ArgStruct",
                "cwmp:ArgStruct",
            ),
        ),
    ),
    m.RequestDownloadResponse: _struct(m.RequestDownloadResponse),
    m.Fault: _struct(
        m.Fault,
        ("FaultCode", "fault_code", _UINT),
        ("FaultString", "fault_string", _TEXT),
        (
            "SetParameterValuesFault",
            "set_parameter_values_faults",
            _Repeated(
                _struct(
                    m.SetParameterValuesFault,
                    ("ParameterName", "parameter_name", _TEXT),
                    ("FaultCode", "fault_code", _UINT),
                    ("FaultString", "fault_string", _TEXT),
                )
            ),
        ),
    ),
}
_BY_NAME = {cls.__name__: kind for cls, kind in _MESSAGE_KINDS.items() if cls is not m.Fault}


# --- parsing -------------------------------------------------------------------------------------

_parsers = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            huge_tree=False,
            load_dtd=False,
            remove_comments=True,
            remove_pis=True,
        )
        _parsers.parser = parser
    return parser


def parse_envelope(body: bytes, *, max_size: int = MAX_ENVELOPE_SIZE) -> Envelope | None:
    """Parse one HTTP POST body. Returns None for an empty POST (no bytes or only whitespace).

    Raises `CwmpParseError` for anything that is not an acceptable CWMP envelope.
    """
    if len(body) > max_size:
        raise CwmpParseError(f"envelope of {len(body)} bytes exceeds the limit of {max_size}")
    if not body.strip():
        return None
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise CwmpParseError(f"malformed XML: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise CwmpParseError("a DOCTYPE is not allowed in a CWMP envelope")
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise CwmpParseError(f"root element {root.tag!r} is not a SOAP 1.1 Envelope")

    header = body_element = None
    for child in _children(root):
        if child.tag == f"{{{SOAP_ENV}}}Header" and header is None:
            header = child
        elif child.tag == f"{{{SOAP_ENV}}}Body" and body_element is None:
            body_element = child
    if body_element is None:
        raise CwmpParseError("Envelope: required element <SOAP-ENV:Body> is missing")

    cwmp_id, hold, no_more, header_ns = _parse_header(header)
    contents = _children(body_element)
    if len(contents) > 1:
        names = ", ".join(_local(child.tag) for child in contents)
        raise CwmpParseError(f"Envelope/Body: expected one message, found {len(contents)}: {names}")

    message: m.Message | m.UnknownMethod | None = None
    message_ns: str | None = None
    if contents:
        message, message_ns = _parse_message(contents[0])

    namespace = message_ns or header_ns
    if namespace is None:
        namespace = next((ns for ns in root.nsmap.values() if is_cwmp_namespace(ns)), None)
    return Envelope(
        message=message,
        namespace=namespace,
        cwmp_id=cwmp_id,
        hold_requests=hold,
        no_more_requests=no_more,
    )


def _parse_header(
    header: etree._Element | None,
) -> tuple[str | None, bool, bool, str | None]:
    cwmp_id: str | None = None
    hold = no_more = False
    namespace: str | None = None
    if header is None:
        return cwmp_id, hold, no_more, namespace
    for child in _children(header):
        qname = etree.QName(child.tag)
        if qname.namespace is not None and not is_cwmp_namespace(qname.namespace):
            continue  # another party's header entry
        path = f"Envelope/Header/{qname.localname}"
        if qname.localname == "ID":
            cwmp_id = _text(child, path).strip()
        elif qname.localname == "HoldRequests":
            hold = _BOOL.read(child, path)
        elif qname.localname == "NoMoreRequests":
            no_more = _BOOL.read(child, path)
        else:
            continue
        namespace = namespace or qname.namespace
    return cwmp_id, hold, no_more, namespace


def _parse_message(element: etree._Element) -> tuple[m.Message | m.UnknownMethod, str | None]:
    qname = etree.QName(element.tag)
    if qname.namespace == SOAP_ENV and qname.localname == "Fault":
        return _parse_fault(element)
    cwmp_ns = qname.namespace if is_cwmp_namespace(qname.namespace) else None
    kind = _BY_NAME.get(qname.localname)
    if kind is None or (qname.namespace is not None and cwmp_ns is None):
        return m.UnknownMethod(name=qname.localname, namespace=qname.namespace), cwmp_ns
    return kind.read(element, f"Envelope/Body/{qname.localname}"), cwmp_ns


def _parse_fault(element: etree._Element) -> tuple[m.Fault, str | None]:
    path = "Envelope/Body/Fault"
    detail = next((c for c in _children(element) if _local(c.tag) == "detail"), None)
    if detail is None:
        faultstring = next((c for c in _children(element) if _local(c.tag) == "faultstring"), None)
        said = (
            f" (faultstring {''.join(faultstring.itertext())!r})" if faultstring is not None else ""
        )
        raise CwmpParseError(f"{path}: SOAP Fault without <detail>{said}")
    cwmp_fault = next((c for c in _children(detail) if _local(c.tag) == "Fault"), None)
    if cwmp_fault is None:
        raise CwmpParseError(f"{path}/detail: required element <cwmp:Fault> is missing")
    namespace = etree.QName(cwmp_fault.tag).namespace
    fault = _MESSAGE_KINDS[m.Fault].read(cwmp_fault, f"{path}/detail/Fault")
    return fault, namespace if is_cwmp_namespace(namespace) else None


# --- writing -------------------------------------------------------------------------------------


def write_envelope(
    message: m.Message,
    *,
    cwmp_id: str | None,
    namespace: str,
    hold_requests: bool = False,
    no_more_requests: bool = False,
) -> bytes:
    """One SOAP 1.1 envelope carrying `message` in the CWMP `namespace`, as UTF-8 bytes.

    The header carries ``cwmp:ID`` (when given), ``cwmp:HoldRequests`` (when true) and the CWMP 1.0
    ``cwmp:NoMoreRequests`` (when true); it is left out when there is nothing to carry.
    Raises ValueError for a value the schema cannot hold (e.g. a negative FileSize) and TypeError
    for something that is not a message.
    """
    kind = _MESSAGE_KINDS.get(type(message))
    if kind is None:
        raise TypeError(f"{type(message).__name__} is not a CWMP message the codec can write")
    if not is_cwmp_namespace(namespace):
        raise ValueError(f"not a CWMP namespace: {namespace!r}")
    nsmap = {"SOAP-ENV": SOAP_ENV, "SOAP-ENC": SOAP_ENC, "xsd": XSD, "xsi": XSI, "cwmp": namespace}
    root = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap=nsmap)
    if cwmp_id is not None or hold_requests or no_more_requests:
        header = etree.SubElement(root, f"{{{SOAP_ENV}}}Header")
        _header_field(header, namespace, "ID", cwmp_id)
        _header_field(header, namespace, "HoldRequests", "1" if hold_requests else None)
        _header_field(header, namespace, "NoMoreRequests", "1" if no_more_requests else None)
    body = etree.SubElement(root, f"{{{SOAP_ENV}}}Body")
    if isinstance(message, m.Fault):
        fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
        etree.SubElement(fault, "faultcode").text = soap_fault_code(message.fault_code)
        etree.SubElement(fault, "faultstring").text = "CWMP fault"
        detail = etree.SubElement(fault, "detail")
        kind.write(etree.SubElement(detail, f"{{{namespace}}}Fault"), message)
    else:
        kind.write(etree.SubElement(body, f"{{{namespace}}}{type(message).__name__}"), message)
    return _XML_DECLARATION + bytes(etree.tostring(root, encoding="UTF-8"))


def _header_field(header: etree._Element, namespace: str, name: str, text: str | None) -> None:
    if text is None:
        return
    element = etree.SubElement(header, f"{{{namespace}}}{name}", {_MUST_UNDERSTAND: "1"})
    element.text = text


#: The writer for each message class (for tests and tools that need to enumerate them).
WRITABLE_TYPES: tuple[type, ...] = tuple(_MESSAGE_KINDS)
