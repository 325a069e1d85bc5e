"""Parse and write RMS-FUS metadata XML (TS 102 542-4 clause 7) in the `rms` and `rms12` namespaces.

`read` turns bytes into a `ParseResult` (document, namespace, warnings); `parse` returns just the
document. Both raise `MetadataError`, which carries every `Issue` found (line, element path, value,
message). The pipeline, each stage stopping at its first failure:

1. size limit (`MAX_DOCUMENT_BYTES`) before any parsing;
2. a hardened lxml parser: no entity resolution, no network, no DTD loading, no huge trees; any
   DOCTYPE is refused (so entities are never expanded), and the encoding must be UTF-8;
3. the root element must be `RMSFUSMetadata` in one of our two namespaces;
4. validation against our reconstructed XSD (`schema/`);
5. the extension policy (foreign-namespace elements/attributes are warnings and are ignored;
   mixing `rms` and `rms12` is an error) and the semantic checks the XSD cannot express
   (inverted ranges, duplicate ItemIDs, EndTime before StartTime, IPv6 in `rms`...).

`write` builds the XML (UTF-8, with an XML declaration) and runs it through the same pipeline, so
it never emits a document `read` would refuse. See docs/metadata.md.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from lxml import etree

from fus.metadata import model as m
from fus.metadata.identifiers import parse_mac, serial_key
from fus.metadata.xmlsafe import hardened_parser, prolog_doctype_line

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "RMS",
    "RMS12",
    "Issue",
    "MetadataError",
    "ParseResult",
    "Severity",
    "parse",
    "read",
    "write",
]

RMS = m.Namespace.RMS
RMS12 = m.Namespace.RMS12

#: Documents larger than this are refused before parsing.
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

ROOT = "RMSFUSMetadata"
SCHEMA_DIR = Path(__file__).with_name("schema")
_SCHEMA_FILES = {RMS: "rms.xsd", RMS12: "rms12.xsd"}

# (parent, child) pairs whose child may repeat: their paths carry an index, e.g. DeviceGroup[1].
_REPEATABLE = frozenset(
    {
        ("CEManufacturer", "DownloadLocation"),
        ("CEManufacturer", "ReportingOrders"),
        ("SupportedInterfaces", "Interface"),
        ("FUS", "FUSQueryInterfaceLocation"),
        ("FUS", "MulticastAnnouncementInterfaceLocation"),
        ("FUS", "UnicastInterfaceLocation"),
        ("FUS", "MulticastInterfaceLocation"),
        ("RMS", "ManagementServerLocation"),
        ("TargetDevices", "DeviceClass"),
        ("TargetDevices", "DeviceClassHardwareVersion"),
        ("TargetDevices", "DeviceClassSoftware"),
        ("TargetDevices", "DeviceGroup"),
        ("DeviceClassHardwareVersion", "HardwareVersion"),
        ("DeviceClassSoftware", "SoftwareVersion"),
        ("DeviceClassInfo", "HardwareVersion"),
        ("DeviceClassInfo", "SoftwareVersion"),
        ("RangeList", "Range"),
        ("RangeList", "Item"),
        ("Item", "ItemID"),
        ("SoftwarePackageInfo", "PackageFile"),
        ("FirmwareUpgrade", "MessageDescriptor"),
    }
)

_IDENTIFIER_ELEMENTS = frozenset(
    {
        "ProductClass",
        "HardwareVersion",
        "SoftwareVersion",
        "LowerBound",
        "UpperBound",
        "ItemID",
        "PackageName",
        "FileName",
        "FUSID",
        "RMSID",
    }
)
_FRIENDLY_FACET_MESSAGES = {
    "ManufacturerOUI": "ManufacturerOUI must be six upper-case hexadecimal digits (an IEEE OUI "
    "such as 00D09E)",
    **{
        name: f"{name} must be 1 to 64 characters on one line, without leading or trailing "
        "white space"
        for name in _IDENTIFIER_ELEMENTS
    },
}
_VALUE_PREVIEW = 200


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about a document: where (line, element path), what value, and why."""

    severity: Severity
    message: str
    path: str
    line: int | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        value = f" (value {self.value!r})" if self.value is not None else ""
        return f"{self.severity.value}: {where}{self.path}: {self.message}{value}"


class MetadataError(ValueError):
    """The document is refused. `issues` lists every error found, then any warnings."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        ordered = sorted(issues, key=lambda i: i.severity != Severity.ERROR)
        self.issues: tuple[Issue, ...] = tuple(ordered)
        errors = self.errors
        head = "; ".join(str(i) for i in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"invalid RMS-FUS metadata: {head}{more}")

    @property
    def errors(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Issue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.WARNING)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A parsed document, the namespace it was written in, and the warnings about it."""

    document: m.RMSFUSMetadata
    namespace: m.Namespace
    warnings: tuple[Issue, ...] = ()


# -- reading ---------------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    return hardened_parser(strip_comments=True)


