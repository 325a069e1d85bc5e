"""The device registry: registering boxes and recording what their Informs say.

Called by `acs.services.cwmp` inside the transaction that holds the device's row lock; not audited
row by row (a fleet informs every interval): what matters lands in `DeviceEvent` rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from acs import digest
from acs.choices import AcsAuditKind, DeviceEventKind
from acs.conf import acs_settings
from acs.cwmp import messages as m
from acs.models import Device, DeviceEvent, DeviceParameters, SoftwareVersionChange
from acs.services import store
from fus.metadata.identifiers import format_mac, try_parse_mac
from fus.models import DeviceClass
from portal.audit import record_event

_OUI = re.compile(r"[0-9A-F]{6}")
_HEX_OUI = re.compile(r"[0-9A-Fa-f]{6}")

#: Inform events that are worth a DeviceEvent row ("2 PERIODIC" alone is not).
QUIET_EVENTS = frozenset({"2 PERIODIC"})


class IdentityError(ValueError):
    """An Inform whose DeviceId cannot name a device (the text says which field and value)."""


@dataclass(frozen=True, slots=True)
class Identity:
    oui: str
    product_class: str
    serial_number: str
    manufacturer: str

    def lookup(self) -> dict[str, str]:
        return {
            "oui": self.oui,
            "product_class": self.product_class,
            "serial_number": self.serial_number,
        }


def identity_of(inform: m.Inform) -> Identity:
    """The registry key of an Inform's DeviceId, validated; IdentityError names the bad field."""
    did = inform.device_id
    oui = (did.oui or "").strip()
    if not _HEX_OUI.fullmatch(oui):
        raise IdentityError(f"DeviceId/OUI {did.oui!r} is not six hexadecimal digits")
    checks = (
        ("ProductClass", did.product_class, 64, False),
        ("SerialNumber", did.serial_number, 64, True),
        ("Manufacturer", did.manufacturer, 64, False),
    )
    for name, value, limit, required in checks:
        if required and not (value or "").strip():
            raise IdentityError(f"DeviceId/{name} is empty")
        if len(value or "") > limit:
            raise IdentityError(f"DeviceId/{name} {value[:80]!r} is longer than {limit} characters")
        if any(ord(c) < 32 for c in value or ""):
            raise IdentityError(f"DeviceId/{name} {value[:80]!r} contains control characters")
    return Identity(
        oui=oui.upper(),
        product_class=did.product_class or "",
        serial_number=did.serial_number.strip(),
        manufacturer=did.manufacturer or "",
    )


def unknown_device_allowed(identity: Identity) -> bool:
    """CWMP_UNKNOWN_DEVICES: may a box the registry does not know register itself?"""
    policy = acs_settings().unknown_devices
    if policy == "all":
        return True
    if policy == "refuse":
        return False
    return store.oui_known(identity.oui)


class RegistrationRace(Exception):
    """A concurrent first Inform of the same DeviceId registered the device first (the caller
    starts over: the row exists now)."""


def new_device(identity: Identity) -> Device:
    """The registry row of a new box, not stored yet: `apply_inform(..., new=True)` inserts it with
    the Inform's facts in one statement (its device class matched there too)."""
    return Device(**identity.lookup(), manufacturer=identity.manufacturer)


# --- what an Inform says ------------------------------------------------------------------------

_SUFFIXES = {
    "DeviceInfo.SoftwareVersion": "software_version",
    "DeviceInfo.HardwareVersion": "hardware_version",
    "DeviceInfo.ProvisioningCode": "provisioning_code",
    "ManagementServer.ConnectionRequestURL": "connection_request_url",
    "ManagementServer.UDPConnectionRequestAddress": "udp_connection_request_address",
    "ManagementServer.PeriodicInformInterval": "periodic_inform_interval",
}


