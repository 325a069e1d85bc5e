"""Where boxes download firmware: `file_url(firmware_file)` is the one way to build a download URL
(TR-069 Download, QRC answers, announcements, exported metadata). The server itself is
`fus.delivery.views.firmware_download` under `/firmware/` (docs/qrc.md)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from fus.delivery.auth import sign_path
from fus.delivery.conf import delivery_settings
from fus.models import FirmwareFile


def file_path(firmware_file: FirmwareFile) -> str:
    """The server-relative path, ``/firmware/<package id>/<file name>`` (percent-encoded)."""
    return reverse(
        "fus-delivery:download", args=[firmware_file.package_id, firmware_file.file_name]
    )


def file_url(firmware_file: FirmwareFile, *, base: str | None = None, box: str = "") -> str:
    """The absolute download URL of a file: `base` (an origin such as ``https://fus.example.net``;
    default the `FUS_DOWNLOAD_BASE_URL` setting; a trailing ``/firmware/`` is accepted) + its path, signed for `box` (optional, a box id
    ``<OUI>-<SerialNumber>``) and time-limited when `FUS_DOWNLOAD_AUTH` is ``signed-url``."""
    conf = delivery_settings()
    origin = (conf.download_base_url if base is None else base).rstrip("/")
    if origin.endswith("/firmware"):  # a base naming the download area itself
        origin = origin[: -len("/firmware")]
    if not origin:
        raise ImproperlyConfigured(
            "FUS_DOWNLOAD_BASE_URL is not set and no base was given: cannot build a download URL"
        )
    path = file_path(firmware_file)
    if conf.download_auth == "signed-url":
        path = sign_path(path, box=box)
    return origin + path
