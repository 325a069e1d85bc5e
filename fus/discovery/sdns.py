"""The SD&S RMS-FUS record: `ServiceDiscovery` with `RMSFUSDiscovery` offerings.

TS 102 034 clause 5.2.13 and the schema `sdns_v1.4r13.xsd` (namespace
`urn:dvb:metadata:iptv:sdns:2008-1`), carried with DVBSTP PayloadID 0x08 or fetched over HTTP. It
tells a box where the FUS announcements, the unicast announcements and the QRC are
(`FUSProvider`), and where the RMS (the TR-069 ACS) is (`RMSProvider`).

Schema facts the model follows:

- an `RMSFUSDiscovery` (an `OfferingBase`: `@DomainName` with at least one dot, optional
  `@Version` of two hex digits) holds **either** `FUSProvider`s **or** `RMSProvider`s, never both;
  a `ServiceDiscovery` holds any number of them (clause 5.4.5: only one record type per document);
- `FUSProvider`: `FUSName`+ (multilingual), `FUSID` (xsd:decimal), `Description`*, `FUSAnnouncement`+
  (`FUSAnnouncementDescription`?, `MulticastAnnouncementAddress`? with `@Address @Port @Source?
  @Protocol?` ("1 SAP" / "2 DVBSTP"), `FUSUnicastAnnouncement`?, `QRCLocation`?), `@LogoURI`?;
- `RMSProvider`: `@RMSLocation` (required), `RMSName`+, `RMSID`? (xsd:decimal), `Description`*,
  `@LogoURI`?;
- addresses are IPv4 dotted decimal or a domain name (`IPOrDomainType`): v1.4 has no IPv6.

`write` refuses (with `SdnsError`) anything the schema would refuse, so its output is valid (the
tests validate it against the XSD). `parse` reads such records from outside: a size limit, a
hardened lxml parser (no DTD, no entities, no network), the 2008-1 namespace, only RMSFUSDiscovery
offerings, no unknown elements or attributes (the schema has no extension points there), and the
same value checks as `write`; every problem is reported with its line, element path and value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from fus.metadata.xmlsafe import hardened_parser, prolog_doctype_line

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "NAMESPACE",
    "AnnouncementProtocol",
    "FUSAnnouncement",
    "FUSProvider",
    "MulticastAddress",
    "RMSFUSDiscovery",
    "RMSProvider",
    "SdnsError",
    "SdnsIssue",
    "ServiceDiscovery",
    "Text",
    "parse",
    "write",
]

NAMESPACE = "urn:dvb:metadata:iptv:sdns:2008-1"
#: Records larger than this are refused before parsing (ours are a few kilobytes).
MAX_DOCUMENT_BYTES = 1024 * 1024
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_VALUE_PREVIEW = 120


class AnnouncementProtocol(enum.Enum):
    SAP = "1 SAP"
    DVBSTP = "2 DVBSTP"


@dataclass(frozen=True, slots=True)
class Text:
    """A `MultilingualType`: text with an ISO 639-2 language code."""

    text: str
    language: str = "eng"


@dataclass(frozen=True, slots=True)
class MulticastAddress:
    """`MulticastAnnouncementAddress`: where SAP or DVBSTP announcements are multicast."""

    address: str
    port: int
    source: str | None = None
    protocol: AnnouncementProtocol | None = None


@dataclass(frozen=True, slots=True)
class FUSAnnouncement:
    description: str | None = None
    multicast_address: MulticastAddress | None = None
    unicast_announcement: str | None = None
    qrc_location: str | None = None


@dataclass(frozen=True, slots=True)
class FUSProvider:
    names: tuple[Text, ...]
    fus_id: str
    announcements: tuple[FUSAnnouncement, ...] = (FUSAnnouncement(),)
    descriptions: tuple[Text, ...] = ()
    logo_uri: str | None = None


@dataclass(frozen=True, slots=True)
class RMSProvider:
    location: str
    names: tuple[Text, ...]
    rms_id: str | None = None
    descriptions: tuple[Text, ...] = ()
    logo_uri: str | None = None


Provider = FUSProvider | RMSProvider


@dataclass(frozen=True, slots=True)
class RMSFUSDiscovery:
    """One offering: FUS providers only, or RMS providers only. `version` is 0-255 (two hex
    digits in the XML), bumped by the publisher on every change (mod 256)."""

    domain_name: str
    providers: tuple[Provider, ...]
    version: int | None = None


@dataclass(frozen=True, slots=True)
class ServiceDiscovery:
    records: tuple[RMSFUSDiscovery, ...] = ()
    version: int | None = None


@dataclass(frozen=True, slots=True)
class SdnsIssue:
    message: str
    path: str
    line: int | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line is not None else ""
        value = f" (value {self.value!r})" if self.value is not None else ""
        return f"{where}{self.path}: {self.message}{value}"


class SdnsError(ValueError):
    """A record refused by `parse`, or a model `write` cannot express; `issues` lists why."""

    def __init__(self, issues: Iterable[SdnsIssue]) -> None:
        self.issues: tuple[SdnsIssue, ...] = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues) or "invalid SD&S record")


# --- value rules (shared by parse and write) ------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_LANGUAGE = re.compile(r"[A-Za-z]{3}")
_IPV4 = re.compile(
    r"((([1-9]?[0-9])|(1[0-9][0-9])|(2[0-4][0-9])|(25[0-5]))\.){3}"
    r"(([1-9]?[0-9])|(1[0-9][0-9])|(2[0-4][0-9])|(25[0-5]))"
)
_DOMAIN = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)+"
    r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?"
)
# Characters XML 1.0 can carry.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")
# RFC 3986 URI-reference (non-ASCII allowed, as in an IRI): libxml2 checks xs:anyURI this way.
_U = r"(?:[A-Za-z0-9._~-]|[^\x00-\x7f]|%[0-9A-Fa-f]{2}|[!$&'()*+,;=])"
_PCHAR = rf"(?:{_U}|[:@])"
_AUTHORITY = rf"(?:(?:{_U}|:)*@)?(?:\[[0-9A-Za-z:.]+\]|{_U}*)(?::[0-9]*)?"
_SEGMENTS = rf"(?:/{_PCHAR}*)*"
_QUERY_FRAGMENT = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_URI_REFERENCE = re.compile(
    # URI: scheme ":" hier-part (a rootless path may hold colons) ...
    rf"(?:[A-Za-z][A-Za-z0-9+.-]*:"
    rf"(?://{_AUTHORITY}{_SEGMENTS}|/(?:{_PCHAR}+{_SEGMENTS})?|{_PCHAR}+{_SEGMENTS}|)"
    # ... or a relative reference, whose first segment has no colon.
    rf"|(?://{_AUTHORITY}{_SEGMENTS}|/(?:{_PCHAR}+{_SEGMENTS})?|(?:{_U}|@)+{_SEGMENTS}|))"
    rf"{_QUERY_FRAGMENT}"
)


def _uri_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value or _SPACE_OR_CONTROL.search(value):
        return "a URI must be non-empty, without white space"
    if _NOT_XML.search(value):
        return "text with a character XML cannot carry"
    if not _URI_REFERENCE.fullmatch(value):
        return "not a URI reference (RFC 3986: check the host, port, % escapes and characters)"
    return None


def _preview(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= _VALUE_PREVIEW else text[:_VALUE_PREVIEW] + "..."


class _Checker:
    def __init__(self) -> None:
        self.issues: list[SdnsIssue] = []

    def fail(self, message: str, path: str, value: object = None, line: int | None = None) -> None:
        self.issues.append(SdnsIssue(message, path, line, _preview(value)))

    def text(self, value: object, path: str, line: int | None = None) -> None:
        if not isinstance(value, str) or _NOT_XML.search(value):
            self.fail("text with a character XML cannot carry", path, value, line)

    def uri(self, value: object, path: str, line: int | None = None) -> None:
        if problem := _uri_problem(value):
            self.fail(problem, path, value, line)

    def decimal(self, value: object, path: str, line: int | None = None) -> None:
        if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
            self.fail("must be a decimal number (xsd:decimal, e.g. 1 or 42)", path, value, line)

    def host(self, value: object, path: str, line: int | None = None) -> None:
        if not isinstance(value, str) or not (_IPV4.fullmatch(value) or _DOMAIN.fullmatch(value)):
            self.fail(
                "must be an IPv4 address in dotted decimal or a domain name "
                "(IPOrDomainType; SD&S v1.4 has no IPv6)",
                path,
                value,
                line,
            )

    def domain_name(self, value: object, path: str, line: int | None = None) -> None:
        if not isinstance(value, str) or not _DOMAIN.fullmatch(value):
            self.fail("DomainName must be a domain name with at least one dot", path, value, line)

    def version(self, value: object, path: str, line: int | None = None) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
            self.fail("Version must be 0-255 (two hex digits)", path, value, line)

    def texts(self, values: tuple[Text, ...], path: str, *, required: bool) -> None:
        if required and not values:
            self.fail("at least one is required", path)
        for n, item in enumerate(values, start=1):
            self.text(item.text, f"{path}[{n}]")
            if not isinstance(item.language, str) or not _LANGUAGE.fullmatch(item.language):
                self.fail(
                    "Language must be a three-letter ISO 639-2 code",
                    f"{path}[{n}]/@Language",
                    item.language,
                )

    def document(self, doc: ServiceDiscovery) -> None:
        if doc.version is not None:
            self.version(doc.version, "/ServiceDiscovery/@Version")
        for r, record in enumerate(doc.records, start=1):
            path = f"/ServiceDiscovery/RMSFUSDiscovery[{r}]"
            self.domain_name(record.domain_name, f"{path}/@DomainName")
            if record.version is not None:
                self.version(record.version, f"{path}/@Version")
            if not record.providers:
                self.fail("an RMSFUSDiscovery needs at least one FUSProvider or RMSProvider", path)
            kinds = {type(p) for p in record.providers}
            if len(kinds) > 1:
                self.fail(
                    "an RMSFUSDiscovery holds FUSProviders or RMSProviders, not both "
                    "(use one RMSFUSDiscovery for each)",
                    path,
                )
            for p, provider in enumerate(record.providers, start=1):
                if isinstance(provider, FUSProvider):
                    self.fus(provider, f"{path}/FUSProvider[{p}]")
                elif isinstance(provider, RMSProvider):
                    self.rms(provider, f"{path}/RMSProvider[{p}]")
                else:
                    self.fail("not a FUSProvider or RMSProvider", path, type(provider).__name__)

    def fus(self, fus: FUSProvider, path: str) -> None:
        self.texts(fus.names, f"{path}/FUSName", required=True)
        self.decimal(fus.fus_id, f"{path}/FUSID")
        self.texts(fus.descriptions, f"{path}/Description", required=False)
        if fus.logo_uri is not None:
            self.uri(fus.logo_uri, f"{path}/@LogoURI")
        if not fus.announcements:
            self.fail("at least one FUSAnnouncement is required", f"{path}/FUSAnnouncement")
        for n, ann in enumerate(fus.announcements, start=1):
            where = f"{path}/FUSAnnouncement[{n}]"
            if ann.description is not None:
                self.text(ann.description, f"{where}/FUSAnnouncementDescription")
            if (mc := ann.multicast_address) is not None:
                at = f"{where}/MulticastAnnouncementAddress"
                self.host(mc.address, f"{at}/@Address")
                if mc.source is not None:
                    self.host(mc.source, f"{at}/@Source")
                if (
                    isinstance(mc.port, bool)
                    or not isinstance(mc.port, int)
                    or not (0 <= mc.port <= 65535)
                ):
                    self.fail("Port must be 0-65535", f"{at}/@Port", mc.port)
                if mc.protocol is not None and not isinstance(mc.protocol, AnnouncementProtocol):
                    self.fail(
                        'Protocol must be "1 SAP" or "2 DVBSTP"', f"{at}/@Protocol", mc.protocol
                    )
            if ann.unicast_announcement is not None:
                self.uri(ann.unicast_announcement, f"{where}/FUSUnicastAnnouncement")
            if ann.qrc_location is not None:
                self.uri(ann.qrc_location, f"{where}/QRCLocation")

    def rms(self, rms: RMSProvider, path: str) -> None:
        self.uri(rms.location, f"{path}/@RMSLocation")
        self.texts(rms.names, f"{path}/RMSName", required=True)
        if rms.rms_id is not None:
            self.decimal(rms.rms_id, f"{path}/RMSID")
        self.texts(rms.descriptions, f"{path}/Description", required=False)
        if rms.logo_uri is not None:
            self.uri(rms.logo_uri, f"{path}/@LogoURI")


# --- writing --------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def _texts(parent: etree._Element, name: str, values: tuple[Text, ...]) -> None:
    for item in values:
        el = etree.SubElement(parent, _q(name), Language=item.language)
        el.text = item.text


def _leaf(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        etree.SubElement(parent, _q(name)).text = value


def write(doc: ServiceDiscovery) -> bytes:
    """The record as UTF-8 XML with a declaration. Raises `SdnsError` for anything the schema
    would refuse."""
    checker = _Checker()
    checker.document(doc)
    if checker.issues:
        raise SdnsError(checker.issues)
    root = etree.Element(_q("ServiceDiscovery"), nsmap={None: NAMESPACE})
    if doc.version is not None:
        root.set("Version", f"{doc.version:02X}")
    for record in doc.records:
        el = etree.SubElement(root, _q("RMSFUSDiscovery"), DomainName=record.domain_name)
        if record.version is not None:
            el.set("Version", f"{record.version:02X}")
        for provider in record.providers:
            if isinstance(provider, FUSProvider):
                _write_fus(el, provider)
            else:
                _write_rms(el, provider)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_fus(parent: etree._Element, fus: FUSProvider) -> None:
    el = etree.SubElement(parent, _q("FUSProvider"))
    if fus.logo_uri is not None:
        el.set("LogoURI", fus.logo_uri)
    _texts(el, "FUSName", fus.names)
    _leaf(el, "FUSID", fus.fus_id)
    _texts(el, "Description", fus.descriptions)
    for ann in fus.announcements:
        a = etree.SubElement(el, _q("FUSAnnouncement"))
        _leaf(a, "FUSAnnouncementDescription", ann.description)
        if (mc := ann.multicast_address) is not None:
            m = etree.SubElement(a, _q("MulticastAnnouncementAddress"))
            if mc.source is not None:
                m.set("Source", mc.source)
            m.set("Address", mc.address)
            m.set("Port", str(mc.port))
            if mc.protocol is not None:
                m.set("Protocol", mc.protocol.value)
        _leaf(a, "FUSUnicastAnnouncement", ann.unicast_announcement)
        _leaf(a, "QRCLocation", ann.qrc_location)


def _write_rms(parent: etree._Element, rms: RMSProvider) -> None:
    el = etree.SubElement(parent, _q("RMSProvider"))
    if rms.logo_uri is not None:
        el.set("LogoURI", rms.logo_uri)
    el.set("RMSLocation", rms.location)
    _texts(el, "RMSName", rms.names)
    _leaf(el, "RMSID", rms.rms_id)
    _texts(el, "Description", rms.descriptions)


# --- reading --------------------------------------------------------------------------------------

_DOCTYPE_REFUSED = "a DOCTYPE is not allowed: DTDs and entities are refused, never expanded"


def _parser() -> etree.XMLParser:
    return hardened_parser(strip_comments=True)


class _Reader:
    """Walks the tree, building the model; collects issues instead of stopping at the first."""

    def __init__(self) -> None:
        self.issues: list[SdnsIssue] = []

    def fail(
        self, message: str, path: str, el: etree._Element | None, value: object = None
    ) -> None:
        line = el.sourceline if el is not None else None
        self.issues.append(SdnsIssue(message, path, line, _preview(value)))

    # structure helpers
    def children(
        self, el: etree._Element, path: str, allowed: dict[str, tuple[int, int | None]]
    ) -> dict[str, list[tuple[etree._Element, str]]]:
        """The element's children by local name, in order, with their paths; reports unknown
        children, misplaced text and wrong counts (min, max)."""
        out: dict[str, list[tuple[etree._Element, str]]] = {name: [] for name in allowed}
        if el.text and el.text.strip():
            self.fail("text is not allowed here", path, el, el.text.strip())
        for child in el:
            if child.tail and child.tail.strip():
                self.fail("text is not allowed here", path, child, child.tail.strip())
            qname = etree.QName(child)
            if qname.namespace != NAMESPACE or qname.localname not in allowed:
                self.fail(
                    f"unexpected element {qname.localname!r}"
                    + (f" in namespace {qname.namespace!r}" if qname.namespace != NAMESPACE else "")
                    + f"; allowed here: {', '.join(allowed)}",
                    path,
                    child,
                )
                continue
            name = qname.localname
            out[name].append((child, f"{path}/{name}[{len(out[name]) + 1}]"))
        for name, (low, high) in allowed.items():
            count = len(out[name])
            if count < low:
                self.fail(f"{name} is required", f"{path}/{name}", el)
            if high is not None and count > high:
                self.fail(f"{name} may appear at most {high} time(s)", f"{path}/{name}", el)
        return out

    def attributes(self, el: etree._Element, path: str, allowed: set[str]) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, value in el.attrib.items():
            qname = etree.QName(name)
            if qname.namespace == _XSI:
                continue
            if qname.namespace is not None or qname.localname not in allowed:
                self.fail(
                    f"unexpected attribute {qname.localname!r}", f"{path}/@{qname.localname}", el
                )
                continue
            values[qname.localname] = value
        return values

    def simple(self, el: etree._Element, path: str, *, collapse: bool = False) -> str:
        if len(el):
            self.fail("a simple value was expected, not elements", path, el)
        text = el.text or ""
        return " ".join(text.split()) if collapse else text

    def multilingual(self, items: list[tuple[etree._Element, str]]) -> tuple[Text, ...]:
        out = []
        for el, path in items:
            attrs = self.attributes(el, path, {"Language"})
            language = attrs.get("Language")
            if language is None:
                self.fail("Language is required", f"{path}/@Language", el)
                language = ""
            elif not _LANGUAGE.fullmatch(language):
                self.fail(
                    "Language must be a three-letter ISO 639-2 code",
                    f"{path}/@Language",
                    el,
                    language,
                )
            out.append(Text(self.simple(el, path), language))
        return tuple(out)

    def uri(self, el: etree._Element, path: str) -> str:
        self.attributes(el, path, set())
        value = self.simple(el, path, collapse=True)
        if problem := _uri_problem(value):
            self.fail(problem, path, el, value)
        return value

    def decimal(self, el: etree._Element, path: str) -> str:
        self.attributes(el, path, set())
        value = self.simple(el, path).strip()
        if not _DECIMAL.fullmatch(value):
            self.fail("must be a decimal number (xsd:decimal)", path, el, value)
        return value

    def version(self, attrs: dict[str, str], path: str, el: etree._Element) -> int | None:
        raw = attrs.get("Version")
        if raw is None:
            return None
        if not re.fullmatch(r"[0-9A-Fa-f]{2}", raw):
            self.fail("Version must be two hexadecimal digits", f"{path}/@Version", el, raw)
            return None
        return int(raw, 16)

    # the record
    def document(self, root: etree._Element) -> ServiceDiscovery:
        path = "/ServiceDiscovery"
        attrs = self.attributes(root, path, {"Version"})
        version = self.version(attrs, path, root)
        records = []
        if root.text and root.text.strip():
            self.fail("text is not allowed here", path, root, root.text.strip())
        counters: dict[str, int] = {}
        for child in root:
            qname = etree.QName(child)
            counters[qname.localname] = counters.get(qname.localname, 0) + 1
            child_path = f"{path}/{qname.localname}[{counters[qname.localname]}]"
            if qname.namespace != NAMESPACE:
                self.fail(f"unexpected element in namespace {qname.namespace!r}", child_path, child)
            elif qname.localname != "RMSFUSDiscovery":
                self.fail(
                    "not an RMS-FUS record: only RMSFUSDiscovery offerings are read here (a record "
                    "carries one offering type, clause 5.4.5)",
                    child_path,
                    child,
                )
            else:
                records.append(self.record(child, child_path))
        return ServiceDiscovery(tuple(records), version)

    def record(self, el: etree._Element, path: str) -> RMSFUSDiscovery:
        attrs = self.attributes(el, path, {"DomainName", "Version"})
        domain = attrs.get("DomainName", "")
        if "DomainName" not in attrs:
            self.fail("DomainName is required", f"{path}/@DomainName", el)
        elif not _DOMAIN.fullmatch(domain):
            self.fail(
                "DomainName must be a domain name with at least one dot",
                f"{path}/@DomainName",
                el,
                domain,
            )
        version = self.version(attrs, path, el)
        kids = self.children(el, path, {"FUSProvider": (0, None), "RMSProvider": (0, None)})
        fus = [self.fus(c, p) for c, p in kids["FUSProvider"]]
        rms = [self.rms(c, p) for c, p in kids["RMSProvider"]]
        if fus and rms:
            self.fail("an RMSFUSDiscovery holds FUSProviders or RMSProviders, not both", path, el)
        if not fus and not rms:
            self.fail("an RMSFUSDiscovery needs at least one FUSProvider or RMSProvider", path, el)
        providers: tuple[Provider, ...] = (*fus, *rms)
        return RMSFUSDiscovery(domain, providers, version)

    def fus(self, el: etree._Element, path: str) -> FUSProvider:
        attrs = self.attributes(el, path, {"LogoURI"})
        kids = self.children(
            el,
            path,
            {
                "FUSName": (1, None),
                "FUSID": (1, 1),
                "Description": (0, None),
                "FUSAnnouncement": (1, None),
            },
        )
        self.order(el, path, ["FUSName", "FUSID", "Description", "FUSAnnouncement"])
        fus_id = self.decimal(*kids["FUSID"][0]) if kids["FUSID"] else ""
        return FUSProvider(
            names=self.multilingual(kids["FUSName"]),
            fus_id=fus_id,
            announcements=tuple(self.announcement(c, p) for c, p in kids["FUSAnnouncement"]),
            descriptions=self.multilingual(kids["Description"]),
            logo_uri=self.logo(attrs, path, el),
        )

    def logo(self, attrs: dict[str, str], path: str, el: etree._Element) -> str | None:
        logo = attrs.get("LogoURI")
        if logo is not None:
            logo = " ".join(logo.split())
            if problem := _uri_problem(logo):
                self.fail(problem, f"{path}/@LogoURI", el, logo)
        return logo

    def order(self, el: etree._Element, path: str, sequence: list[str]) -> None:
        """Report children out of the schema's sequence order."""
        rank = {name: n for n, name in enumerate(sequence)}
        last = -1
        for child in el:
            name = etree.QName(child).localname
            if name not in rank:
                continue
            if rank[name] < last:
                self.fail(f"{name} is out of order; expected: {', '.join(sequence)}", path, child)
                return
            last = rank[name]

    def announcement(self, el: etree._Element, path: str) -> FUSAnnouncement:
        self.attributes(el, path, set())
        names = [
            "FUSAnnouncementDescription",
            "MulticastAnnouncementAddress",
            "FUSUnicastAnnouncement",
            "QRCLocation",
        ]
        kids = self.children(el, path, {name: (0, 1) for name in names})
        self.order(el, path, names)
        description = None
        if kids["FUSAnnouncementDescription"]:
            child, child_path = kids["FUSAnnouncementDescription"][0]
            self.attributes(child, child_path, set())
            description = self.simple(child, child_path)
        multicast = None
        if kids["MulticastAnnouncementAddress"]:
            multicast = self.multicast(*kids["MulticastAnnouncementAddress"][0])
        unicast = (
            self.uri(*kids["FUSUnicastAnnouncement"][0]) if kids["FUSUnicastAnnouncement"] else None
        )
        qrc = self.uri(*kids["QRCLocation"][0]) if kids["QRCLocation"] else None
        return FUSAnnouncement(description, multicast, unicast, qrc)

    def multicast(self, el: etree._Element, path: str) -> MulticastAddress:
        attrs = self.attributes(el, path, {"Address", "Port", "Source", "Protocol"})
        self.children(el, path, {})
        address = attrs.get("Address", "").strip()
        if "Address" not in attrs:
            self.fail("Address is required", f"{path}/@Address", el)
        elif not (_IPV4.fullmatch(address) or _DOMAIN.fullmatch(address)):
            self.fail(
                "must be an IPv4 address in dotted decimal or a domain name",
                f"{path}/@Address",
                el,
                address,
            )
        source = attrs.get("Source")
        if source is not None:
            source = source.strip()
            if not (_IPV4.fullmatch(source) or _DOMAIN.fullmatch(source)):
                self.fail(
                    "must be an IPv4 address in dotted decimal or a domain name",
                    f"{path}/@Source",
                    el,
                    source,
                )
        port = 0
        raw_port = attrs.get("Port")
        if raw_port is None:
            self.fail("Port is required", f"{path}/@Port", el)
        elif not re.fullmatch(r"\s*\+?[0-9]{1,5}\s*", raw_port) or int(raw_port) > 65535:
            self.fail("Port must be 0-65535", f"{path}/@Port", el, raw_port)
        else:
            port = int(raw_port)
        protocol = None
        if (raw := attrs.get("Protocol")) is not None:
            try:
                protocol = AnnouncementProtocol(raw)
            except ValueError:
                self.fail('Protocol must be "1 SAP" or "2 DVBSTP"', f"{path}/@Protocol", el, raw)
        return MulticastAddress(address, port, source, protocol)

    def rms(self, el: etree._Element, path: str) -> RMSProvider:
        attrs = self.attributes(el, path, {"LogoURI", "RMSLocation"})
        location = " ".join(attrs.get("RMSLocation", "").split())
        if "RMSLocation" not in attrs:
            self.fail("RMSLocation is required", f"{path}/@RMSLocation", el)
        elif problem := _uri_problem(location):
            self.fail(problem, f"{path}/@RMSLocation", el, location)
        kids = self.children(
            el, path, {"RMSName": (1, None), "RMSID": (0, 1), "Description": (0, None)}
        )
        self.order(el, path, ["RMSName", "RMSID", "Description"])
        rms_id = self.decimal(*kids["RMSID"][0]) if kids["RMSID"] else None
        return RMSProvider(
            location=location,
            names=self.multilingual(kids["RMSName"]),
            rms_id=rms_id,
            descriptions=self.multilingual(kids["Description"]),
            logo_uri=self.logo(attrs, path, el),
        )