def _inform_facts(inform: m.Inform) -> tuple[dict[str, str], str, str]:
    """(field -> value from the ParameterList, data-model root, first MAC address seen)."""
    facts: dict[str, str] = {}
    root = ""
    mac = ""
    for pv in inform.parameters:
        name = pv.name
        if not root and "." in name:
            root = name.split(".", 1)[0]
        for suffix, field in _SUFFIXES.items():
            if name.endswith("." + suffix) and name.count(".") == suffix.count(".") + 1:
                facts[field] = pv.value.text
        if not mac and name.endswith("MACAddress") and try_parse_mac(pv.value.text) is not None:
            mac = pv.value.text
    return facts, root, mac


def apply_inform(
    device: Device,
    inform: m.Inform,
    *,
    namespace: str,
    ip_address: str | None,
    now: datetime | None = None,
    new: bool = False,
    defer_write: bool = False,
) -> Device:
    """Record one Inform on a locked device row (or on a `new_device`, with `new`): DeviceId,
    versions, events, IP, online state, parameter values, SoftwareVersion history, the session
    count. Writes the device row once (`acs.services.store`: one UPDATE, or the INSERT of a new
    device, with the `post_save` of a full save); raises RegistrationRace when a concurrent first
    Inform registered the same DeviceId first. With `defer_write`, a known device's UPDATE waits
    for the session row (`store.insert_session` sends both at once)."""
    now = now or timezone.now()
    conf = acs_settings()
    facts, root, mac_text = _inform_facts(inform)
    codes = [event.event_code for event in inform.events][:64]

    previous_version = device.software_version
    device.manufacturer = (inform.device_id.manufacturer or device.manufacturer)[:64]
    for field in ("software_version", "hardware_version", "provisioning_code"):
        if field in facts:
            setattr(device, field, facts[field][:64])
    if "connection_request_url" in facts:
        device.connection_request_url = facts["connection_request_url"][:512]
    if "udp_connection_request_address" in facts:
        device.udp_connection_request_address = facts["udp_connection_request_address"][:256]
    if "periodic_inform_interval" in facts:
        with contextlib.suppress(ValueError):
            device.periodic_inform_interval = max(0, int(facts["periodic_inform_interval"]))
    if mac_text:
        parsed = try_parse_mac(mac_text)
        device.mac_address = format_mac(parsed) if parsed is not None else device.mac_address
    if root in ("Device", "InternetGatewayDevice"):
        device.root_object = root
    device.cwmp_version = namespace[:40]
    device.ip_address = ip_address
    device.last_inform = now
    device.last_events = codes
    if "1 BOOT" in codes:
        device.last_boot = now
    if "0 BOOTSTRAP" in codes:
        device.last_bootstrap = now
    interval = device.periodic_inform_interval or conf.assumed_inform_interval
    device.online_until = now + timedelta(seconds=2 * interval) + conf.online_grace
    device.sessions_started = (device.sessions_started or 0) + 1
    values = {pv.name: (pv.value.text, str(pv.value.type), None) for pv in inform.parameters}
    fingerprint = hashlib.sha1(
        json.dumps(sorted(values.items())).encode(), usedforsecurity=False
    ).hexdigest()
    params_changed = fingerprint != device.inform_digest
    device.inform_digest = fingerprint
    events: list[DeviceEvent] = []
    if new:
        if not store.insert_device(device, now):
            raise RegistrationRace(str(device))
        events.append(
            DeviceEvent(
                device=device,
                timestamp=now,
                kind=DeviceEventKind.REGISTERED,
                message="First Inform: device registered.",
            )
        )
    else:
        if device.device_class_id is None:
            device.device_class = DeviceClass.objects.filter(
                oui=device.oui, product_class=device.product_class
            ).first()
        store.save_inform(device, now, defer=defer_write)

    if device.software_version != previous_version:
        store.insert_rows(
            [
                SoftwareVersionChange(
                    device=device,
                    software_version=device.software_version,
                    previous_version=previous_version,
                    seen=now,
                )
            ]
        )
        if previous_version:
            events.append(
                DeviceEvent(
                    device=device,
                    timestamp=now,
                    kind=DeviceEventKind.SOFTWARE_CHANGED,
                    message=f"SoftwareVersion {previous_version} -> {device.software_version}",
                )
            )
    if set(codes) - QUIET_EVENTS:
        events.append(
            DeviceEvent(
                device=device,
                timestamp=now,
                kind=DeviceEventKind.INFORM,
                message=", ".join(codes)[:500],
                details={
                    "events": [
                        {"code": e.event_code, "command_key": e.command_key} for e in inform.events
                    ][:64],
                    "retry_count": inform.retry_count,
                },
            )
        )
    store.insert_rows(events)
    if new:
        tree = {path: list(value) for path, value in values.items()}
        store.insert_rows([DeviceParameters(device=device, tree=tree)])
    elif params_changed:
        merge_parameters(device, values, now=now)
    return device


