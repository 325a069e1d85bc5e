"""What boxes tell the FUS: update results (`record_update_report`) and downloads
(`start_download` / `finish_download`), and the statistics read from them.

Boxes are anonymous and many, so these services write no audit event: the row is the record. The
download server writes two rows' worth per download (an INSERT when the response starts, one UPDATE
when it ends) — nothing per chunk, so the stream is never slowed by the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from fus.metadata.identifiers import format_mac, try_parse_mac
from fus.models import (
    DeviceClass,
    DownloadRecord,
    DownloadStatus,
    FirmwareFile,
    FirmwarePackage,
    ManufacturerOUI,
    UpdateReport,
    UpdateResult,
)
from fus.validators import normalize_oui

# --- update reports ------------------------------------------------------------------------------

FIELD_LIMITS = {
    "manufacturer_oui": 6,
    "product_class": 64,
    "hardware_version": 64,
    "serial_number": 64,
    "mac_address": 17,
    "from_version": 64,
    "to_version": 64,
    "result_text": 1024,
}


@dataclass(frozen=True)
class ReportData:
    """One update result as a box sent it (already decoded from form, JSON or XML)."""

    manufacturer_oui: str
    product_class: str
    serial_number: str
    to_version: str
    result_code: int
    hardware_version: str = ""
    mac_address: str = ""
    from_version: str = ""
    result_text: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None


def clean_report(data: ReportData) -> ReportData:
    """The report with a normalised OUI and MAC; ValidationError naming each bad field."""
    errors: dict[str, str] = {}
    for name in ("manufacturer_oui", "product_class", "serial_number", "to_version"):
        if not getattr(data, name):
            errors[name] = "This field is required."
    for name, limit in FIELD_LIMITS.items():
        value = getattr(data, name)
        if len(value) > limit:
            errors[name] = f"At most {limit} characters (got {len(value)})."
        elif any(ord(c) < 32 and c not in "\t\n\r" for c in value):
            errors[name] = "Control characters are not allowed."
    oui = normalize_oui(data.manufacturer_oui)
    if (
        data.manufacturer_oui
        and "manufacturer_oui" not in errors
        and (len(oui) != 6 or any(c not in "0123456789ABCDEF" for c in oui))
    ):
        errors["manufacturer_oui"] = f"{data.manufacturer_oui!r} is not 6 hexadecimal digits."
    mac = data.mac_address
    if mac and "mac_address" not in errors:
        parsed = try_parse_mac(mac)
        if parsed is None:
            errors["mac_address"] = f"{mac!r} is not a MAC address."
        else:
            mac = format_mac(parsed)
    if not 0 <= data.result_code <= 0xFFFFFFFF:
        errors["result_code"] = f"{data.result_code} is out of range (0-4294967295)."
    if errors:
        raise ValidationError(errors)
    return ReportData(
        **{**data.__dict__, "manufacturer_oui": oui, "mac_address": mac}  # type: ignore[arg-type]
    )


@transaction.atomic
def record_update_report(data: ReportData, *, source_ip: str | None = None) -> UpdateReport:
    """Store one box's update result. The OUI must belong to a known manufacturer (else
    ValidationError: the FUS collects reports for its manufacturers only); the device class and the
    package (same class, SoftwareVersion = to-version) are linked when they exist."""
    data = clean_report(data)
    oui = ManufacturerOUI.objects.filter(oui=data.manufacturer_oui).only("manufacturer_id").first()
    if oui is None:
        raise ValidationError(
            {"manufacturer_oui": f"{data.manufacturer_oui} is not the OUI of a known manufacturer."}
        )
    device_class = DeviceClass.objects.filter(
        oui=data.manufacturer_oui, product_class=data.product_class
    ).first()
    package = None
    if device_class is not None:
        package = FirmwarePackage.objects.filter(
            targets__device_class=device_class, software_version=data.to_version
        ).first()
    return UpdateReport.objects.create(
        manufacturer_id=oui.manufacturer_id,
        device_class=device_class,
        package=package,
        oui=data.manufacturer_oui,
        product_class=data.product_class,
        hardware_version=data.hardware_version,
        serial_number=data.serial_number,
        mac_address=data.mac_address,
        from_version=data.from_version,
        to_version=data.to_version,
        result_code=data.result_code,
        result=UpdateResult.SUCCESS if data.result_code == 0 else UpdateResult.FAILURE,
        result_text=data.result_text,
        started_at=data.started_at,
        completed_at=data.completed_at,
        source_ip=source_ip,
    )


# --- downloads -----------------------------------------------------------------------------------


def start_download(
    file: FirmwareFile,
    *,
    range_start: int | None,
    range_end: int | None,
    bytes_expected: int,
    client_ip: str | None,
    box: str = "",
    via_accel: bool = False,
) -> DownloadRecord:
    """Record that a download starts (one INSERT)."""
    return DownloadRecord.objects.create(
        file=file,
        package_id=file.package_id,
        started_at=timezone.now(),
        range_start=range_start,
        range_end=range_end,
        bytes_expected=bytes_expected,
        client_ip=client_ip,
        box=box[:80],
        via_accel=via_accel,
    )


def finish_download(record_id: int, *, bytes_sent: int, completed: bool | None = None) -> bool:
    """Record that a download ended (one UPDATE, only of a record still open): completed when every
    expected byte went out (or as `completed` says), aborted otherwise. False if it was not open."""
    record = DownloadRecord.objects.filter(pk=record_id).only("bytes_expected").first()
    if record is None:
        return False
    done = completed if completed is not None else bytes_sent >= record.bytes_expected
    return bool(
        DownloadRecord.objects.filter(pk=record_id, status=DownloadStatus.STARTED).update(
            finished_at=timezone.now(),
            bytes_sent=bytes_sent,
            status=DownloadStatus.COMPLETED if done else DownloadStatus.ABORTED,
        )
    )


@dataclass(frozen=True)
class DeliveryStatistics:
    downloads_started: int
    downloads_completed: int
    downloads_aborted: int
    bytes_sent: int
    reports_success: int
    reports_failure: int


def delivery_statistics(package: FirmwarePackage) -> DeliveryStatistics:
    """Downloads and reported results of one package (for rollout statistics)."""
    downloads = DownloadRecord.objects.filter(package=package).aggregate(
        started=Count("pk"),
        completed=Count("pk", filter=Q(status=DownloadStatus.COMPLETED)),
        aborted=Count("pk", filter=Q(status=DownloadStatus.ABORTED)),
        sent=Sum("bytes_sent"),
    )
    reports = UpdateReport.objects.filter(package=package).aggregate(
        ok=Count("pk", filter=Q(result=UpdateResult.SUCCESS)),
        failed=Count("pk", filter=Q(result=UpdateResult.FAILURE)),
    )
    return DeliveryStatistics(
        downloads_started=downloads["started"],
        downloads_completed=downloads["completed"],
        downloads_aborted=downloads["aborted"],
        bytes_sent=downloads["sent"] or 0,
        reports_success=reports["ok"],
        reports_failure=reports["failed"],
    )
