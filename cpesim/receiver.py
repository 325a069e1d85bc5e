"""Multicast receivers: unmanaged boxes that learn of updates without asking (TS 102 542-4
interfaces 7 and 5).

    listen:   join the announcement group (SAP/SDP or DVBSTP; told apart per datagram)
    decide:   the targeting engine (`fus.metadata.targeting.match_target`) on each announced
              target population against the box's identity; the box's own version is not taken
    fetch:    join the FLUTE session (group, port, TSI) or the DSM-CC carousel (group, port, PID)
              named by the announcement and reassemble the files (`fus.multicast.flute.Receiver`,
              `fus.multicast.dsmcc.Receiver`); or, when a DVBSTP metadata document prefers unicast,
              ask the QRC named in it and download (`cpesim.unmanaged`)
    verify:   each file's announced size, the carousel's own check (FLUTE Content-MD5 from the FDT,
              DSM-CC module CRC-32), the cpesim image header (OUI, product class, and the version
              must be the announced one); SAP signatures when trusted keys are given
    apply:    the box's SoftwareVersion becomes the new one
    report:   POST to the ReportingOrders address (the metadata's, else `report_url`)

One `MulticastReceiver` serves many boxes: a delivery several boxes want is received once. Several
boxes may join the same group on one host (SO_REUSEADDR). Pure: no Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from acs.cwmp.faults import FaultCode
from fus.metadata import codec
from fus.metadata import model as m
from fus.metadata.codec import MetadataError
from fus.metadata.targeting import DeviceIdentity, Specificity, TargetingIndex, match_target
from fus.multicast import dsmcc, dvbstp, flute, sap, sdp
from fus.multicast.errors import DecodeError
from fus.multicast.uri import parse_uri

from .download import image_version
from .unmanaged import (
    QrcError,
    UnmanagedBox,
    UpdateResult,
    check,
    install,
    qrc_url_of,
    send_report,
)

__all__ = [
    "Announced",
    "MulticastReceiver",
    "join",
    "offers_from_metadata",
    "offers_from_sap",
    "receive_files",
    "verify_file",
]

log = logging.getLogger("cpesim.receiver")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_DATAGRAM = 65536


def identity_of(box: UnmanagedBox) -> DeviceIdentity:
    return DeviceIdentity(
        box.oui,
        box.product_class,
        box.hardware_version,
        box.software_version,
        box.serial_number,
        box.mac_address,
    )


@dataclass(frozen=True, slots=True)
class Channel:
    """Where to receive the files: a FLUTE session or a DSM-CC carousel."""

    protocol: str  # sdp.FLUTE_PROTO or sdp.DSMCC_PROTO
    group: Address
    port: int
    source: Address | None = None
    tsi: int | None = None  # FLUTE; None = any
    pid: int | None = None  # DSM-CC


@dataclass(frozen=True, slots=True)
class Announced:
    """An update announced to a box: what it installs, which files, and where to get them."""

    software_version: str
    package_name: str
    files: tuple[tuple[str, int], ...]  # (name in the carousel or FileName, size)
    specificity: Specificity
    priority: int
    channel: Channel | None = None  # multicast delivery
    qrc_url: str | None = None  # unicast delivery: ask this QRC for URLs and SHA-256
    report_url: str | None = None  # the metadata's ReportingOrders


def _best(offers: Iterable[Announced]) -> Announced | None:
    ranked = sorted(
        offers,
        key=lambda o: (
            not o.specificity.identified,
            not o.specificity.software,
            not o.specificity.hardware,
            o.priority,
        ),
    )
    return ranked[0] if ranked else None


def offers_from_sap(ann: sdp.Announcement, box: UnmanagedBox, at: datetime) -> list[Announced]:
    """The populations of an SDP announcement that name `box` (targeting engine), other than its
    running version, inside the announced validity."""
    if ann.valid_from is not None and at < ann.valid_from:
        return []
    if ann.valid_until is not None and at > ann.valid_until:
        return []
    me = identity_of(box)
    out = []
    for pop in ann.populations:
        if pop.software_version == box.software_version:
            continue
        specificity = match_target(pop.target, me)
        if specificity is None:
            continue
        d = pop.delivery
        out.append(
            Announced(
                software_version=pop.software_version,
                package_name=pop.package_name,
                files=pop.files,
                specificity=specificity,
                priority=pop.update.update_priority if pop.update else 5,
                channel=Channel(d.protocol, d.group, d.port, d.source, d.tsi, d.pid),
            )
        )
    return out


def _multicast_channel(info: m.ResourceAccessInfo) -> Channel | None:
    """A FLUTE channel from a MulticastInterfaceLocation (`dvb-mcast://` URL or address + port)."""
    try:
        if info.url:
            uri = parse_uri(info.url)
            if uri.payload not in (None, "flute"):
                return None  # an MPEG-2 TS (DSM-CC) location names no PID: not usable here
            return Channel(sdp.FLUTE_PROTO, uri.group, uri.port, uri.source_address)
        if info.address and info.port:
            return Channel(sdp.FLUTE_PROTO, ipaddress.ip_address(info.address), info.port)
    except (DecodeError, ValueError):
        return None
    return None


def _first_url(infos: Iterable[m.ResourceAccessInfo]) -> str | None:
    ranked = sorted(
        (i for i in infos if i.url),
        key=lambda i: (i.preference is None, i.preference or 0),
    )
    return ranked[0].url if ranked else None


def offers_from_metadata(
    doc: m.RMSFUSMetadata, box: UnmanagedBox, at: datetime, *, qrc_url: str | None = None
) -> list[Announced]:
    """A DVBSTP metadata document (PayloadID 0xB2): applicable to `box` by the targeting engine
    (unmanaged mode, validity, not its running version)? Then delivered by the most preferred of
    the FUS's multicast locations (FLUTE) and unicast (through the QRC the document names, else
    `qrc_url`)."""
    applicable = TargetingIndex([doc]).applicable(identity_of(box), at=at, mode=m.Mode.UNMANAGED)
    if not applicable:
        return []
    (best,) = applicable[:1]
    upgrade = best.upgrade
    info = upgrade.software_package_info
    fus = doc.fus
    choices: list[tuple[int | None, Channel | None, str | None]] = []
    if fus is not None:
        for loc in fus.multicast_interface_locations:
            if (channel := _multicast_channel(loc)) is not None:
                choices.append((loc.preference, channel, None))
        query = _first_url(fus.fus_query_interface_locations) or qrc_url
        if fus.unicast_interface_locations and query:
            for loc in fus.unicast_interface_locations:
                choices.append((loc.preference, None, qrc_url_of(query)))
    elif qrc_url:
        choices.append((None, None, qrc_url_of(qrc_url)))
    if not choices:
        return []
    choices.sort(key=lambda c: (c[0] is None, c[0] or 0))
    _, channel, query = choices[0]
    return [
        Announced(
            software_version=upgrade.software_version,
            package_name=info.package_name,
            files=tuple((f.file_name, f.file_size or 0) for f in info.package_files),
            specificity=best.specificity,
            priority=best.priority,
            channel=channel,
            qrc_url=query,
            report_url=_first_url(doc.ce_manufacturer.reporting_orders),
        )
    ]


# --- sockets --------------------------------------------------------------------------------------


def join(group: Address | str, port: int, interface: str = "127.0.0.1") -> socket.socket:
    """A non-blocking UDP socket bound to `group`:`port` and joined on `interface` (an IPv4
    address for IPv4 groups; an interface name or index for IPv6 groups)."""
    group = ipaddress.ip_address(group)
    family = socket.AF_INET if group.version == 4 else socket.AF_INET6
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
        if group.version == 4:
            sock.bind((str(group), port))
            mreq = struct.pack("4s4s", group.packed, socket.inet_aton(interface))
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        else:
            index = int(interface) if interface.isdigit() else socket.if_nametoindex(interface)
            sock.bind((str(group), port, 0, index))
            mreq = group.packed + struct.pack("@I", index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def _datagrams(sock: socket.socket, deadline: float):
    loop = asyncio.get_running_loop()
    while (remaining := deadline - loop.time()) > 0:
        try:
            async with asyncio.timeout(remaining):
                yield await loop.sock_recvfrom(sock, MAX_DATAGRAM)
        except TimeoutError:
            return


async def receive_files(
    channel: Channel,
    names: Iterable[str],
    *,
    interface: str = "127.0.0.1",
    timeout: float = 600.0,
    stats: Counter[str] | None = None,
    loss: float = 0.0,
    rng: random.Random | None = None,
) -> dict[str, tuple[bytes, bool]]:
    """Join `channel` and collect the files called `names` (a FLUTE Content-Location, a DSM-CC
    module name, or a bare FileName that ends one); {name: (data, checked)} of those that
    arrived within `timeout` seconds (the carousel's own MD5/CRC: `checked`).

    `loss` simulates a lossy access network: that fraction of the datagrams received is thrown
    away before decoding (counted as ``lost``), drawn from `rng`."""
    if not 0.0 <= loss < 1.0:
        raise ValueError(f"loss must be in [0, 1), not {loss!r}")
    rng = rng or random.Random()
    wanted = set(names)
    got: dict[str, tuple[bytes, bool]] = {}
    stats = stats if stats is not None else Counter()

    def which(location: str | None) -> str | None:
        if location is None:
            return None
        if location in wanted:
            return location
        return next((w for w in wanted if location.rsplit("/", 1)[-1] == w), None)

    if channel.protocol == sdp.FLUTE_PROTO:
        flute_rx = flute.Receiver(channel.tsi)

        def feed(data: bytes) -> list[tuple[str | None, bytes, bool]]:
            return [(f.content_location, f.data, f.md5_checked) for f in flute_rx.feed(data)]
    elif channel.protocol == sdp.DSMCC_PROTO and channel.pid is not None:
        dsmcc_rx = dsmcc.Receiver(channel.pid)

        def feed(data: bytes) -> list[tuple[str | None, bytes, bool]]:
            return [(mod.name, mod.data, mod.crc_checked) for mod in dsmcc_rx.feed(data)]
    else:
        raise ValueError(f"cannot receive {channel.protocol} without its TSI/PID")
    sock = join(channel.group, channel.port, interface)
    loop = asyncio.get_running_loop()
    try:
        async for data, sender in _datagrams(sock, loop.time() + timeout):
            if loss and rng.random() < loss:
                stats["lost"] += 1
                continue
            if channel.source is not None and ipaddress.ip_address(sender[0]) != channel.source:
                stats["foreign_source"] += 1
                continue
            for location, body, checked in feed(data):
                if (name := which(location)) is not None:
                    got[name] = (body, checked)
            if wanted <= got.keys():
                break
    finally:
        sock.close()
    rx = flute_rx if channel.protocol == sdp.FLUTE_PROTO else dsmcc_rx
    stats.update({f"rx_{k}": v for k, v in rx.stats.items()})
    return got


def verify_file(
    box: UnmanagedBox, name: str, data: bytes, checked: bool, size: int, announced_version: str
) -> tuple[int, str, str]:
    """(fault code, text, version) of one received file: size, the carousel's own check, the
    image header (OUI, product class, version = the announced one)."""
    if size and len(data) != size:
        return FaultCode.FILE_CORRUPTED, f"{name}: {len(data)} bytes, announced {size}", ""
    if not checked:
        return FaultCode.FILE_CORRUPTED, f"{name}: no carousel checksum (MD5/CRC-32) to verify", ""
    fault, text, version = image_version(
        data[:4096], oui=box.oui, product_class=box.product_class, announced=announced_version
    )
    if fault:
        return fault, f"{name}: {text}", ""
    if version != announced_version:
        return (
            FaultCode.FILE_CORRUPTED,
            f"{name}: the image is version {version}, announced {announced_version}",
            "",
        )
    return 0, "", version


# --- the receiver ------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Pending:
    offer: Announced
    boxes: list[UnmanagedBox] = field(default_factory=list)


class MulticastReceiver:
    """Boxes listening to one announcement group. `run()` listens until `stop()`; each
    announcement is decided per box, wanted deliveries are received (once for all boxes that
    want them), verified, applied and reported. A box that failed a version retries it after
    `retry_seconds`. `stats` counts announcements, drops, updates, failures, reports."""

    def __init__(
        self,
        boxes: Iterable[UnmanagedBox],
        announce: tuple[str, int],
        *,
        interface: str = "127.0.0.1",
        report_url: str | None = None,
        qrc_url: str | None = None,
        trusted_keys: Iterable[object] | None = None,
        receive_timeout: float = 600.0,
        retry_seconds: float = 3600.0,
    ) -> None:
        self.boxes = list(boxes)
        self.announce = (ipaddress.ip_address(announce[0]), announce[1])
        self.interface = interface
        self.report_url = report_url
        self.qrc_url = qrc_url
        self.trusted_keys = list(trusted_keys) if trusted_keys is not None else None
        self.receive_timeout = receive_timeout
        self.retry_seconds = retry_seconds
        self.stats: Counter[str] = Counter()
        self.sap_sessions: dict[tuple[str, int], sdp.Announcement] = {}  # (origin, session id)
        self.documents: dict[tuple[int, int], m.RMSFUSMetadata] = {}
        self._assembler = dvbstp.SegmentAssembler(payload_ids={dvbstp.PAYLOAD_FUS_ANNOUNCEMENT})
        self._failed: dict[tuple[str, str], datetime] = {}
        self._stop = asyncio.Event()
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task] = set()

    # -- announcements --

    def _sap(self, data: bytes) -> bool:
        """True when `data` was a SAP packet (used or dropped)."""
        if not data or data[0] >> 5 != 1:
            return False
        try:
            if self.trusted_keys is not None:
                packet = sap.verify(data, self.trusted_keys)
            else:
                packet = sap.decode(data)
        except sap.SignatureError as exc:
            self.stats["sap_signature"] += 1
            log.warning("SAP announcement refused: %s", exc)
            return True
        except DecodeError:
            return False  # perhaps a DVBSTP packet after all
        if packet.is_deletion:
            # the payload is the deleted session's o= line (RFC 2974 section 6)
            self.stats["sap_deletions"] += 1
            fields = packet.payload.decode("utf-8", "replace").strip().removeprefix("o=").split()
            if len(fields) == 6 and fields[1].isdigit():
                self.sap_sessions.pop((fields[5], int(fields[1])), None)
            return True
        try:
            ann = sdp.parse_announcement(packet.payload)
        except DecodeError as exc:
            self.stats["sdp_errors"] += 1
            log.warning("SAP payload is not a firmware announcement: %s", exc)
            return True
        self.stats["sap_announcements"] += 1
        # keyed by the SDP session, so a new version of it replaces the old one
        self.sap_sessions[(str(ann.origin_address), ann.session_id)] = ann
        return True

    def _dvbstp(self, data: bytes) -> bool:
        segment = self._assembler.feed(data)
        if segment is None:
            return False
        try:
            doc = codec.parse(segment.data)
        except MetadataError as exc:
            self.stats["metadata_errors"] += 1
            log.warning("DVBSTP segment %d is not metadata: %s", segment.segment_id, exc)
            return False
        self.stats["dvbstp_documents"] += 1
        self.documents[(segment.payload_id, segment.segment_id)] = doc
        return True

    def offers(self, box: UnmanagedBox, at: datetime) -> list[Announced]:
        out: list[Announced] = []
        for ann in self.sap_sessions.values():
            out += offers_from_sap(ann, box, at)
        for doc in self.documents.values():
            out += offers_from_metadata(doc, box, at, qrc_url=self.qrc_url)
        retry_before = at - timedelta(seconds=self.retry_seconds)
        return [
            o
            for o in out
            if self._failed.get((box.box_id, o.software_version), retry_before) <= retry_before
        ]

    def decide(self) -> list[_Pending]:
        """Which box takes which update now; boxes wanting the same delivery are grouped."""
        at = _now()
        pending: dict[Announced, _Pending] = {}
        for box in self.boxes:
            if box.box_id in self._busy:
                continue
            best = _best(self.offers(box, at))
            if best is None:
                continue
            pending.setdefault(
                replace(best, specificity=Specificity()), _Pending(best)
            ).boxes.append(box)
        return list(pending.values())

    # -- delivery --

    async def _deliver(self, job: _Pending) -> None:
        offer = job.offer
        started = _now()
        try:
            if offer.channel is not None:
                received = await receive_files(
                    offer.channel,
                    [name for name, _ in offer.files],
                    interface=self.interface,
                    timeout=self.receive_timeout,
                    stats=self.stats,
                )
                for box in job.boxes:
                    await self._finish(box, offer, started, received)
            else:
                for box in job.boxes:
                    await self._unicast(box, offer, started)
        finally:
            for box in job.boxes:
                self._busy.discard(box.box_id)

    async def _finish(
        self,
        box: UnmanagedBox,
        offer: Announced,
        started: datetime,
        received: dict[str, tuple[bytes, bool]],
    ) -> None:
        fault, text = 0, ""
        for name, size in offer.files:
            if name not in received:
                fault, text = (
                    FaultCode.DOWNLOAD_INCOMPLETE,
                    f"{name}: not received within {self.receive_timeout:g} s",
                )
                break
            data, checked = received[name]
            fault, text, _ = verify_file(box, name, data, checked, size, offer.software_version)
            if fault:
                break
        result = UpdateResult(
            box.software_version, offer.software_version, fault, text, started, _now()
        )
        if not fault:
            box.software_version = offer.software_version  # apply: reboot into it
        await self._report(box, offer, result)

    async def _unicast(self, box: UnmanagedBox, offer: Announced, started: datetime) -> None:
        assert offer.qrc_url is not None
        try:
            answers = await check(offer.qrc_url, box)
        except QrcError as exc:
            self.stats["qrc_errors"] += 1
            log.warning("%s: %s", box.box_id, exc)
            self._failed[(box.box_id, offer.software_version)] = _now()
            return
        chosen = next((a for a in answers if a.software_version == offer.software_version), None)
        if chosen is None:
            self.stats["qrc_disagrees"] += 1
            self._failed[(box.box_id, offer.software_version)] = _now()
            return
        result = await install(box, chosen)
        await self._report(box, offer, replace(result, started_at=started))

    async def _report(self, box: UnmanagedBox, offer: Announced, result: UpdateResult) -> None:
        self.stats["updated" if result.result_code == 0 else "failed"] += 1
        if result.result_code:
            self._failed[(box.box_id, offer.software_version)] = _now()
        url = offer.report_url or self.report_url
        reported = bool(url) and await send_report(url, box, result)
        self.stats["reported" if reported else "not_reported"] += 1
        box.history.append(replace(result, reported=reported))
        log.info(
            "%s: %s -> %s result %d %s",
            box.box_id,
            result.from_version,
            result.to_version,
            result.result_code,
            result.result_text,
        )

    # -- the loop --

    def _spawn(self) -> None:
        for job in self.decide():
            # Busy from now, not from when the task first runs: the next announcement packet
            # may be decided before then, and must not start the same box's update twice.
            self._busy.update(box.box_id for box in job.boxes)
            task = asyncio.create_task(self._deliver(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def run(self) -> None:
        sock = join(self.announce[0], self.announce[1], self.interface)
        loop = asyncio.get_running_loop()
        try:
            while not self._stop.is_set():
                try:
                    async with asyncio.timeout(0.5):
                        data = await loop.sock_recv(sock, MAX_DATAGRAM)
                except TimeoutError:
                    continue
                self.stats["announcement_packets"] += 1
                if self._sap(data) or self._dvbstp(data):
                    self._spawn()
        finally:
            sock.close()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def stop(self) -> None:
        self._stop.set()
