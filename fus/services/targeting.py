"""The targeting engine on the database: the decision of `fus.metadata.targeting`, set-based.

Two questions, each one SQL query whatever the size of the inventory:

* `targeted_devices(package, at=...)`: which devices of the inventory (`acs.Device`) the package
  targets now. The package's target rows become one `Q` (an OR over its entries, each a device-class
  equality, version lists and RangeList BETWEENs over the indexed `serial_key` / `mac` columns);
  the database does the rest through the (oui, product_class, serial_key) index.
* `applicable_packages(identity, at=...)`: which approved packages apply to one device, best first.
  The device's values are parameters; its class's target entries (indexed on device class) are
  tested with EXISTS subqueries on their version and range rows. Only the handful of matching entries
  come back to Python, to be ranked exactly as the pure engine ranks them.

Semantics are those of `fus.metadata.targeting` (and docs/decisions/0002): an empty serial number or
an unknown MAC is in no inclusive entry of its kind and is excluded by any exclusive entry of its
kind; ValidityTimeRange includes both ends; a device already on the package's SoftwareVersion is not
targeted unless `include_installed`. The tests compare both engines on random catalogues.

Target rows are written here too: `write_target_devices` from a metadata `TargetDevices`,
`sync_device_class_targets` when a form or the API changes a package's device classes.
"""

from __future__ import annotations

import operator
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, reduce

from django.apps import apps
from django.conf import settings
from django.db import connection, models
from django.db.models import Q, signals
from django.utils import timezone

from fus.choices import FirmwareStatus, MetadataMode
from fus.metadata import model as m
from fus.metadata.identifiers import parse_mac, serial_index_key, try_parse_mac
from fus.metadata.targeting import NO_PRIORITY, DeviceIdentity, Specificity, TargetingIndex
from fus.models import (
    DeviceClass,
    FirmwarePackage,
    RangeEntry,
    Rollout,
    RolloutRange,
    TargetEntry,
    TargetVersion,
)
from fus.models.targeting import Availability, IdentifierType, TargetKind, VersionKind
from fus.rollouts.choices import RolloutStatus

__all__ = [
    "Match",
    "applicable_packages",
    "cached_applicable_packages",
    "population_q",
    "rollouts_generation",
    "sync_device_class_targets",
    "target_devices_of",
    "targeted_devices",
    "write_target_devices",
]

_SERIAL, _MAC = IdentifierType.SERIAL_NUMBER, IdentifierType.MAC_ADDRESS
_INC, _EXC = Availability.INCLUSIVE, Availability.EXCLUSIVE

_KIND_OF = {
    m.DeviceClass: TargetKind.DEVICE_CLASS,
    m.DeviceClassHardwareVersion: TargetKind.HARDWARE,
    m.DeviceClassSoftware: TargetKind.SOFTWARE,
    m.DeviceGroup: TargetKind.DEVICE_GROUP,
}


# --- writing target rows -------------------------------------------------------------------------


def _class_of(target: m.Target) -> tuple[str, str]:
    info = target.device_class_info if isinstance(target, m.DeviceGroup) else target
    return (info.manufacturer_oui.upper(), info.product_class)


