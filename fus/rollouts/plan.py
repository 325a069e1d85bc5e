"""Planning a rollout: its population, its stages, and the wave of every device.

The population is the package's own (`fus.services.targeting.targeted_devices`: its TargetDevices,
validity, not already on the version) narrowed by the rollout's target: device classes, current
("from") software versions, hardware versions, a serial/MAC RangeList (the metadata semantics of
docs/decisions/0002, through the same Q builder as the targeting engine), tags (any of) and a saved
device search.

Waves are fixed when the rollout is planned, set-based: the population is numbered by ROW_NUMBER()
over a deterministic total order and cut at the stage boundaries; a wave stores only its size, its
first rank and the order key of its last device (`RolloutWave.last_key`). Member rows
(`RolloutDevice`) are written when a wave is released (`materialize`, one INSERT ... SELECT of the
population in the wave's key range), not at planning: a million indexed member rows cost about a
minute on PostgreSQL, the plan itself one sort (docs/benchmarks/rollouts.md).

* ``spread``: the order of a multiplicative (Fibonacci) hash of the device id seeded by the
  rollout, ``(id * 2654435761 + seed) mod 2**32``: each wave is an even sample of the population,
  another rollout gets another sample, and the same rollout always the same one.
* ``serial``: serial order per device class: each wave is a few contiguous serial ranges, which is
  what an announcement RangeList can say compactly (and it covers boxes the inventory does not
  know that sit between released serials).

Either way waves are disjoint and their union is the population. The preview lists exactly each
wave's devices (`wave_devices`: the planned key range of the population, or the members once
released). Devices that join the inventory after planning fall in the wave their key falls in
(or, when that wave is already released, the next one released); devices that left the population
(upgraded meanwhile, deleted) are not written.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Mod
from django.utils import timezone

from fus.metadata import model as m
from fus.metadata.identifiers import parse_mac, serial_index_key
from fus.models import Rollout, RolloutDevice, RolloutRange, RolloutWave
from fus.rollouts.choices import Assignment, Channel
from fus.services import targeting

FIBONACCI = 2654435761
HASH_SPACE = 2**32
MAX_STAGES = 50
MAX_RANGE_LIST_LINES = 1000


class PlanError(ValueError):
    """The rollout's plan or target is malformed; the text names the field, line or value."""


# --- RangeList as text ---------------------------------------------------------------------------

_KINDS = {"serial": m.IdentifierType.SERIAL_NUMBER, "mac": m.IdentifierType.MAC_ADDRESS}
_AVAILABILITY = {"include": m.Availability.INCLUSIVE, "exclude": m.Availability.EXCLUSIVE}


def parse_range_list(text: str) -> m.RangeList | None:
    """A RangeList from lines ``include|exclude serial|mac SPEC`` where SPEC is ``LOW..HIGH`` (a
    Range, bounds included) or ``ID[,ID...]`` (an Item). Blank lines and ``#`` comments are
    skipped. None when there is no entry. PlanError names the line and the value."""
    entries: list[m.RangeListEntry] = []
    lines = (text or "").splitlines()
    if len(lines) > MAX_RANGE_LIST_LINES:
        raise PlanError(f"range list: {len(lines)} lines, at most {MAX_RANGE_LIST_LINES}")
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"range list line {number}"
        parts = line.split(None, 2)
        if len(parts) != 3:
            raise PlanError(f"{where}: {raw.strip()!r} is not 'include|exclude serial|mac SPEC'")
        verb, kind, spec = parts[0].lower(), parts[1].lower(), parts[2].strip()
        if verb not in _AVAILABILITY:
            raise PlanError(f"{where}: {parts[0]!r} is neither include nor exclude")
        if kind not in _KINDS:
            raise PlanError(f"{where}: {parts[1]!r} is neither serial nor mac")
        availability, identifier_type = _AVAILABILITY[verb], _KINDS[kind]
        if ".." in spec:
            lower, _, upper = (s.strip() for s in spec.partition(".."))
            lo, hi = _key(lower, kind, where), _key(upper, kind, where)
            if lo > hi:
                raise PlanError(
                    f"{where}: range {lower}..{upper} has its lower bound above its upper"
                )
            entries.append(m.Range(lower, upper, availability, identifier_type))
        else:
            ids = tuple(s.strip() for s in spec.split(","))
            for value in ids:
                _key(value, kind, where)
            entries.append(m.Item(ids, availability, identifier_type))
    return m.RangeList(tuple(entries)) if entries else None


