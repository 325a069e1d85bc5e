"""The FUS stub file `dvb-ipi-fus-stub.dvb` (TS 102 034 V1.5.1 clause 9.2, Tables 23 and 24).

A box fetches the stub at start-up (DHCP siaddr / option 67, or DVBSTP on 232.255.255.254:3937) and
looks in it for upgrade candidates: device class identification, package information and one URL.
The file starts with the header `[_DVB-STUB-HEADER-v1.0]` and comes in two forms:

- long form: sections `[DeviceClassInfo]`, `[SoftwarePackageInfo]`, `[ResourceAccessInfo]`, one
  `Name = value` per line;
- compact form: `code=value` elements (Table 23 codes `1a` ... `3b`) separated by `;`.

Several candidates (the clause speaks of "possible upgrade candidates"): one header, then the group
of sections (long form) or of elements (compact form) repeated; a candidate starts at each
`[DeviceClassInfo]` / `1a=` (ManufacturerOUI, the one mandatory element that comes first). We write
compact candidates one per line, each line but the last ending with `;` so that a reader which joins
lines and one which reads them separately both see the same elements. The reader also accepts a
header repeated before a candidate.

Values: strings are written in double quotes; the clause asks for `;` inside strings to be written as
"escape values" without defining them, so we percent-encode the three characters that would break
the format — `%` as `%25`, `"` as `%22`, `;` as `%3B` — and decode exactly those three when reading
a quoted string. Numbers, booleans (0/1), the OUI and the URL are written bare.

Tolerances, for the clause's own examples (docs/discovery.md): element names are case-insensitive
(the long example writes `Packagename`, `Packagesize`); `SignedPackage` is read as `SignedPackaged`,
also in `[DeviceClassInfo]` where the long example puts it (two different values are an error); an
OUI of fewer than six hex digits (the examples' `4567`) is read as a 24-bit number and written back
as six upper-case digits (`004567`); white space inside the header line is ignored (the PDF shows
`[_DVB-STUB-HEADER - v1.0]`).

Everything else is refused with a `StubError` listing each problem with its line, key and value.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from urllib.parse import urlsplit

__all__ = [
    "FILE_NAME",
    "HEADER",
    "MAX_STUB_BYTES",
    "DeviceClassInfo",
    "MulticastProtocol",
    "ResourceAccessInfo",
    "SoftwarePackageInfo",
    "StubError",
    "StubFile",
    "StubIssue",
    "UpgradeCandidate",
    "parse",
    "write",
]

FILE_NAME = "dvb-ipi-fus-stub.dvb"
HEADER = "[_DVB-STUB-HEADER-v1.0]"
#: Stub files larger than this are refused before decoding (a stub "should be fairly small").
MAX_STUB_BYTES = 1024 * 1024
#: Numbers are "long integers": at most a signed 64-bit value.
MAX_NUMBER = 2**63 - 1
_VALUE_PREVIEW = 80


class MulticastProtocol(enum.IntEnum):
    """Table 24: the protocol of a bare multicast address given as the URL."""

    SAP = 1
    DVBSTP = 2


@dataclass(frozen=True, slots=True)
class DeviceClassInfo:
    """Table 23 group 1. `software_version` is the version the candidate installs (docs/discovery.md)."""

    manufacturer_oui: str  # six upper-case hex digits
    product_class: str | None = None
    hardware_version: str | None = None
    software_version: str | None = None


@dataclass(frozen=True, slots=True)
class SoftwarePackageInfo:
    """Table 23 group 2; every element optional."""

    package_name: str | None = None
    package_size: int | None = None
    footprint_size_volatile: int | None = None
    footprint_size_non_volatile: int | None = None
    signed_packaged: bool | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True, slots=True)
class ResourceAccessInfo:
    """Table 23 group 3: a unicast URL, a `dvb-mcast://` URI, or a bare multicast address (then
    `protocol` is required)."""

    url: str
    protocol: MulticastProtocol | None = None


@dataclass(frozen=True, slots=True)
class UpgradeCandidate:
    device_class_info: DeviceClassInfo
    resource_access_info: ResourceAccessInfo
    software_package_info: SoftwarePackageInfo = field(default_factory=SoftwarePackageInfo)


@dataclass(frozen=True, slots=True)
class StubFile:
    candidates: tuple[UpgradeCandidate, ...] = ()


@dataclass(frozen=True, slots=True)
class StubIssue:
    """One problem: where (line, key as written or its Table 23 name) and what value."""

    message: str
    line: int | None = None
    key: str | None = None
    value: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.key is not None:
            parts.append(self.key)
        where = ", ".join(parts)
        value = f" (value {self.value!r})" if self.value is not None else ""
        return f"{where}: {self.message}{value}" if where else f"{self.message}{value}"


class StubError(ValueError):
    """The stub file is refused (reading) or cannot be written; `issues` lists every problem."""

    def __init__(self, issues: Iterable[StubIssue]) -> None:
        self.issues: tuple[StubIssue, ...] = tuple(issues)
        super().__init__("; ".join(str(i) for i in self.issues) or "invalid stub file")


# --- Table 23 -------------------------------------------------------------------------------------


class _Kind(enum.Enum):
    OUI = "oui"
    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    URL = "url"
    PROTOCOL = "protocol"


@dataclass(frozen=True, slots=True)
class _Element:
    code: str
    name: str
    section: str
    attr: str
    kind: _Kind

    @property
    def label(self) -> str:
        return f"{self.name} ({self.code})"


_DCI, _SPI, _RAI = "DeviceClassInfo", "SoftwarePackageInfo", "ResourceAccessInfo"
_SECTIONS = (_DCI, _SPI, _RAI)

ELEMENTS: tuple[_Element, ...] = (
    _Element("1a", "ManufacturerOUI", _DCI, "manufacturer_oui", _Kind.OUI),
    _Element("1b", "ProductClass", _DCI, "product_class", _Kind.STRING),
    _Element("1c", "HardwareVersion", _DCI, "hardware_version", _Kind.STRING),
    _Element("1d", "SoftwareVersion", _DCI, "software_version", _Kind.STRING),
    _Element("2a", "PackageName", _SPI, "package_name", _Kind.STRING),
    _Element("2b", "PackageSize", _SPI, "package_size", _Kind.NUMBER),
    _Element("2c", "FootprintSizeVolatile", _SPI, "footprint_size_volatile", _Kind.NUMBER),
    _Element("2d", "FootprintSizeNonVolatile", _SPI, "footprint_size_non_volatile", _Kind.NUMBER),
    _Element("2e", "SignedPackaged", _SPI, "signed_packaged", _Kind.BOOLEAN),
    _Element("3a", "URL", _RAI, "url", _Kind.URL),
    _Element("3b", "Protocol", _RAI, "protocol", _Kind.PROTOCOL),
)
_BY_CODE = {e.code: e for e in ELEMENTS}
_BY_NAME = {e.name.lower(): e for e in ELEMENTS}
_SIGNED = _BY_CODE["2e"]
# Long-form spellings the clause's own example uses: name -> (element, sections it may appear in).
_ALIASES = {"signedpackage": _SIGNED}
_ALIAS_SECTIONS = {"signedpackage": (_DCI, _SPI)}

_OUI_IN = re.compile(r"[0-9A-Fa-f]{1,6}")
_OUI_OUT = re.compile(r"[0-9A-F]{6}")
_NUMBER = re.compile(r"[0-9]{1,19}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_WRITE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_HEADER_LIKE = re.compile(r"\[_DVB-STUB-HEADER-v[^\]]*\]", re.IGNORECASE)
_ESCAPES = {"%25": "%", "%22": '"', "%3b": ";"}
_ESCAPE_IN = re.compile(r"%(25|22|3[bB])")


# --- reading --------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    line: int
    values: dict[str, tuple[object, int, str]] = field(default_factory=dict)  # attr -> value
    sections: set[str] = field(default_factory=set)
    attempted: set[str] = field(default_factory=set)  # given, even if refused


def _preview(value: str) -> str:
    return value if len(value) <= _VALUE_PREVIEW else value[:_VALUE_PREVIEW] + "..."


def _unquote(raw: str) -> tuple[str, bool]:
    """(text, was_quoted); raises ValueError for a broken quotation."""
    if raw.startswith('"'):
        if len(raw) < 2 or not raw.endswith('"'):
            raise ValueError("a quoted string must end with a double quote")
        inner = raw[1:-1]
        if '"' in inner:
            raise ValueError("a double quote inside a string must be written as %22")
        return _ESCAPE_IN.sub(lambda m: _ESCAPES[m.group(0).lower()], inner), True
    if raw.endswith('"'):
        raise ValueError("a string ending in a double quote must start with one")
    return raw, False


def _is_bare_address(url: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address if `url` is an address with an optional port (no scheme)."""
    host = url
    if host.startswith("["):  # [v6]:port
        end = host.find("]")
        if end < 0:
            return None
        host, rest = host[1:end], host[end + 1 :]
        if rest and not re.fullmatch(r":[0-9]{1,5}", rest):
            return None
    elif host.count(":") == 1:  # v4:port
        host, port = host.split(":")
        if not re.fullmatch(r"[0-9]{1,5}", port):
            return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_url(url: str) -> str | None:
    """Why `url` is not acceptable as ResourceAccessInfo URL, or None."""
    if not url:
        return "the URL is empty"
    if any(c.isspace() for c in url) or _WRITE_CONTROL.search(url):
        return "a URL must not contain white space or control characters"
    if ";" in url or '"' in url:
        return 'a URL in a stub file must not contain ";" or \'"\' (percent-encode them)'
    if _is_bare_address(url) is not None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a valid URL"
    if not parts.scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme):
        return "expected an absolute URL (http, https, dvb-mcast ...) or an IP address"
    if parts.scheme.lower() in {"http", "https", "dvb-mcast"} and not parts.netloc:
        return f"a {parts.scheme} URL needs a host"
    return None


