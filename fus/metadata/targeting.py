"""The targeting engine: which firmware updates apply to this device, now, best first.

Pure and in memory: every delivery channel (TR-069 Download, QRC, multicast announcements,
rollouts) asks the same question of the same rules. A `TargetingIndex` is built once from a set
of documents (or bare `FirmwareUpgrade`s) and answers `applicable(device, at=...)` by looking up the
device's (OUI, ProductClass) and testing only the entries of that class; RangeLists are compiled to
sorted, merged intervals searched by bisection.

An update applies to a device at time *t* when

* the device matches at least one entry of its TargetDevices:
  `DeviceClass` (OUI and ProductClass), `DeviceClassHardwareVersion` (and one of its hardware
  versions), `DeviceClassSoftware` (and one of its current "from" software versions), or
  `DeviceGroup` (its DeviceClassInfo, where an empty version list means any version, and its
  RangeList);
* *t* is within the ValidityTimeRange, both ends included (no range: always);
* the document's Mode is the one asked for (when one is asked for; a bare FirmwareUpgrade has none);
* the device does not already run the update's SoftwareVersion (unless `include_installed`).

RangeList membership: *(in some inclusive Range or Item, or there is no inclusive entry at all) and
in no exclusive one*; an identifier the device did not report (or reported malformed) is in no
inclusive entry of its type and counts as excluded by any exclusive entry of its type (fail
closed). Orderings and MAC notations: `fus.metadata.identifiers` and
docs/decisions/0002-rangelist-semantics.md.

Applicable updates come most specific first: named by an inclusive RangeList entry, then
constrained on the current software, then on the hardware; then by UpdatePriority (1 first,
none last); then the most recent StartTime; then input order. docs/metadata.md explains why.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from fus.metadata import model as m
from fus.metadata.identifiers import SerialKey, parse_mac, serial_key, try_parse_mac

__all__ = [
    "Applicable",
    "CompiledRangeList",
    "DeviceIdentity",
    "Specificity",
    "TargetingIndex",
    "applicable_updates",
    "match_target",
    "range_list_contains",
]

_K = TypeVar("_K", int, SerialKey)

#: The UpdatePriority an update without an UpdateDescriptor sorts as (after 1-4).
NO_PRIORITY = 5


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """What a device says about itself (TR-069 DeviceId + Inform, or a QRC request).

    Unknown values are None; an empty serial number or MAC address counts as unknown.
    """

    manufacturer_oui: str
    product_class: str
    hardware_version: str | None = None
    software_version: str | None = None
    serial_number: str | None = None
    mac_address: str | None = None


@dataclass(frozen=True, slots=True, order=True)
class Specificity:
    """How precisely a target entry names a device; greater is more specific."""

    identified: bool = False
    """Named by an inclusive Range or Item of a RangeList."""
    software: bool = False
    """Constrained on the device's current software version."""
    hardware: bool = False
    """Constrained on the device's hardware version."""


@dataclass(frozen=True, slots=True)
class Applicable:
    """An update that applies to a device, with the entry that matched it best."""

    upgrade: m.FirmwareUpgrade
    document: m.RMSFUSMetadata | None
    target: m.Target
    specificity: Specificity

    @property
    def priority(self) -> int:
        descriptor = self.upgrade.software_package_info.update_descriptor
        return NO_PRIORITY if descriptor is None else descriptor.update_priority


# -- RangeList ----------------------------------------------------------------------------------


class _Intervals(Generic[_K]):
    """Closed intervals merged into disjoint sorted ones, plus single points."""

    __slots__ = ("_his", "_los", "_points")

    def __init__(self, intervals: Iterable[tuple[_K, _K]], points: Iterable[_K]) -> None:
        merged: list[list[_K]] = []
        for lo, hi in sorted(intervals):
            if merged and lo <= merged[-1][1]:
                if hi > merged[-1][1]:
                    merged[-1][1] = hi
            else:
                merged.append([lo, hi])
        self._los = [lo for lo, _ in merged]
        self._his = [hi for _, hi in merged]
        self._points = frozenset(points)

    def __bool__(self) -> bool:
        return bool(self._los or self._points)

    def __contains__(self, value: _K) -> bool:
        if value in self._points:
            return True
        i = bisect_right(self._los, value) - 1
        return i >= 0 and value <= self._his[i]