def _key(value: str, kind: str, where: str):
    if not value or len(value) > 64 or any(c.isspace() for c in value):
        raise PlanError(f"{where}: {value!r} is not a {kind} (1-64 characters, no spaces)")
    if kind == "mac":
        try:
            return parse_mac(value)
        except ValueError as exc:
            raise PlanError(f"{where}: {exc}") from None
    return serial_index_key(value)


def range_list_text(range_list: m.RangeList) -> str:
    """The text form of a RangeList (inverse of `parse_range_list`)."""
    lines = []
    for entry in range_list.entries:
        verb = "include" if entry.availability is m.Availability.INCLUSIVE else "exclude"
        kind = "serial" if entry.identifier_type is m.IdentifierType.SERIAL_NUMBER else "mac"
        spec = (
            f"{entry.lower_bound}..{entry.upper_bound}"
            if isinstance(entry, m.Range)
            else ",".join(entry.item_ids)
        )
        lines.append(f"{verb} {kind} {spec}")
    return "\n".join(lines)


def range_list_q(range_list: m.RangeList, prefix: str = "") -> Q:
    """The RangeList as a filter over `acs.Device` identity columns: the targeting engine's own
    builder (one meaning of a RangeList everywhere)."""
    rows = targeting._range_rows(None, range_list)  # unsaved rows: bounds and ordering keys
    return targeting._range_list_q(rows, prefix)


# --- stages --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    count: int | None = None
    percent: float | None = None


def parse_stages(stages) -> list[Stage]:
    """``[{"name": "canary", "count": 10}, {"percent": 25}, ...]``: each stage a count or a percent
    of the population. PlanError names the stage and the value."""
    if not isinstance(stages, list) or not stages:
        raise PlanError("stages: at least one stage (a canary or a wave) is needed")
    if len(stages) > MAX_STAGES:
        raise PlanError(f"stages: {len(stages)} stages, at most {MAX_STAGES}")
    out = []
    for index, stage in enumerate(stages):
        where = f"stages[{index}]"
        if not isinstance(stage, dict):
            raise PlanError(f"{where}: {stage!r} is not an object with count or percent")
        unknown = set(stage) - {"name", "count", "percent"}
        if unknown:
            raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        name = stage.get("name") or (
            "canary" if index == 0 and len(stages) > 1 else f"wave {index}"
        )
        if not isinstance(name, str) or len(name) > 60:
            raise PlanError(f"{where}.name: {name!r} is not a name of at most 60 characters")
        has_count, has_percent = "count" in stage, "percent" in stage
        if has_count == has_percent:
            raise PlanError(f"{where}: give exactly one of count and percent")
        if has_count:
            count = stage["count"]
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise PlanError(f"{where}.count: {count!r} is not a whole number of devices >= 1")
            out.append(Stage(name, count=count))
        else:
            percent = stage["percent"]
            if (
                isinstance(percent, bool)
                or not isinstance(percent, int | float)
                or not 0 < percent <= 100
                or not math.isfinite(percent)
            ):
                raise PlanError(f"{where}.percent: {percent!r} is not a percentage in (0, 100]")
            out.append(Stage(name, percent=float(percent)))
    return out


def wave_sizes(stages: list[Stage], total: int) -> list[tuple[str, int]]:
    """The size of each wave for a population of `total`: a stage takes its count, or its percent
    of the whole population (rounded up), capped by what is left; what the stages leave becomes a
    last wave "rest". Empty waves are dropped; an empty population is one empty wave (boxes outside
    the inventory are still announced when it is released)."""
    out: list[tuple[str, int]] = []
    left = total
    for stage in stages:
        size = stage.count if stage.count is not None else math.ceil(total * stage.percent / 100)
        size = min(size, left)
        if size:
            out.append((stage.name, size))
        left -= size
    if left:
        out.append(("rest", left))
    return out or [(stages[-1].name, 0)]


# --- the population --------------------------------------------------------------------------------


def _any_tag_q(tags: list[str]) -> Q:
    if connection.features.supports_json_field_contains:
        q = Q()
        for tag in tags:
            q |= Q(tags__contains=[tag])
        return q
    # SQLite has no JSON containment: the quoted element in the JSON text, checked again in Python.
    Device = apps.get_model("acs", "Device")
    text_q = Q()
    for tag in tags:
        text_q |= Q(tags__icontains=json.dumps(tag))
    pks = [
        pk
        for pk, have in Device.objects.filter(text_q).values_list("pk", "tags")
        if set(tags) & set(have or [])
    ]
    return Q(pk__in=pks)


