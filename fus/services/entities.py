"""The operator's FUS and RMS entities: every change (audited, SD&S version bumped), and the two
discovery documents built from them — the FUS stub file and the SD&S RMS-FUS record.

Changes: `save_fus_entity` / `save_rms_entity` (fields and, optionally, the whole location list)
and `delete_fus_entity` / `delete_rms_entity`. Each runs in one transaction, locks the stored row,
validates fields and locations (errors name the location, field and value), bumps the entity's
`sdns_version` (mod 256) when anything changed, and audits: the entity's fields through the
automatic change log, its locations with an explicit event carrying the before/after lists. Making
an entity the default takes the flag from the previous default (a change to that one too).

Documents (docs/discovery.md):

- `build_stub()`: one upgrade candidate per device class (and listed hardware version) of each
  approved, currently valid, unmanaged-mode, single-file package whose targets a stub can express;
  its URL is the package file under the most preferred unicast location of the package's FUS (or
  the default FUS). Everything left out is listed with its reason.
- `build_sdns(domain_name)`: one `RMSFUSDiscovery` per FUS entity and one per RMS entity, each with
  that entity's `sdns_version` as Version.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from fus.choices import FirmwareStatus, MetadataMode
from fus.discovery import sdns, stub
from fus.downloads import file_url
from fus.models import FirmwareFile, FirmwarePackage, FusEntity, RmsEntity, ServiceLocation
from fus.models.entities import AnnouncementProtocol, LocationKind
from fus.models.targeting import TargetKind, VersionKind
from portal.audit import attributed, record_event
from portal.choices import AuditKind

__all__ = [
    "NAME_LANGUAGE",
    "EntityError",
    "Exclusion",
    "LocationSpec",
    "SdnsDocument",
    "StubDocument",
    "build_sdns",
    "build_stub",
    "delete_fus_entity",
    "delete_rms_entity",
    "firmware_file_url",
    "save_fus_entity",
    "save_rms_entity",
    "sdns_domain_name",
    "validate_locations",
]

#: ISO 639-2 language of the entity names and descriptions in the SD&S record.
NAME_LANGUAGE = "eng"

_FUS_FIELDS = (
    "name",
    "fus_id",
    "description",
    "source_address",
    "supported_interfaces",
    "delivery_rate",
    "is_default",
)
_RMS_FIELDS = ("name", "rms_id", "description", "is_default")


class EntityError(ValidationError):
    """A refused entity change; `messages` name each problem (field or location, and value)."""


@dataclass(frozen=True)
class LocationSpec:
    """A ServiceLocation as given by a form, the seed or a test."""

    kind: str
    url: str = ""
    address: str | None = None
    port: int | None = None
    preference: int | None = None
    protocol: str = ""

    @classmethod
    def of(cls, location: ServiceLocation) -> LocationSpec:
        return cls(
            kind=location.kind,
            url=location.url,
            address=location.address,
            port=location.port,
            preference=location.preference,
            protocol=location.protocol,
        )

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "url": self.url,
            "address": self.address,
            "port": self.port,
            "preference": self.preference,
            "protocol": self.protocol,
        }


# --- changes ---------------------------------------------------------------------------------------


def _is_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _location_problems(spec: LocationSpec) -> list[str]:
    """What the discovery documents need of a location, beyond the model's own checks."""
    kind, url, address = spec.kind, spec.url, spec.address
    problems = []
    if url and (any(c.isspace() for c in url) or ";" in url or '"' in url):
        problems.append(f'URL {url!r}: no white space, ";" or \'"\' (percent-encode them)')
    if spec.port is not None and not address:
        problems.append("Port is given without an Address")
    if spec.port is not None and not 1 <= spec.port <= 65535:
        problems.append(f"Port {spec.port}: must be 1-65535")
    if spec.protocol and kind != LocationKind.MULTICAST_ANNOUNCEMENT:
        problems.append("Protocol only applies to a multicast announcement address")
    if kind in {LocationKind.FUS_QUERY, LocationKind.UNICAST, LocationKind.MANAGEMENT_SERVER}:
        if not _is_http(url):
            problems.append(f"needs an http(s) URL (got {url or 'none'!r})")
        if address:
            problems.append("takes a URL, not an Address")
    elif kind in {LocationKind.MULTICAST_ANNOUNCEMENT, LocationKind.MULTICAST}:
        if address:
            if not ipaddress.ip_address(address).is_multicast:
                problems.append(f"Address {address} is not a multicast address")
            if spec.port is None:
                problems.append("a multicast Address needs a Port")
            if kind == LocationKind.MULTICAST_ANNOUNCEMENT and not spec.protocol:
                problems.append(
                    "a multicast announcement Address needs its Protocol (SAP or DVBSTP)"
                )
        elif kind == LocationKind.MULTICAST:
            problems.append("needs a multicast Address and Port")
        elif not _is_http(url):
            problems.append(
                "needs a multicast Address, Port and Protocol, or an http(s) URL where "
                f"announcements are fetched by unicast (got {url or 'none'!r})"
            )
    return problems


