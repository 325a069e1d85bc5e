"""The /cwmp hot path's SQL: hand-written statements for what every session does.

Every box opens a session every PeriodicInformInterval, so the few statements of a periodic
session run millions of times a day. Built by the ORM they cost more Python (query compilation,
model instantiation, the deletion collector) than the database spends on them; here they are
fixed strings with parameters, written for PostgreSQL and SQLite alike (`FOR UPDATE` only where
the database has it: SQLite serialises writers with BEGIN IMMEDIATE). Values go through each
field's own `get_db_prep_save` and come back through the field's converters, so what is stored
and read is exactly what the ORM would store and read.

The model signals stay: a write made here sends the `pre_save`/`post_save`/`post_delete` the ORM
call it replaces would have sent (when anything listens), with a real instance — the home-network
configurator's Inform hook (`acs.homenet.signals`), the device page's live updates
(`acs.ui.live`) and any later receiver see no difference.

Rare paths (registration races, replaced sessions, tasks, parameter merges) keep the ORM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Model
from django.db.models.signals import post_delete, post_save, pre_save

from acs.conf import acs_settings
from acs.models import CwmpSession, Device, SessionTranscript

# --- field values in and out ------------------------------------------------------------------------


def _db():
    """This thread's connection (the `connection` proxy costs a lookup per attribute)."""
    return connections[DEFAULT_DB_ALIAS]


def _cursor(connection):
    """A cursor for these fixed statements. On PostgreSQL a server-side binding cursor whose
    statements psycopg prepares on first use (on that connection only: Django's own cursors bind
    client-side and never prepare), so a pooled connection parses and plans each session
    statement once, not once per POST (`CWMP_PREPARED_STATEMENTS=False` turns that off, e.g.
    behind a transaction-pooling PgBouncer older than 1.21). Wrapped like Django's cursors:
    errors mapped, statements logged when DEBUG or captured (`CaptureQueriesContext`)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None and acs_settings().prepared_statements:
        raw.prepare_threshold = 0
    with connection.wrap_database_errors:
        cursor = psycopg.Cursor(raw)
    if connection.queries_logged:
        return _LoggedCursor(cursor, connection)
    return CursorWrapper(cursor, connection)


class _LoggedCursor(CursorDebugWrapper):
    """Django's debug cursor reads the SQL back from psycopg's client-side cursor; a server-side
    binding cursor keeps none, so the statement is composed here (only when logging)."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)


def _converters(model: type[Model], names: list[str], connection) -> list[list]:
    """Per column, the functions turning a raw database value into the field's Python value."""
    out = []
    for name in names:
        field = model._meta.get_field(name)
        col = field.get_col(model._meta.db_table)
        out.append([*connection.ops.get_db_converters(col), *field.get_db_converters(connection)])
    return out


class _Columns:
    """A model's columns with their converters, per database vendor (computed once)."""

    def __init__(self, model: type[Model], names: list[str]) -> None:
        self.model = model
        self.names = names
        self.fields = [model._meta.get_field(n) for n in names]
        self.columns = [f.column for f in self.fields]
        self.cols = [f.get_col(model._meta.db_table) for f in self.fields]
        self._converters: dict[str, list[list]] = {}

    def sql(self, alias: str) -> str:
        return ", ".join(f'{alias}."{c}"' for c in self.columns)

    def convert(self, values, connection) -> list:
        vendor = connection.vendor
        converters = self._converters.get(vendor)
        if converters is None:
            converters = self._converters[vendor] = _converters(self.model, self.names, connection)
        out = []
        for col, value, funcs in zip(self.cols, values, converters, strict=True):
            for func in funcs:
                value = func(value, col, connection)
            out.append(value)
        return out


def _prep(model: type[Model], name: str, value: Any, connection) -> Any:
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def _dt(value: datetime, connection) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


_DEVICE = _Columns(Device, [f.attname for f in Device._meta.concrete_fields])
_SESSION_REF = _Columns(CwmpSession, ["id", "token", "last_seen"])