def write_target_devices(
    package: FirmwarePackage,
    target_devices: m.TargetDevices,
    device_classes: dict[tuple[str, str], DeviceClass],
) -> None:
    """Replace the package's target rows by `target_devices` (document order kept).

    `device_classes` maps (OUI, ProductClass) to the stored class of every entry; the caller has
    checked tenancy. The codec has already refused malformed MACs and inverted ranges."""
    package.target_entries.all().delete()
    versions: list[TargetVersion] = []
    ranges: list[RangeEntry] = []
    for position, target in enumerate(target_devices.entries()):
        entry = TargetEntry.objects.create(
            package=package,
            position=position,
            kind=_KIND_OF[type(target)],
            device_class=device_classes[_class_of(target)],
            has_range_list=isinstance(target, m.DeviceGroup) and target.range_list is not None,
        )
        hardware: Sequence[str] = ()
        software: Sequence[str] = ()
        if isinstance(target, m.DeviceClassHardwareVersion):
            hardware = target.hardware_versions
        elif isinstance(target, m.DeviceClassSoftware):
            software = target.software_versions
        elif isinstance(target, m.DeviceGroup):
            hardware = target.device_class_info.hardware_versions
            software = target.device_class_info.software_versions
            if target.range_list is not None:
                ranges += _range_rows(entry, target.range_list)
        versions += [
            TargetVersion(entry=entry, kind=VersionKind.HARDWARE, version=v)
            for v in dict.fromkeys(hardware)
        ]
        versions += [
            TargetVersion(entry=entry, kind=VersionKind.SOFTWARE, version=v)
            for v in dict.fromkeys(software)
        ]
    TargetVersion.objects.bulk_create(versions)
    RangeEntry.objects.bulk_create(ranges)


def _range_rows(entry: TargetEntry, range_list: m.RangeList) -> list[RangeEntry]:
    rows = []
    for position, item in enumerate(range_list.entries):
        bounds = (
            [(item.lower_bound, item.upper_bound)]
            if isinstance(item, m.Range)
            else [(i, i) for i in item.item_ids]
        )
        for lower, upper in bounds:
            row = RangeEntry(
                entry=entry,
                position=position,
                is_item=isinstance(item, m.Item),
                availability=item.availability.value,
                identifier_type=item.identifier_type.value,
                lower=lower,
                upper=upper,
            )
            if item.identifier_type is m.IdentifierType.SERIAL_NUMBER:
                row.serial_lo, row.serial_hi = serial_index_key(lower), serial_index_key(upper)
            else:
                row.mac_lo, row.mac_hi = parse_mac(lower), parse_mac(upper)
            rows.append(row)
    return rows


def sync_device_class_targets(package: FirmwarePackage, device_classes: Iterable[DeviceClass]):
    """After a form or API edit of a package's device classes: entries of removed classes go,
    each new class gets a plain DeviceClass entry, entries of kept classes (with their versions and
    RangeLists from imported metadata) stay as they are."""
    wanted = {dc.pk: dc for dc in device_classes}
    package.target_entries.exclude(device_class__in=wanted).delete()
    have = set(package.target_entries.values_list("device_class", flat=True))
    last = package.target_entries.aggregate(last=models.Max("position"))["last"]
    position = -1 if last is None else last
    for pk, dc in wanted.items():
        if pk not in have:
            position += 1
            TargetEntry.objects.create(
                package=package, position=position, kind=TargetKind.DEVICE_CLASS, device_class=dc
            )


def target_devices_of(package: FirmwarePackage) -> m.TargetDevices:
    """The package's target rows as a metadata `TargetDevices` (for export and display)."""
    parts: dict[str, list] = {kind: [] for kind in TargetKind.values}
    entries = package.target_entries.select_related("device_class").prefetch_related(
        "versions", "ranges"
    )
    for entry in entries:
        oui, pc = entry.device_class.oui, entry.device_class.product_class
        hw = tuple(v.version for v in entry.versions.all() if v.kind == VersionKind.HARDWARE)
        sw = tuple(v.version for v in entry.versions.all() if v.kind == VersionKind.SOFTWARE)
        if entry.kind == TargetKind.DEVICE_CLASS:
            parts[entry.kind].append(m.DeviceClass(oui, pc))
        elif entry.kind == TargetKind.HARDWARE:
            parts[entry.kind].append(m.DeviceClassHardwareVersion(oui, pc, hw))
        elif entry.kind == TargetKind.SOFTWARE:
            parts[entry.kind].append(m.DeviceClassSoftware(oui, pc, sw))
        else:
            range_list = _range_list_of(entry.ranges.all()) if entry.has_range_list else None
            parts[entry.kind].append(m.DeviceGroup(m.DeviceClassInfo(oui, pc, hw, sw), range_list))
    return m.TargetDevices(
        device_classes=tuple(parts[TargetKind.DEVICE_CLASS]),
        device_class_hardware_versions=tuple(parts[TargetKind.HARDWARE]),
        device_class_softwares=tuple(parts[TargetKind.SOFTWARE]),
        device_groups=tuple(parts[TargetKind.DEVICE_GROUP]),
    )


