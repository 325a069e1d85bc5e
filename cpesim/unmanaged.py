"""Unmanaged boxes (TS 102 542-4 usage model "FUS only"): no ACS; each box asks the FUS's Query
Response Channel whether there is an update for it, downloads it, verifies it, applies it and
reports the result to the ReportingOrders address.

    poll:     POST <fus>/qrc           FirmwareUpdateCheck (docs/qrc.md)
    fetch:    GET  <file URL>          the best unicast Location of each file (lowest Preference)
    verify:   size, SHA-256 from the answer, the cpesim image header (OUI, product class, version)
    apply:    the box "reboots" into the new SoftwareVersion
    report:   POST <fus>/fus/report    JSON (ToSoftwareVersion, ResultCode 0 or a TR-069 fault code)

Pure: standard library, lxml and `cpesim.http`/`cpesim.download`; no Django. The QRC answer is
outside input: parsed with entities, DTDs and the network off, at most `MAX_ANSWER` bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import escape

from lxml import etree

from acs.cwmp.faults import FaultCode
from fus.metadata.xmlsafe import hardened_parser

from .download import fetch_firmware
from .http import Connection, HttpError, Url

__all__ = [
    "MAX_ANSWER",
    "QRC_NAMESPACE",
    "Location",
    "OfferedFile",
    "OfferedUpdate",
    "QrcError",
    "UnmanagedBox",
    "UnmanagedFleet",
    "UpdateResult",
    "apply",
    "build_check",
    "check",
    "choose",
    "default_report_url",
    "install",
    "parse_check_response",
    "qrc_url_of",
    "send_report",
]

log = logging.getLogger("cpesim.unmanaged")

QRC_NAMESPACE = "urn:rms-fus-portal:qrc:1"
SOAP_NAMESPACE = "http://schemas.xmlsoap.org/soap/envelope/"
MAX_ANSWER = 1024 * 1024
_NS = {"q": QRC_NAMESPACE, "s": SOAP_NAMESPACE}
UNICAST_SCHEMES = ("http", "https")


class QrcError(Exception):
    """The QRC could not be asked or its answer is unusable (the text names what and where)."""


@dataclass(slots=True)
class UnmanagedBox:
    """One unmanaged box: its identity (what it tells the QRC) and its running version."""

    oui: str
    product_class: str
    serial_number: str
    software_version: str
    hardware_version: str = "1.0"
    mac_address: str | None = None
    history: list[UpdateResult] = field(default_factory=list)

    @property
    def box_id(self) -> str:
        return f"{self.oui}-{self.serial_number}"


@dataclass(frozen=True, slots=True)
class Location:
    url: str
    interface: str
    preference: int | None


@dataclass(frozen=True, slots=True)
class OfferedFile:
    file_name: str
    file_size: int
    sha256: str
    locations: tuple[Location, ...]

    def unicast_urls(self) -> list[str]:
        """http(s) URLs, lowest Preference first (unnumbered last)."""
        ranked = sorted(
            (loc for loc in self.locations if urlsplit(loc.url).scheme in UNICAST_SCHEMES),
            key=lambda loc: (loc.preference is None, loc.preference or 0),
        )
        return [loc.url for loc in ranked]


@dataclass(frozen=True, slots=True)
class OfferedUpdate:
    software_version: str
    package_name: str
    package_size: int
    update_flag: str
    update_method: str
    update_priority: int
    files: tuple[OfferedFile, ...]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    from_version: str
    to_version: str
    result_code: int  # 0 success, else a TR-069 fault code
    result_text: str
    started_at: datetime
    completed_at: datetime
    reported: bool = False


# --- the QRC message ----------------------------------------------------------------------------


def build_check(box: UnmanagedBox) -> bytes:
    """The FirmwareUpdateCheck request of `box` (docs/qrc.md, "Request")."""
    fields = [
        ("ManufacturerOUI", box.oui),
        ("ProductClass", box.product_class),
        ("HardwareVersion", box.hardware_version),
        ("SoftwareVersion", box.software_version),
        ("SerialNumber", box.serial_number),
    ]
    if box.mac_address:
        fields.append(("MACAddress", box.mac_address))
    body = "".join(f"<q:{name}>{escape(value)}</q:{name}>" for name, value in fields)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_NAMESPACE}" xmlns:q="{QRC_NAMESPACE}"><s:Body>'
        f"<q:FirmwareUpdateCheck>{body}</q:FirmwareUpdateCheck></s:Body></s:Envelope>"
    ).encode()


def _text(node: etree._Element, name: str, where: str, *, required: bool = True) -> str | None:
    child = node.find(f"q:{name}", _NS)
    if child is None or child.text is None or not child.text.strip():
        if required:
            raise QrcError(f"QRC answer: {where} has no {name}")
        return None
    return child.text.strip()


def _int(node: etree._Element, name: str, where: str, *, required: bool = True) -> int | None:
    text = _text(node, name, where, required=required)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise QrcError(f"QRC answer: {where}/{name} is not an integer: {text[:40]!r}") from None
    if value < 0:
        raise QrcError(f"QRC answer: {where}/{name} is negative: {value}")
    return value


def parse_check_response(data: bytes) -> tuple[OfferedUpdate, ...]:
    """The updates of a FirmwareUpdateCheckResponse, best first; `QrcError` for a SOAP fault or an
    answer that does not follow docs/qrc.md (naming the element)."""
    if len(data) > MAX_ANSWER:
        raise QrcError(f"QRC answer of {len(data)} bytes is larger than {MAX_ANSWER}")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise QrcError("QRC answer carries a DOCTYPE or entity declaration; refused")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise QrcError(f"QRC answer is not XML: {exc}") from None
    fault = root.find("s:Body/s:Fault", _NS)
    if fault is not None:
        raise QrcError(
            f"QRC fault {fault.findtext('faultcode')}: {(fault.findtext('faultstring') or '')[:200]}"
        )
    answer = root.find("s:Body/q:FirmwareUpdateCheckResponse", _NS)
    if answer is None:
        raise QrcError("QRC answer has no Body/FirmwareUpdateCheckResponse")
    updates = []
    for i, node in enumerate(answer.iterfind("q:Updates/q:FirmwareUpdate", _NS), 1):
        where = f"FirmwareUpdate[{i}]"
        descriptor = node.find("q:UpdateDescriptor", _NS)
        if descriptor is None:
            raise QrcError(f"QRC answer: {where} has no UpdateDescriptor")
        files = []
        for j, f in enumerate(node.iterfind("q:Files/q:PackageFile", _NS), 1):
            fwhere = f"{where}/PackageFile[{j}]"
            sha = (_text(f, "SHA256", fwhere) or "").lower()
            if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
                raise QrcError(f"QRC answer: {fwhere}/SHA256 is not 64 hex digits: {sha[:70]!r}")
            locations = []
            for k, loc in enumerate(f.iterfind("q:Locations/q:Location", _NS), 1):
                lwhere = f"{fwhere}/Location[{k}]"
                locations.append(
                    Location(
                        _text(loc, "URL", lwhere) or "",
                        _text(loc, "Interface", lwhere) or "",
                        _int(loc, "Preference", lwhere, required=False),
                    )
                )
            files.append(
                OfferedFile(
                    _text(f, "FileName", fwhere) or "",
                    _int(f, "FileSize", fwhere) or 0,
                    sha,
                    tuple(locations),
                )
            )
        if not files:
            raise QrcError(f"QRC answer: {where} has no PackageFile")
        updates.append(
            OfferedUpdate(
                software_version=_text(node, "SoftwareVersion", where) or "",
                package_name=_text(node, "PackageName", where) or "",
                package_size=_int(node, "PackageSize", where) or 0,
                update_flag=_text(descriptor, "UpdateFlag", where) or "",
                update_method=_text(descriptor, "UpdateMethod", where) or "",
                update_priority=_int(descriptor, "UpdatePriority", where) or 0,
                files=tuple(files),
            )
        )
    return tuple(updates)


# --- HTTP ---------------------------------------------------------------------------------------


async def _post(
    url: str,
    body: bytes,
    content_type: str,
    *,
    extra: Iterable[tuple[str, str]] = (),
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
):
    target = Url.parse(url)
    connection = await Connection.open(target, ssl_context=ssl_context, timeout=timeout)
    try:
        headers = [
            ("User-Agent", "cpesim-unmanaged"),
            ("Content-Type", content_type),
            ("Connection", "close"),
            *extra,
        ]
        return await connection.request(
            "POST", target.target, headers, body, timeout=timeout, limit=MAX_ANSWER
        )
    finally:
        await connection.close()


async def check(
    qrc_url: str,
    box: UnmanagedBox,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
) -> tuple[OfferedUpdate, ...]:
    """Ask the QRC at `qrc_url` what applies to `box` (best first)."""
    try:
        response = await _post(
            qrc_url,
            build_check(box),
            "text/xml; charset=utf-8",
            extra=[("SOAPAction", '"FirmwareUpdateCheck"')],
            ssl_context=ssl_context,
            timeout=timeout,
        )
    except (HttpError, ValueError) as exc:
        raise QrcError(f"QRC {qrc_url}: {exc}") from None
    if response.status not in (200, 500):
        raise QrcError(f"QRC {qrc_url}: HTTP {response.status} {response.reason}")
    return parse_check_response(response.body)


async def send_report(
    report_url: str,
    box: UnmanagedBox,
    result: UpdateResult,
    *,
    ssl_context: ssl.SSLContext | None = None,
    attempts: int = 3,
    timeout: float = 30.0,
) -> bool:
    """POST the result as JSON (docs/qrc.md, "Reports"); retried on 429/5xx/no answer.
    True once the FUS stored it (201)."""
    body = {
        "ManufacturerOUI": box.oui,
        "ProductClass": box.product_class,
        "SerialNumber": box.serial_number,
        "HardwareVersion": box.hardware_version,
        "FromSoftwareVersion": result.from_version,
        "ToSoftwareVersion": result.to_version,
        "ResultCode": result.result_code,
        "ResultText": result.result_text[:1024],
        "StartTime": result.started_at.isoformat(),
        "CompleteTime": result.completed_at.isoformat(),
    }
    if box.mac_address:
        body["MACAddress"] = box.mac_address
    data = json.dumps(body).encode()
    for attempt in range(attempts):
        try:
            response = await _post(
                report_url, data, "application/json", ssl_context=ssl_context, timeout=timeout
            )
        except (HttpError, ValueError) as exc:
            log.warning("%s: report to %s failed: %s", box.box_id, report_url, exc)
        else:
            if response.status == 201:
                return True
            log.warning(
                "%s: report refused: HTTP %d %s",
                box.box_id,
                response.status,
                response.body[:300].decode("utf-8", "replace"),
            )
            if response.status < 500 and response.status != 429:
                return False
        if attempt < attempts - 1:
            await asyncio.sleep(0.5 * 2**attempt)
    return False


# --- one update ---------------------------------------------------------------------------------


def choose(updates: Iterable[OfferedUpdate], *, accept_manual: bool = False):
    """The update a box takes: the best (first) automatic one (manual ones wait for a user the
    simulator does not have, unless `accept_manual`)."""
    for update in updates:
        if update.update_flag == "automatic" or accept_manual:
            return update
    return None


def now() -> datetime:
    return datetime.now(UTC)


async def install(
    box: UnmanagedBox,
    update: OfferedUpdate,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 600.0,
) -> UpdateResult:
    """Fetch every file of `update` (unicast, by Preference; the next URL when one fails),
    verify each, and apply: the box's SoftwareVersion becomes the image's."""
    started = now()
    version = ""
    for f in update.files:
        urls = f.unicast_urls()
        if not urls:
            return UpdateResult(
                box.software_version,
                update.software_version,
                FaultCode.UNSUPPORTED_TRANSFER_PROTOCOL,
                f"{f.file_name}: no http(s) location in the QRC answer",
                started,
                now(),
            )
        outcome = None
        for url in urls:
            outcome = await fetch_firmware(
                url,
                oui=box.oui,
                product_class=box.product_class,
                file_size=f.file_size,
                ssl_context=ssl_context,
                timeout=timeout,
                sha256=f.sha256,
                version=update.software_version,
            )
            # a corrupt file is corrupt on every mirror; other faults try the next location
            if outcome.fault_code in (0, FaultCode.FILE_CORRUPTED):
                break
        assert outcome is not None
        if outcome.fault_code:
            return UpdateResult(
                box.software_version,
                update.software_version,
                outcome.fault_code,
                f"{f.file_name}: {outcome.fault_string}",
                started,
                now(),
            )
        version = version or outcome.software_version
    return apply(box, version or update.software_version, started)


def apply(box: UnmanagedBox, version: str, started: datetime) -> UpdateResult:
    """Install `version` (verified): the simulated box reboots into it."""
    result = UpdateResult(box.software_version, version, 0, "", started, now())
    box.software_version = version
    return result


# --- the fleet ----------------------------------------------------------------------------------


def default_report_url(fus_url: str) -> str:
    return urljoin(fus_url.rstrip("/") + "/", "fus/report")


def qrc_url_of(fus_url: str) -> str:
    """`--fus` may be the portal's origin or the QRC address itself."""
    if urlsplit(fus_url).path.rstrip("/").endswith("/qrc"):
        return fus_url
    return urljoin(fus_url.rstrip("/") + "/", "qrc")