def parse(data: bytes) -> ServiceDiscovery:
    """Read an SD&S record of RMSFUSDiscovery offerings. Raises `SdnsError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse() takes bytes")
    data = bytes(data)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SdnsError(
            [SdnsIssue(f"the record is {len(data)} bytes; the limit is {MAX_DOCUMENT_BYTES}", "/")]
        )
    line = prolog_doctype_line(data)
    if line is not None:
        raise SdnsError([SdnsIssue(_DOCTYPE_REFUSED, "/", line)])
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise SdnsError(
            [SdnsIssue(f"not well-formed XML: {exc.msg}", "/", exc.lineno or None)]
        ) from None
    if root is None:
        raise SdnsError([SdnsIssue("the record is empty", "/")])
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise SdnsError([SdnsIssue(_DOCTYPE_REFUSED, "/", 1)])
    qname = etree.QName(root)
    if qname.localname != "ServiceDiscovery" or qname.namespace != NAMESPACE:
        raise SdnsError(
            [
                SdnsIssue(
                    f"expected ServiceDiscovery in namespace {NAMESPACE!r}",
                    f"/{qname.localname}",
                    root.sourceline,
                    qname.namespace,
                )
            ]
        )
    reader = _Reader()
    document = reader.document(root)
    if reader.issues:
        raise SdnsError(reader.issues)
    return document