def _range_list_of(rows: Iterable[RangeEntry]) -> m.RangeList:
    grouped: dict[int, list[RangeEntry]] = {}
    for row in rows:
        grouped.setdefault(row.position, []).append(row)
    entries: list[m.RangeListEntry] = []
    for position in sorted(grouped):
        group = grouped[position]
        first = group[0]
        availability = m.Availability(first.availability)
        identifier_type = m.IdentifierType(first.identifier_type)
        if first.is_item:
            entries.append(m.Item(tuple(r.lower for r in group), availability, identifier_type))
        else:
            entries.append(m.Range(first.lower, first.upper, availability, identifier_type))
    return m.RangeList(tuple(entries))


# --- package -> devices --------------------------------------------------------------------------


def _in_window(package: FirmwarePackage, at: datetime) -> bool:
    if package.valid_from is not None and at < package.valid_from:
        return False
    return package.valid_until is None or at <= package.valid_until


def _between(column: str, lo, hi) -> Q:
    if lo == hi:
        return Q(**{column: lo})
    return Q(**{f"{column}__gte": lo, f"{column}__lte": hi})


def _any(qs: Iterable[Q]) -> Q | None:
    qs = list(qs)
    return reduce(operator.or_, qs) if qs else None


def _range_list_q(rows: Sequence[RangeEntry], prefix: str) -> Q:
    serial_known = ~Q(**{f"{prefix}serial_number": ""})
    mac_known = Q(**{f"{prefix}mac__isnull": False})

    def rows_of(kind: str, availability: str) -> list[RangeEntry]:
        return [r for r in rows if r.identifier_type == kind and r.availability == availability]

    def hits(kind: str, availability: str) -> Q | None:
        column, lo, hi = (
            ("serial_key", "serial_lo", "serial_hi")
            if kind == _SERIAL
            else ("mac", "mac_lo", "mac_hi")
        )
        bounds = [(getattr(r, lo), getattr(r, hi)) for r in rows_of(kind, availability)]
        points = sorted({a for a, b in bounds if a == b})
        clauses = [_between(f"{prefix}{column}", a, b) for a, b in bounds if a != b]
        if points:  # ItemIDs: one IN list, not an OR per item
            clauses.append(Q(**{f"{prefix}{column}__in": points}))
        return _any(clauses)

    q = Q()
    excluded_serial, excluded_mac = hits(_SERIAL, _EXC), hits(_MAC, _EXC)
    if excluded_serial is not None:
        q &= serial_known & ~excluded_serial
    if excluded_mac is not None:
        q &= mac_known & ~excluded_mac
    included_serial, included_mac = hits(_SERIAL, _INC), hits(_MAC, _INC)
    named = []
    if included_serial is not None:
        named.append(serial_known & included_serial)
    if included_mac is not None:
        named.append(mac_known & included_mac)
    if named:
        q &= _any(named)
    return q


def population_q(package: FirmwarePackage, *, prefix: str = "") -> Q | None:
    """The package's TargetDevices as a filter over an inventory with the `acs.Device` identity
    columns (oui, product_class, hardware_version, software_version, serial_number, serial_key,
    mac), optionally behind a relation `prefix` ("device__"); None if it targets nothing."""
    entries = list(
        package.target_entries.select_related("device_class").prefetch_related("versions", "ranges")
    )
    clauses = []
    for entry in entries:
        dc = entry.device_class
        q = Q(**{f"{prefix}oui": dc.oui, f"{prefix}product_class": dc.product_class})
        hw = [v.version for v in entry.versions.all() if v.kind == VersionKind.HARDWARE]
        sw = [v.version for v in entry.versions.all() if v.kind == VersionKind.SOFTWARE]
        if hw or entry.kind == TargetKind.HARDWARE:
            q &= Q(**{f"{prefix}hardware_version__in": hw})
        if sw or entry.kind == TargetKind.SOFTWARE:
            q &= Q(**{f"{prefix}software_version__in": sw})
        if entry.has_range_list:
            q &= _range_list_q(list(entry.ranges.all()), prefix)
        clauses.append(q)
    return _any(clauses)