def _signal_save(instance: Model, *, created: bool, using: str = DEFAULT_DB_ALIAS) -> None:
    sender = type(instance)
    if post_save.has_listeners(sender):
        post_save.send(
            sender=sender,
            instance=instance,
            created=created,
            update_fields=None,
            raw=False,
            using=using,
        )


# --- the Inform ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LiveSession:
    """The device's session row as seen by the Inform that locked the device."""

    pk: int
    token: str
    last_seen: datetime


#: What an Inform writes on a known device (`acs.services.devices.apply_inform`).
INFORM_FIELDS = (
    "manufacturer",
    "hardware_version",
    "software_version",
    "provisioning_code",
    "mac_address",
    "serial_key",
    "mac",
    "device_class_id",
    "cwmp_version",
    "root_object",
    "ip_address",
    "last_inform",
    "last_events",
    "last_boot",
    "last_bootstrap",
    "periodic_inform_interval",
    "online_until",
    "connection_request_url",
    "udp_connection_request_address",
    "inform_digest",
    "sessions_started",
    "updated",
)
_INFORM_FIELDS = [Device._meta.get_field(n) for n in INFORM_FIELDS]
_INSERT_FIELDS = [
    f for f in Device._meta.concrete_fields if f.attname not in ("id", "device_class_id")
]
#: Fields whose value an Inform sets from plain strings and ints: stored as they are.
_PLAIN = (models.CharField, models.IntegerField, models.ForeignKey)
_PLAIN_EXCEPT = (models.GenericIPAddressField,)


def _is_plain(field) -> bool:
    return isinstance(field, _PLAIN) and not isinstance(field, _PLAIN_EXCEPT)


_INFORM_PLAIN = [_is_plain(f) for f in _INFORM_FIELDS]


def _sql(connection) -> dict[str, str]:
    """The statements for this database vendor (built once per vendor)."""
    cached = _SQL.get(connection.vendor)
    if cached is not None:
        return cached
    features = connection.features
    lock_of = (
        (" FOR UPDATE OF d", " FOR UPDATE OF s")
        if features.has_select_for_update_of
        else (" FOR UPDATE", " FOR UPDATE")
        if features.has_select_for_update
        else ("", "")
    )
    insert_columns = ", ".join(f'"{f.column}"' for f in _INSERT_FIELDS)
    placeholders = ", ".join(["%s"] * len(_INSERT_FIELDS))
    statements = {
        "lock_device": (
            f"SELECT {_DEVICE.sql('d')}, {_SESSION_REF.sql('s')} "  # noqa: S608 (model columns)
            'FROM "acs_device" d LEFT JOIN "acs_cwmpsession" s ON s."device_id" = d."id" '
            'WHERE d."oui" = %s AND d."product_class" = %s AND d."serial_number" = %s' + lock_of[0]
        ),
        "save_inform": (
            'UPDATE "acs_device" SET '  # noqa: S608 (model columns)
            + ", ".join(f'"{f.column}" = %s' for f in _INFORM_FIELDS)
            + ' WHERE "id" = %s'
        ),
        # The device class is matched in the same statement; a concurrent first Inform of the
        # same DeviceId makes it insert nothing (and return no row).
        "insert_device": (
            f'INSERT INTO "acs_device" ({insert_columns}, "device_class_id") '  # noqa: S608
            f"VALUES ({placeholders}, "
            '(SELECT "id" FROM "fus_deviceclass" WHERE "oui" = %s AND "product_class" = %s)) '
            'ON CONFLICT ("oui", "product_class", "serial_number") DO NOTHING '
            'RETURNING "id", "device_class_id"'
        ),
        "insert_session": (
            'INSERT INTO "acs_cwmpsession" ("token", "device_id", "state", "transcript", '
            '"started", "last_seen", "ip_address") VALUES (%s, %s, %s, %s, %s, %s, %s) '
            'RETURNING "id"'
        ),
        # The session and whether its device has a queued task (the queue's head is read only
        # then).
        "lock_session": (
            f'SELECT {_SESSION.sql("s")}, EXISTS (SELECT 1 FROM "acs_task" t '  # noqa: S608
            'WHERE t."device_id" = s."device_id" AND t."state" = \'queued\') '
            'FROM "acs_cwmpsession" s WHERE s."token" = %s AND s."last_seen" >= %s' + lock_of[1]
        ),
        "save_session": (
            'UPDATE "acs_cwmpsession" SET "state" = %s, "transcript" = %s, "last_seen" = %s '
            'WHERE "id" = %s'
        ),
        "insert_transcript": (
            'INSERT INTO "acs_sessiontranscript" ("device_id", "started", "ended", "outcome", '
            '"entries", "truncated") VALUES (%s, %s, %s, %s, %s, %s)'
        ),
        # Ids grow with time: keep the newest N (fewer rows: the subquery is NULL, nothing goes).
        "prune_transcripts": (
            'DELETE FROM "acs_sessiontranscript" WHERE "device_id" = %s AND "id" < '
            '(SELECT "id" FROM "acs_sessiontranscript" WHERE "device_id" = %s '
            'ORDER BY "id" DESC LIMIT 1 OFFSET %s)'
        ),
        "delete_session": 'DELETE FROM "acs_cwmpsession" WHERE "id" = %s',
    }
    # PostgreSQL runs data-modifying CTEs whether or not the outer statement reads them: two
    # writes, one round trip.
    statements["save_inform_insert_session"] = (
        f"WITH device AS ({statements['save_inform']}) {statements['insert_session']}"
    )
    statements["delete_session_insert_transcript"] = (
        f"WITH gone AS ({statements['delete_session']}) {statements['insert_transcript']}"
    )
    _SQL[connection.vendor] = statements
    return statements


