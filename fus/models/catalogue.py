"""The firmware catalogue: manufacturers, their device classes and their firmware packages.

Interfaces 1-3 of TS 102 542-4 Table 1: manufacturers deliver firmware packages (interface 1) and
their metadata (interface 2) through the supplier portal (interface 3). Field names follow the
metadata of clause 7 (SoftwareVersion, PackageName, FootprintSize, ImagePackaging, UpdateDescriptor,
MessageDescriptor). Every state change goes through `fus.services.catalogue`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from fus.choices import FirmwareStatus, MetadataMode, UpdateFlag, UpdateMethod, UpdatePriority
from fus.validators import validate_oui, validate_version_string
from portal.fields import URLField
from portal.models import ChangeLoggedModel


class Manufacturer(ChangeLoggedModel):
    """A CE manufacturer (the metadata's CE Manufacturer entity) and the tenant of the supplier portal."""

    name = models.CharField(max_length=100, unique=True)
    reporting_orders_url = URLField(
        "ReportingOrders URL",
        blank=True,
        help_text="Where unmanaged boxes report update results (clause 7, CE Manufacturer entity).",
    )
    download_location = URLField(
        blank=True, help_text="The manufacturer's own download location for its images, if any."
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="manufacturers",
        help_text="Supplier-portal users who act for this manufacturer.",
    )

    tenant_path = ""

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("fus:manufacturer", args=[self.pk])


class ManufacturerOUI(ChangeLoggedModel):
    """One IEEE OUI of a manufacturer; a manufacturer has one or more."""

    manufacturer = models.ForeignKey(Manufacturer, on_delete=models.CASCADE, related_name="ouis")
    oui = models.CharField("OUI", max_length=6, unique=True, validators=[validate_oui])

    tenant_path = "manufacturer"

    class Meta:
        ordering = ("oui",)
        verbose_name = "manufacturer OUI"

    def __str__(self) -> str:
        return self.oui


class SigningCertificate(ChangeLoggedModel):
    """A trust anchor for a manufacturer's firmware signatures (a CA or the signing certificate)."""

    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.CASCADE, related_name="certificates"
    )
    name = models.CharField(max_length=100)
    pem = models.TextField("PEM")
    subject = models.CharField(max_length=500, editable=False)
    issuer = models.CharField(max_length=500, editable=False)
    serial_number = models.CharField(max_length=100, editable=False)
    fingerprint_sha256 = models.CharField(max_length=64, editable=False)
    not_before = models.DateTimeField(editable=False)
    not_after = models.DateTimeField(editable=False)

    tenant_path = "manufacturer"

    class Meta:
        ordering = ("manufacturer", "name")
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "fingerprint_sha256"],
                name="fus_cert_unique_per_manufacturer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.subject})"


class DeviceClass(ChangeLoggedModel):
    """A DeviceClass of the metadata: ManufacturerOUI + ProductClass, with its hardware versions."""

    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.PROTECT, related_name="device_classes"
    )
    oui = models.CharField("ManufacturerOUI", max_length=6, validators=[validate_oui])
    product_class = models.CharField("ProductClass", max_length=64)
    description = models.CharField(max_length=200, blank=True)
    hardware_versions = models.JSONField(
        "HardwareVersions",
        default=list,
        blank=True,
        help_text="The hardware versions of this class (DeviceClassHardwareVersion).",
    )

    tenant_path = "manufacturer"

    class Meta:
        ordering = ("oui", "product_class")
        verbose_name_plural = "device classes"
        constraints = [
            models.UniqueConstraint(fields=["oui", "product_class"], name="fus_deviceclass_unique")
        ]

    def __str__(self) -> str:
        return f"{self.oui}-{self.product_class}"

    def get_absolute_url(self) -> str:
        return reverse("fus:deviceclass", args=[self.pk])


