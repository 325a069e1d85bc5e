"""The device registry: one row per managed box, its parameter tree, events and version history.

Inform-driven updates are frequent (every box, every PeriodicInformInterval), so devices are plain
models — not change-logged row by row; operational acts on them are audited explicitly by the
services (`acs.services`). Fleet-wide filters use the promoted columns of `Device` (indexed), never
the parameter tree.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from acs.choices import DeviceEventKind
from fus.metadata.identifiers import serial_index_key, try_parse_mac
from portal.fields import BytewiseCharField
from portal.permissions import RestrictedQuerySet


class Device(models.Model):
    """A CPE known to the ACS, identified by its DeviceId (OUI, ProductClass, SerialNumber)."""

    # DeviceId (TR-069 A.3.3.1) and versions, as the box reports them in every Inform.
    oui = models.CharField("ManufacturerOUI", max_length=6)
    product_class = models.CharField("ProductClass", max_length=64)
    serial_number = models.CharField("SerialNumber", max_length=64)
    manufacturer = models.CharField("Manufacturer", max_length=64)
    hardware_version = models.CharField("HardwareVersion", max_length=64, blank=True)
    software_version = models.CharField("SoftwareVersion", max_length=64, blank=True)
    provisioning_code = models.CharField("ProvisioningCode", max_length=64, blank=True)
    mac_address = models.CharField(
        "MAC address", max_length=17, blank=True, help_text='Normalised "aa:bb:cc:dd:ee:ff".'
    )
    # Ordering keys kept in sync by save() (and by `identity_columns` for bulk writes).
    serial_key = BytewiseCharField(max_length=80, editable=False, default="")
    mac = models.BigIntegerField(null=True, blank=True, editable=False)
    device_class = models.ForeignKey(
        "fus.DeviceClass",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="devices",
        help_text="Matched on OUI + ProductClass.",
    )

    # Session facts from the last Inform.
    cwmp_version = models.CharField(
        "CWMP namespace", max_length=40, blank=True, help_text="e.g. urn:dslforum-org:cwmp-1-2"
    )
    root_object = models.CharField(
        max_length=32,
        blank=True,
        help_text="Device or InternetGatewayDevice (the data model root).",
    )
    ip_address = models.GenericIPAddressField("IP address", null=True, blank=True)
    last_inform = models.DateTimeField(null=True, blank=True)
    last_events = models.JSONField(
        default=list, blank=True, help_text="Event codes of the last Inform."
    )
    last_boot = models.DateTimeField(null=True, blank=True)
    last_bootstrap = models.DateTimeField(null=True, blank=True)
    periodic_inform_interval = models.PositiveIntegerField(
        "PeriodicInformInterval", null=True, blank=True, help_text="Seconds, as last reported."
    )
    online_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The box is online until then: last Inform + 2 x PeriodicInformInterval + grace.",
    )

    # Connection request (the ACS is the client; the password must be kept to answer the digest).
    connection_request_url = models.CharField("ConnectionRequestURL", max_length=512, blank=True)
    udp_connection_request_address = models.CharField(
        "UDPConnectionRequestAddress",
        max_length=256,
        blank=True,
        help_text='TR-111 "host:port" behind a NAT (connection requests then go over UDP).',
    )
    connection_request_username = models.CharField(max_length=256, blank=True)
    connection_request_password = models.CharField(max_length=256, blank=True)

    # The box's credentials towards the ACS, as HA1 digests (RFC 7616) for the realm CWMP_REALM.
    cwmp_username = models.CharField(
        "ACS username", max_length=256, null=True, blank=True, unique=True, default=None
    )
    cwmp_ha1_md5 = models.CharField(max_length=32, blank=True, editable=False)
    cwmp_ha1_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    cwmp_realm = models.CharField(max_length=128, blank=True, editable=False)
    pending_username = models.CharField(
        max_length=256,
        blank=True,
        db_index=True,
        editable=False,
        help_text="The username being provisioned (accepted too until the box confirms it).",
    )
    pending_credentials = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="Credentials being provisioned (username, HA1s, realm, task) until the box accepts.",
    )

    # Bookkeeping that spares the session engine queries on the hot path.
    inform_digest = models.CharField(
        max_length=40,
        blank=True,
        editable=False,
        help_text="Hash of the last Inform's ParameterList: unchanged values skip the tree.",
    )
    awaiting_version_check = models.BooleanField(
        default=False,
        editable=False,
        help_text="A Download's transfer completed; the next Inform checks the SoftwareVersion.",
    )
    sessions_started = models.PositiveBigIntegerField(
        default=0,
        editable=False,
        help_text="CWMP sessions started (every CWMP_TRANSCRIPTS-th one prunes the transcripts).",
    )

    tags = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    tenant_path = "device_class__manufacturer"

    class Meta:
        ordering = ("oui", "product_class", "serial_key", "serial_number")
        constraints = [
            models.UniqueConstraint(
                fields=["oui", "product_class", "serial_number"], name="acs_device_unique_id"
            )
        ]
        indexes = [
            models.Index(
                fields=["oui", "product_class", "serial_key"], name="acs_device_serial_idx"
            ),
            models.Index(
                fields=["oui", "product_class", "software_version"], name="acs_device_sw_idx"
            ),
            models.Index(fields=["mac"], name="acs_device_mac_idx"),
            models.Index(fields=["online_until"], name="acs_device_online_idx"),
            # Pattern opclass: serves a SerialNumber prefix (`LIKE 'x%'`) under the database's
            # locale collation, and equality as well.
            models.Index(
                fields=["serial_number"],
                name="acs_device_sn_like_idx",
                opclasses=["varchar_pattern_ops"],
            ),
            # On PostgreSQL a GIN index on `tags` (jsonb_path_ops, for containment `@>`) is made by
            # migration 0006 with raw SQL, so that the migration still applies on SQLite.
        ]

    def __str__(self) -> str:
        return f"{self.oui}-{self.product_class}-{self.serial_number}"

    def save(self, *args, **kwargs):
        for name, value in self.identity_columns(self.serial_number, self.mac_address).items():
            setattr(self, name, value)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and {"serial_number", "mac_address"} & set(update_fields):
            kwargs["update_fields"] = {*update_fields, "serial_key", "mac"}
        super().save(*args, **kwargs)

    @staticmethod
    def identity_columns(serial_number: str, mac_address: str) -> dict:
        """The derived ordering columns for a serial number and MAC address."""
        try:
            serial_key = serial_index_key(serial_number)
        except ValueError:
            serial_key = ""
        return {"serial_key": serial_key[:80], "mac": try_parse_mac(mac_address or None)}

    @property
    def is_online(self) -> bool:
        return self.online_until is not None and self.online_until > timezone.now()

    @property
    def has_credentials(self) -> bool:
        return bool(self.cwmp_username and (self.cwmp_ha1_md5 or self.cwmp_ha1_sha256))


class DeviceParameters(models.Model):
    """A device's parameter tree as one JSON document: ``{path: [value, type, writable]}``.

    One row per device (see docs/acs.md for why not one row per parameter): a device page reads one
    row, a refresh or an Inform writes one row under the device's session lock. `value`/`type` are
    None for names known only from GetParameterNames; `writable` is None when known only from values.
    """

    device = models.OneToOneField(
        Device, primary_key=True, on_delete=models.CASCADE, related_name="parameters"
    )
    tree = models.JSONField(default=dict)
    refreshed = models.DateTimeField(
        null=True, blank=True, help_text="Last full refresh (GetParameterNames/Values)."
    )
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    def __str__(self) -> str:
        return f"parameters of {self.device_id}"


class SoftwareVersionChange(models.Model):
    """One change of a device's SoftwareVersion, as seen in an Inform."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="software_history")
    software_version = models.CharField("SoftwareVersion", max_length=64)
    previous_version = models.CharField(max_length=64, blank=True)
    seen = models.DateTimeField(default=timezone.now)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    class Meta:
        ordering = ("-seen", "-pk")
        indexes = [models.Index(fields=["device", "-seen"], name="acs_swhist_device_idx")]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.previous_version or '-'} -> {self.software_version}"


class DeviceEvent(models.Model):
    """Something that happened to a device: Inform events, task outcomes, transfers, refusals.

    Periodic Informs with nothing else to say only update `Device.last_inform` (no row), so a
    1,000,000-box fleet does not write a row per box per interval.
    """

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="events")
    timestamp = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=24, choices=DeviceEventKind.choices)
    message = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "device__device_class__manufacturer"

    class Meta:
        ordering = ("-timestamp", "-pk")
        indexes = [models.Index(fields=["device", "-timestamp"], name="acs_event_device_idx")]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.kind} {self.message}"