def targeted_devices(
    package: FirmwarePackage,
    *,
    at: datetime | None = None,
    devices: models.QuerySet | None = None,
    include_installed: bool = False,
) -> models.QuerySet:
    """The devices of `devices` (default: every `acs.Device`) that `package` targets at `at`
    (default now): one query, no loop over the population. The package's status is not checked —
    a rollout previews a validated package's population before approval."""
    at = at or timezone.now()
    if devices is None:
        devices = apps.get_model("acs", "Device").objects.all()
    q = population_q(package)
    if q is None or not _in_window(package, at):
        return devices.none()
    devices = devices.filter(q)
    if not include_installed:
        devices = devices.exclude(software_version=package.software_version)
    return devices


# --- device -> packages --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """An approved package that applies to a device, and how specifically it names the device."""

    package: FirmwarePackage
    entry_position: int
    specificity: Specificity

    @property
    def priority(self) -> int:
        return self.package.update_priority or NO_PRIORITY


# One statement, written out rather than composed with the ORM: it runs for every Inform with a
# RequestDownload, every QRC check and every carousel decision, and the ORM's composition of the
# same EXISTS subqueries costs tens of milliseconds per call in Python alone (see
# docs/benchmarks/targeting.md). Every value is a parameter; table and column names come from the
# models. The entries of the device's class are found through the (oui, product_class) unique
# index and the entry's device-class index; versions and RangeList rows through their entry
# indexes. Serial bounds compare byte-wise (BytewiseCharField columns), as the keys require.
_DEVICE_SQL = """
SELECT e.package_id, e.position,
       EXISTS (SELECT 1 FROM {version} v WHERE v.entry_id = e.id AND v.kind = 'hardware'),
       EXISTS (SELECT 1 FROM {version} v WHERE v.entry_id = e.id AND v.kind = 'software'),
       e.has_range_list AND EXISTS (
           SELECT 1 FROM {range} r WHERE r.entry_id = e.id AND r.availability = 'inclusive' AND (
               (r.identifier_type = 'SerialNumber' AND r.serial_lo <= %(serial)s
                                                   AND r.serial_hi >= %(serial)s)
            OR (r.identifier_type = 'MACAddress' AND r.mac_lo <= %(mac)s AND r.mac_hi >= %(mac)s)))
FROM {entry} e
JOIN {device_class} dc ON dc.id = e.device_class_id
JOIN {package} p ON p.id = e.package_id
WHERE dc.oui = %(oui)s AND dc.product_class = %(product_class)s
  AND p.status = %(status)s
  AND (p.valid_from IS NULL OR p.valid_from <= %(at)s)
  AND (p.valid_until IS NULL OR p.valid_until >= %(at)s)
  AND (%(mode)s IS NULL OR p.mode = %(mode)s)
  AND (%(installed)s IS NULL OR p.software_version <> %(installed)s)
  AND (NOT EXISTS (SELECT 1 FROM {version} v WHERE v.entry_id = e.id AND v.kind = 'hardware')
       OR EXISTS (SELECT 1 FROM {version} v
                  WHERE v.entry_id = e.id AND v.kind = 'hardware' AND v.version = %(hardware)s))
  AND (NOT EXISTS (SELECT 1 FROM {version} v WHERE v.entry_id = e.id AND v.kind = 'software')
       OR EXISTS (SELECT 1 FROM {version} v
                  WHERE v.entry_id = e.id AND v.kind = 'software' AND v.version = %(software)s))
  AND (e.kind <> 'hardware' OR %(hardware)s IS NOT NULL)
  AND (e.kind <> 'software' OR %(software)s IS NOT NULL)
  AND NOT (e.has_range_list AND EXISTS (
           SELECT 1 FROM {range} r WHERE r.entry_id = e.id AND r.availability = 'exclusive' AND (
               (r.identifier_type = 'SerialNumber' AND (%(serial)s IS NULL OR (
                    r.serial_lo <= %(serial)s AND r.serial_hi >= %(serial)s)))
            OR (r.identifier_type = 'MACAddress' AND (%(mac)s IS NULL OR (
                    r.mac_lo <= %(mac)s AND r.mac_hi >= %(mac)s))))))
  AND (NOT e.has_range_list
       OR EXISTS (
           SELECT 1 FROM {range} r WHERE r.entry_id = e.id AND r.availability = 'inclusive' AND (
               (r.identifier_type = 'SerialNumber' AND r.serial_lo <= %(serial)s
                                                   AND r.serial_hi >= %(serial)s)
            OR (r.identifier_type = 'MACAddress' AND r.mac_lo <= %(mac)s AND r.mac_hi >= %(mac)s)))
       OR NOT EXISTS (
           SELECT 1 FROM {range} r WHERE r.entry_id = e.id AND r.availability = 'inclusive'))
"""