def population(rollout: Rollout, *, at=None) -> models.QuerySet:
    """The devices of the inventory the rollout targets (before wave assignment)."""
    at = at or max(timezone.now(), rollout.start_at or timezone.now())
    devices = targeting.targeted_devices(rollout.package, at=at)
    if rollout.pk is not None and rollout.device_classes.exists():
        devices = devices.filter(device_class__in=rollout.device_classes.all())
    if rollout.from_versions:
        devices = devices.filter(software_version__in=rollout.from_versions)
    if rollout.hardware_versions:
        devices = devices.filter(hardware_version__in=rollout.hardware_versions)
    range_list = parse_range_list(rollout.range_list)
    if range_list is not None:
        devices = devices.filter(range_list_q(range_list))
    if rollout.tags:
        devices = devices.filter(_any_tag_q(rollout.tags))
    if rollout.device_query or rollout.saved_filter_id:
        from acs.ui.bulk import filtered  # the device list's own filters (saved searches)

        query = rollout.device_query or rollout.saved_filter.query
        try:
            matching = filtered(rollout.created_by, query)
        except ValueError as exc:
            raise PlanError(f"saved search: {exc}") from None
        devices = devices.filter(pk__in=matching.values("pk"))
    return devices


def seed(rollout_id: int) -> int:
    digest = hashlib.blake2b(f"rollout:{rollout_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % HASH_SPACE


def device_channel(channels: list[str]) -> str:
    """The channel of the inventory's boxes: a CWMP Download when managed delivery is chosen,
    else the box's own update (RMS-FUS autonomous, or QRC/multicast)."""
    for channel in (Channel.MANAGED, Channel.AUTONOMOUS, Channel.UNMANAGED):
        if channel in channels:
            return channel.value
    raise PlanError("channels: choose at least one channel")


def _clear(rollout: Rollout) -> None:
    """Delete the previous plan in plain DELETEs: the audit log's global delete signal would make
    Django fetch and signal every member row one by one (seconds for a large population)."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for model in (RolloutDevice, RolloutRange, RolloutWave):
            cursor.execute(
                f"DELETE FROM {qn(model._meta.db_table)} WHERE rollout_id = %s",  # noqa: S608
                [rollout.pk],
            )


# The plan order: a total order over the population (the device id breaks every tie). A wave is
# the devices whose key is above the previous wave's last key and at most its own last key.
_ORDER_KEYS = {
    Assignment.SPREAD.value: ("h", "id"),
    Assignment.SERIAL.value: ("oui", "product_class", "serial_key", "serial_number", "id"),
}


def _keyed(rollout: Rollout, devices: models.QuerySet | None = None):
    """The population as SQL with columns id, oui, product_class, serial_number, serial_key, h
    (the spread hash), its parameters, and the plan order's key columns."""
    if devices is None:
        devices = population(rollout).order_by()
    if rollout.assignment == Assignment.SERIAL:
        columns = devices.annotate(h=Value(0, output_field=models.BigIntegerField()))
    else:
        columns = devices.annotate(
            h=Mod(F("id") * Value(FIBONACCI) + Value(seed(rollout.pk)), Value(HASH_SPACE))
        )
    sql, params = columns.values_list(
        "id", "oui", "product_class", "serial_number", "serial_key", "h"
    ).query.sql_with_params()
    return sql, list(params), _ORDER_KEYS[rollout.assignment]


def _row(keys, alias: str = "s") -> str:
    return "(" + ", ".join(f"{alias}.{connection.ops.quote_name(k)}" for k in keys) + ")"


def _params_row(keys) -> str:
    return "(" + ", ".join("%s" for _ in keys) + ")"


def _order(keys, alias: str = "s") -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(k)}" for k in keys)


@transaction.atomic
def plan(rollout: Rollout, *, at=None) -> list[RolloutWave]:
    """(Re)write the rollout's waves: one COUNT of the population and one query numbering it in
    the plan order (ROW_NUMBER) that returns only the key of each wave's last device. No member
    row is written here: a wave's members are written when it is released (`materialize`)."""
    stages = parse_stages(rollout.stages)
    device_channel(rollout.channels)  # validated: at least one channel
    _clear(rollout)
    devices = population(rollout, at=at).order_by()
    total = devices.count()
    sizes = wave_sizes(stages, total)
    inner_sql, inner_params, keys = _keyed(rollout, devices)
    cuts, cumulative = [], 0
    for _name, size in sizes[:-1]:
        cumulative += size
        cuts.append(cumulative)
    last_keys: dict[int, list] = {}
    if cuts:
        placeholders = ", ".join("%s" for _ in cuts)
        # Every value is a parameter; names come from the models and the fixed keys above.
        sql = f"""
            SELECT p.pos, {_order(keys, "p")}
            FROM (SELECT {_order(keys)}, ROW_NUMBER() OVER (ORDER BY {_order(keys)}) AS pos
                  FROM ({inner_sql}) s) p
            WHERE p.pos IN ({placeholders})
        """  # noqa: S608
        with connection.cursor() as cursor:
            cursor.execute(sql, [*inner_params, *cuts])
            last_keys = {pos: list(key) for pos, *key in cursor.fetchall()}
    waves, first = [], 1
    for number, (name, size) in enumerate(sizes):
        last = first + size - 1
        waves.append(
            RolloutWave(
                rollout=rollout,
                number=number,
                name=name,
                size=size,
                first_rank=first,
                last_key=last_keys.get(last) if number < len(sizes) - 1 else None,
            )
        )
        first = last + 1
    waves = RolloutWave.objects.bulk_create(waves)
    rollout.planned_at = timezone.now()
    Rollout.objects.filter(pk=rollout.pk).update(planned_at=rollout.planned_at)
    return waves