@dataclass(frozen=True, slots=True)
class CompiledRangeList:
    """A RangeList ready for fast membership tests."""

    include_serials: _Intervals[SerialKey]
    exclude_serials: _Intervals[SerialKey]
    include_macs: _Intervals[int]
    exclude_macs: _Intervals[int]

    @classmethod
    def compile(cls, range_list: m.RangeList) -> CompiledRangeList:
        """Compile; ValueError if a MAC entry is malformed (the codec never lets one through)."""
        parts: dict[tuple[m.IdentifierType, m.Availability], tuple[list, list]] = {  # type: ignore[type-arg]
            (kind, availability): ([], [])
            for kind in m.IdentifierType
            for availability in m.Availability
        }
        for entry in range_list.entries:
            key = (
                serial_key if entry.identifier_type is m.IdentifierType.SERIAL_NUMBER else parse_mac
            )
            intervals, points = parts[(entry.identifier_type, entry.availability)]
            if isinstance(entry, m.Range):
                intervals.append((key(entry.lower_bound), key(entry.upper_bound)))
            else:
                points.extend(key(item) for item in entry.item_ids)

        def build(kind: m.IdentifierType, availability: m.Availability) -> _Intervals:  # type: ignore[type-arg]
            return _Intervals(*parts[(kind, availability)])

        serial, mac = m.IdentifierType.SERIAL_NUMBER, m.IdentifierType.MAC_ADDRESS
        inc, exc = m.Availability.INCLUSIVE, m.Availability.EXCLUSIVE
        return cls(build(serial, inc), build(serial, exc), build(mac, inc), build(mac, exc))

    def contains(self, serial_number: str | None, mac_address: str | None) -> tuple[bool, bool]:
        """(member, named): whether the device is in the list, and whether an inclusive entry
        names it (rather than it being in the list for want of inclusive entries)."""
        serial = serial_key(serial_number) if serial_number else None
        mac = try_parse_mac(mac_address) if mac_address else None
        if self.exclude_serials and (serial is None or serial in self.exclude_serials):
            return (False, False)
        if self.exclude_macs and (mac is None or mac in self.exclude_macs):
            return (False, False)
        named = (serial is not None and serial in self.include_serials) or (
            mac is not None and mac in self.include_macs
        )
        if named:
            return (True, True)
        return (not self.include_serials and not self.include_macs, False)


def range_list_contains(
    range_list: m.RangeList, *, serial_number: str | None, mac_address: str | None
) -> bool:
    """Whether a device with this serial number and MAC address is in a RangeList."""
    return CompiledRangeList.compile(range_list).contains(serial_number, mac_address)[0]


# -- target entries -----------------------------------------------------------------------------


def _same_class(target: m.Target | m.DeviceClassInfo, device: DeviceIdentity) -> bool:
    return (
        target.manufacturer_oui.upper() == device.manufacturer_oui.upper()
        and target.product_class == device.product_class
    )


def _in(value: str | None, allowed: Sequence[str]) -> bool:
    return value is not None and value in allowed


def match_target(
    target: m.Target,
    device: DeviceIdentity,
    compiled: CompiledRangeList | None = None,
) -> Specificity | None:
    """How specifically `target` names `device`, or None if it does not.

    `compiled` is the DeviceGroup's compiled RangeList, if the caller has it already.
    """
    if isinstance(target, m.DeviceGroup):
        info = target.device_class_info
        if not _same_class(info, device):
            return None
        if info.hardware_versions and not _in(device.hardware_version, info.hardware_versions):
            return None
        if info.software_versions and not _in(device.software_version, info.software_versions):
            return None
        named = False
        if target.range_list is not None:
            if compiled is None:
                compiled = CompiledRangeList.compile(target.range_list)
            member, named = compiled.contains(device.serial_number, device.mac_address)
            if not member:
                return None
        return Specificity(
            identified=named,
            software=bool(info.software_versions),
            hardware=bool(info.hardware_versions),
        )
    if not _same_class(target, device):
        return None
    if isinstance(target, m.DeviceClassHardwareVersion):
        if not _in(device.hardware_version, target.hardware_versions):
            return None
        return Specificity(hardware=True)
    if isinstance(target, m.DeviceClassSoftware):
        if not _in(device.software_version, target.software_versions):
            return None
        return Specificity(software=True)
    return Specificity()