@cache
def _schema(namespace: m.Namespace) -> etree.XMLSchema:
    path = SCHEMA_DIR / _SCHEMA_FILES[namespace]
    return etree.XMLSchema(etree.parse(str(path), _parser()))


def parse(data: bytes) -> m.RMSFUSMetadata:
    """Parse a metadata document; raise `MetadataError` if it is refused (warnings are dropped)."""
    return read(data).document


def read(data: bytes) -> ParseResult:
    """Parse a metadata document with its namespace and warnings; raise `MetadataError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"metadata must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise MetadataError(
            [
                _error(
                    f"the document is {len(data)} bytes; the limit is {MAX_DOCUMENT_BYTES} bytes",
                    "/",
                )
            ]
        )
    root = _parse_xml(data)
    namespace = _check_root(root)
    _validate(root, namespace)
    reader = _Reader(namespace)
    reader.check_extensions(root)
    document = reader.document(root)
    if reader.errors:
        raise MetadataError([*reader.errors, *reader.warnings])
    return ParseResult(document=document, namespace=namespace, warnings=tuple(reader.warnings))


def _error(message: str, path: str, line: int | None = None, value: str | None = None) -> Issue:
    return Issue(Severity.ERROR, message, path, line, _preview(value))


def _preview(value: str | None) -> str | None:
    if value is None or len(value) <= _VALUE_PREVIEW:
        return value
    return value[:_VALUE_PREVIEW] + "…"


_DOCTYPE_REFUSED = (
    "a DOCTYPE is not allowed: DTDs and entity declarations are refused, never expanded"
)


def _refuse_doctype_in_prolog(data: bytes) -> None:
    """Refuse a DOCTYPE before the parser sees it, so that no declaration is even read."""
    line = prolog_doctype_line(data)
    if line is not None:
        raise MetadataError([_error(_DOCTYPE_REFUSED, "/", line)])


def _parse_xml(data: bytes) -> etree._Element:
    _refuse_doctype_in_prolog(data)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise MetadataError(
            [_error(f"not well-formed XML: {exc.msg}", "/", exc.lineno or None)]
        ) from None
    if root is None:
        raise MetadataError([_error("the document is empty", "/")])
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MetadataError(
            [
                _error(
                    _DOCTYPE_REFUSED,
                    "/",
                    1,
                    docinfo.doctype or None,
                )
            ]
        )
    encoding = (docinfo.encoding or "UTF-8").upper().replace("_", "-")
    if encoding not in ("UTF-8", "UTF8"):
        raise MetadataError(
            [_error("the document must be encoded in UTF-8", "/", 1, docinfo.encoding)]
        )
    return root


def _check_root(root: etree._Element) -> m.Namespace:
    qname = etree.QName(root)
    expected = f"{ROOT} in namespace {RMS.value} (rms) or {RMS12.value} (rms12)"
    try:
        namespace = m.Namespace(qname.namespace)
    except ValueError:
        where = f"namespace {qname.namespace}" if qname.namespace else "no namespace"
        raise MetadataError(
            [
                _error(
                    f"wrong namespace: the root element {qname.localname} is in {where}; "
                    f"expected {expected}",
                    f"/{qname.localname}",
                    root.sourceline,
                    qname.namespace,
                )
            ]
        ) from None
    if qname.localname != ROOT:
        raise MetadataError(
            [
                _error(
                    f"the root element is {qname.localname}; expected {expected}",
                    f"/{qname.localname}",
                    root.sourceline,
                )
            ]
        )
    return namespace


def _validate(root: etree._Element, namespace: m.Namespace) -> None:
    schema = _schema(namespace)
    if schema.validate(root.getroottree()):
        return
    prefixes: dict[str, str] = {}
    for el in root.iter():
        for prefix, uri in el.nsmap.items():
            if prefix:
                prefixes.setdefault(prefix, uri)
    issues = [_schema_issue(root, entry, prefixes) for entry in schema.error_log]
    raise MetadataError(issues)


_ELEMENT_IN_MESSAGE = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")
_CLARK_NS = re.compile(r"\{[^}]*\}")


def _schema_issue(root: etree._Element, entry: Any, prefixes: dict[str, str]) -> Issue:
    message = _CLARK_NS.sub("", entry.message)
    match = _ELEMENT_IN_MESSAGE.match(message)
    attribute = match.group(2) if match else None
    element = _find_element(root, entry, prefixes)
    path = _path(element) if element is not None else (entry.path or "/")
    value: str | None = None
    if element is not None:
        value = element.get(attribute) if attribute else (element.text or "").strip() or None
        local = etree.QName(element).localname
        if attribute is None and "[facet '" in message and local in _FRIENDLY_FACET_MESSAGES:
            message = _FRIENDLY_FACET_MESSAGES[local]
        elif match:
            message = message[match.end() :]
            if attribute:
                message = f"attribute {attribute}: {message}"
    return _error(message, path, entry.line or None, value)


def _find_element(
    root: etree._Element, entry: Any, prefixes: dict[str, str]
) -> etree._Element | None:
    if entry.path:
        try:
            found = root.getroottree().xpath(entry.path, namespaces=prefixes)
        except etree.XPathError:
            found = []
        if isinstance(found, list) and len(found) == 1 and isinstance(found[0], etree._Element):
            return found[0]
    match = _ELEMENT_IN_MESSAGE.match(entry.message)
    if match:
        for el in root.iter(match.group(1)):
            if el.sourceline == entry.line:
                return el
    return None


def _path(element: etree._Element) -> str:
    """The element path of an element, e.g. /RMSFUSMetadata/FirmwareUpgrade/TargetDevices/
    DeviceGroup[1]/RangeList/Range[2]; repeatable elements always carry their index."""
    steps: list[str] = []
    el: etree._Element | None = element
    while el is not None:
        qname = etree.QName(el)
        parent = el.getparent()
        if qname.namespace is None or _is_ours(qname.namespace):
            step = qname.localname
        else:
            step = f"{el.prefix}:{qname.localname}" if el.prefix else el.tag
        if parent is not None:
            parent_local = etree.QName(parent).localname
            if (parent_local, qname.localname) in _REPEATABLE:
                index = 1 + sum(1 for s in el.itersiblings(preceding=True) if s.tag == el.tag)
                step = f"{step}[{index}]"
        steps.append(step)
        el = parent
    return "/" + "/".join(reversed(steps))


def _is_ours(uri: str | None) -> bool:
    return uri in (RMS.value, RMS12.value)


_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.Enum)


class _Reader:
    """Builds the model from a schema-valid tree, collecting semantic errors and warnings."""

    def __init__(self, namespace: m.Namespace) -> None:
        self.namespace = namespace
        self.ns = namespace.value
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []

    # issues

    def error(self, el: etree._Element, message: str, value: str | None = None) -> None:
        self.errors.append(_error(message, _path(el), el.sourceline, value))

    def warn(self, el: etree._Element, message: str, value: str | None = None) -> None:
        self.warnings.append(
            Issue(Severity.WARNING, message, _path(el), el.sourceline, _preview(value))
        )

    # extension policy

    def check_extensions(self, el: etree._Element) -> None:
        for attr, value in el.attrib.items():
            ns = etree.QName(attr).namespace
            if ns is not None and not _is_ours(ns):
                self.warn(el, f"extension attribute {attr} ignored", value)
        for child in el:
            ns = etree.QName(child).namespace
            if ns == self.ns:
                self.check_extensions(child)
            elif _is_ours(ns):
                self.error(
                    child,
                    f"element {etree.QName(child).localname} is in namespace {ns}; a document "
                    f"uses one namespace only ({self.ns})",
                )
            else:
                self.warn(child, f"extension element {child.tag} ignored")

    # tree helpers

    def _tag(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def children(self, el: etree._Element, name: str) -> list[etree._Element]:
        return el.findall(self._tag(name))

    def child(self, el: etree._Element, name: str) -> etree._Element | None:
        return el.find(self._tag(name))

    def need(self, el: etree._Element, name: str) -> etree._Element:
        found = self.child(el, name)
        if found is None:  # the schema makes it required; defensive against a swapped XSD
            raise MetadataError([_error(f"{name} is missing", _path(el), el.sourceline)])
        return found

    def text(self, el: etree._Element, name: str) -> str:
        return self.need(el, name).text or ""

    def opt_text(self, el: etree._Element, name: str) -> str | None:
        found = self.child(el, name)
        return None if found is None else (found.text or "")

    def texts(self, el: etree._Element, name: str) -> tuple[str, ...]:
        return tuple(c.text or "" for c in self.children(el, name))

    def opt_int(self, el: etree._Element, name: str) -> int | None:
        found = self.child(el, name)
        return None if found is None else int((found.text or "").strip())

    def each(
        self, el: etree._Element, name: str, build: Callable[[etree._Element], _T]
    ) -> tuple[_T, ...]:
        return tuple(build(c) for c in self.children(el, name))

    def opt(
        self, el: etree._Element, name: str, build: Callable[[etree._Element], _T]
    ) -> _T | None:
        found = self.child(el, name)
        return None if found is None else build(found)

    @staticmethod
    def enum_attr(el: etree._Element, name: str, kind: type[_E], default: _E) -> _E:
        value = el.get(name)
        return default if value is None else kind(value)

    # the document

    def document(self, root: etree._Element) -> m.RMSFUSMetadata:
        mode = m.Mode(self.text(root, "Mode"))
        rms = self.opt(root, "RMS", self.rms)
        if mode is m.Mode.MANAGED and rms is None:
            self.warn(root, "Mode is managed but there is no RMS entity (ManagementServerLocation)")
        return m.RMSFUSMetadata(
            mode=mode,
            ce_manufacturer=self.ce_manufacturer(self.need(root, "CEManufacturer")),
            firmware_upgrade=self.firmware_upgrade(self.need(root, "FirmwareUpgrade")),
            fus=self.opt(root, "FUS", self.fus),
            rms=rms,
            target_devices_info=self.opt(root, "TargetDevicesInfo", self.target_devices_info),
        )

    # entities

    def ce_manufacturer(self, el: etree._Element) -> m.CEManufacturer:
        return m.CEManufacturer(
            manufacturer_oui=self.text(el, "ManufacturerOUI"),
            manufacturer_name=self.opt_text(el, "ManufacturerName"),
            download_locations=self.locations(el, "DownloadLocation"),
            reporting_orders=self.locations(el, "ReportingOrders"),
        )

    def fus(self, el: etree._Element) -> m.FUS:
        source = self.child(el, "SourceAddress")
        if source is not None:
            self.check_address(source)
        return m.FUS(
            fus_name=self.opt_text(el, "FUSName"),
            fus_id=self.opt_text(el, "FUSID"),
            source_address=None if source is None else (source.text or ""),
            supported_interfaces=self.opt(el, "SupportedInterfaces", self.interfaces) or (),
            fus_query_interface_locations=self.locations(el, "FUSQueryInterfaceLocation"),
            multicast_announcement_interface_locations=self.locations(
                el, "MulticastAnnouncementInterfaceLocation"
            ),
            unicast_interface_locations=self.locations(el, "UnicastInterfaceLocation"),
            multicast_interface_locations=self.locations(el, "MulticastInterfaceLocation"),
            delivery_rate=self.opt_int(el, "DeliveryRate"),
        )

    def rms(self, el: etree._Element) -> m.RMS:
        return m.RMS(
            management_server_locations=self.locations(el, "ManagementServerLocation"),
            rms_name=self.opt_text(el, "RMSName"),
            rms_id=self.opt_text(el, "RMSID"),
        )

    def target_devices_info(self, el: etree._Element) -> m.TargetDevicesInfo:
        interfaces_el = self.child(el, "SupportedInterfaces")
        interfaces: tuple[m.Interface, ...] = ()
        if interfaces_el is not None:
            interfaces = self.interfaces(interfaces_el)
            for iface_el, iface in zip(
                self.children(interfaces_el, "Interface"), interfaces, strict=True
            ):
                if iface not in m.DEVICE_INTERFACES:
                    self.error(
                        iface_el,
                        f"target devices support interfaces 5 to 9 only; {iface.value!r} is "
                        f"interface {iface.number}",
                        iface.value,
                    )
        return m.TargetDevicesInfo(
            supported_interfaces=interfaces,
            vendor_specific_info=self.opt_text(el, "VendorSpecificInfo"),
        )

    def interfaces(self, el: etree._Element) -> tuple[m.Interface, ...]:
        result: list[m.Interface] = []
        for iface_el in self.children(el, "Interface"):
            iface = m.Interface(iface_el.text or "")
            if iface in result:
                self.error(iface_el, "interface listed twice", iface.value)
            result.append(iface)
        return tuple(result)

    # ResourceAccessInfo

    def locations(self, el: etree._Element, name: str) -> tuple[m.ResourceAccessInfo, ...]:
        elements = self.children(el, name)
        result = tuple(self.resource(c) for c in elements)
        seen: dict[int, etree._Element] = {}
        for c, info in zip(elements, result, strict=True):
            if info.preference is None:
                continue
            if info.preference in seen:
                self.warn(
                    c,
                    f"Preference {info.preference} is also used at line "
                    f"{seen[info.preference].sourceline}; ties keep document order",
                    str(info.preference),
                )
            else:
                seen[info.preference] = c
        return result

    def resource(self, el: etree._Element) -> m.ResourceAccessInfo:
        url_el = self.child(el, "URL")
        address_el = self.child(el, "Address")
        if url_el is None and address_el is None:
            self.error(el, "a location needs a URL or an Address")
        if url_el is not None:
            self.check_url(url_el)
        if address_el is not None:
            self.check_address(address_el)
        port = self.opt_int(el, "Port")
        if port is not None and address_el is None:
            self.warn(el, "Port is only meaningful with an Address (a URL carries its own port)")
        return m.ResourceAccessInfo(
            url=None if url_el is None else (url_el.text or ""),
            address=None if address_el is None else (address_el.text or ""),
            port=port,
            preference=self.opt_int(el, "Preference"),
        )

    def check_address(self, el: etree._Element) -> None:
        value = el.text or ""
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            self.error(el, "not an IP address", value)
            return
        if address.version == 6 and self.namespace is RMS:
            self.error(el, "IPv6 addresses need the rms12 namespace", value)

    def check_url(self, el: etree._Element) -> None:
        value = el.text or ""
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError as exc:
            self.error(el, f"not a usable URL: {exc}", value)
            return
        if not parts.scheme:
            self.error(el, "the URL must be absolute (with a scheme such as http:)", value)
            return
        if host and "[" in parts.netloc:
            if self.namespace is RMS:
                self.error(el, "IPv6 literals in URLs need the rms12 namespace", value)
            else:
                try:
                    ipaddress.IPv6Address(host)
                except ValueError:
                    self.error(el, "the bracketed host is not an IPv6 address", value)

    # FirmwareUpgrade

    def firmware_upgrade(self, el: etree._Element) -> m.FirmwareUpgrade:
        return m.FirmwareUpgrade(
            software_version=self.text(el, "SoftwareVersion"),
            target_devices=self.target_devices(self.need(el, "TargetDevices")),
            software_package_info=self.software_package_info(self.need(el, "SoftwarePackageInfo")),
            validity_time_range=self.opt(el, "ValidityTimeRange", self.validity),
            message_descriptors=self.each(el, "MessageDescriptor", self.message_descriptor),
        )

    def target_devices(self, el: etree._Element) -> m.TargetDevices:
        result = m.TargetDevices(
            device_classes=self.each(el, "DeviceClass", self.device_class),
            device_class_hardware_versions=self.each(
                el, "DeviceClassHardwareVersion", self.device_class_hardware_version
            ),
            device_class_softwares=self.each(el, "DeviceClassSoftware", self.device_class_software),
            device_groups=self.each(el, "DeviceGroup", self.device_group),
        )
        if not result.entries():
            self.error(
                el,
                "TargetDevices is empty: it needs at least one DeviceClass, "
                "DeviceClassHardwareVersion, DeviceClassSoftware or DeviceGroup",
            )
        return result

    def device_class(self, el: etree._Element) -> m.DeviceClass:
        return m.DeviceClass(self.text(el, "ManufacturerOUI"), self.text(el, "ProductClass"))

    def device_class_hardware_version(self, el: etree._Element) -> m.DeviceClassHardwareVersion:
        return m.DeviceClassHardwareVersion(
            self.text(el, "ManufacturerOUI"),
            self.text(el, "ProductClass"),
            self.versions(el, "HardwareVersion"),
        )

    def device_class_software(self, el: etree._Element) -> m.DeviceClassSoftware:
        return m.DeviceClassSoftware(
            self.text(el, "ManufacturerOUI"),
            self.text(el, "ProductClass"),
            self.versions(el, "SoftwareVersion"),
        )

    def device_class_info(self, el: etree._Element) -> m.DeviceClassInfo:
        return m.DeviceClassInfo(
            self.text(el, "ManufacturerOUI"),
            self.text(el, "ProductClass"),
            self.versions(el, "HardwareVersion"),
            self.versions(el, "SoftwareVersion"),
        )

    def versions(self, el: etree._Element, name: str) -> tuple[str, ...]:
        seen: set[str] = set()
        for c in self.children(el, name):
            if c.text in seen:
                self.warn(c, f"{name} listed twice", c.text)
            seen.add(c.text or "")
        return self.texts(el, name)

    def device_group(self, el: etree._Element) -> m.DeviceGroup:
        return m.DeviceGroup(
            device_class_info=self.device_class_info(self.need(el, "DeviceClassInfo")),
            range_list=self.opt(el, "RangeList", self.range_list),
        )

    # RangeList

    def range_list(self, el: etree._Element) -> m.RangeList:
        entries: list[m.RangeListEntry] = []
        seen_items: dict[tuple[m.IdentifierType, object], etree._Element] = {}
        for c in el:
            if etree.QName(c).namespace != self.ns:
                continue
            if c.tag == self._tag("Range"):
                entries.append(self.range(c))
            else:
                entries.append(self.item(c, seen_items))
        return m.RangeList(tuple(entries))

    def _attributes(self, el: etree._Element) -> tuple[m.Availability, m.IdentifierType]:
        return (
            self.enum_attr(el, "Availability", m.Availability, m.Availability.INCLUSIVE),
            self.enum_attr(el, "IdentifierType", m.IdentifierType, m.IdentifierType.SERIAL_NUMBER),
        )

    def identifier_key(self, el: etree._Element, kind: m.IdentifierType) -> object | None:
        """The comparison key of an identifier element, or None (and an error) if malformed."""
        value = el.text or ""
        if kind is m.IdentifierType.SERIAL_NUMBER:
            return serial_key(value)
        try:
            return parse_mac(value)
        except ValueError as exc:
            self.error(el, str(exc).split(" (")[0] + ": see docs/metadata.md for notations", value)
            return None

    def range(self, el: etree._Element) -> m.Range:
        availability, kind = self._attributes(el)
        lower_el, upper_el = self.need(el, "LowerBound"), self.need(el, "UpperBound")
        lower, upper = lower_el.text or "", upper_el.text or ""
        lower_key = self.identifier_key(lower_el, kind)
        upper_key = self.identifier_key(upper_el, kind)
        if lower_key is not None and upper_key is not None and lower_key > upper_key:  # type: ignore[operator]
            rule = (
                "MAC addresses compare as 48-bit numbers"
                if kind is m.IdentifierType.MAC_ADDRESS
                else "serial numbers compare without leading zeros, by length, then character "
                "by character (docs/decisions/0002-rangelist-semantics.md)"
            )
            self.error(
                el,
                f"inverted range: LowerBound {lower!r} is above UpperBound {upper!r}; {rule}",
                f"{lower}..{upper}",
            )
        return m.Range(lower, upper, availability, kind)

    def item(
        self,
        el: etree._Element,
        seen: dict[tuple[m.IdentifierType, object], etree._Element],
    ) -> m.Item:
        availability, kind = self._attributes(el)
        ids = self.children(el, "ItemID")
        for id_el in ids:
            key = self.identifier_key(id_el, kind)
            if key is None:
                continue
            first = seen.get((kind, key))
            if first is not None:
                self.error(
                    id_el,
                    f"duplicate ItemID: the same {kind.value} as {first.text!r} "
                    f"(line {first.sourceline}, {_path(first)})",
                    id_el.text,
                )
            else:
                seen[(kind, key)] = id_el
        return m.Item(tuple(c.text or "" for c in ids), availability, kind)

    # SoftwarePackageInfo, validity, message

    def software_package_info(self, el: etree._Element) -> m.SoftwarePackageInfo:
        package_size = self.opt_int(el, "PackageSize")
        files = self.each(el, "PackageFile", self.package_file)
        names: dict[str, etree._Element] = {}
        for file_el, file in zip(self.children(el, "PackageFile"), files, strict=True):
            if file.file_name in names:
                self.error(
                    file_el,
                    f"duplicate FileName (also at line {names[file.file_name].sourceline})",
                    file.file_name,
                )
            names.setdefault(file.file_name, file_el)
        total = sum(f.file_size or 0 for f in files)
        if package_size is not None and total > package_size:
            self.warn(
                el,
                f"the PackageFile sizes add up to {total} bytes, more than PackageSize "
                f"{package_size}",
                str(total),
            )
        return m.SoftwarePackageInfo(
            package_name=self.text(el, "PackageName"),
            package_size=package_size if package_size is not None else 0,
            package_files=files,
            footprint_size=self.opt(el, "FootprintSize", self.footprint_size),
            image_packaging=self.opt(el, "ImagePackaging", self.image_packaging),
            update_descriptor=self.opt(el, "UpdateDescriptor", self.update_descriptor),
        )

    def package_file(self, el: etree._Element) -> m.PackageFile:
        return m.PackageFile(
            file_name=self.text(el, "FileName"),
            file_size=self.opt_int(el, "FileSize"),
            vendor_specific_info=self.opt_text(el, "VendorSpecificInfo"),
            module_type=el.get("ModuleType"),
        )

    @staticmethod
    def footprint_size(el: etree._Element) -> m.FootprintSize:
        volatile, non_volatile = el.get("Volatile"), el.get("NonVolatile")
        return m.FootprintSize(
            volatile=None if volatile is None else int(volatile.strip()),
            non_volatile=None if non_volatile is None else int(non_volatile.strip()),
        )

    @staticmethod
    def image_packaging(el: etree._Element) -> m.ImagePackaging:
        return m.ImagePackaging(
            signed_packaging=el.get("SignedPackaging", "0") == "1",
            manifest=el.get("Manifest", "0") == "1",
        )

    def update_descriptor(self, el: etree._Element) -> m.UpdateDescriptor:
        return m.UpdateDescriptor(
            update_flag=m.UpdateFlag(self.text(el, "UpdateFlag")),
            update_method=m.UpdateMethod(self.text(el, "UpdateMethod")),
            update_priority=int(self.text(el, "UpdatePriority").strip()),
        )

    def validity(self, el: etree._Element) -> m.ValidityTimeRange | None:
        start_el, end_el = self.need(el, "StartTime"), self.need(el, "EndTime")
        start, end = self.datetime(start_el), self.datetime(end_el)
        if start is None or end is None:
            return None
        if end < start:
            self.error(
                end_el,
                f"EndTime is before StartTime ({start_el.text})",
                end_el.text,
            )
        elif end == start:
            self.warn(end_el, "EndTime equals StartTime: the update is valid for an instant")
        return m.ValidityTimeRange(start, end)

    def datetime(self, el: etree._Element) -> datetime | None:
        value = (el.text or "").strip()
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.error(el, "not a date-time this system can represent (years 1-9999)", value)
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.error(el, "the date-time needs a time zone (Z or an offset such as +01:00)", value)
            return None
        return parsed

    def message_descriptor(self, el: etree._Element) -> m.MessageDescriptor:
        return m.MessageDescriptor(text=el.text or "", language=el.get("Language"))


# -- writing ---------------------------------------------------------------------------------------


class _WriteError(Exception):
    def __init__(self, path: str, value: object, message: str) -> None:
        super().__init__(message)
        self.issue = _error(message, path, None, None if value is None else str(value))


class _Writer:
    def __init__(self, namespace: m.Namespace) -> None:
        self.ns = namespace.value
        self.nsmap = {namespace.prefix: namespace.value}

    def root(self, doc: m.RMSFUSMetadata) -> etree._Element:
        root = etree.Element(f"{{{self.ns}}}{ROOT}", nsmap=self.nsmap)  # type: ignore[arg-type]
        self.add(root, "Mode", doc.mode.value)
        self.ce_manufacturer(self.add(root, "CEManufacturer"), doc.ce_manufacturer)
        if doc.fus is not None:
            self.fus(self.add(root, "FUS"), doc.fus)
        if doc.rms is not None:
            self.rms(self.add(root, "RMS"), doc.rms)
        if doc.target_devices_info is not None:
            info = doc.target_devices_info
            el = self.add(root, "TargetDevicesInfo")
            self.interfaces(el, info.supported_interfaces)
            self.opt(el, "VendorSpecificInfo", info.vendor_specific_info)
        self.firmware_upgrade(self.add(root, "FirmwareUpgrade"), doc.firmware_upgrade)
        return root

    def add(self, parent: etree._Element, name: str, text: object = None) -> etree._Element:
        el = etree.SubElement(parent, f"{{{self.ns}}}{name}")
        if text is not None:
            self.set_text(el, text)
        return el

    def set_text(self, el: etree._Element, text: object) -> None:
        if isinstance(text, bool) or not isinstance(text, str | int):
            raise _WriteError(_path(el), text, f"expected a string, got {type(text).__name__}")
        try:
            el.text = str(text)
        except ValueError as exc:
            raise _WriteError(_path(el), text, f"cannot be written as XML: {exc}") from None

    def set_attr(self, el: etree._Element, name: str, value: object) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _WriteError(_path(el), value, f"@{name}: expected a string")
        try:
            el.set(name, str(value))
        except ValueError as exc:
            raise _WriteError(_path(el), value, f"@{name} cannot be written: {exc}") from None

    def opt(self, parent: etree._Element, name: str, text: object) -> None:
        if text is not None:
            self.add(parent, name, text)

    def many(self, parent: etree._Element, name: str, texts: Iterable[object]) -> None:
        for text in texts:
            self.add(parent, name, text)

    def interfaces(self, parent: etree._Element, interfaces: tuple[m.Interface, ...]) -> None:
        if interfaces:
            el = self.add(parent, "SupportedInterfaces")
            self.many(el, "Interface", (i.value for i in interfaces))

    def locations(
        self, parent: etree._Element, name: str, infos: Iterable[m.ResourceAccessInfo]
    ) -> None:
        for info in infos:
            el = self.add(parent, name)
            self.opt(el, "URL", info.url)
            self.opt(el, "Address", info.address)
            self.opt(el, "Port", info.port)
            self.opt(el, "Preference", info.preference)

    def ce_manufacturer(self, el: etree._Element, ce: m.CEManufacturer) -> None:
        self.add(el, "ManufacturerOUI", ce.manufacturer_oui)
        self.opt(el, "ManufacturerName", ce.manufacturer_name)
        self.locations(el, "DownloadLocation", ce.download_locations)
        self.locations(el, "ReportingOrders", ce.reporting_orders)

    def fus(self, el: etree._Element, fus: m.FUS) -> None:
        self.opt(el, "FUSName", fus.fus_name)
        self.opt(el, "FUSID", fus.fus_id)
        self.opt(el, "SourceAddress", fus.source_address)
        self.interfaces(el, fus.supported_interfaces)
        self.locations(el, "FUSQueryInterfaceLocation", fus.fus_query_interface_locations)
        self.locations(
            el,
            "MulticastAnnouncementInterfaceLocation",
            fus.multicast_announcement_interface_locations,
        )
        self.locations(el, "UnicastInterfaceLocation", fus.unicast_interface_locations)
        self.locations(el, "MulticastInterfaceLocation", fus.multicast_interface_locations)
        self.opt(el, "DeliveryRate", fus.delivery_rate)

    def rms(self, el: etree._Element, rms: m.RMS) -> None:
        self.opt(el, "RMSName", rms.rms_name)
        self.opt(el, "RMSID", rms.rms_id)
        self.locations(el, "ManagementServerLocation", rms.management_server_locations)

    def firmware_upgrade(self, el: etree._Element, fu: m.FirmwareUpgrade) -> None:
        self.add(el, "SoftwareVersion", fu.software_version)
        targets = self.add(el, "TargetDevices")
        td = fu.target_devices
        for dc in td.device_classes:
            self.device_class(self.add(targets, "DeviceClass"), dc)
        for dch in td.device_class_hardware_versions:
            sub = self.add(targets, "DeviceClassHardwareVersion")
            self.device_class(sub, dch)
            self.many(sub, "HardwareVersion", dch.hardware_versions)
        for dcs in td.device_class_softwares:
            sub = self.add(targets, "DeviceClassSoftware")
            self.device_class(sub, dcs)
            self.many(sub, "SoftwareVersion", dcs.software_versions)
        for group in td.device_groups:
            self.device_group(self.add(targets, "DeviceGroup"), group)
        if fu.validity_time_range is not None:
            vtr = self.add(el, "ValidityTimeRange")
            self.add(vtr, "StartTime", _format_datetime(fu.validity_time_range.start_time))
            self.add(vtr, "EndTime", _format_datetime(fu.validity_time_range.end_time))
        self.software_package_info(self.add(el, "SoftwarePackageInfo"), fu.software_package_info)
        for message in fu.message_descriptors:
            md = self.add(el, "MessageDescriptor", message.text)
            self.set_attr(md, "Language", message.language)

    def device_class(
        self,
        el: etree._Element,
        dc: m.DeviceClass
        | m.DeviceClassHardwareVersion
        | m.DeviceClassSoftware
        | m.DeviceClassInfo,
    ) -> None:
        self.add(el, "ManufacturerOUI", dc.manufacturer_oui)
        self.add(el, "ProductClass", dc.product_class)

    def device_group(self, el: etree._Element, group: m.DeviceGroup) -> None:
        info = self.add(el, "DeviceClassInfo")
        self.device_class(info, group.device_class_info)
        self.many(info, "HardwareVersion", group.device_class_info.hardware_versions)
        self.many(info, "SoftwareVersion", group.device_class_info.software_versions)
        if group.range_list is not None:
            rl = self.add(el, "RangeList")
            for entry in group.range_list.entries:
                if isinstance(entry, m.Range):
                    sub = self.add(rl, "Range")
                    self.add(sub, "LowerBound", entry.lower_bound)
                    self.add(sub, "UpperBound", entry.upper_bound)
                else:
                    sub = self.add(rl, "Item")
                    self.many(sub, "ItemID", entry.item_ids)
                self.set_attr(sub, "Availability", entry.availability.value)
                self.set_attr(sub, "IdentifierType", entry.identifier_type.value)

    def software_package_info(self, el: etree._Element, spi: m.SoftwarePackageInfo) -> None:
        self.add(el, "PackageName", spi.package_name)
        self.add(el, "PackageSize", spi.package_size)
        for file in spi.package_files:
            f = self.add(el, "PackageFile")
            self.set_attr(f, "ModuleType", file.module_type)
            self.add(f, "FileName", file.file_name)
            self.opt(f, "FileSize", file.file_size)
            self.opt(f, "VendorSpecificInfo", file.vendor_specific_info)
        if spi.footprint_size is not None:
            fp = self.add(el, "FootprintSize")
            self.set_attr(fp, "Volatile", spi.footprint_size.volatile)
            self.set_attr(fp, "NonVolatile", spi.footprint_size.non_volatile)
        if spi.image_packaging is not None:
            ip = self.add(el, "ImagePackaging")
            self.set_attr(
                ip, "SignedPackaging", "1" if spi.image_packaging.signed_packaging else "0"
            )
            self.set_attr(ip, "Manifest", "1" if spi.image_packaging.manifest else "0")
        if spi.update_descriptor is not None:
            ud = self.add(el, "UpdateDescriptor")
            self.add(ud, "UpdateFlag", spi.update_descriptor.update_flag.value)
            self.add(ud, "UpdateMethod", spi.update_descriptor.update_method.value)
            self.add(ud, "UpdatePriority", spi.update_descriptor.update_priority)


_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _format_datetime(value: datetime) -> str:
    if not isinstance(value, datetime):
        raise _WriteError("/", value, "expected a datetime")
    return value.isoformat()


def write(doc: m.RMSFUSMetadata, *, namespace: m.Namespace | None = None) -> bytes:
    """The XML of a document (UTF-8, with an XML declaration).

    `namespace` defaults to `RMS` (IPv4 legacy) unless the document uses IPv6 addressing, then
    `RMS12`. The output is validated exactly as `read` would; `MetadataError` if it is refused.
    """
    if namespace is None:
        namespace = RMS12 if uses_ipv6(doc) else RMS
    try:
        root = _Writer(namespace).root(doc)
    except _WriteError as exc:
        raise MetadataError([exc.issue]) from None
    except (AttributeError, TypeError) as exc:
        raise MetadataError([_error(f"not a metadata document: {exc}", "/")]) from None
    data = _XML_DECLARATION + etree.tostring(
        root, xml_declaration=False, encoding="UTF-8", pretty_print=True
    )
    read(data)
    return data


def _all_locations(doc: m.RMSFUSMetadata) -> Iterator[m.ResourceAccessInfo]:
    yield from doc.ce_manufacturer.download_locations
    yield from doc.ce_manufacturer.reporting_orders
    if doc.fus is not None:
        yield from doc.fus.fus_query_interface_locations
        yield from doc.fus.multicast_announcement_interface_locations
        yield from doc.fus.unicast_interface_locations
        yield from doc.fus.multicast_interface_locations
    if doc.rms is not None:
        yield from doc.rms.management_server_locations


def uses_ipv6(doc: m.RMSFUSMetadata) -> bool:
    """Whether a document has an IPv6 address or URL host, so that it needs `rms12`."""
    addresses = [loc.address for loc in _all_locations(doc)]
    if doc.fus is not None:
        addresses.append(doc.fus.source_address)
    if any(a is not None and ":" in a for a in addresses):
        return True
    for loc in _all_locations(doc):
        if loc.url is not None:
            try:
                if "[" in urlsplit(loc.url).netloc:
                    return True
            except ValueError:
                continue
    return False
