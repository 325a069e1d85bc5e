"""What the QRC answers a box: the applicable updates with their files and locations.

Framework-neutral (no spyne here): `firmware_update_check(identity, at=..., origin=..., box=...)`
returns `Offer`s, best first, which `fus.qrc.service` turns into SOAP. The applicable packages come
from the targeting engine on the database (`fus.services.targeting.applicable_packages`), asked for
the QRC's Mode (`FUS_QRC_MODE`, default unmanaged), then passed through the rollouts' gate
(`fus.rollouts.gate`, #7). Waves do not touch the package's target rows: a package that a rollout
delivering through QRC/multicast or autonomous updates governs (whatever that rollout's state) is
offered only to the boxes a running or completed rollout has released — boxes of released waves,
boxes outside the inventory in a released serial range (`RolloutRange`), everyone the package
targets once the last wave is out; pausing, halting, cancelling, deactivating or the end of the
rollout's validity withdraws it. The gate is asked in its per-process cached form
(`gate.cached_allowed`): no query for an ungoverned package, and at most one generation query per
`TARGETING_CACHE_SECONDS` shared with the targeting cache.

Locations per file, by interface with preferences: the package's FUS entity (or the default one)
lists `UnicastInterfaceLocation`s (download server origins: each gives the file's URL on that
server, built by `fus.downloads.file_url`, signed per box when `FUS_DOWNLOAD_AUTH` is signed-url) and
`MulticastInterfaceLocation`s (`dvb-mcast://` carousels carrying the package; the box finds the file
by its FileName). With no unicast location, the download server is `FUS_DOWNLOAD_BASE_URL`, else the
origin the box used to reach the QRC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Prefetch, Q, prefetch_related_objects

from fus.choices import MetadataMode
from fus.delivery.conf import delivery_settings
from fus.downloads import file_url
from fus.metadata.targeting import DeviceIdentity
from fus.models import FirmwareFile, FirmwarePackage, ServiceLocation
from fus.models.entities import InterfaceChoices, LocationKind

UNICAST = InterfaceChoices.UNICAST_DELIVERY.value
MULTICAST = InterfaceChoices.MULTICAST_DELIVERY.value


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
    module_type: str
    locations: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class Offer:
    software_version: str
    package_name: str
    package_size: int
    update_flag: str
    update_method: str
    update_priority: int
    valid_from: datetime | None
    valid_until: datetime | None
    message: str
    files: tuple[OfferedFile, ...]


def applicable(identity: DeviceIdentity, *, at: datetime) -> list[FirmwarePackage]:
    """The approved packages for the box that the rollouts' gate lets through, best first (the
    one import of the targeting engine)."""
    from fus.rollouts.gate import cached_allowed
    from fus.services.targeting import cached_applicable_packages

    mode = delivery_settings().qrc_mode
    matches = cached_applicable_packages(
        identity,
        at=at,
        mode=None if mode == "any" else MetadataMode(mode).value,
    )
    packages = [getattr(match, "package", match) for match in matches]
    return [package for package in packages if cached_allowed(package, identity, at)]


def _dvb_mcast(location: ServiceLocation) -> str:
    if location.url:
        return location.url
    host = f"[{location.address}]" if ":" in str(location.address) else str(location.address)
    return f"dvb-mcast://{host}:{location.port}" if location.port else f"dvb-mcast://{host}"


def _locations_by_fus(packages: list[FirmwarePackage]) -> dict[int | None, list[ServiceLocation]]:
    """Unicast and multicast locations of the packages' FUS entities, the default FUS's under
    None too; one query."""
    ids = {p.fus_entity_id for p in packages if p.fus_entity_id}
    wanted = Q(fus_id__in=ids)
    if any(p.fus_entity_id is None for p in packages):
        wanted |= Q(fus__is_default=True)
    rows = ServiceLocation.objects.filter(
        wanted, kind__in=(LocationKind.UNICAST, LocationKind.MULTICAST)
    ).annotate(of_default=F("fus__is_default"))
    out: dict[int | None, list[ServiceLocation]] = {}
    for row in rows:
        if row.fus_id in ids:
            out.setdefault(row.fus_id, []).append(row)
        if row.of_default:
            out.setdefault(None, []).append(row)
    return out


def firmware_update_check(
    identity: DeviceIdentity, *, at: datetime, origin: str, box: str = ""
) -> list[Offer]:
    """The box's applicable updates with every file's locations, best first ([] if none)."""
    packages = applicable(identity, at=at)
    if not packages:
        return []
    prefetch_related_objects(
        packages,
        Prefetch("files", queryset=FirmwareFile.objects.defer("signature").order_by("file_name")),
    )
    locations = _locations_by_fus(packages)
    fallback = delivery_settings().download_base_url or origin
    offers = []
    for package in packages:
        fus_locations = locations.get(package.fus_entity_id, [])
        unicast = [loc for loc in fus_locations if loc.kind == LocationKind.UNICAST and loc.url]
        multicast = [loc for loc in fus_locations if loc.kind == LocationKind.MULTICAST]
        offered = []
        for file in package.files.all():
            urls = [
                Location(file_url(file, base=loc.url, box=box), UNICAST, loc.preference)
                for loc in unicast
            ] or [Location(file_url(file, base=fallback, box=box), UNICAST, None)]
            urls += [Location(_dvb_mcast(loc), MULTICAST, loc.preference) for loc in multicast]
            urls.sort(key=lambda loc: (loc.preference is None, loc.preference or 0))
            offered.append(
                OfferedFile(file.file_name, file.size, file.sha256, file.module_type, tuple(urls))
            )
        offers.append(
            Offer(
                software_version=package.software_version,
                package_name=package.package_name,
                package_size=sum(f.file_size for f in offered),
                update_flag=package.update_flag,
                update_method=package.update_method,
                update_priority=package.update_priority,
                valid_from=package.valid_from,
                valid_until=package.valid_until,
                message=package.message_descriptor,
                files=tuple(offered),
            )
        )
    return offers