def merge_parameters(
    device: Device,
    values: dict[str, tuple[str | None, str | None, bool | None]],
    *,
    now: datetime | None = None,
    full_refresh: bool = False,
    prune_prefix: str | None = None,
) -> None:
    """Merge ``{path: (value, type, writable)}`` into the device's parameter tree (None = keep the
    stored part). With `prune_prefix`, paths under it that `values` lacks are dropped (a
    GetParameterNames answer is the whole truth below its prefix)."""
    if not values and prune_prefix is None:
        return
    now = now or timezone.now()
    params, created = DeviceParameters.objects.get_or_create(device=device)
    tree = params.tree if not created else {}
    changed = created
    if prune_prefix is not None:
        for path in [p for p in tree if p.startswith(prune_prefix) and p not in values]:
            del tree[path]
            changed = True
        # Pruned Inform values must come back with the next Inform.
        Device.objects.filter(pk=device.pk).update(inform_digest="")
    for path, (value, xsd_type, writable) in values.items():
        old = tree.get(path) or [None, None, None]
        new = [
            value if value is not None else old[0],
            xsd_type if xsd_type is not None else old[1],
            writable if writable is not None else old[2],
        ]
        if new != old or path not in tree:
            tree[path] = new
            changed = True
    if changed or full_refresh:
        params.tree = tree
        if full_refresh:
            params.refreshed = now
        params.save()


def record_device_event(device: Device, kind: str, message: str, **details) -> DeviceEvent:
    return DeviceEvent.objects.create(
        device=device, kind=kind, message=message[:500], details=details
    )


# --- credentials ------------------------------------------------------------------------------


def credential_columns(username: str, password: str) -> dict[str, str]:
    realm = acs_settings().realm
    return {
        "cwmp_username": username,
        "cwmp_ha1_md5": digest.ha1("MD5", username, realm, password),
        "cwmp_ha1_sha256": digest.ha1("SHA-256", username, realm, password),
        "cwmp_realm": realm,
    }


@transaction.atomic
def set_device_credentials(device: Device, *, username: str, password: str, actor) -> Device:
    """Set the credentials the box uses towards the ACS (stored as HA1 only), e.g. from an import
    of the factory-installed per-device passwords."""
    if not username or not password:
        raise ValueError("username and password are both required")
    if Device.objects.filter(cwmp_username=username).exclude(pk=device.pk).exists():
        raise ValueError(f"ACS username {username!r} is already used by another device")
    for name, value in credential_columns(username, password).items():
        setattr(device, name, value)
    device.pending_credentials = {}
    device.pending_username = ""
    device.save(
        update_fields=[
            "pending_username",
            "cwmp_username",
            "cwmp_ha1_md5",
            "cwmp_ha1_sha256",
            "cwmp_realm",
            "pending_credentials",
            "updated",
        ]
    )
    record_event(
        AcsAuditKind.CREDENTIALS_SET,
        obj=device,
        actor=actor,
        message=f"ACS credentials set for {device} (username {username})",
    )
    return device


def default_username(device: Device) -> str:
    """TR-069's suggested form: OUI-ProductClass-SerialNumber."""
    return f"{device.oui}-{device.product_class}-{device.serial_number}"[:256]


def new_password() -> str:
    return secrets.token_urlsafe(18)
