"""What the QRC answers a box: the applicable updates with their files and locations.

Framework-neutral (no spyne here): `firmware_update_check(identity, at=..., origin=..., box=...)`
returns `Offer`s, best first, which `fus.qrc.service` turns into SOAP. The applicable packages come
from the targeting engine's per-process index (`fus.services.targeting.cached_applicable_packages`,
files prefetched with it), asked for
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
origin the box used to reach the QRC. The locations are a per-process cache too (`fus_locations`,
see `_LocationCache`), so a warm check makes no query.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F, Prefetch, prefetch_related_objects, signals

from fus.choices import MetadataMode
from fus.delivery.conf import delivery_settings
from fus.downloads import file_url
from fus.metadata.targeting import DeviceIdentity
from fus.models import FirmwareFile, FirmwarePackage, FusEntity, ServiceLocation
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


@dataclass(frozen=True, slots=True)
class _FusLocations:
    """One FUS entity's locations, ready to answer with: unicast origins (URL, Preference) and
    the multicast `Location`s (the same for every file)."""

    unicast: tuple[tuple[str, int | None], ...]
    multicast: tuple[Location, ...]


class _LocationCache:
    """This process's copy of every FUS entity's unicast and multicast locations (a small table),
    keyed by FUS entity id, the default FUS's under None too. Reloaded (one query) at once after
    this process saves or deletes a ServiceLocation or FusEntity (signals), and otherwise when it
    is `TARGETING_CACHE_SECONDS` old: changes made by another process (or a bulk update, or a
    rolled-back save) are answered within that TTL, as the targeting index's are."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_fus: dict[int | None, _FusLocations] | None = None
        self.loaded = 0.0
        self.local_changes = 0
        self.built_for_local = -1

    def invalidate(self, **kwargs) -> None:
        self.local_changes += 1


_LOCATIONS = _LocationCache()


def _load_locations() -> dict[int | None, _FusLocations]:
    rows = ServiceLocation.objects.filter(
        fus__isnull=False, kind__in=(LocationKind.UNICAST, LocationKind.MULTICAST)
    ).annotate(of_default=F("fus__is_default"))
    grouped: dict[int | None, list[ServiceLocation]] = {}
    for row in rows:  # the model's order: kind, preference (unnumbered last), pk
        grouped.setdefault(row.fus_id, []).append(row)
        if row.of_default:
            grouped.setdefault(None, []).append(row)
    return {
        fus: _FusLocations(
            unicast=tuple(
                (loc.url, loc.preference)
                for loc in locations
                if loc.kind == LocationKind.UNICAST and loc.url
            ),
            multicast=tuple(
                Location(_dvb_mcast(loc), MULTICAST, loc.preference)
                for loc in locations
                if loc.kind == LocationKind.MULTICAST
            ),
        )
        for fus, locations in grouped.items()
    }


def fus_locations() -> dict[int | None, _FusLocations]:
    """Every FUS entity's locations from this process's cache (see `_LocationCache`)."""
    ttl = getattr(settings, "TARGETING_CACHE_SECONDS", 2.0)
    state = _LOCATIONS
    with state.lock:
        now = time.monotonic()
        if (
            state.by_fus is None
            or state.built_for_local != state.local_changes
            or now - state.loaded >= ttl
        ):
            local = state.local_changes
            state.by_fus = _load_locations()
            state.loaded, state.built_for_local = now, local
        return state.by_fus


def _invalidate_locations(sender, **kwargs) -> None:
    _LOCATIONS.invalidate()


for _model in (ServiceLocation, FusEntity):
    signals.post_save.connect(_invalidate_locations, sender=_model, dispatch_uid=f"qrc-{_model}")
    signals.post_delete.connect(
        _invalidate_locations, sender=_model, dispatch_uid=f"qrc-d-{_model}"
    )

_NO_LOCATIONS = _FusLocations((), ())


def firmware_update_check(
    identity: DeviceIdentity, *, at: datetime, origin: str, box: str = ""
) -> list[Offer]:
    """The box's applicable updates with every file's locations, best first ([] if none)."""
    packages = applicable(identity, at=at)
    if not packages:
        return []
    # Files come prefetched with the targeting index's packages (in file-name order); the
    # prefetch below only queries for packages that did not (e.g. `applicable_packages`).
    prefetch_related_objects(
        packages,
        Prefetch("files", queryset=FirmwareFile.objects.defer("signature").order_by("file_name")),
    )
    locations = fus_locations()
    fallback = delivery_settings().download_base_url or origin
    offers = []
    for package in packages:
        fus = locations.get(package.fus_entity_id, _NO_LOCATIONS)
        offered = []
        for file in package.files.all():
            urls = [
                Location(file_url(file, base=base, box=box), UNICAST, preference)
                for base, preference in fus.unicast
            ] or [Location(file_url(file, base=fallback, box=box), UNICAST, None)]
            urls += fus.multicast
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
