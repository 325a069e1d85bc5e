"""What the QRC and the carousels may offer while rollouts run: the population released so far.

A package is *governed* by rollouts once any rollout of it delivers through the box's own channels
(RMS-FUS autonomous or unmanaged QRC/multicast), whatever that rollout's state: from then on the
package is offered only to the boxes a rollout has released. A released wave is announced while
its rollout runs (or has completed); pausing, halting, cancelling or deactivating a rollout, or the
end of its validity (`end_at`), withdraws it. Packages no rollout governs are offered as the
catalogue says (unchanged behaviour).

Released = the boxes of the inventory in released waves, plus boxes outside the inventory whose
serial number falls in a released serial range (`RolloutRange`: maximal runs, in serial order per
device class, of released inventory boxes with no unreleased inventory box between them); once the
last wave is released, every box the package targets.

The functions other subsystems call:

* QRC (`fus.qrc.answers`): ``gate.cached_allowed(package, identity, at)`` for each applicable
  package: ``allowed``'s answer from this process's cache (below), no query in the common case.
* Carousels / announcements (`fus.multicast`, `fus.carousels`): ``gate.announced_target_devices(
  package, at)`` -> the package's TargetDevices narrowed to the released population (None: announce
  nothing now), or the raw ``gate.announcement(package, at)``.
* Set-based (reports, statistics): ``gate.released_q(package, prefix="")`` over `acs.Device` columns.

The per-process cache (`cached_allowed`): every rollout's gate fields (a small table) and, loaded
on first need, each live rollout's released ranges as sorted arrays per device class (bisect). It
is dropped at once when this process saves or deletes a Rollout or RolloutRange (signals, and again
on commit), and within `TARGETING_CACHE_SECONDS` when another process changes them: the rollouts'
part of the targeting cache's one-row generation query
(`fus.services.targeting.rollouts_generation`), so a QRC check still costs at most one query per
TTL. A rollout with more than `ROLLOUT_GATE_CACHE_RANGES` (default 100,000) ranges is not held in
memory: its boxes are looked up with one indexed query per check (spread assignment over a large
unmanaged population; serial assignment keeps ranges few).
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, signals
from django.utils import timezone

from fus.metadata import model as m
from fus.metadata.identifiers import serial_index_key
from fus.metadata.targeting import DeviceIdentity
from fus.models import FirmwarePackage, Rollout, RolloutDevice, RolloutRange
from fus.rollouts.choices import ANNOUNCING, Channel

GATED_CHANNELS = frozenset({Channel.AUTONOMOUS.value, Channel.UNMANAGED.value})

__all__ = [
    "Announcement",
    "allowed",
    "announced_target_devices",
    "announcement",
    "cached_allowed",
    "governing_rollouts",
    "released_q",
    "write_ranges",
]


def governing_rollouts(package: FirmwarePackage | int) -> list[Rollout]:
    """The rollouts of the package that deliver through QRC/multicast/autonomous updates."""
    package_id = package if isinstance(package, int) else package.pk
    rows = Rollout.objects.filter(package_id=package_id).only(
        "pk", "status", "channels", "released_all", "end_at", "current_wave", "package_id"
    )
    return [r for r in rows if GATED_CHANNELS & set(r.channels or ())]


def _announcing(rollout: Rollout, at: datetime) -> bool:
    if rollout.status not in ANNOUNCING or rollout.current_wave < 0:
        return False
    return rollout.end_at is None or at <= rollout.end_at


@dataclass(frozen=True)
class Announcement:
    """What may be announced for a package now."""

    governed: bool  # False: no rollout governs the package (announce as the catalogue says)
    everyone: bool = False  # a rollout released its last wave: every targeted box
    # (OUI, ProductClass) -> released serial ranges (inclusive bounds, as written)
    ranges: dict[tuple[str, str], tuple[tuple[str, str], ...]] = field(default_factory=dict)

    @property
    def nothing(self) -> bool:
        return self.governed and not self.everyone and not self.ranges

    def range_list(self, oui: str, product_class: str) -> m.RangeList | None:
        """The released serials of a device class as an inclusive RangeList (None: none)."""
        bounds = self.ranges.get((oui.upper(), product_class))
        if not bounds:
            return None
        return m.RangeList(
            tuple(
                m.Item((lo,)) if lo == hi else m.Range(lo, hi)  # single boxes as ItemIDs
                for lo, hi in bounds
            )
        )


def announcement(package: FirmwarePackage | int, at: datetime | None = None) -> Announcement:
    """The package's released population at `at` (default now)."""
    at = at or timezone.now()
    rollouts = governing_rollouts(package)
    if not rollouts:
        return Announcement(governed=False)
    live = [r for r in rollouts if _announcing(r, at)]
    if any(r.released_all for r in live):
        return Announcement(governed=True, everyone=True)
    ranges: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for row in RolloutRange.objects.filter(rollout__in=[r.pk for r in live]).order_by(
        "oui", "product_class", "serial_lo"
    ):
        ranges.setdefault((row.oui, row.product_class), []).append(
            (row.serial_lo, row.lower, row.upper)
        )
    return Announcement(
        governed=True,
        ranges={key: tuple((lo, hi) for _k, lo, hi in sorted(v)) for key, v in ranges.items()},
    )


