"""What a carousel sends, built from the catalogue.

`describe(carousel)` reads the database (cheap: no file is read) and returns a `Content` whose
`fingerprint` changes whenever what goes on the wire must change; the loop compares fingerprints on
every heartbeat and reloads with the next content version (FLUTE: a new FDT instance id; DSM-CC:
new module versions; DVBSTP: new segment versions; SAP: a new message id hash and session version).
`Content.plan(version)` builds the datagrams of one cycle (file MD5s cached per path, size, mtime).

Announcements (SAP, DVBSTP) announce the carousel's approved packages with the TargetDevices the
rollouts gate allows now (`announced_target_devices`: the package's own targets, narrowed to the
released waves while a rollout governs it); a package nothing may be announced for is left out.
SAP media sections point at the FLUTE / DSM-CC carousels that carry the package.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from fus.choices import FirmwareStatus
from fus.discovery import sdns as sdns_codec
from fus.discovery import stub as stub_codec
from fus.metadata import codec
from fus.metadata import model as m
from fus.models import Carousel, CarouselKind, FirmwareFile, FirmwarePackage, FusEntity
from fus.models.carousels import DELIVERY_KINDS
from fus.multicast import dsmcc, dvbstp, flute, sap, sdp

__all__ = ["CarouselContentError", "Content", "Plan", "announced_target_devices", "describe"]


class CarouselContentError(Exception):
    """The carousel cannot send its contents (a missing file, nothing to send): shown in the UI."""


def announced_target_devices(
    package: FirmwarePackage, at: datetime | None = None
) -> m.TargetDevices | None:
    """The one function that says whom a package is announced to, now: the package's metadata
    TargetDevices narrowed by its rollouts (issue #7) to the waves released so far, growing wave
    by wave (`fus.rollouts.gate`); None when nobody may be told yet."""
    from fus.rollouts import gate

    return gate.announced_target_devices(package, at)


@dataclass
class Plan:
    """One cycle's datagrams (a fresh iterator per cycle) and a summary for the UI.

    `deletions` (SAP only): for every session this plan announces, keyed by (origin, session id),
    the RFC 2974 deletion datagram the loop sends when the session disappears from a later plan
    or the carousel is stopped."""

    cycle: Callable[[], Iterator[bytes]]
    summary: tuple[str, ...]
    version: int
    deletions: dict[tuple[str, int], bytes] = field(default_factory=dict)


@dataclass
class Content:
    fingerprint: str
    summary: tuple[str, ...]
    build: Callable[[int], Plan]
    notes: tuple[str, ...] = field(default=())

    def plan(self, version: int) -> Plan:
        return self.build(version)


def _approved(carousel: Carousel) -> list[FirmwarePackage]:
    return list(
        carousel.packages.filter(status=FirmwareStatus.APPROVED)
        .select_related("manufacturer", "fus_entity")
        .prefetch_related("files")
        .order_by("pk")
    )


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else repr(part).encode())
        h.update(b"\0")
    return h.hexdigest()


_md5_cache: dict[tuple[str, int, int], bytes] = {}
_md5_lock = threading.Lock()


def file_md5(path: Path) -> bytes:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _md5_lock:
        if key in _md5_cache:
            return _md5_cache[key]
    with path.open("rb") as stream:
        digest = flute.md5_of(stream)
    with _md5_lock:
        _md5_cache[key] = digest
    return digest


def _file_path(f: FirmwareFile) -> Path:
    try:
        path = Path(f.file.path)
    except (ValueError, NotImplementedError) as exc:
        raise CarouselContentError(
            f"{f.package}: file {f.file_name} has no local path ({exc})"
        ) from None
    if not path.is_file():
        raise CarouselContentError(
            f"{f.package}: file {f.file_name} is missing from storage ({path})"
        )
    if path.stat().st_size != f.size:
        raise CarouselContentError(
            f"{f.package}: file {f.file_name} has {path.stat().st_size} bytes on disk, "
            f"the catalogue says {f.size}"
        )
    return path


def content_location(f: FirmwareFile) -> str:
    """A file's name in the carousel: the download server's path, so that a box can also fetch
    it by unicast (`/firmware/<package id>/<file name>`)."""
    return f"firmware/{f.package_id}/{f.file_name}"


def _files(carousel: Carousel) -> list[FirmwareFile]:
    files = [f for p in _approved(carousel) for f in sorted(p.files.all(), key=lambda f: f.pk)]
    if not files:
        raise CarouselContentError(
            "No approved package with files to send: add one to the carousel."
        )
    return files


def _flute(carousel: Carousel) -> Content:
    files = _files(carousel)
    for f in files:
        _file_path(f)
    fingerprint = _digest(
        "flute",
        carousel.tsi,
        carousel.flute_version,
        [(f.pk, f.file.name, f.size, f.sha256) for f in files],
    )

    def build(version: int) -> Plan:
        senders = []
        for f in files:
            path = _file_path(f)
            senders.append(
                flute.SenderFile(
                    toi=f.pk,
                    content_location=content_location(f),
                    length=f.size,
                    md5=file_md5(path),
                    open=lambda path=path: path.open("rb"),
                    content_type="application/octet-stream",
                )
            )
        session = flute.Session(
            tsi=carousel.tsi,
            files=tuple(senders),
            fdt_instance_id=version % (1 << 20),
            version=carousel.flute_version,
        )
        return Plan(
            session.cycle,
            tuple(f"TOI {s.toi}: {s.content_location} ({s.length} bytes)" for s in senders),
            version,
        )

    return Content(fingerprint, tuple(content_location(f) for f in files), build)


def _dsmcc(carousel: Carousel) -> Content:
    files = _files(carousel)
    for f in files:
        _file_path(f)
    ouis = sorted(
        {
            int(o, 16)
            for f in files
            for o in f.package.manufacturer.ouis.values_list("oui", flat=True)
        }
    )
    fingerprint = _digest(
        "dsmcc",
        carousel.pid,
        carousel.carousel_id,
        carousel.service_id,
        ouis,
        [(f.pk, f.file.name, f.size, f.sha256) for f in files],
    )

    def build(version: int) -> Plan:
        # Modules are read into memory once per content version (a module is at most 266 MB).
        car = dsmcc.Carousel(
            [dsmcc.CarouselFile(content_location(f), _file_path(f).read_bytes()) for f in files],
            pid=carousel.pid,
            carousel_id=carousel.carousel_id,
            service_id=carousel.service_id,
            version=version,
            ouis=ouis,
        )
        return Plan(
            car.cycle,
            tuple(f"module {m.module_id}: {m.info.name} ({m.size} bytes)" for m in car.modules),
            version,
        )

    return Content(fingerprint, tuple(content_location(f) for f in files), build)


def _delivery(c: Carousel) -> sdp.Delivery:
    group = ipaddress.ip_address(c.group)
    source = ipaddress.ip_address(c.source_address) if c.source_address else None
    if c.kind == CarouselKind.FLUTE:
        return sdp.Delivery(
            sdp.FLUTE_PROTO,
            group,
            c.port,
            source,
            c.ttl if group.version == 4 else None,
            tsi=c.tsi,
            bandwidth_bps=c.rate_bps,
        )
    return sdp.Delivery(
        sdp.DSMCC_PROTO,
        group,
        c.port,
        source,
        c.ttl if group.version == 4 else None,
        pid=c.pid,
        service_id=c.service_id,
        carousel_id=c.carousel_id,
        bandwidth_bps=c.rate_bps,
    )


def _populations(
    package: FirmwarePackage, targets: m.TargetDevices, deliveries: list[Carousel]
) -> tuple[sdp.Population, ...]:
    files = tuple(
        (content_location(f), f.size) for f in sorted(package.files.all(), key=lambda f: f.pk)
    )
    update = m.UpdateDescriptor(
        m.UpdateFlag(package.update_flag),
        m.UpdateMethod(package.update_method),
        package.update_priority,
    )
    return tuple(
        sdp.Population(
            target=target,
            software_version=package.software_version,
            package_name=package.package_name,
            package_size=sum(size for _, size in files),
            files=files,
            delivery=_delivery(d),
            update=update,
        )
        for d in deliveries
        for target in targets.entries()
    )


def _origin(carousel: Carousel):
    for candidate in (carousel.source_address, carousel.interface):
        if candidate:
            return ipaddress.ip_address(candidate)
    if ipaddress.ip_address(carousel.group).version == 4:
        return ipaddress.IPv4Address(0)  # unspecified origin
    return ipaddress.IPv6Address(0)


def _signing_key():
    path = getattr(settings, "FUS_SAP_SIGNING_KEY", "")
    if not path:
        return None
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        return load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CarouselContentError(
            f"FUS_SAP_SIGNING_KEY={path}: cannot load the key ({exc})"
        ) from None


def _sap(carousel: Carousel) -> Content:
    at = timezone.now()
    fus = FusEntity.objects.filter(is_default=True).first()
    announcements: list[sdp.Announcement] = []
    notes: list[str] = []
    for package in _approved(carousel):
        targets = announced_target_devices(package, at)
        if targets is None or not targets.entries():
            notes.append(f"{package}: no population released for announcement yet")
            continue
        deliveries = list(
            Carousel.objects.filter(kind__in=DELIVERY_KINDS, packages=package).order_by("pk")
        )
        if not deliveries:
            notes.append(f"{package}: no FLUTE or DSM-CC carousel carries it, nothing to announce")
            continue
        announcements.append(
            sdp.Announcement(
                fus_name=(fus.name if fus else "rms-fus-portal").replace(" ", "-"),
                session_id=package.pk,
                session_version=0,
                origin_address=_origin(carousel),
                populations=_populations(package, targets, deliveries),
                valid_from=package.valid_from,
                valid_until=package.valid_until,
                info=(package.message_descriptor or None)
                and package.message_descriptor.splitlines()[0][:200],
            )
        )
    if not announcements:
        raise CarouselContentError(
            "Nothing to announce: " + ("; ".join(notes) or "no approved package.")
        )
    texts = [sdp.write_announcement(a) for a in announcements]
    fingerprint = _digest("sap", texts)
    key = _signing_key()

    def build(version: int) -> Plan:
        datagrams = []
        deletions = {}
        for ann in announcements:
            payload = sdp.write_announcement(dataclasses.replace(ann, session_version=version))
            packet = sap.SapPacket(ann.origin_address, sap.message_id_hash(payload), payload)
            deletion = sap.deletion_of(packet)
            if key is not None:
                datagrams.append(sap.sign(packet, key))
                deletions[(str(ann.origin_address), ann.session_id)] = sap.sign(deletion, key)
            else:
                datagrams.append(sap.encode(packet))
                deletions[(str(ann.origin_address), ann.session_id)] = sap.encode(deletion)
        return Plan(
            lambda: iter(datagrams),
            tuple(
                f"session {a.session_id}: {len(a.populations)} population(s)" for a in announcements
            ),
            version,
            deletions,
        )

    return Content(
        fingerprint,
        tuple(f"SDP session {a.session_id}" for a in announcements),
        build,
        tuple(notes),
    )


def _dvbstp(carousel: Carousel) -> Content:
    from fus.services.entities import build_sdns, build_stub, sdns_domain_name
    from fus.services.metadata import metadata_document

    at = timezone.now()
    segments: list[tuple[int, int, bytes]] = []
    notes: list[str] = []
    for package in _approved(carousel):
        targets = announced_target_devices(package, at)
        if targets is None or not targets.entries():
            notes.append(f"{package}: no population released for announcement yet")
            continue
        doc = metadata_document(package)
        doc = dataclasses.replace(
            doc, firmware_upgrade=dataclasses.replace(doc.firmware_upgrade, target_devices=targets)
        )
        segments.append((dvbstp.PAYLOAD_FUS_ANNOUNCEMENT, package.pk & 0xFFFF, codec.write(doc)))
    if carousel.include_stub:
        segments.append((dvbstp.PAYLOAD_FUS_STUB_SDNS, 0, stub_codec.write(build_stub(at=at).stub)))
        segments.append(
            (
                dvbstp.PAYLOAD_FUS_STUB_SDNS,
                1,
                sdns_codec.write(build_sdns(sdns_domain_name()).discovery),
            )
        )
    if not segments:
        raise CarouselContentError(
            "Nothing to send: " + ("; ".join(notes) or "no approved package.")
        )
    fingerprint = _digest("dvbstp", segments)

    def build(version: int) -> Plan:
        datagrams = [
            packet
            for payload_id, segment_id, data in segments
            for packet in dvbstp.segment_packets(
                dvbstp.Segment(payload_id, segment_id, version & 0xFF, data)
            )
        ]
        return Plan(
            lambda: iter(datagrams),
            tuple(f"payload 0x{p:02X} segment {s}: {len(d)} bytes" for p, s, d in segments),
            version,
        )

    return Content(
        fingerprint, tuple(f"0x{p:02X}/{s}" for p, s, _ in segments), build, tuple(notes)
    )


_BUILDERS = {
    CarouselKind.FLUTE: _flute,
    CarouselKind.DSMCC: _dsmcc,
    CarouselKind.SAP: _sap,
    CarouselKind.DVBSTP: _dvbstp,
}


def describe(carousel: Carousel) -> Content:
    """The carousel's current contents; `CarouselContentError` says why it cannot send."""
    return _BUILDERS[CarouselKind(carousel.kind)](carousel)