_SQL: dict[str, dict[str, str]] = {}
_SESSION = _Columns(
    CwmpSession,
    ["id", "token", "device_id", "state", "transcript", "started", "last_seen", "ip_address"],
)


def lock_device(lookup: dict[str, str]) -> tuple[Device | None, LiveSession | None]:
    """The device row of a DeviceId, locked until the end of the transaction, and its session
    row if any: one statement."""
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute(
            _sql(connection)["lock_device"],
            [lookup["oui"], lookup["product_class"], lookup["serial_number"]],
        )
        row = cursor.fetchone()
    if row is None:
        return None, None
    n = len(_DEVICE.names)
    device = Device.from_db(connection.alias, None, _DEVICE.convert(row[:n], connection))
    if row[n] is None:
        return device, None
    pk, token, last_seen = _SESSION_REF.convert(row[n:], connection)
    return device, LiveSession(pk, token, last_seen)


def _pre_save(device: Device, using: str) -> None:
    if pre_save.has_listeners(Device):
        pre_save.send(sender=Device, instance=device, raw=False, using=using, update_fields=None)


def save_inform(device: Device, now: datetime, *, defer: bool = False) -> None:
    """Write what an Inform changed on a locked device row (one UPDATE), with the signals of the
    full `save()` it replaces (`update_fields=None`: the home-network hook runs on it). With
    `defer`, the UPDATE (and its `post_save`) waits for `insert_session`, which on PostgreSQL
    sends both in one statement (a write of these columns in between is overwritten)."""
    connection = _db()
    device.updated = now
    for name, value in Device.identity_columns(device.serial_number, device.mac_address).items():
        setattr(device, name, value)
    _pre_save(device, connection.alias)
    params = [
        getattr(device, f.attname)
        if plain
        else f.get_db_prep_save(getattr(device, f.attname), connection)
        for f, plain in zip(_INFORM_FIELDS, _INFORM_PLAIN, strict=True)
    ]
    params.append(device.pk)
    if defer:
        device._deferred_inform_write = params
        return
    with _cursor(connection) as cursor:
        cursor.execute(_sql(connection)["save_inform"], params)
    _signal_save(device, created=False, using=connection.alias)