def allowed(package: FirmwarePackage | int, identity: DeviceIdentity, at: datetime | None = None):
    """Whether the QRC may offer `package` to this box at `at` (the targeting engine has already
    said the package applies to it). One query when no rollout governs the package, two when one
    does."""
    at = at or timezone.now()
    rollouts = governing_rollouts(package)
    if not rollouts:
        return True
    live = [r for r in rollouts if _announcing(r, at)]
    if not live:
        return False
    if any(r.released_all for r in live):
        return True
    if not identity.serial_number:
        return False
    try:
        key = serial_index_key(identity.serial_number)
    except ValueError:
        return False
    return RolloutRange.objects.filter(
        rollout__in=[r.pk for r in live],
        oui=identity.manufacturer_oui.upper(),
        product_class=identity.product_class,
        serial_lo__lte=key,
        serial_hi__gte=key,
    ).exists()


# --- the per-process cached form (QRC hot path) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _GateRollout:
    pk: int
    status: str
    current_wave: int
    released_all: bool
    end_at: datetime | None


class _RangeIndex:
    """One rollout's released ranges: per (OUI, ProductClass), the lower and upper keys sorted
    by lower key (a rollout's ranges of a class are disjoint)."""

    __slots__ = ("by_class",)

    def __init__(self, rows: Iterable[tuple[str, str, str, str]]) -> None:
        by_class: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
        for oui, product_class, lo, hi in rows:  # ordered by class, then lower key
            los, his = by_class.setdefault((oui, product_class), ([], []))
            los.append(lo)
            his.append(hi)
        self.by_class = by_class

    def contains(self, oui: str, product_class: str, key: str) -> bool:
        found = self.by_class.get((oui, product_class))
        if found is None:
            return False
        los, his = found
        i = bisect_right(los, key) - 1
        return i >= 0 and his[i] >= key