def validate_locations(
    owner: FusEntity | RmsEntity, specs: Sequence[LocationSpec]
) -> list[ServiceLocation]:
    """The rows `specs` would become for `owner` (saved or not); `EntityError` names each problem
    ("Location 2 (unicast): ..."). Forms call this to show the errors before anything is saved."""
    owner_field = "fus" if isinstance(owner, FusEntity) else "rms"
    rows, errors = [], []
    for number, spec in enumerate(specs, start=1):
        row = ServiceLocation(
            kind=spec.kind,
            url=spec.url or "",
            address=spec.address or None,
            port=spec.port,
            preference=spec.preference,
            protocol=spec.protocol or "",
            **{owner_field: owner},
        )
        label = f"Location {number} ({spec.kind})"
        if spec.port is not None and not 1 <= spec.port <= 65535:
            errors.append(f"{label}: Port {spec.port}: must be 1-65535")
            continue
        try:
            row.full_clean(exclude=["fus", "rms"])
        except ValidationError as exc:
            details = (
                [f"{k}: {'; '.join(v)}" for k, v in exc.message_dict.items()]
                if hasattr(exc, "error_dict")
                else exc.messages
            )
            errors += [f"{label}: {d}" for d in details]
            continue
        errors += [f"{label}: {p}" for p in _location_problems(LocationSpec.of(row))]
        rows.append(row)
    if errors:
        raise EntityError(errors)
    return rows


