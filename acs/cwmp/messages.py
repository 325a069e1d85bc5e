"""CWMP messages (TR-069 Annex A) as frozen dataclasses, one class per RPC element.

Each message class is named exactly like its XML element in the `cwmp` namespace, so the codec
maps ``type(message).__name__`` to the element name and back. Fields are snake_case versions of the
element's children, in schema order.

Times are ``datetime`` values (aware when the wire text had an offset, naive otherwise); ``None``
stands for TR-069's "Unknown Time" ``0001-01-01T00:00:00Z``. Parameter values keep their lexical
text and their ``xsi:type`` (`TypedValue`), so nothing is lost between what a box said and what the
ACS stores or writes back.

`to_dict` / `from_dict` turn any message (or any value made of these classes) into JSON-able data
and back; the session state machine uses them to survive between HTTP requests.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class XsdType(StrEnum):
    """The CWMP parameter data types (TR-069 Table 4 / TR-106), as written after ``xsi:type``."""

    STRING = "string"
    INT = "int"
    UNSIGNED_INT = "unsignedInt"
    BOOLEAN = "boolean"
    DATE_TIME = "dateTime"
    BASE64 = "base64"
    LONG = "long"
    UNSIGNED_LONG = "unsignedLong"
    HEX_BINARY = "hexBinary"


_INT_RANGES: dict[XsdType, tuple[int, int]] = {
    XsdType.INT: (-(2**31), 2**31 - 1),
    XsdType.UNSIGNED_INT: (0, 2**32 - 1),
    XsdType.LONG: (-(2**63), 2**63 - 1),
    XsdType.UNSIGNED_LONG: (0, 2**64 - 1),
}
_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_DATETIME_RE = re.compile(
    r"-?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_HEX_RE = re.compile(r"(?:[0-9A-Fa-f]{2})*")
_BOOLEAN_WORDS = {"true": True, "1": True, "false": False, "0": False}


def lexical_error(text: str, xsd_type: XsdType) -> str | None:
    """Why `text` is not a valid lexical form of `xsd_type`, or None when it is."""
    if xsd_type is XsdType.STRING:
        return None
    if xsd_type in _INT_RANGES:
        if not _INTEGER_RE.fullmatch(text):
            return f"{text!r} is not an integer"
        low, high = _INT_RANGES[xsd_type]
        if not low <= int(text) <= high:
            return f"{text} is outside the {xsd_type} range {low}..{high}"
        return None
    if xsd_type is XsdType.BOOLEAN:
        return None if text in _BOOLEAN_WORDS else f"{text!r} is not a boolean (true/false/1/0)"
    if xsd_type is XsdType.DATE_TIME:
        try:
            _parse_xsd_datetime(text)
        except ValueError:
            return f"{text!r} is not an xsd:dateTime"
        return None
    if xsd_type is XsdType.HEX_BINARY:
        return None if _HEX_RE.fullmatch(text) else f"{text!r} is not hexBinary"
    # BASE64
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return f"{text!r} is not base64"
    return None


@dataclass(frozen=True, slots=True)
class TypedValue:
    """A parameter value: its lexical text and its CWMP data type.

    The text must be a valid lexical form of the type (checked on construction), so whatever the ACS
    writes validates. Build one from a Python value with `TypedValue.of`, read it with `to_python`.
    """

    text: str
    type: XsdType = XsdType.STRING

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", XsdType(self.type))
        problem = lexical_error(self.text, self.type)
        if problem is not None:
            raise ValueError(problem)

    @classmethod
    def of(
        cls, value: str | bool | int | datetime | bytes, xsd_type: XsdType | None = None
    ) -> TypedValue:
        """The canonical typed value for a Python value (int: ``int``, bytes: base64)."""
        if isinstance(value, bool):
            return cls("true" if value else "false", XsdType.BOOLEAN)
        if isinstance(value, int):
            return cls(str(value), xsd_type or XsdType.INT)
        if isinstance(value, datetime):
            return cls(format_datetime(value), XsdType.DATE_TIME)
        if isinstance(value, bytes):
            if xsd_type is XsdType.HEX_BINARY:
                return cls(value.hex().upper(), XsdType.HEX_BINARY)
            return cls(base64.b64encode(value).decode("ascii"), XsdType.BASE64)
        return cls(value, xsd_type or XsdType.STRING)

    def to_python(self) -> str | bool | int | datetime | bytes | None:
        """The value as Python data; a dateTime of TR-069's Unknown Time gives None."""
        if self.type in _INT_RANGES:
            return int(self.text)
        if self.type is XsdType.BOOLEAN:
            return _BOOLEAN_WORDS[self.text]
        if self.type is XsdType.DATE_TIME:
            return parse_datetime(self.text)
        if self.type is XsdType.BASE64:
            return base64.b64decode(self.text, validate=True)
        if self.type is XsdType.HEX_BINARY:
            return bytes.fromhex(self.text)
        return self.text