class _GateCache:
    """Rollouts' gate fields (rebuilt on any change: a small table) and released-range indexes
    (kept while their rollout's released wave is the same and no range row changed: the engine
    saves a running rollout at every tick, which must not reload its ranges)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: tuple | None = None
        self.local_changes = 0
        self.built_for_local = -1
        self.range_changes = 0
        self.ranges_for = -1
        self.governing: dict[int, tuple[_GateRollout, ...]] = {}
        # rollout pk -> (its released wave when loaded, index; None: too many to hold)
        self.ranges: dict[int, tuple[int, _RangeIndex | None]] = {}

    def invalidate(self, **kwargs) -> None:
        self.local_changes += 1

    def invalidate_ranges(self, **kwargs) -> None:
        self.range_changes += 1
        self.local_changes += 1


_CACHE = _GateCache()


def _load_governing() -> dict[int, tuple[_GateRollout, ...]]:
    out: dict[int, list[_GateRollout]] = {}
    rows = Rollout.objects.order_by().values_list(
        "pk", "package_id", "status", "channels", "current_wave", "released_all", "end_at"
    )
    for pk, package_id, status, channels, wave, released_all, end_at in rows:
        if GATED_CHANNELS & set(channels or ()):
            out.setdefault(package_id, []).append(
                _GateRollout(pk, status, wave, released_all, end_at)
            )
    return {package_id: tuple(v) for package_id, v in out.items()}


def _load_ranges(rollout_pk: int) -> _RangeIndex | None:
    limit = getattr(settings, "ROLLOUT_GATE_CACHE_RANGES", 100_000)
    rows = list(
        RolloutRange.objects.filter(rollout_id=rollout_pk)
        .order_by("oui", "product_class", "serial_lo")
        .values_list("oui", "product_class", "serial_lo", "serial_hi")[: limit + 1]
    )
    if len(rows) > limit:
        return None
    return _RangeIndex(rows)


def _fresh_cache() -> _GateCache:
    """The cache, dropped first if this process changed rollouts or the generation moved."""
    from fus.services.targeting import rollouts_generation

    generation = rollouts_generation()  # no query within the TTL
    state = _CACHE
    with state.lock:
        if state.generation != generation or state.built_for_local != state.local_changes:
            local, range_changes = state.local_changes, state.range_changes
            if (
                state.generation is None
                or state.generation[-1] != generation[-1]  # the ranges' highest id moved
                or state.ranges_for != range_changes
            ):
                state.ranges = {}
            state.governing = _load_governing()
            state.generation, state.built_for_local = generation, local
            state.ranges_for = range_changes
    return state


def cached_allowed(
    package: FirmwarePackage | int, identity: DeviceIdentity, at: datetime | None = None
) -> bool:
    """`allowed`, answered from this process's cache: no query for a package no rollout governs or
    whose last wave is out, none for released ranges already loaded (see the module docstring)."""
    at = at or timezone.now()
    package_id = package if isinstance(package, int) else package.pk
    state = _fresh_cache()
    rollouts = state.governing.get(package_id)
    if not rollouts:
        return True
    live = [
        r
        for r in rollouts
        if r.status in ANNOUNCING and r.current_wave >= 0 and (r.end_at is None or at <= r.end_at)
    ]
    if not live:
        return False
    if any(r.released_all for r in live):
        return True
    if not identity.serial_number:
        return False
    try:
        key = serial_index_key(identity.serial_number)
    except ValueError:
        return False
    oui, product_class = identity.manufacturer_oui.upper(), identity.product_class
    uncached = []
    for r in live:
        with state.lock:
            loaded = state.ranges.get(r.pk)
            if loaded is None or loaded[0] != r.current_wave:
                loaded = state.ranges[r.pk] = (r.current_wave, _load_ranges(r.pk))
        index = loaded[1]
        if index is None:
            uncached.append(r.pk)
        elif index.contains(oui, product_class, key):
            return True
    if not uncached:
        return False
    return RolloutRange.objects.filter(
        rollout__in=uncached,
        oui=oui,
        product_class=product_class,
        serial_lo__lte=key,
        serial_hi__gte=key,
    ).exists()


def _invalidate(sender, **kwargs) -> None:
    drop = _CACHE.invalidate_ranges if sender is RolloutRange else _CACHE.invalidate
    drop()
    # again after commit: a rebuild by another thread before this transaction committed read the
    # old rows
    transaction.on_commit(drop)


for _model in (Rollout, RolloutRange):
    signals.post_save.connect(_invalidate, sender=_model, dispatch_uid=f"gate-{_model.__name__}")
    signals.post_delete.connect(
        _invalidate, sender=_model, dispatch_uid=f"gate-d-{_model.__name__}"
    )


def released_q(package: FirmwarePackage | int, *, prefix: str = "", at=None) -> Q | None:
    """The released population as a filter over `acs.Device` identity columns (behind `prefix`):
    None when no rollout governs the package, ``Q()`` for everyone, a never-true Q for nobody."""
    ann = announcement(package, at)
    if not ann.governed:
        return None
    if ann.everyone:
        return Q()
    q = Q(**{f"{prefix}pk__in": []})
    for (oui, product_class), bounds in ann.ranges.items():
        keys = [(serial_index_key(lo), serial_index_key(hi)) for lo, hi in bounds]
        serials = Q()
        for lo, hi in keys:
            serials |= Q(**{f"{prefix}serial_key__gte": lo, f"{prefix}serial_key__lte": hi})
        q |= Q(**{f"{prefix}oui": oui, f"{prefix}product_class": product_class}) & serials
    return q


def announced_target_devices(
    package: FirmwarePackage, at: datetime | None = None
) -> m.TargetDevices | None:
    """The package's TargetDevices as they may be announced now: unchanged when no rollout
    governs it or its last wave is out; None when nothing is released; else every entry of a
    released device class becomes a DeviceGroup whose RangeList is the released serial ranges
    (intersected with the entry's own inclusive serial ranges; its exclusive entries kept)."""
    from fus.services.targeting import target_devices_of

    ann = announcement(package, at)
    target = target_devices_of(package)
    if not ann.governed or ann.everyone:
        return target
    if ann.nothing:
        return None
    groups: list[m.DeviceGroup] = []
    for entry in target.entries():
        info = _info_of(entry)
        released = ann.ranges.get((info.manufacturer_oui.upper(), info.product_class))
        if not released:
            continue
        own = entry.range_list if isinstance(entry, m.DeviceGroup) else None
        entries = _narrow(own, released)
        if entries:
            groups.append(m.DeviceGroup(info, m.RangeList(tuple(entries))))
    if not groups:
        return None
    return m.TargetDevices(device_groups=tuple(groups))


def _info_of(entry) -> m.DeviceClassInfo:
    if isinstance(entry, m.DeviceGroup):
        return entry.device_class_info
    hw = getattr(entry, "hardware_versions", ())
    sw = getattr(entry, "software_versions", ())
    return m.DeviceClassInfo(entry.manufacturer_oui, entry.product_class, tuple(hw), tuple(sw))


def _narrow(own: m.RangeList | None, released: Iterable[tuple[str, str]]) -> list:
    """Released serial ranges within an entry's own RangeList. Own inclusive MAC entries cannot be
    intersected with serial ranges in one RangeList: they are dropped (the released serials are
    inventory boxes the entry targets; unknown boxes in those serial ranges are offered whatever
    their MAC — docs/rollouts.md)."""
    released = list(released)
    if own is None:
        inclusive = [(lo, hi) for lo, hi in released]
        exclusive: list = []
    else:
        exclusive = [e for e in own.entries if e.availability is m.Availability.EXCLUSIVE]
        own_serials = []
        for e in own.entries:
            if e.availability is not m.Availability.INCLUSIVE:
                continue
            if e.identifier_type is not m.IdentifierType.SERIAL_NUMBER:
                continue
            if isinstance(e, m.Range):
                own_serials.append((e.lower_bound, e.upper_bound))
            else:
                own_serials += [(i, i) for i in e.item_ids]
        if not own_serials:
            inclusive = list(released)
        else:
            inclusive = []
            for lo, hi in released:
                for olo, ohi in own_serials:
                    a = max(lo, olo, key=serial_index_key)
                    b = min(hi, ohi, key=serial_index_key)
                    if serial_index_key(a) <= serial_index_key(b):
                        inclusive.append((a, b))
    if not inclusive:
        return []
    return [m.Item((lo,)) if lo == hi else m.Range(lo, hi) for lo, hi in inclusive] + exclusive


# --- writing the released ranges (engine) ---------------------------------------------------------


@transaction.atomic
def write_ranges(rollout: Rollout) -> int:
    """Recompute the rollout's released serial ranges: maximal runs, per device class in serial
    order, of released inventory boxes (members in waves <= `current_wave`) with no unreleased
    inventory box in between (a box of the population that is not a member: its wave is not
    released yet). One ordered pass over one query (members UNION the rest of the population);
    returns the number of ranges."""
    from fus.rollouts.plan import _keyed

    RolloutRange.objects.filter(rollout=rollout)._raw_delete(RolloutRange.objects.db)  # no signals
    if rollout.current_wave < 0:
        _invalidate(RolloutRange)
        return 0
    members = RolloutDevice._meta.db_table
    qn = connection.ops.quote_name
    population_sql, population_params, _keys = _keyed(rollout)
    # Every value is a parameter; names come from the models.
    sql = f"""
        SELECT oui, product_class, serial_number, serial_key, 1 AS released
        FROM {qn(members)} WHERE rollout_id = %s AND device_id IS NOT NULL AND wave <= %s
        UNION ALL
        SELECT s.oui, s.product_class, s.serial_number, s.serial_key, 0
        FROM ({population_sql}) s
        WHERE NOT EXISTS (SELECT 1 FROM {qn(members)} m
                          WHERE m.rollout_id = %s AND m.device_id = s.id)
        ORDER BY 1, 2, 4, 3
    """  # noqa: S608
    params = [rollout.pk, rollout.current_wave, *population_params, rollout.pk]
    rows: list[RolloutRange] = []
    run: list | None = None  # [oui, pc, lower, lo_key, upper, hi_key]

    def close() -> None:
        if run is not None:
            rows.append(
                RolloutRange(
                    rollout=rollout,
                    wave=rollout.current_wave,
                    oui=run[0],
                    product_class=run[1],
                    lower=run[2],
                    serial_lo=run[3],
                    upper=run[4],
                    serial_hi=run[5],
                )
            )

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(5000):
            for oui, product_class, serial, key, released in batch:
                if not key:
                    continue  # a serial the ordering cannot index: only its membership admits it
                same_class = run is not None and run[0] == oui and run[1] == product_class
                if released and same_class:
                    run[4], run[5] = serial, key
                elif released:
                    close()
                    run = [oui, product_class, serial, key, serial, key]
                else:
                    close()
                    run = None
            if len(rows) >= 5000:
                RolloutRange.objects.bulk_create(rows)
                rows.clear()
    close()
    RolloutRange.objects.bulk_create(rows)
    _invalidate(RolloutRange)  # bulk writes send no signals
    return RolloutRange.objects.filter(rollout=rollout).count()