def _convert(element: _Element, raw: str) -> object:
    """The typed value of `raw` for `element`; raises ValueError with a reason."""
    kind = element.kind
    if kind is _Kind.URL:
        # A URL keeps its own %XX escapes: quotes, if any, are only removed.
        text = raw[1:-1].strip() if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
        problem = _check_url(text)
        if problem:
            raise ValueError(problem)
        return text
    text, _quoted = _unquote(raw)
    if kind is _Kind.STRING:
        return text
    if kind is _Kind.OUI:
        if not _OUI_IN.fullmatch(text):
            raise ValueError(
                "ManufacturerOUI must be a 24-bit number in hexadecimal "
                "(six upper-case hex digits, e.g. 00D09E)"
            )
        return text.upper().zfill(6)
    if kind is _Kind.NUMBER:
        if not _NUMBER.fullmatch(text) or int(text) > MAX_NUMBER:
            raise ValueError(f"{element.name} must be a whole number of bytes (0 to 2^63-1)")
        return int(text)
    if kind is _Kind.BOOLEAN:
        if text not in {"0", "1"}:
            raise ValueError(f"{element.name} must be 0 or 1")
        return text == "1"
    if text not in {"1", "2"}:
        raise ValueError("Protocol must be 1 (SAP) or 2 (DVBSTP) (Table 24)")
    return MulticastProtocol(int(text))