def insert_device(device: Device, now: datetime) -> bool:
    """Insert a new device row (all its columns, Inform facts included, device class matched)
    unless a concurrent first Inform of the same DeviceId got there first (then False: lock the
    winner's row instead). Sends `post_save(created=True)`."""
    connection = _db()
    device.created = device.updated = now
    for name, value in Device.identity_columns(device.serial_number, device.mac_address).items():
        setattr(device, name, value)
    _pre_save(device, connection.alias)
    params = [f.get_db_prep_save(getattr(device, f.attname), connection) for f in _INSERT_FIELDS]
    with _cursor(connection) as cursor:
        cursor.execute(
            _sql(connection)["insert_device"], [*params, device.oui, device.product_class]
        )
        row = cursor.fetchone()
    if row is None:
        return False
    device.pk, device.device_class_id = row
    device._state.adding = False
    device._state.db = connection.alias
    _signal_save(device, created=True, using=connection.alias)
    return True


def insert_rows(instances: list[Model]) -> None:
    """INSERT new model instances of one model in one statement (what `create()` or `bulk_create`
    would write: fields' `pre_save`, e.g. `auto_now`, applied), their ids set, and a
    `post_save(created=True)` for each, as `create()` sends."""
    if not instances:
        return
    connection = _db()
    model = type(instances[0])
    meta = model._meta
    auto = meta.auto_field
    fields = [f for f in meta.concrete_fields if f is not auto]
    params: list = []
    for instance in instances:
        params.extend(f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields)
    key = (connection.vendor, model, len(instances))
    sql = _INSERTS.get(key)
    if sql is None:
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = _INSERTS[key] = (
            f'INSERT INTO "{meta.db_table}" ('  # noqa: S608 (model metadata)
            + ", ".join(f'"{f.column}"' for f in fields)
            + ") VALUES "
            + ", ".join([row] * len(instances))
            + (f' RETURNING "{auto.column}"' if auto is not None else "")
        )
    with _cursor(connection) as cursor:
        cursor.execute(sql, params)
        ids = [r[0] for r in cursor.fetchall()] if auto is not None else []
    for n, instance in enumerate(instances):
        if auto is not None:
            setattr(instance, auto.attname, ids[n])
        instance._state.adding = False
        instance._state.db = connection.alias
        _signal_save(instance, created=True, using=connection.alias)


_INSERTS: dict[tuple, str] = {}


def oui_known(oui: str) -> bool:
    """Whether a catalogue manufacturer owns this OUI (`CWMP_UNKNOWN_DEVICES=known-ouis`)."""
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute('SELECT 1 FROM "fus_manufactureroui" WHERE "oui" = %s LIMIT 1', [oui])
        return cursor.fetchone() is not None


def insert_session(
    *,
    token: str,
    device: Device,
    state: dict,
    transcript: list,
    now: datetime,
    ip_address: str | None,
) -> None:
    """The new session row (the device's lock for the rest of the session), with the device's
    deferred Inform UPDATE (`save_inform(defer=True)`) in the same statement on PostgreSQL."""
    connection = _db()
    stamp = _dt(now, connection)
    sql = _sql(connection)
    params = [
        token,
        device.pk,
        _prep(CwmpSession, "state", state, connection),
        _prep(CwmpSession, "transcript", transcript, connection),
        stamp,
        stamp,
        ip_address or None,
    ]
    deferred = device.__dict__.pop("_deferred_inform_write", None)
    with _cursor(connection) as cursor:
        if deferred is not None and connection.vendor == "postgresql":
            cursor.execute(sql["save_inform_insert_session"], [*deferred, *params])
        else:
            if deferred is not None:
                cursor.execute(sql["save_inform"], deferred)
            cursor.execute(sql["insert_session"], params)
        pk = cursor.fetchone()[0]
    if deferred is not None:
        _signal_save(device, created=False, using=connection.alias)
    if post_save.has_listeners(CwmpSession):
        session = CwmpSession(
            id=pk,
            token=token,
            device_id=device.pk,
            state=state,
            transcript=transcript,
            started=now,
            last_seen=now,
            ip_address=ip_address,
        )
        session._state.adding = False
        session._state.db = connection.alias
        _signal_save(session, created=True, using=connection.alias)