class UnmanagedFleet:
    """Boxes that poll the QRC every `poll_interval` seconds (each with its own phase), install
    the best automatic update and report. `stats` counts polls, offers, updates, failures."""

    def __init__(
        self,
        boxes: Iterable[UnmanagedBox],
        fus_url: str,
        *,
        poll_interval: float = 3600.0,
        report_url: str | None = None,
        concurrency: int = 50,
        accept_manual: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        seed: int = 0,
    ) -> None:
        self.boxes = list(boxes)
        self.qrc_url = qrc_url_of(fus_url)
        self.report_url = report_url or default_report_url(
            fus_url if not fus_url.rstrip("/").endswith("/qrc") else fus_url.rstrip("/")[:-4]
        )
        self.poll_interval = poll_interval
        self.accept_manual = accept_manual
        self.ssl_context = ssl_context
        self.stats: Counter[str] = Counter()
        self._limit = asyncio.Semaphore(concurrency)
        self._random = random.Random(seed)
        self._tasks: list[asyncio.Task] = []

    async def poll_once(self, box: UnmanagedBox) -> UpdateResult | None:
        """One poll of `box`: check, and when something applies install and report it."""
        async with self._limit:
            self.stats["polls"] += 1
            try:
                offers = await check(self.qrc_url, box, ssl_context=self.ssl_context)
            except QrcError as exc:
                self.stats["qrc_errors"] += 1
                log.warning("%s: %s", box.box_id, exc)
                return None
            update = choose(offers, accept_manual=self.accept_manual)
            if update is None:
                self.stats["nothing" if not offers else "manual_waiting"] += 1
                return None
            self.stats["offers"] += 1
            result = await install(box, update, ssl_context=self.ssl_context)
            self.stats["updated" if result.result_code == 0 else "failed"] += 1
            reported = await send_report(self.report_url, box, result, ssl_context=self.ssl_context)
            self.stats["reported" if reported else "report_errors"] += 1
            result = replace(result, reported=reported)
            box.history.append(result)
            log.info(
                "%s: %s -> %s result %d %s",
                box.box_id,
                result.from_version,
                result.to_version,
                result.result_code,
                result.result_text,
            )
            return result

    async def _run_box(self, box: UnmanagedBox, first_delay: float) -> None:
        await asyncio.sleep(first_delay)
        while True:
            await self.poll_once(box)
            await asyncio.sleep(self.poll_interval)

    def start(self, *, ramp_seconds: float = 0.0) -> None:
        for box in self.boxes:
            delay = self._random.uniform(0, ramp_seconds) if ramp_seconds > 0 else 0.0
            self._tasks.append(asyncio.create_task(self._run_box(box, delay)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