def _split_compact(line: str) -> Iterator[str]:
    """The `;`-separated elements of a compact line; `;` inside double quotes does not split."""
    start, quoted = 0, False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            yield line[start:i]
            start = i + 1
    yield line[start:]


def _decode(data: bytes, issues: list[StubIssue]) -> str | None:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        issues.append(
            StubIssue(
                "the stub file must be UTF-8", line=line, value=repr(data[exc.start : exc.end])
            )
        )
        return None


def parse(data: bytes) -> StubFile:
    """Read a stub file (long or compact form). Raises `StubError` naming line, key and value."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse() takes bytes")
    data = bytes(data)
    if len(data) > MAX_STUB_BYTES:
        raise StubError(
            [StubIssue(f"the stub file is {len(data)} bytes; the limit is {MAX_STUB_BYTES}")]
        )
    issues: list[StubIssue] = []
    text = _decode(data, issues)
    if text is None:
        raise StubError(issues)
    lines = _LINE_BREAK.split(text)

    first = next((n for n, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise StubError([StubIssue(f"the stub file is empty; it must start with {HEADER}", line=1)])
    if not _is_header(lines[first]):
        found = lines[first].strip()
        if _HEADER_LIKE.fullmatch(re.sub(r"\s+", "", found)):
            message = f"unsupported stub header version; this reader knows {HEADER}"
        else:
            message = f"missing header: the stub file must start with {HEADER}"
        raise StubError([StubIssue(message, line=first + 1, value=_preview(found))])

    candidates: list[_Candidate] = []
    current: _Candidate | None = None
    section: str | None = None
    form: str | None = None
    for index in range(first, len(lines)):
        number, line = index + 1, lines[index]
        if _CONTROL.search(line):
            issues.append(
                StubIssue("control characters are not allowed", line=number, value=_preview(line))
            )
            continue
        stripped = line.strip()
        if not stripped:
            continue
        if _is_header(stripped):
            form, section = None, None
            continue
        if form is None:
            form = "long" if stripped.startswith("[") else "compact"
        if form == "long":
            if stripped.startswith("["):
                name = stripped[1:-1].strip() if stripped.endswith("]") else None
                match = next((s for s in _SECTIONS if name and s.lower() == name.lower()), None)
                if match is None:
                    issues.append(
                        StubIssue(
                            f"unknown section; expected one of {', '.join(f'[{s}]' for s in _SECTIONS)}",
                            line=number,
                            key=stripped,
                        )
                    )
                    section = None
                    continue
                section = match
                if match == _DCI:
                    current = _Candidate(line=number)
                    candidates.append(current)
                elif current is None:
                    issues.append(
                        StubIssue(
                            f"[{match}] before any [{_DCI}]: a candidate starts with [{_DCI}]",
                            line=number,
                            key=f"[{match}]",
                        )
                    )
                    section = None
                    continue
                elif match in current.sections:
                    issues.append(
                        StubIssue(
                            f"[{match}] given twice for the candidate starting on line "
                            f"{current.line}",
                            line=number,
                            key=f"[{match}]",
                        )
                    )
                    section = None
                    continue
                current.sections.add(match)
                continue
            key, sep, raw = stripped.partition("=")
            key = key.strip()
            if not sep or not key:
                issues.append(
                    StubIssue("expected 'Name = value'", line=number, value=_preview(stripped))
                )
                continue
            if section is None or current is None:
                issues.append(
                    StubIssue("an element outside any valid section", line=number, key=key)
                )
                continue
            element = _long_element(key, section, number, issues)
            if element is not None:
                _add(current, element, raw.strip(), number, key, issues)
        else:
            if stripped.startswith("["):
                issues.append(
                    StubIssue(
                        "a [section] line inside a compact-form block (one form per header)",
                        line=number,
                        key=stripped,
                    )
                )
                continue
            for token in _split_compact(stripped):
                token = token.strip()
                if not token:
                    continue
                code, sep, raw = token.partition("=")
                code = code.strip()
                if not sep or not code:
                    issues.append(
                        StubIssue("expected 'code=value'", line=number, value=_preview(token))
                    )
                    continue
                element = _BY_CODE.get(code.lower())
                if element is None:
                    issues.append(
                        StubIssue(
                            "unknown element code (Table 23 has 1a-1d, 2a-2e, 3a, 3b)",
                            line=number,
                            key=code,
                        )
                    )
                    continue
                if element.code == "1a":
                    current = _Candidate(line=number)
                    candidates.append(current)
                elif current is None:
                    issues.append(
                        StubIssue(
                            "element before 1a (ManufacturerOUI): a candidate starts with 1a",
                            line=number,
                            key=code,
                        )
                    )
                    continue
                _add(current, element, raw.strip(), number, code, issues)

    result = tuple(c for c in (_build(c, issues) for c in candidates) if c is not None)
    if issues:
        raise StubError(sorted(issues, key=lambda i: i.line or 0))
    return StubFile(result)


def _is_header(line: str) -> bool:
    return re.sub(r"\s+", "", line) == HEADER


def _long_element(key: str, section: str, line: int, issues: list[StubIssue]) -> _Element | None:
    lowered = key.lower()
    if lowered in _ALIASES:
        if section in _ALIAS_SECTIONS[lowered]:
            return _ALIASES[lowered]
        issues.append(StubIssue(f"does not belong in [{section}]", line=line, key=key))
        return None
    element = _BY_NAME.get(lowered)
    if element is None:
        issues.append(StubIssue(f"unknown element in [{section}]", line=line, key=key))
        return None
    if element.section != section:
        issues.append(
            StubIssue(f"belongs in [{element.section}], not in [{section}]", line=line, key=key)
        )
        return None
    return element


def _add(
    candidate: _Candidate,
    element: _Element,
    raw: str,
    line: int,
    key: str,
    issues: list[StubIssue],
) -> None:
    candidate.attempted.add(element.attr)
    try:
        value = _convert(element, raw)
    except ValueError as exc:
        issues.append(StubIssue(str(exc), line=line, key=key, value=_preview(raw)))
        return
    previous = candidate.values.get(element.attr)
    if previous is not None:
        before, before_line, before_key = previous
        # The long example gives SignedPackage in [DeviceClassInfo] and SignedPackaged in
        # [SoftwarePackageInfo]: the same value twice is fine, two different values are not.
        same_flag = element is _SIGNED and before_key.lower() != key.lower() and before == value
        if not same_flag:
            issues.append(
                StubIssue(
                    f"{element.label} given twice for one candidate (first on line {before_line})",
                    line=line,
                    key=key,
                    value=_preview(raw),
                )
            )
        return
    candidate.values[element.attr] = (value, line, key)


def _build(candidate: _Candidate, issues: list[StubIssue]) -> UpgradeCandidate | None:
    values = {attr: v[0] for attr, v in candidate.values.items()}
    missing = [e for e in (_BY_CODE["1a"], _BY_CODE["3a"]) if e.attr not in values]
    for element in missing:
        if element.attr in candidate.attempted:
            continue  # given but refused: already reported
        issues.append(
            StubIssue(
                f"the candidate starting here has no {element.label}, which is mandatory",
                line=candidate.line,
                key=element.label,
            )
        )
    if missing:
        return None
    url = str(values["url"])
    address = _is_bare_address(url)
    if address is not None and address.is_multicast and values.get("protocol") is None:
        issues.append(
            StubIssue(
                "a bare multicast address needs Protocol (3b): 1 SAP or 2 DVBSTP (Table 24)",
                line=candidate.values["url"][1],
                key=candidate.values["url"][2],
                value=url,
            )
        )
        return None
    return UpgradeCandidate(
        device_class_info=DeviceClassInfo(
            manufacturer_oui=str(values["manufacturer_oui"]),
            product_class=values.get("product_class"),  # type: ignore[arg-type]
            hardware_version=values.get("hardware_version"),  # type: ignore[arg-type]
            software_version=values.get("software_version"),  # type: ignore[arg-type]
        ),
        software_package_info=SoftwarePackageInfo(
            package_name=values.get("package_name"),  # type: ignore[arg-type]
            package_size=values.get("package_size"),  # type: ignore[arg-type]
            footprint_size_volatile=values.get("footprint_size_volatile"),  # type: ignore[arg-type]
            footprint_size_non_volatile=values.get("footprint_size_non_volatile"),  # type: ignore[arg-type]
            signed_packaged=values.get("signed_packaged"),  # type: ignore[arg-type]
        ),
        resource_access_info=ResourceAccessInfo(url=url, protocol=values.get("protocol")),  # type: ignore[arg-type]
    )


# --- writing --------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("%", "%25").replace('"', "%22").replace(";", "%3B") + '"'


def _format(element: _Element, value: object, where: str, issues: list[StubIssue]) -> str | None:
    kind = element.kind
    if kind is _Kind.STRING:
        if not isinstance(value, str) or _WRITE_CONTROL.search(value):
            issues.append(
                StubIssue(
                    "must be text on one line (no control characters)",
                    key=f"{where} {element.label}",
                    value=_preview(str(value)),
                )
            )
            return None
        return _quote(value)
    if kind is _Kind.OUI:
        if not isinstance(value, str) or not _OUI_OUT.fullmatch(value):
            issues.append(
                StubIssue(
                    "ManufacturerOUI must be six upper-case hexadecimal digits",
                    key=f"{where} {element.label}",
                    value=_preview(str(value)),
                )
            )
            return None
        return value
    if kind is _Kind.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_NUMBER:
            issues.append(
                StubIssue(
                    "must be a whole number from 0 to 2^63-1",
                    key=f"{where} {element.label}",
                    value=_preview(str(value)),
                )
            )
            return None
        return str(value)
    if kind is _Kind.BOOLEAN:
        return "1" if value else "0"
    if kind is _Kind.PROTOCOL:
        return str(int(MulticastProtocol(value)))  # type: ignore[arg-type]
    url = str(value)
    problem = _check_url(url)
    if problem:
        issues.append(StubIssue(problem, key=f"{where} {element.label}", value=_preview(url)))
        return None
    return url


def _elements_of(candidate: UpgradeCandidate) -> Iterator[tuple[_Element, object]]:
    parts = {
        _DCI: candidate.device_class_info,
        _SPI: candidate.software_package_info,
        _RAI: candidate.resource_access_info,
    }
    for element in ELEMENTS:
        value = getattr(parts[element.section], element.attr)
        if value is not None:
            yield element, value


def write(stub: StubFile, *, compact: bool = False) -> bytes:
    """The stub file in long form (default) or compact form, UTF-8 with LF line ends. Raises
    `StubError` for a value the format cannot carry (e.g. a control character, a `;` in a URL)."""
    issues: list[StubIssue] = []
    out = [HEADER]
    blocks: list[list[str]] = []
    for index, candidate in enumerate(stub.candidates, start=1):
        where = f"candidate {index}"
        elements = [
            (element, _format(element, value, where, issues))
            for element, value in _elements_of(candidate)
        ]
        address = _is_bare_address(candidate.resource_access_info.url)
        if (
            address is not None
            and address.is_multicast
            and candidate.resource_access_info.protocol is None
        ):
            issues.append(
                StubIssue(
                    "a bare multicast address needs Protocol (3b)",
                    key=f"{where} URL (3a)",
                    value=candidate.resource_access_info.url,
                )
            )
        if compact:
            blocks.append([";".join(f"{e.code}={v}" for e, v in elements)])
            continue
        lines: list[str] = []
        section = None
        for element, formatted in elements:
            if element.section != section:
                section = element.section
                lines.append(f"[{section}]")
            lines.append(f"{element.name} = {formatted}")
        blocks.append(lines)
    if issues:
        raise StubError(issues)
    if compact:
        out += [block[0] + ";" for block in blocks[:-1]] + [b[0] for b in blocks[-1:]]
    else:
        for number, block in enumerate(blocks):
            if number:
                out.append("")
            out += block
    return ("\n".join(out) + "\n").encode("utf-8")