def _field_errors(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{name}: {'; '.join(msgs)}" for name, msgs in exc.message_dict.items()]
    return list(exc.messages)


def _bump(version: int) -> int:
    return (version + 1) % 256


def _save_entity(
    entity: FusEntity | RmsEntity,
    model: type[FusEntity] | type[RmsEntity],
    field_names: tuple[str, ...],
    locations: Sequence[LocationSpec] | None,
) -> FusEntity | RmsEntity:
    try:
        entity.full_clean(validate_constraints=False)
    except ValidationError as exc:
        raise EntityError(_field_errors(exc)) from None
    rows = None if locations is None else validate_locations(entity, locations)

    stored = (
        model.objects.select_for_update().filter(pk=entity.pk).first()
        if entity.pk is not None
        else None
    )
    before_fields = {f: getattr(stored, f) for f in field_names} if stored else None
    before_locations = (
        [LocationSpec.of(loc).as_dict() for loc in stored.locations.all()] if stored else []
    )
    after_locations = (
        before_locations if rows is None else [LocationSpec.of(r).as_dict() for r in rows]
    )
    after_fields = {f: getattr(entity, f) for f in field_names}
    changed = before_fields != after_fields or before_locations != after_locations
    if stored is None:
        entity.sdns_version = entity.sdns_version or 1
    elif changed:
        entity.sdns_version = _bump(stored.sdns_version)
    else:
        entity.sdns_version = stored.sdns_version
        return entity  # nothing to do: no save, no event, no new version

    if entity.is_default:
        for other in (
            model.objects.select_for_update().filter(is_default=True).exclude(pk=entity.pk)
        ):
            other.is_default = False
            other.sdns_version = _bump(other.sdns_version)
            other.save()
    entity.save()
    if rows is not None and before_locations != after_locations:
        entity.locations.all().delete()
        for row in rows:
            setattr(row, "fus" if isinstance(entity, FusEntity) else "rms", entity)
        ServiceLocation.objects.bulk_create(rows)
        record_event(
            AuditKind.OBJECT_UPDATED,
            obj=entity,
            message=f"Locations of {entity} changed (SD&S version {entity.sdns_version:02X}).",
            changes={"locations": [before_locations, after_locations]},
        )
    return entity


@attributed
@transaction.atomic
def save_fus_entity(
    entity: FusEntity, *, locations: Sequence[LocationSpec] | None = None, actor=None
) -> FusEntity:
    """Create or change a FUS entity and (if given) replace its locations. Raises `EntityError`."""
    return _save_entity(entity, FusEntity, _FUS_FIELDS, locations)  # type: ignore[return-value]


@attributed
@transaction.atomic
def save_rms_entity(
    entity: RmsEntity, *, locations: Sequence[LocationSpec] | None = None, actor=None
) -> RmsEntity:
    """Create or change an RMS entity and (if given) replace its locations."""
    return _save_entity(entity, RmsEntity, _RMS_FIELDS, locations)  # type: ignore[return-value]


@attributed
@transaction.atomic
def delete_fus_entity(entity: FusEntity, *, actor=None) -> None:
    """Delete a FUS entity; packages naming it fall back to the default FUS."""
    entity.delete()


@attributed
@transaction.atomic
def delete_rms_entity(entity: RmsEntity, *, actor=None) -> None:
    entity.delete()


# --- the FUS stub file ----------------------------------------------------------------------------


def firmware_file_url(base_url: str, file: FirmwareFile) -> str:
    """A package file's download URL under a unicast location: `fus.downloads.file_url`, the one
    function that builds download URLs (the download server's `/firmware/<package id>/<file name>`
    on the location's origin; signed when `FUS_DOWNLOAD_AUTH` is signed-url)."""
    return file_url(file, base=base_url)


@dataclass(frozen=True)
class Exclusion:
    """A package (or one of its target entries) the document leaves out, and why."""

    package: FirmwarePackage
    reason: str


@dataclass(frozen=True)
class StubDocument:
    stub: stub.StubFile
    packages: tuple[FirmwarePackage, ...]
    excluded: tuple[Exclusion, ...]
    last_modified: datetime | None


def _in_window(package: FirmwarePackage, at: datetime) -> bool:
    if package.valid_from is not None and at < package.valid_from:
        return False
    return package.valid_until is None or at <= package.valid_until


def _target_rows(package: FirmwarePackage) -> list[tuple[str, str, list[str], list[str], bool]]:
    """(OUI, ProductClass, hardware versions, from-software versions, has RangeList) per target
    entry; packages without target rows fall back to their device classes."""
    entries = list(package.target_entries.all())
    if not entries:
        return [
            (t.device_class.oui, t.device_class.product_class, [], [], False)
            for t in package.targets.all()
        ]
    rows = []
    for entry in entries:
        versions = list(entry.versions.all())
        hardware = [v.version for v in versions if v.kind == VersionKind.HARDWARE]
        software = [v.version for v in versions if v.kind == VersionKind.SOFTWARE]
        if entry.kind == TargetKind.SOFTWARE and not software:
            software = ["(none)"]
        rows.append(
            (
                entry.device_class.oui,
                entry.device_class.product_class,
                hardware,
                software,
                entry.has_range_list,
            )
        )
    return rows


def _stub_candidates(
    package: FirmwarePackage, base_url: str, file: FirmwareFile
) -> tuple[list[stub.UpgradeCandidate], list[str]]:
    candidates, skipped = [], []
    package_info = stub.SoftwarePackageInfo(
        package_name=package.package_name,
        package_size=file.size,
        footprint_size_volatile=package.footprint_volatile,
        footprint_size_non_volatile=package.footprint_non_volatile,
        signed_packaged=package.signed_packaging or package.manifest,
    )
    resource = stub.ResourceAccessInfo(firmware_file_url(base_url, file))
    for oui, product_class, hardware, software, ranged in _target_rows(package):
        if ranged:
            skipped.append(
                f"{oui}/{product_class}: a DeviceGroup RangeList (serials/MACs) cannot be expressed "
                "in a stub, which would offer the update to the whole class"
            )
            continue
        if software:
            skipped.append(
                f"{oui}/{product_class}: restricted to current software {', '.join(software)}, "
                "which a stub cannot express"
            )
            continue
        for hw in hardware or [None]:
            candidates.append(
                stub.UpgradeCandidate(
                    device_class_info=stub.DeviceClassInfo(
                        manufacturer_oui=oui.upper(),
                        product_class=product_class,
                        hardware_version=hw,
                        software_version=package.software_version,
                    ),
                    software_package_info=package_info,
                    resource_access_info=resource,
                )
            )
    return candidates, skipped


def _unicast_base(entity: FusEntity | None) -> str | None:
    if entity is None:
        return None
    for location in entity.locations.all():  # ordered by kind, preference (nulls last), pk
        if location.kind == LocationKind.UNICAST and location.url:
            return location.url
    return None


def build_stub(*, at: datetime | None = None) -> StubDocument:
    """The stub file the FUS serves now, with what it leaves out and why."""
    at = at or timezone.now()
    default_fus = FusEntity.objects.filter(is_default=True).prefetch_related("locations").first()
    packages = (
        FirmwarePackage.objects.filter(status=FirmwareStatus.APPROVED)
        .select_related("manufacturer", "fus_entity")
        .prefetch_related(
            "files",
            "fus_entity__locations",
            "targets__device_class",
            "target_entries__device_class",
            "target_entries__versions",
        )
        .order_by("update_priority", "-approved_at", "pk")
    )
    candidates: list[stub.UpgradeCandidate] = []
    included: list[FirmwarePackage] = []
    excluded: list[Exclusion] = []
    for package in packages:
        reason = None
        files = list(package.files.all())
        fus_entity = package.fus_entity or default_fus
        base = _unicast_base(fus_entity)
        if package.mode != MetadataMode.UNMANAGED:
            reason = (
                "Mode managed: the RMS delivers it (TR-069 Download); a stub every box reads at "
                "boot would bypass the RMS"
            )
        elif not _in_window(package, at):
            reason = "outside its ValidityTimeRange now"
        elif len(files) != 1:
            reason = (
                f"{len(files)} files: the stub's one URL would have to point to an announcement "
                "description (clause 9.2), which is not served yet"
            )
        elif fus_entity is None:
            reason = "no FUS entity named and no default FUS entity"
        elif base is None:
            reason = f"{fus_entity} has no unicast location (http(s) URL) to download from"
        if reason:
            excluded.append(Exclusion(package, reason))
            continue
        found, skipped = _stub_candidates(package, base, files[0])  # type: ignore[arg-type]
        try:
            stub.write(stub.StubFile(tuple(found)))
        except stub.StubError as exc:
            excluded.append(Exclusion(package, f"cannot be written in a stub: {exc}"))
            continue
        excluded += [Exclusion(package, text) for text in skipped]
        if found:
            candidates += found
            included.append(package)
        elif not skipped:
            excluded.append(Exclusion(package, "no target device class"))
    return StubDocument(
        stub=stub.StubFile(tuple(candidates)),
        packages=tuple(included),
        excluded=tuple(excluded),
        last_modified=_stub_last_modified(at),
    )


def _stub_last_modified(at: datetime) -> datetime | None:
    """The latest change that can alter the stub: an entity or location edit (entities' `updated`),
    a package approved, retired or edited, or a validity window opening or closing before `at`."""
    moments = [
        FusEntity.objects.aggregate(m=Max("updated"))["m"],
        FirmwarePackage.objects.filter(
            status__in=[FirmwareStatus.APPROVED, FirmwareStatus.RETIRED]
        ).aggregate(m=Max("updated"))["m"],
        FirmwarePackage.objects.filter(
            status=FirmwareStatus.APPROVED, valid_from__lte=at
        ).aggregate(m=Max("valid_from"))["m"],
        FirmwarePackage.objects.filter(
            status=FirmwareStatus.APPROVED, valid_until__lt=at
        ).aggregate(m=Max("valid_until"))["m"],
    ]
    found = [m for m in moments if m is not None]
    return max(found) if found else None


# --- the SD&S record ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SdnsDocument:
    discovery: sdns.ServiceDiscovery
    notes: tuple[str, ...] = field(default=())
    last_modified: datetime | None = None


_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def sdns_domain_name(request_host: str | None = None) -> str:
    """`SDNS_DOMAIN_NAME` if set (checked), else derived from the request's host: its name
    without the port; a name without a dot (localhost, testserver) gets `.local`, because the
    schema's DomainType needs a dot; an IP literal is used as it is (IPv4 has dots)."""
    configured = getattr(settings, "SDNS_DOMAIN_NAME", "") or ""
    if configured:
        if not sdns._DOMAIN.fullmatch(configured):
            raise ImproperlyConfigured(
                f"SDNS_DOMAIN_NAME={configured!r}: expected a domain name with at least one dot"
            )
        return configured
    host = (request_host or "localhost").strip()
    if host.startswith("["):  # an IPv6 literal: no domain name to derive
        return "localhost.local"
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if sdns._DOMAIN.fullmatch(host):
        return host
    if _LABEL.fullmatch(host):
        return f"{host}.local"
    return "localhost.local"


def _ordered(locations: Iterable[ServiceLocation], kind: str) -> list[ServiceLocation]:
    return [loc for loc in locations if loc.kind == kind]


def _fus_provider(entity: FusEntity, notes: list[str]) -> sdns.FUSProvider:
    locations = list(entity.locations.all())
    multicast, unicast = [], []
    for loc in _ordered(locations, LocationKind.MULTICAST_ANNOUNCEMENT):
        if loc.address:
            if ipaddress.ip_address(loc.address).version == 6:
                notes.append(
                    f"{entity}: announcement address {loc.address} left out: SD&S v1.4 carries "
                    "IPv4 addresses only"
                )
                continue
            multicast.append(
                sdns.MulticastAddress(
                    address=loc.address,
                    port=loc.port or 0,
                    source=entity.source_address
                    if entity.source_address
                    and ipaddress.ip_address(entity.source_address).version == 4
                    else None,
                    protocol={
                        AnnouncementProtocol.SAP: sdns.AnnouncementProtocol.SAP,
                        AnnouncementProtocol.DVBSTP: sdns.AnnouncementProtocol.DVBSTP,
                    }.get(loc.protocol),
                )
            )
        elif loc.url:
            unicast.append(loc.url)
    qrc = [loc.url for loc in _ordered(locations, LocationKind.FUS_QUERY) if loc.url]
    count = max(len(multicast), len(unicast), len(qrc), 1)
    announcements = tuple(
        sdns.FUSAnnouncement(
            multicast_address=multicast[i] if i < len(multicast) else None,
            unicast_announcement=unicast[i] if i < len(unicast) else None,
            qrc_location=qrc[i] if i < len(qrc) else None,
        )
        for i in range(count)
    )
    return sdns.FUSProvider(
        names=(sdns.Text(entity.name, NAME_LANGUAGE),),
        fus_id=entity.fus_id,
        announcements=announcements,
        descriptions=(sdns.Text(entity.description, NAME_LANGUAGE),) if entity.description else (),
    )


def _rms_providers(entity: RmsEntity, notes: list[str]) -> tuple[sdns.RMSProvider, ...]:
    urls = [
        loc.url
        for loc in _ordered(entity.locations.all(), LocationKind.MANAGEMENT_SERVER)
        if loc.url
    ]
    if not urls:
        notes.append(f"{entity} left out: it has no ManagementServerLocation URL (RMSLocation)")
    return tuple(
        sdns.RMSProvider(
            location=url,
            names=(sdns.Text(entity.name, NAME_LANGUAGE),),
            rms_id=entity.rms_id,
            descriptions=(sdns.Text(entity.description, NAME_LANGUAGE),)
            if entity.description
            else (),
        )
        for url in urls
    )


def build_sdns(domain_name: str) -> SdnsDocument:
    """The SD&S record: one RMSFUSDiscovery per FUS entity, then one per RMS entity (with a
    ManagementServerLocation), each versioned by its entity's `sdns_version`."""
    notes: list[str] = []
    records: list[sdns.RMSFUSDiscovery] = []
    fus_entities = FusEntity.objects.prefetch_related("locations").order_by("fus_id")
    rms_entities = RmsEntity.objects.prefetch_related("locations").order_by("rms_id")
    for fus_entity in fus_entities:
        records.append(
            sdns.RMSFUSDiscovery(
                domain_name, (_fus_provider(fus_entity, notes),), fus_entity.sdns_version
            )
        )
    for rms_entity in rms_entities:
        providers = _rms_providers(rms_entity, notes)
        if providers:
            records.append(sdns.RMSFUSDiscovery(domain_name, providers, rms_entity.sdns_version))
    moments = [
        m
        for m in (
            FusEntity.objects.aggregate(m=Max("updated"))["m"],
            RmsEntity.objects.aggregate(m=Max("updated"))["m"],
        )
        if m is not None
    ]
    return SdnsDocument(
        discovery=sdns.ServiceDiscovery(tuple(records)),
        notes=tuple(notes),
        last_modified=max(moments) if moments else None,
    )