@cache
def _device_sql() -> str:
    return _DEVICE_SQL.format(
        entry=TargetEntry._meta.db_table,
        version=TargetVersion._meta.db_table,
        range=RangeEntry._meta.db_table,
        device_class=DeviceClass._meta.db_table,
        package=FirmwarePackage._meta.db_table,
    )


def applicable_packages(
    identity: DeviceIdentity,
    *,
    at: datetime | None = None,
    mode: str | m.Mode | None = None,
    include_installed: bool = False,
) -> list[Match]:
    """The approved packages that apply to the device at `at` (default now), best first: named by
    a RangeList, then constrained on the current software, then on the hardware, then
    UpdatePriority (1 first), then the latest ValidityTimeRange start, then the newest package.
    One query for the decision, one for the packages (when there are any)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _device_sql(),
            _device_params(identity, at=at, mode=mode, include_installed=include_installed),
        )
        rows = cursor.fetchall()
    if not rows:
        return []
    best: dict[int, tuple[Specificity, int]] = {}
    for package_id, position, hw_listed, sw_listed, named in rows:
        specificity = Specificity(
            identified=bool(named), software=bool(sw_listed), hardware=bool(hw_listed)
        )
        if package_id not in best or specificity > best[package_id][0]:
            best[package_id] = (specificity, position)
    packages = FirmwarePackage.objects.in_bulk(best)
    return sorted(
        (Match(packages[pk], position, spec) for pk, (spec, position) in best.items()),
        key=_rank,
    )


def _device_params(identity: DeviceIdentity, *, at, mode, include_installed: bool = False) -> dict:
    at = at or timezone.now()
    serial_key = None
    if identity.serial_number:
        try:
            serial_key = serial_index_key(identity.serial_number)
        except ValueError:
            serial_key = None
    return {
        "oui": identity.manufacturer_oui.upper(),
        "product_class": identity.product_class,
        "status": FirmwareStatus.APPROVED.value,
        "at": connection.ops.adapt_datetimefield_value(at),
        "mode": None if mode is None else m.Mode(mode).value,
        "installed": None if include_installed else (identity.software_version or None),
        "hardware": identity.hardware_version or None,
        "software": identity.software_version or None,
        "serial": serial_key,
        "mac": try_parse_mac(identity.mac_address) if identity.mac_address else None,
    }


def _rank(match: Match) -> tuple:
    package, s = match.package, match.specificity
    start = package.valid_from.timestamp() if package.valid_from else float("-inf")
    return (
        not s.identified,
        not s.software,
        not s.hardware,
        match.priority,
        -start,
        -package.created.timestamp(),
        package.pk,
    )


# --- the hot path: an in-memory index of the approved catalogue ----------------------------------
#
# Every QRC check, every RequestDownload and every carousel decision asks "which packages apply to
# this box?". The statement above answers it in well under a millisecond inside PostgreSQL, but a
# round trip per check and the ORM's fetch of the packages cost more than the decision itself. So
# each process keeps the approved catalogue's target rows compiled into the pure engine's
# `TargetingIndex` (the oracle itself: same semantics by construction) and rebuilds it when the
# catalogue changes: at once for changes made in this process (signals), and within
# `TARGETING_CACHE_SECONDS` for changes made by another process (a one-row generation query).


class _CatalogueIndex:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: tuple | None = None  # the catalogue part the index was built for
        self.latest: tuple | None = None  # the whole generation row last read (see _generation)
        self.checked = 0.0
        self.local_changes = 0
        self.built_for_local = -1
        self.index: TargetingIndex | None = None
        self.packages: dict[int, FirmwarePackage] = {}
        self.package_of: dict[int, int] = {}  # id(FirmwareUpgrade) -> package pk

    def invalidate(self, **kwargs) -> None:
        self.local_changes += 1


_CATALOGUE = _CatalogueIndex()


def _generation() -> tuple:
    """What changes whenever an approved package or any target row changes (or is deleted); one
    query. Services change packages with save() (which bumps `updated`); the window, priority and
    mode aggregates also catch a bulk update() of those fields, as an operator's SQL might do.

    The same row carries the rollouts' part (the last `_ROLLOUT_PARTS` values, for the gate's
    per-process cache in `fus.rollouts.gate`): what the gate reads of rollouts (status, released
    wave, last wave released, validity, drafts' edits) and the released ranges' highest id (the
    engine rewrites a rollout's ranges with new rows at each release). Not `updated` of running
    rollouts: every engine tick bumps it. So a QRC check costs at most one query per TTL for both
    caches."""
    rollout, ranges = Rollout._meta.db_table, RolloutRange._meta.db_table
    statuses = list(RolloutStatus.values)
    status_code = "CASE status " + " ".join(f"WHEN %s THEN {i + 1}" for i in range(len(statuses)))
    row_sig = (
        f"(({status_code} ELSE 0 END) * 64 + current_wave + 1) * 2 "
        "+ CASE WHEN released_all THEN 1 ELSE 0 END"
    )
    sql = (  # table names from the models; values are parameters
        "SELECT COUNT(*), MAX(updated), MAX(id), MIN(valid_from), MAX(valid_from), "  # noqa: S608
        "MIN(valid_until), MAX(valid_until), SUM(update_priority), "
        "SUM(CASE WHEN mode = %s THEN 1 ELSE 0 END), "
        f"(SELECT COUNT(*) FROM {TargetEntry._meta.db_table}), "
        f"(SELECT MAX(id) FROM {TargetEntry._meta.db_table}), "
        # the rollouts' part
        f"(SELECT COUNT(*) FROM {rollout}), "
        f"(SELECT SUM({row_sig}) FROM {rollout}), "
        f"(SELECT SUM(({row_sig}) * (id %% 1009 + 1)) FROM {rollout}), "
        f"(SELECT MIN(end_at) FROM {rollout}), "
        f"(SELECT MAX(end_at) FROM {rollout}), "
        f"(SELECT MAX(updated) FROM {rollout} WHERE status = %s), "
        f"(SELECT MAX(id) FROM {ranges}) "
        f"FROM {FirmwarePackage._meta.db_table} WHERE status = %s"
    )
    params = [MetadataMode.UNMANAGED.value, *statuses, *statuses]
    params += [RolloutStatus.DRAFT.value, FirmwareStatus.APPROVED.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())


_ROLLOUT_PARTS = 7  # the rollouts' part: the last values of the generation row


def _latest_generation(state: _CatalogueIndex, cache_seconds: float, *, force: bool) -> tuple:
    """The generation row, read again when `cache_seconds` have passed (or `force`); the caller
    holds the lock."""
    now = time.monotonic()
    if force or state.latest is None or now - state.checked >= cache_seconds:
        state.latest = _generation()
        state.checked = now
    return state.latest


def rollouts_generation() -> tuple:
    """The rollouts' part of the generation row, at most `TARGETING_CACHE_SECONDS` old: shares the
    catalogue cache's one-row query (`fus.rollouts.gate`'s cache compares it)."""
    cache_seconds = getattr(settings, "TARGETING_CACHE_SECONDS", 2.0)
    with _CATALOGUE.lock:
        return _latest_generation(_CATALOGUE, cache_seconds, force=False)[-_ROLLOUT_PARTS:]


def _build_index() -> tuple[TargetingIndex, dict[int, FirmwarePackage], dict[int, int]]:
    packages = list(
        FirmwarePackage.objects.filter(status=FirmwareStatus.APPROVED)
        .order_by("-created", "-pk")  # the pure engine's input order: newest first on ties
        .prefetch_related("files")
    )
    upgrades, package_of = [], {}
    for package in packages:
        validity = None
        if package.valid_from and package.valid_until:
            validity = m.ValidityTimeRange(package.valid_from, package.valid_until)
        upgrade = m.FirmwareUpgrade(
            software_version=package.software_version,
            target_devices=target_devices_of(package),
            software_package_info=m.SoftwarePackageInfo(
                package_name=package.package_name,
                package_size=0,
                update_descriptor=m.UpdateDescriptor(
                    m.UpdateFlag(package.update_flag),
                    m.UpdateMethod(package.update_method),
                    package.update_priority,
                ),
            ),
            validity_time_range=validity,
        )
        upgrades.append(upgrade)
        package_of[id(upgrade)] = package.pk
    return TargetingIndex(upgrades), {p.pk: p for p in packages}, package_of


def _half_open_validity(package: FirmwarePackage, at: datetime) -> bool:
    """A package with only one end of its window stored (not expressible as a
    ValidityTimeRange) is checked here."""
    return _in_window(package, at)


def cached_applicable_packages(
    identity: DeviceIdentity,
    *,
    at: datetime | None = None,
    mode: str | m.Mode | None = None,
    include_installed: bool = False,
) -> list[Match]:
    """`applicable_packages` answered from this process's compiled index of the approved
    catalogue (rebuilt on change; see above). For the per-box hot paths: QRC, RequestDownload,
    carousels, the device page."""
    at = at or timezone.now()
    cache_seconds = getattr(settings, "TARGETING_CACHE_SECONDS", 2.0)
    state = _CATALOGUE
    with state.lock:
        stale = state.index is None or state.built_for_local != state.local_changes
        generation = _latest_generation(state, cache_seconds, force=stale)[:-_ROLLOUT_PARTS]
        if stale or generation != state.generation:
            local = state.local_changes
            state.index, state.packages, state.package_of = _build_index()
            state.generation, state.built_for_local = generation, local
        index, packages, package_of = state.index, state.packages, state.package_of
    wanted_mode = None if mode is None else m.Mode(mode).value
    matches = []
    for found in index.applicable(identity, at=at, include_installed=include_installed):
        package = packages[package_of[id(found.upgrade)]]
        if wanted_mode is not None and package.mode != wanted_mode:
            continue
        if not _half_open_validity(package, at):
            continue
        position = _entry_position(found)
        matches.append(Match(package, position, found.specificity))
    return matches


def _entry_position(found) -> int:
    return found.upgrade.target_devices.entries().index(found.target)


def _invalidate_on(sender, **kwargs) -> None:
    _CATALOGUE.invalidate()


for _model in (FirmwarePackage, TargetEntry, TargetVersion, RangeEntry):
    signals.post_save.connect(_invalidate_on, sender=_model, dispatch_uid=f"targeting-{_model}")
    signals.post_delete.connect(_invalidate_on, sender=_model, dispatch_uid=f"targeting-d-{_model}")