UNKNOWN_TIME = "0001-01-01T00:00:00Z"


def format_datetime(value: datetime | None) -> str:
    """xsd:dateTime text; None is written as TR-069's Unknown Time."""
    if value is None:
        return UNKNOWN_TIME
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_datetime(text: str) -> datetime | None:
    """Parse xsd:dateTime text; Unknown Time (and the all-zero form some boxes send) gives None.

    Raises ValueError for anything else that is not a dateTime.
    """
    text = text.strip()
    if text.startswith("0000-00-00T00:00:00"):
        return None
    return _parse_xsd_datetime(text)


def _parse_xsd_datetime(text: str) -> datetime | None:
    if not _DATETIME_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not an xsd:dateTime")
    match = re.match(r"(.*T[0-9:]{8})(\.[0-9]+)?(.*)", text)
    if match is None:  # pragma: no cover - the regex above guarantees the shape
        raise ValueError(f"{text!r} is not an xsd:dateTime")
    head, fraction, zone = match.groups()
    if head == UNKNOWN_TIME[:19]:
        return None
    # Python keeps microseconds: pad or cut the fraction to six digits.
    micro = ("." + (fraction[1:] + "000000")[:6]) if fraction else ""
    return datetime.fromisoformat(head + micro + ("+00:00" if zone == "Z" else zone))


# --- structures used inside messages -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceId:
    """DeviceIdStruct: who the box is. OUI is six upper-case hex digits."""

    manufacturer: str
    oui: str
    product_class: str
    serial_number: str


@dataclass(frozen=True, slots=True)
class EventStruct:
    """One Inform event, e.g. ``0 BOOTSTRAP``, ``1 BOOT`` or ``M Download`` with its CommandKey."""

    event_code: str
    command_key: str = ""


@dataclass(frozen=True, slots=True)
class ParameterValue:
    """ParameterValueStruct: a parameter name and its typed value."""

    name: str
    value: TypedValue


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """ParameterInfoStruct of GetParameterNamesResponse."""

    name: str
    writable: bool


@dataclass(frozen=True, slots=True)
class ParameterAttribute:
    """ParameterAttributeStruct of GetParameterAttributesResponse (notification 0-6)."""

    name: str
    notification: int
    access_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ParameterAttributeChange:
    """SetParameterAttributesStruct: which attributes of one parameter (or partial path) to set."""

    name: str
    notification_change: bool
    notification: int
    access_list_change: bool = False
    access_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TransferFault:
    """FaultStruct of TransferComplete / AutonomousTransferComplete; code 0 means success."""

    fault_code: int = 0
    fault_string: str = ""