# --- the next POSTs ------------------------------------------------------------------------------


def lock_session(token: str, fresh: datetime) -> tuple[CwmpSession | None, bool]:
    """The live session of a cookie, locked until the end of the transaction (the device's lock),
    and whether the device has a queued task: one statement."""
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute(_sql(connection)["lock_session"], [token, _dt(fresh, connection)])
        row = cursor.fetchone()
    if row is None:
        return None, False
    n = len(_SESSION.names)
    values = _SESSION.convert(row[:n], connection)
    session = CwmpSession.from_db(connection.alias, _SESSION.names, values)
    return session, bool(row[n])


def save_session(session: CwmpSession) -> None:
    """Store the state, transcript and last_seen of a session that goes on."""
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute(
            _sql(connection)["save_session"],
            [
                _prep(CwmpSession, "state", session.state, connection),
                _prep(CwmpSession, "transcript", session.transcript, connection),
                _dt(session.last_seen, connection),
                session.pk,
            ],
        )
    _signal_save(session, created=False, using=connection.alias)


def close_session(
    session: CwmpSession,
    *,
    now: datetime,
    outcome: str,
    keep: int,
    prune: bool,
) -> None:
    """End a session: its transcript stored (when `keep` > 0; with `prune`, only the newest
    `keep` of the device's transcripts stay), its row deleted (the device's lock released)."""
    connection = _db()
    sql = _sql(connection)
    with _cursor(connection) as cursor:
        if keep > 0:
            entries = session.transcript
            row = [
                session.device_id,
                _dt(session.started, connection),
                _dt(now, connection),
                outcome[:200],
                _prep(SessionTranscript, "entries", entries, connection),
                any(entry.get("truncated") for entry in entries),
            ]
            if connection.vendor == "postgresql":
                cursor.execute(sql["delete_session_insert_transcript"], [session.pk, *row])
            else:
                cursor.execute(sql["insert_transcript"], row)
                cursor.execute(sql["delete_session"], [session.pk])
            if prune:
                cursor.execute(
                    sql["prune_transcripts"], [session.device_id, session.device_id, keep - 1]
                )
        else:
            cursor.execute(sql["delete_session"], [session.pk])
    if post_delete.has_listeners(CwmpSession):
        post_delete.send(
            sender=CwmpSession, instance=session, using=connection.alias, origin=session
        )


def prune_due(sessions_started: int, keep: int) -> bool:
    """Whether the session numbered `sessions_started` of a device prunes its transcripts: every
    `keep`-th session, so a device holds between `keep` and 2 x `keep` - 1 transcripts (the
    newest `keep` are the ones shown)."""
    return keep > 0 and sessions_started % keep == 0


# --- digest authentication -------------------------------------------------------------------------


def device_credentials(username: str, algorithm: str) -> tuple[int, str, str] | None:
    """(device id, stored HA1 for `algorithm`, realm) of the device whose ACS username this is."""
    column = "cwmp_ha1_md5" if algorithm == "MD5" else "cwmp_ha1_sha256"
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute(
            f'SELECT "id", "{column}", "cwmp_realm" FROM "acs_device" '  # noqa: S608 (fixed)
            'WHERE "cwmp_username" = %s',
            [username],
        )
        row = cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2])


def accept_nonce_count(nonce: str, nc: int, now: datetime) -> bool:
    """Record `nc` for `nonce` if it is higher than any accepted before: one atomic upsert (the
    row comes back only when inserted or raised), so every process refuses a replay."""
    connection = _db()
    with _cursor(connection) as cursor:
        cursor.execute(
            'INSERT INTO "acs_cwmpnonce" ("nonce", "nc", "created") VALUES (%s, %s, %s) '
            'ON CONFLICT ("nonce") DO UPDATE SET "nc" = excluded."nc" '
            'WHERE "acs_cwmpnonce"."nc" < excluded."nc" RETURNING "nc"',
            [nonce, nc, _dt(now, connection)],
        )
        return cursor.fetchone() is not None