def _wave_slice(rollout: Rollout, wave: RolloutWave, previous: RolloutWave | None):
    """The population devices of a wave in plan order: SQL and parameters (columns of `_keyed`)."""
    inner_sql, params, keys = _keyed(rollout)
    where = []
    if previous is not None and previous.last_key is not None:
        where.append(f"{_row(keys)} > {_params_row(keys)}")
        params += previous.last_key
    if wave.last_key is not None:
        where.append(f"{_row(keys)} <= {_params_row(keys)}")
        params += wave.last_key
    sql = (
        f"SELECT s.* FROM ({inner_sql}) s"  # noqa: S608
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + f" ORDER BY {_order(keys)}"
    )
    return sql, params


def materialize(rollout: Rollout, wave: RolloutWave) -> int:
    """Write the members of a wave being released, in one INSERT ... SELECT: the population
    devices (now) whose plan key is at most the wave's last key and that are not members yet
    (a device added to the inventory after planning whose key fell in an earlier wave joins this
    one). Idempotent: run twice, it adds nothing the second time. Returns the rows written."""
    channel = device_channel(rollout.channels)
    inner_sql, inner_params, keys = _keyed(rollout)
    members = RolloutDevice._meta.db_table
    qn = connection.ops.quote_name
    upper, upper_params = "", []
    if wave.last_key is not None:
        upper = f"AND {_row(keys)} <= {_params_row(keys)}"
        upper_params = list(wave.last_key)
    # Every value is a parameter; names come from the models and the fixed keys above.
    sql = f"""
        INSERT INTO {qn(members)} (rollout_id, device_id, oui, product_class, serial_number,
            serial_key, wave, {qn("rank")}, channel, state, attempts, confirmed, source, detail)
        SELECT %s, p.id, p.oui, p.product_class, p.serial_number, p.serial_key, %s,
            p.pos + %s, %s, 'pending', 0, %s, '', ''
        FROM (SELECT s.*, ROW_NUMBER() OVER (ORDER BY {_order(keys)}) AS pos
              FROM ({inner_sql}) s
              WHERE NOT EXISTS (
                  SELECT 1 FROM {qn(members)} m
                  WHERE m.rollout_id = %s AND m.oui = s.oui AND m.product_class = s.product_class
                    AND m.serial_number = s.serial_number) {upper}) p
    """  # noqa: S608
    params = [rollout.pk, wave.number, wave.first_rank - 1, channel, False]
    params += [*inner_params, rollout.pk, *upper_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def wave_devices(rollout: Rollout, wave: RolloutWave, *, limit: int | None = None):
    """The devices of a wave in plan order, as dicts (device_id, oui, product_class,
    serial_number, rank): its members once released, else the planned slice of the population."""
    if wave.released_at is not None:
        rows = rollout.members.filter(wave=wave.number).order_by("rank", "pk")
        values = rows.values("device_id", "oui", "product_class", "serial_number", "rank")
        yield from values[:limit] if limit is not None else values.iterator(chunk_size=2000)
        return
    previous = rollout.waves.filter(number=wave.number - 1).first() if wave.number else None
    sql, params = _wave_slice(rollout, wave, previous)
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for rank, (pk, oui, product_class, serial, _key, _h) in enumerate(
            cursor, start=wave.first_rank
        ):
            yield {
                "device_id": pk,
                "oui": oui,
                "product_class": product_class,
                "serial_number": serial,
                "rank": rank,
            }


def wave_preview(rollout: Rollout, *, per_wave: int = 20) -> list[dict]:
    """Each wave with its size and its first devices in plan order (the whole list: CSV)."""
    return [
        {
            "number": wave.number,
            "name": wave.name,
            "size": wave.size,
            "state": wave.state,
            "sample": list(wave_devices(rollout, wave, limit=per_wave)),
        }
        for wave in rollout.waves.all()
    ]