@dataclass(frozen=True, slots=True)
class FileTypeArg:
    """ArgStruct of RequestDownload's FileTypeArg array."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SetParameterValuesFault:
    """One per-parameter entry of a SetParameterValues fault (cwmp:Fault)."""

    parameter_name: str
    fault_code: int
    fault_string: str = ""


# --- messages ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inform:
    device_id: DeviceId
    events: tuple[EventStruct, ...]
    max_envelopes: int
    current_time: datetime | None
    retry_count: int
    parameters: tuple[ParameterValue, ...] = ()

    @property
    def event_codes(self) -> tuple[str, ...]:
        return tuple(event.event_code for event in self.events)


@dataclass(frozen=True, slots=True)
class InformResponse:
    max_envelopes: int = 1


@dataclass(frozen=True, slots=True)
class GetRPCMethods:
    pass


@dataclass(frozen=True, slots=True)
class GetRPCMethodsResponse:
    methods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetParameterNames:
    parameter_path: str
    next_level: bool


@dataclass(frozen=True, slots=True)
class GetParameterNamesResponse:
    parameters: tuple[ParameterInfo, ...]


@dataclass(frozen=True, slots=True)
class GetParameterValues:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetParameterValuesResponse:
    parameters: tuple[ParameterValue, ...]


@dataclass(frozen=True, slots=True)
class SetParameterValues:
    parameters: tuple[ParameterValue, ...]
    parameter_key: str = ""


@dataclass(frozen=True, slots=True)
class SetParameterValuesResponse:
    """Status 0: applied; 1: applied but only takes effect after a reboot/commit."""

    status: int


@dataclass(frozen=True, slots=True)
class GetParameterAttributes:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GetParameterAttributesResponse:
    parameters: tuple[ParameterAttribute, ...]


@dataclass(frozen=True, slots=True)
class SetParameterAttributes:
    parameters: tuple[ParameterAttributeChange, ...]


@dataclass(frozen=True, slots=True)
class SetParameterAttributesResponse:
    pass


@dataclass(frozen=True, slots=True)
class AddObject:
    object_name: str
    parameter_key: str = ""


@dataclass(frozen=True, slots=True)
class AddObjectResponse:
    instance_number: int
    status: int


@dataclass(frozen=True, slots=True)
class DeleteObject:
    object_name: str
    parameter_key: str = ""


@dataclass(frozen=True, slots=True)
class DeleteObjectResponse:
    status: int


@dataclass(frozen=True, slots=True)
class Download:
    command_key: str
    file_type: str
    url: str
    username: str = ""
    password: str = field(default="", repr=False)
    file_size: int = 0
    target_file_name: str = ""
    delay_seconds: int = 0
    success_url: str = ""
    failure_url: str = ""


@dataclass(frozen=True, slots=True)
class DownloadResponse:
    """Status 0: download done (times are real); 1: not yet done, TransferComplete will follow."""

    status: int
    start_time: datetime | None = None
    complete_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reboot:
    command_key: str = ""


@dataclass(frozen=True, slots=True)
class RebootResponse:
    pass


@dataclass(frozen=True, slots=True)
class FactoryReset:
    pass


@dataclass(frozen=True, slots=True)
class FactoryResetResponse:
    pass


@dataclass(frozen=True, slots=True)
class ScheduleInform:
    delay_seconds: int
    command_key: str = ""


@dataclass(frozen=True, slots=True)
class ScheduleInformResponse:
    pass


@dataclass(frozen=True, slots=True)
class TransferComplete:
    command_key: str
    fault: TransferFault
    start_time: datetime | None
    complete_time: datetime | None


@dataclass(frozen=True, slots=True)
class TransferCompleteResponse:
    pass


@dataclass(frozen=True, slots=True)
class AutonomousTransferComplete:
    announce_url: str
    transfer_url: str
    is_download: bool
    file_type: str
    file_size: int
    target_file_name: str
    fault: TransferFault
    start_time: datetime | None
    complete_time: datetime | None


@dataclass(frozen=True, slots=True)
class AutonomousTransferCompleteResponse:
    pass


@dataclass(frozen=True, slots=True)
class RequestDownload:
    file_type: str
    file_type_args: tuple[FileTypeArg, ...] = ()


@dataclass(frozen=True, slots=True)
class RequestDownloadResponse:
    pass


@dataclass(frozen=True, slots=True)
class Fault:
    """A CWMP fault: a SOAP 1.1 Fault whose detail carries ``cwmp:Fault``.

    The SOAP ``faultcode`` (Client/Server) is derived from `fault_code` when written.
    """

    fault_code: int
    fault_string: str = ""
    set_parameter_values_faults: tuple[SetParameterValuesFault, ...] = ()


@dataclass(frozen=True, slots=True)
class UnknownMethod:
    """A body element the codec does not know (e.g. ``Kicked``, ``X_VENDOR_Foo``).

    Not a message anyone writes: the ACS answers it with fault 8000 (method not supported).
    """

    name: str
    namespace: str | None = None


# --- groupings -----------------------------------------------------------------------------------

AcsRequest = (
    GetRPCMethods
    | GetParameterNames
    | GetParameterValues
    | SetParameterValues
    | GetParameterAttributes
    | SetParameterAttributes
    | AddObject
    | DeleteObject
    | Download
    | Reboot
    | FactoryReset
    | ScheduleInform
)
CpeResponse = (
    GetRPCMethodsResponse
    | GetParameterNamesResponse
    | GetParameterValuesResponse
    | SetParameterValuesResponse
    | GetParameterAttributesResponse
    | SetParameterAttributesResponse
    | AddObjectResponse
    | DeleteObjectResponse
    | DownloadResponse
    | RebootResponse
    | FactoryResetResponse
    | ScheduleInformResponse
)
CpeRequest = (
    Inform | TransferComplete | AutonomousTransferComplete | RequestDownload | GetRPCMethods
)
AcsResponse = (
    InformResponse
    | TransferCompleteResponse
    | AutonomousTransferCompleteResponse
    | RequestDownloadResponse
    | GetRPCMethodsResponse
)
Message = AcsRequest | CpeResponse | CpeRequest | AcsResponse | Fault

#: What the CPE answers to each ACS request (besides a Fault).
RESPONSE_TYPES: dict[type, type] = {
    GetRPCMethods: GetRPCMethodsResponse,
    GetParameterNames: GetParameterNamesResponse,
    GetParameterValues: GetParameterValuesResponse,
    SetParameterValues: SetParameterValuesResponse,
    GetParameterAttributes: GetParameterAttributesResponse,
    SetParameterAttributes: SetParameterAttributesResponse,
    AddObject: AddObjectResponse,
    DeleteObject: DeleteObjectResponse,
    Download: DownloadResponse,
    Reboot: RebootResponse,
    FactoryReset: FactoryResetResponse,
    ScheduleInform: ScheduleInformResponse,
}

#: What the ACS answers to each CPE request.
ACS_RESPONSE_TYPES: dict[type, type] = {
    Inform: InformResponse,
    TransferComplete: TransferCompleteResponse,
    AutonomousTransferComplete: AutonomousTransferCompleteResponse,
    RequestDownload: RequestDownloadResponse,
    GetRPCMethods: GetRPCMethodsResponse,
}

ACS_REQUEST_TYPES: tuple[type, ...] = tuple(RESPONSE_TYPES)
CPE_REQUEST_TYPES: tuple[type, ...] = tuple(ACS_RESPONSE_TYPES)

#: Every message class, by element name.
MESSAGE_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        *RESPONSE_TYPES,
        *RESPONSE_TYPES.values(),
        *ACS_RESPONSE_TYPES,
        *ACS_RESPONSE_TYPES.values(),
        Fault,
    )
}

#: Everything `from_dict` may rebuild.
_DICT_TYPES: dict[str, type] = {
    **MESSAGE_TYPES,
    **{
        cls.__name__: cls
        for cls in (
            TypedValue,
            DeviceId,
            EventStruct,
            ParameterValue,
            ParameterInfo,
            ParameterAttribute,
            ParameterAttributeChange,
            TransferFault,
            FileTypeArg,
            SetParameterValuesFault,
            UnknownMethod,
        )
    },
}


def to_dict(value: Any) -> Any:
    """JSON-able data for a message or any value made of this module's classes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data: dict[str, Any] = {"_type": type(value).__name__}
        for f in dataclasses.fields(value):
            data[f.name] = to_dict(getattr(value, f.name))
        return data
    if isinstance(value, tuple):
        return [to_dict(item) for item in value]
    if isinstance(value, datetime):
        return {"_datetime": value.isoformat()}
    if isinstance(value, StrEnum):
        return value.value
    if value is None or isinstance(value, str | int | bool):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__}")


def from_dict(data: Any) -> Any:
    """The inverse of `to_dict`."""
    if isinstance(data, dict):
        if "_datetime" in data:
            return datetime.fromisoformat(data["_datetime"])
        name = data.get("_type")
        cls = _DICT_TYPES.get(name) if isinstance(name, str) else None
        if cls is None:
            raise ValueError(f"unknown message type in serialised data: {name!r}")
        return cls(**{key: from_dict(item) for key, item in data.items() if key != "_type"})
    if isinstance(data, list):
        return tuple(from_dict(item) for item in data)
    return data