class FirmwarePackage(ChangeLoggedModel):
    """One firmware update (clause 7 FirmwareUpgrade + SoftwarePackageInfo) and its files."""

    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.PROTECT, related_name="firmware_packages"
    )
    device_classes = models.ManyToManyField(
        DeviceClass, through="FirmwareTarget", related_name="firmware_packages"
    )
    software_version = models.CharField(
        "SoftwareVersion", max_length=64, validators=[validate_version_string]
    )
    package_name = models.CharField("PackageName", max_length=255)
    description = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=FirmwareStatus.choices, default=FirmwareStatus.DRAFT, db_index=True
    )
    # FootprintSize (bytes the update needs on the box)
    footprint_volatile = models.PositiveBigIntegerField(
        "FootprintSize Volatile", null=True, blank=True
    )
    footprint_non_volatile = models.PositiveBigIntegerField(
        "FootprintSize NonVolatile", null=True, blank=True
    )
    # ImagePackaging
    signed_packaging = models.BooleanField(
        "SignedPackaging",
        default=False,
        help_text="The image files carry a manufacturer signature.",
    )
    manifest = models.BooleanField("Manifest", default=False)
    # UpdateDescriptor
    update_flag = models.CharField(
        "UpdateFlag", max_length=16, choices=UpdateFlag.choices, default=UpdateFlag.AUTOMATIC
    )
    update_method = models.CharField(
        "UpdateMethod",
        max_length=20,
        choices=UpdateMethod.choices,
        default=UpdateMethod.NEXT_RESTART,
    )
    update_priority = models.PositiveSmallIntegerField(
        "UpdatePriority",
        choices=UpdatePriority.choices,
        default=UpdatePriority.NORMAL,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
    )
    message_descriptor = models.TextField(
        "MessageDescriptor", blank=True, help_text="Text shown to the viewer about this update."
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    validation_report = models.JSONField(default=dict, blank=True, editable=False)
    # RMSFUSMetadata: Mode, ValidityTimeRange, the FUS/RMS entities, TargetDevicesInfo, and what the
    # metadata declared before the files arrived (PackageSize, PackageFile list).
    mode = models.CharField(
        "Mode", max_length=10, choices=MetadataMode.choices, default=MetadataMode.MANAGED
    )
    valid_from = models.DateTimeField("ValidityTimeRange StartTime", null=True, blank=True)
    valid_until = models.DateTimeField("ValidityTimeRange EndTime", null=True, blank=True)
    fus_entity = models.ForeignKey(
        "fus.FusEntity", null=True, blank=True, on_delete=models.SET_NULL, related_name="packages"
    )
    rms_entity = models.ForeignKey(
        "fus.RmsEntity", null=True, blank=True, on_delete=models.SET_NULL, related_name="packages"
    )
    message_language = models.CharField(
        "MessageDescriptor language", max_length=3, blank=True, help_text="ISO 639-2, e.g. eng."
    )
    message_translations = models.JSONField(
        default=list, blank=True, help_text="Further MessageDescriptors: [{language, text}]."
    )
    target_interfaces = models.JSONField(
        "TargetDevicesInfo SupportedInterfaces", default=list, blank=True
    )
    target_vendor_info = models.TextField("TargetDevicesInfo VendorSpecificInfo", blank=True)
    declared_package_size = models.PositiveBigIntegerField(
        "declared PackageSize", null=True, blank=True, editable=False
    )
    declared_files = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="PackageFile entries of imported metadata: [{file_name, file_size, module_type, "
        "vendor_specific_info}].",
    )

    # What a manufacturer declares about a package (forms, API and services all use this list).
    METADATA_FIELDS = (
        "software_version",
        "package_name",
        "description",
        "footprint_volatile",
        "footprint_non_volatile",
        "signed_packaging",
        "manifest",
        "update_flag",
        "update_method",
        "update_priority",
        "message_descriptor",
    )

    tenant_path = "manufacturer"
    list_url_name = "fus:firmware_list"
    changelog_exclude = ("created", "updated", "validation_report")

    class Meta:
        ordering = ("-created",)
        permissions = [("approve_firmwarepackage", "Can approve or retire firmware packages")]
        constraints = [
            models.UniqueConstraint(
                fields=["manufacturer", "package_name"], name="fus_package_name_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(update_priority__gte=1, update_priority__lte=4),
                name="fus_package_priority_range",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__isnull=True)
                | models.Q(valid_from__lte=models.F("valid_until")),
                name="fus_package_validity_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.package_name} {self.software_version}"

    def get_absolute_url(self) -> str:
        return reverse("fus:firmware", args=[self.pk])

    @property
    def package_size(self) -> int:
        """PackageSize: the sum of the files' sizes."""
        return sum(f.size for f in self.files.all())


class FirmwareTarget(models.Model):
    """A package targets a device class. SoftwareVersion is copied here so that the database itself
    refuses two packages with the same SoftwareVersion for one device class."""

    package = models.ForeignKey(FirmwarePackage, on_delete=models.CASCADE, related_name="targets")
    device_class = models.ForeignKey(DeviceClass, on_delete=models.PROTECT, related_name="targets")
    software_version = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device_class", "software_version"], name="fus_target_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_class} -> {self.software_version}"


def firmware_upload_to(instance: FirmwareFile, filename: str) -> str:
    return f"firmware/{instance.package.manufacturer_id}/{instance.package_id}/{filename}"


class FirmwareFile(ChangeLoggedModel):
    """One PackageFile: an image stored under MEDIA_ROOT, with its size and SHA-256 and, when the
    package uses SignedPackaging, its verified detached CMS signature."""

    package = models.ForeignKey(FirmwarePackage, on_delete=models.CASCADE, related_name="files")
    file_name = models.CharField("FileName", max_length=255)
    file = models.FileField(upload_to=firmware_upload_to, max_length=500)
    size = models.PositiveBigIntegerField("FileSize")
    sha256 = models.CharField("SHA-256", max_length=64)
    module_type = models.CharField("ModuleType", max_length=64, blank=True)
    vendor_specific_info = models.TextField("VendorSpecificInfo", blank=True)
    signature = models.BinaryField(null=True, blank=True, editable=False)
    signer = models.CharField(max_length=500, blank=True, editable=False)
    signed_at = models.DateTimeField(null=True, blank=True, editable=False)

    tenant_path = "package__manufacturer"
    changelog_exclude = ("created", "updated", "signature")

    class Meta:
        ordering = ("package", "file_name")
        constraints = [
            models.UniqueConstraint(fields=["package", "file_name"], name="fus_file_name_unique")
        ]

    def __str__(self) -> str:
        return self.file_name
