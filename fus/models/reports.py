"""What comes back from the field: update results reported by boxes, and firmware downloads.

`UpdateReport` is one result posted by an unmanaged box to the default ReportingOrders address
(`POST /fus/report`, `fus.services.reports`); `DownloadRecord` is one download from the FUS download
server (`/firmware/...`, `fus.delivery`), written when it starts and closed when it ends. Both feed
rollout statistics; reports are shown to the NOC and, restricted to its OUIs, to the manufacturer.
Neither is change-logged: boxes write them by the million, and each row is its own record.
"""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from fus.models.catalogue import DeviceClass, FirmwareFile, FirmwarePackage, Manufacturer
from portal.permissions import RestrictedQuerySet


class UpdateResult(models.TextChoices):
    """The outcome class of a report, from its result code (0 = success, TR-069 fault codes)."""

    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class UpdateReport(models.Model):
    """An update result reported by a box: its identity, from and to versions, result code, text."""

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    manufacturer = models.ForeignKey(
        Manufacturer, on_delete=models.CASCADE, related_name="update_reports"
    )
    device_class = models.ForeignKey(
        DeviceClass,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="update_reports",
        help_text="The known device class of the reported OUI and ProductClass, if any.",
    )
    package = models.ForeignKey(
        FirmwarePackage,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="update_reports",
        help_text="The package of the device class with the reported to-version, if any.",
    )
    oui = models.CharField("ManufacturerOUI", max_length=6)
    product_class = models.CharField("ProductClass", max_length=64)
    hardware_version = models.CharField("HardwareVersion", max_length=64, blank=True)
    serial_number = models.CharField("SerialNumber", max_length=64, db_index=True)
    mac_address = models.CharField("MACAddress", max_length=17, blank=True)
    from_version = models.CharField("from SoftwareVersion", max_length=64, blank=True)
    to_version = models.CharField("to SoftwareVersion", max_length=64)
    result_code = models.PositiveIntegerField(help_text="0 = success, else a TR-069 fault code.")
    result = models.CharField(max_length=8, choices=UpdateResult.choices, db_index=True)
    result_text = models.CharField(max_length=1024, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="As the box reported it.")
    completed_at = models.DateTimeField(null=True, blank=True, help_text="As the box reported it.")
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "manufacturer"

    class Meta:
        ordering = ("-received_at", "-pk")
        indexes = [
            models.Index(fields=["package", "result"], name="fus_report_package_result"),
            models.Index(fields=["manufacturer", "-received_at"], name="fus_report_manufacturer"),
        ]

    def __str__(self) -> str:
        return f"{self.oui}-{self.serial_number} {self.from_version or '?'} -> {self.to_version}: {self.result_code}"

    def get_absolute_url(self) -> str:
        return reverse("fus:report", args=[self.pk])


class DownloadStatus(models.TextChoices):
    STARTED = "started", "Started"
    COMPLETED = "completed", "Completed"
    ABORTED = "aborted", "Aborted"


class DownloadRecord(models.Model):
    """One download of a firmware file: inserted when the response starts, updated once when it
    ends (bytes sent, completed or aborted). Two writes per download of megabytes: cheap, and it
    keeps which box fetched which range for rollout statistics."""

    file = models.ForeignKey(FirmwareFile, on_delete=models.CASCADE, related_name="downloads")
    package = models.ForeignKey(FirmwarePackage, on_delete=models.CASCADE, related_name="downloads")
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=9, choices=DownloadStatus.choices, default=DownloadStatus.STARTED
    )
    range_start = models.PositiveBigIntegerField(null=True, blank=True)
    range_end = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Inclusive; empty for the whole file."
    )
    bytes_expected = models.PositiveBigIntegerField()
    bytes_sent = models.PositiveBigIntegerField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    box = models.CharField(
        max_length=80, blank=True, help_text="The box, when the URL or credentials name it."
    )
    via_accel = models.BooleanField(default=False, help_text="Served by nginx X-Accel-Redirect.")

    objects = RestrictedQuerySet.as_manager()
    tenant_path = "package__manufacturer"

    class Meta:
        ordering = ("-started_at", "-pk")
        indexes = [models.Index(fields=["package", "status"], name="fus_download_package")]

    def __str__(self) -> str:
        return f"{self.file} {self.status} {self.started_at:%Y-%m-%d %H:%M:%S}"
