"""The FUS and RMS entities (TS 102 542-4 clause 7.4.2.2 / 7.4.2.3) the operator runs.

They feed three documents: the FUS and RMS elements of exported metadata, the FUS stub file
(`/dvb-ipi-fus-stub.dvb`, TS 102 034 clause 9) and the SD&S `RMSFUSDiscovery` record
(`/sdns/rms-fus-discovery.xml`, TS 102 034 clause 5.2.13 / schema `sdns_v1.4r13.xsd`). Both are edited by
administrators; manufacturers never create them (a supplier's metadata import can only name an
existing one).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from fus.metadata.model import Interface
from portal.models import ChangeLoggedModel

validate_decimal_id = RegexValidator(
    r"^[0-9]{1,18}$", "An SD&S FUSID/RMSID is a decimal number (up to 18 digits)."
)


class InterfaceChoices(models.TextChoices):
    """The interfaces of TS 102 542-4 Table 1, spelled as in the metadata (`InterfaceType`)."""

    FIRMWARE_PACKAGE = Interface.FIRMWARE_PACKAGE.value
    METADATA = Interface.METADATA.value
    RMS_ADMINISTRATOR = Interface.RMS_ADMINISTRATOR.value
    FUS_INTERFACE = Interface.FUS_INTERFACE.value
    MULTICAST_DELIVERY = Interface.MULTICAST_DELIVERY.value
    UNICAST_DELIVERY = Interface.UNICAST_DELIVERY.value
    FIRMWARE_ANNOUNCEMENT = Interface.FIRMWARE_ANNOUNCEMENT.value
    QUERY_RESPONSE_CHANNEL = Interface.QUERY_RESPONSE_CHANNEL.value
    CPE_MANAGEMENT = Interface.CPE_MANAGEMENT.value


class FusEntity(ChangeLoggedModel):
    """A firmware update server: its identity, interfaces, locations and delivery rate."""

    name = models.CharField("FUSName", max_length=100)
    fus_id = models.CharField("FUSID", max_length=18, unique=True, validators=[validate_decimal_id])
    description = models.CharField(max_length=200, blank=True)
    source_address = models.GenericIPAddressField(
        "SourceAddress", null=True, blank=True, help_text="Source of its multicast streams (SSM)."
    )
    supported_interfaces = models.JSONField(
        "SupportedInterfaces",
        default=list,
        blank=True,
        help_text="Interface names of TS 102 542-4 Table 1 (e.g. 'Query Response Channel').",
    )
    delivery_rate = models.PositiveBigIntegerField(
        "DeliveryRate",
        null=True,
        blank=True,
        help_text="Bits per second of its multicast delivery.",
    )
    is_default = models.BooleanField(
        default=False, help_text="The FUS named in exported metadata when a package names none."
    )
    sdns_version = models.PositiveSmallIntegerField(
        "SD&S version", default=1, editable=False, help_text="Bumped on every change (mod 256)."
    )

    tenant_path = None

    class Meta:
        ordering = ("fus_id",)
        verbose_name = "FUS entity"
        verbose_name_plural = "FUS entities"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="fus_fusentity_one_default",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (FUSID {self.fus_id})"

    def clean(self) -> None:
        unknown = [i for i in self.supported_interfaces or () if i not in InterfaceChoices.values]
        if unknown:
            raise ValidationError(
                {"supported_interfaces": f"Unknown interface(s): {', '.join(map(str, unknown))}."}
            )


class RmsEntity(ChangeLoggedModel):
    """A remote management system (the ACS) that manages boxes over TR-069."""

    name = models.CharField("RMSName", max_length=100)
    rms_id = models.CharField("RMSID", max_length=18, unique=True, validators=[validate_decimal_id])
    description = models.CharField(max_length=200, blank=True)
    is_default = models.BooleanField(
        default=False, help_text="The RMS named in exported metadata when a package names none."
    )
    sdns_version = models.PositiveSmallIntegerField(
        "SD&S version", default=1, editable=False, help_text="Bumped on every change (mod 256)."
    )

    tenant_path = None

    class Meta:
        ordering = ("rms_id",)
        verbose_name = "RMS entity"
        verbose_name_plural = "RMS entities"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="fus_rmsentity_one_default",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (RMSID {self.rms_id})"


class LocationKind(models.TextChoices):
    """Which ResourceAccessInfo list of 7.4.2.2 / 7.4.2.3 a location belongs to."""

    FUS_QUERY = "fus_query", "FUSQueryInterfaceLocation (QRC)"
    MULTICAST_ANNOUNCEMENT = "multicast_announcement", "MulticastAnnouncementInterfaceLocation"
    UNICAST = "unicast", "UnicastInterfaceLocation (downloads)"
    MULTICAST = "multicast", "MulticastInterfaceLocation (carousels)"
    MANAGEMENT_SERVER = "management_server", "ManagementServerLocation (ACS)"


FUS_LOCATION_KINDS = frozenset(
    {
        LocationKind.FUS_QUERY,
        LocationKind.MULTICAST_ANNOUNCEMENT,
        LocationKind.UNICAST,
        LocationKind.MULTICAST,
    }
)


class AnnouncementProtocol(models.TextChoices):
    """The protocol of a multicast announcement address (TS 102 034 Table 24; SD&S
    `MulticastAnnouncementAddress/@Protocol`)."""

    SAP = "sap", "SAP (1)"
    DVBSTP = "dvbstp", "DVBSTP (2)"


class ServiceLocation(models.Model):
    """A ResourceAccessInfo (7.2.13) of a FUS or RMS entity: a URL and/or address and port, with a
    Preference (lowest value first; none = after every numbered one)."""

    fus = models.ForeignKey(
        FusEntity, null=True, blank=True, on_delete=models.CASCADE, related_name="locations"
    )
    rms = models.ForeignKey(
        RmsEntity, null=True, blank=True, on_delete=models.CASCADE, related_name="locations"
    )
    kind = models.CharField(max_length=32, choices=LocationKind.choices)
    url = models.CharField("URL", max_length=500, blank=True)
    address = models.GenericIPAddressField("Address", null=True, blank=True)
    port = models.PositiveIntegerField("Port", null=True, blank=True)
    preference = models.PositiveSmallIntegerField("Preference", null=True, blank=True)
    protocol = models.CharField(
        "Protocol",
        max_length=8,
        choices=AnnouncementProtocol.choices,
        blank=True,
        help_text="For a multicast announcement address: SAP or DVBSTP.",
    )

    class Meta:
        ordering = ("kind", models.F("preference").asc(nulls_last=True), "pk")
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(fus__isnull=False, rms__isnull=True))
                | (models.Q(fus__isnull=True, rms__isnull=False)),
                name="fus_location_one_owner",
            ),
            models.CheckConstraint(
                condition=~models.Q(url="", address__isnull=True),
                name="fus_location_url_or_address",
            ),
            models.CheckConstraint(
                condition=models.Q(port__isnull=True) | models.Q(port__gte=1, port__lte=65535),
                name="fus_location_port_range",
            ),
        ]

    def __str__(self) -> str:
        where = (
            self.url or f"{self.address}:{self.port}" if self.port else (self.url or self.address)
        )
        return f"{self.get_kind_display()}: {where}"

    def clean(self) -> None:
        # An inline form's owner may not be saved yet: look at the object, not only its id.
        owned_by_fus = self.fus_id is not None or getattr(self, "fus", None) is not None
        owner_kinds = FUS_LOCATION_KINDS if owned_by_fus else {LocationKind.MANAGEMENT_SERVER}
        if self.kind not in owner_kinds:
            raise ValidationError({"kind": f"{self.get_kind_display()} does not belong here."})
        if not self.url and not self.address:
            raise ValidationError("Give a URL or an address.")
