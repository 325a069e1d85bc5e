"""Firmware for managed boxes: the download URL of a package file, and the targeting engine.

Two seams with other subsystems, each in ONE function so the rest of the ACS never changes:

* `firmware_url(file)`: the HTTP(S) download server `/firmware/` is issue #5 and not built yet;
  the URL is `FUS_DOWNLOAD_BASE_URL` + the file's storage name below `firmware/`
  (``<manufacturer id>/<package id>/<file name>``). When the download server lands,
  only this function changes.
* `applicable_packages(device)`: the database targeting engine of issue #3,
  `fus.services.targeting.applicable_packages(identity, *, at, mode)`, for managed packages.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from acs.conf import acs_settings
from acs.models import Device
from fus.metadata.targeting import DeviceIdentity
from fus.models import FirmwareFile, FirmwarePackage
from fus.services import targeting

log = logging.getLogger(__name__)

FIRMWARE_FILE_TYPE = "1 Firmware Upgrade Image"


def firmware_url(file: FirmwareFile) -> str:
    """The URL a box downloads `file` from (see the module docstring: issue #5 will serve it)."""
    base = acs_settings().download_base_url
    if not base:
        raise ImproperlyConfigured(
            "FUS_DOWNLOAD_BASE_URL is not set: the ACS cannot tell boxes where to download firmware"
        )
    name = file.file.name.removeprefix("firmware/")
    return f"{base.rstrip('/')}/{quote(name, safe='/')}"


def package_file(package: FirmwarePackage) -> FirmwareFile:
    """The file a TR-069 Download of `package` carries (one URL per Download): the package's only
    file, else its first file without a ModuleType, else its first file by name."""
    files = list(package.files.order_by("file_name"))
    if not files:
        raise ValueError(f"package {package} has no file to download")
    if len(files) == 1:
        return files[0]
    return next((f for f in files if not f.module_type), files[0])


def device_identity(device: Device) -> DeviceIdentity:
    return DeviceIdentity(
        manufacturer_oui=device.oui,
        product_class=device.product_class,
        hardware_version=device.hardware_version or None,
        software_version=device.software_version or None,
        serial_number=device.serial_number or None,
        mac_address=device.mac_address or None,
    )


def applicable_packages(device: Device, *, at: datetime | None = None) -> list[FirmwarePackage]:
    """Approved managed-mode packages the targeting engine finds for `device`, best first."""
    matches = targeting.applicable_packages(
        device_identity(device), at=at or timezone.now(), mode="managed"
    )
    return [match.package for match in matches]
