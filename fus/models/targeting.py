"""A package's target population as indexed rows: the database form of TargetDevices (7.4.3).

The pure engine (`fus.metadata.targeting`) decides for one device in memory; these rows let the
database take the same decision set-based (`fus.services.targeting`): "which devices of the
inventory does package P target now?" and "which packages apply to device D?".

One `TargetEntry` per DeviceClass / DeviceClassHardwareVersion / DeviceClassSoftware / DeviceGroup
entry, in document order; its hardware and software version lists are `TargetVersion` rows; a
DeviceGroup's RangeList is `RangeEntry` rows, each Range one row and each ItemID one row (the
ItemIDs of one Item share its `position`). Bounds are kept as written (for export) and as ordering
keys (`serial_lo/hi`: `fus.metadata.identifiers.serial_index_key`, compared byte-wise; `mac_lo/hi`:
48-bit integers), so membership is a plain indexed BETWEEN.
"""

from __future__ import annotations

from django.db import models

from fus.models.catalogue import DeviceClass, FirmwarePackage
from portal.fields import BytewiseCharField


class TargetKind(models.TextChoices):
    DEVICE_CLASS = "device_class", "DeviceClass"
    HARDWARE = "hardware", "DeviceClassHardwareVersion"
    SOFTWARE = "software", "DeviceClassSoftware"
    DEVICE_GROUP = "device_group", "DeviceGroup"


class TargetEntry(models.Model):
    """One entry of a package's TargetDevices."""

    package = models.ForeignKey(
        FirmwarePackage, on_delete=models.CASCADE, related_name="target_entries"
    )
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=TargetKind.choices)
    device_class = models.ForeignKey(
        DeviceClass, on_delete=models.PROTECT, related_name="target_entries"
    )
    has_range_list = models.BooleanField(default=False)

    class Meta:
        ordering = ("package", "position")
        constraints = [
            models.UniqueConstraint(fields=["package", "position"], name="fus_targetentry_position")
        ]
        indexes = [models.Index(fields=["device_class", "package"], name="fus_targetentry_class")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.device_class}"


class VersionKind(models.TextChoices):
    HARDWARE = "hardware", "HardwareVersion"
    SOFTWARE = "software", "SoftwareVersion"


class TargetVersion(models.Model):
    """A hardware version, or a current ("from") software version, a target entry requires."""

    entry = models.ForeignKey(TargetEntry, on_delete=models.CASCADE, related_name="versions")
    kind = models.CharField(max_length=8, choices=VersionKind.choices)
    version = models.CharField(max_length=64)

    class Meta:
        ordering = ("entry", "kind", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "kind", "version"], name="fus_targetversion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.version}"


class Availability(models.TextChoices):
    INCLUSIVE = "inclusive", "inclusive"
    EXCLUSIVE = "exclusive", "exclusive"


class IdentifierType(models.TextChoices):
    SERIAL_NUMBER = "SerialNumber", "SerialNumber"
    MAC_ADDRESS = "MACAddress", "MACAddress"


class RangeEntry(models.Model):
    """A Range (lower..upper) or one ItemID (lower == upper) of a DeviceGroup's RangeList."""

    entry = models.ForeignKey(TargetEntry, on_delete=models.CASCADE, related_name="ranges")
    position = models.PositiveSmallIntegerField(help_text="Index of the Range or Item in the list.")
    is_item = models.BooleanField(default=False)
    availability = models.CharField(max_length=9, choices=Availability.choices)
    identifier_type = models.CharField(max_length=12, choices=IdentifierType.choices)
    lower = models.CharField(max_length=64, help_text="LowerBound, or the ItemID, as written.")
    upper = models.CharField(max_length=64, help_text="UpperBound, or the ItemID, as written.")
    serial_lo = BytewiseCharField(max_length=80, null=True, blank=True)
    serial_hi = BytewiseCharField(max_length=80, null=True, blank=True)
    mac_lo = models.BigIntegerField(null=True, blank=True)
    mac_hi = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("entry", "position", "pk")
        indexes = [
            models.Index(
                fields=["entry", "identifier_type", "availability"], name="fus_rangeentry_entry"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        identifier_type="SerialNumber",
                        serial_lo__isnull=False,
                        serial_hi__isnull=False,
                        serial_lo__lte=models.F("serial_hi"),
                    )
                    | models.Q(
                        identifier_type="MACAddress",
                        mac_lo__isnull=False,
                        mac_hi__isnull=False,
                        mac_lo__lte=models.F("mac_hi"),
                    )
                ),
                name="fus_rangeentry_keys_ordered",
            )
        ]

    def __str__(self) -> str:
        bounds = self.lower if self.is_item else f"{self.lower}..{self.upper}"
        return f"{self.availability} {self.identifier_type} {bounds}"