# -- the index ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    position: int
    upgrade: m.FirmwareUpgrade
    document: m.RMSFUSMetadata | None
    target: m.Target
    compiled: CompiledRangeList | None


def _class_key(target: m.Target) -> tuple[str, str]:
    info = target.device_class_info if isinstance(target, m.DeviceGroup) else target
    return (info.manufacturer_oui.upper(), info.product_class)


class TargetingIndex:
    """The updates of a set of documents, indexed by device class."""

    def __init__(self, updates: Iterable[m.RMSFUSMetadata | m.FirmwareUpgrade]) -> None:
        self._by_class: dict[tuple[str, str], list[_Entry]] = {}
        for position, update in enumerate(updates):
            if isinstance(update, m.RMSFUSMetadata):
                document, upgrade = update, update.firmware_upgrade
            else:
                document, upgrade = None, update
            for target in upgrade.target_devices.entries():
                compiled = None
                if isinstance(target, m.DeviceGroup) and target.range_list is not None:
                    compiled = CompiledRangeList.compile(target.range_list)
                entry = _Entry(position, upgrade, document, target, compiled)
                self._by_class.setdefault(_class_key(target), []).append(entry)

    def applicable(
        self,
        device: DeviceIdentity,
        *,
        at: datetime,
        mode: m.Mode | None = None,
        include_installed: bool = False,
    ) -> tuple[Applicable, ...]:
        """The updates that apply to `device` at `at` (an aware datetime), best first."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("`at` must be an aware datetime")
        best: dict[int, tuple[Specificity, _Entry]] = {}
        key = (device.manufacturer_oui.upper(), device.product_class)
        for entry in self._by_class.get(key, ()):
            if entry.position in best and best[entry.position][0] == Specificity(True, True, True):
                continue
            if not _available(entry, device, at, mode, include_installed):
                continue
            specificity = match_target(entry.target, device, entry.compiled)
            if specificity is None:
                continue
            if entry.position not in best or specificity > best[entry.position][0]:
                best[entry.position] = (specificity, entry)
        ranked = sorted(best.values(), key=lambda pair: _rank(pair[0], pair[1]))
        return tuple(
            Applicable(entry.upgrade, entry.document, entry.target, specificity)
            for specificity, entry in ranked
        )


def _available(
    entry: _Entry,
    device: DeviceIdentity,
    at: datetime,
    mode: m.Mode | None,
    include_installed: bool,
) -> bool:
    if mode is not None and entry.document is not None and entry.document.mode is not mode:
        return False
    validity = entry.upgrade.validity_time_range
    if validity is not None and not validity.start_time <= at <= validity.end_time:
        return False
    return include_installed or device.software_version != entry.upgrade.software_version


def _rank(specificity: Specificity, entry: _Entry) -> tuple[object, ...]:
    descriptor = entry.upgrade.software_package_info.update_descriptor
    priority = NO_PRIORITY if descriptor is None else descriptor.update_priority
    validity = entry.upgrade.validity_time_range
    newest_first = float("inf") if validity is None else -validity.start_time.timestamp()
    return (
        not specificity.identified,
        not specificity.software,
        not specificity.hardware,
        priority,
        newest_first,
        entry.position,
    )


def applicable_updates(
    device: DeviceIdentity,
    updates: Iterable[m.RMSFUSMetadata | m.FirmwareUpgrade],
    *,
    at: datetime,
    mode: m.Mode | None = None,
    include_installed: bool = False,
) -> tuple[Applicable, ...]:
    """`TargetingIndex(updates).applicable(...)` for a one-off question."""
    return TargetingIndex(updates).applicable(
        device, at=at, mode=mode, include_installed=include_installed
    )
