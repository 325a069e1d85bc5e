"""FUS models. The firmware catalogue lives in `catalogue`."""

from fus.models.catalogue import (
    DeviceClass,
    FirmwareFile,
    FirmwarePackage,
    FirmwareTarget,
    Manufacturer,
    ManufacturerOUI,
    SigningCertificate,
)

__all__ = [
    "DeviceClass",
    "FirmwareFile",
    "FirmwarePackage",
    "FirmwareTarget",
    "Manufacturer",
    "ManufacturerOUI",
    "SigningCertificate",
]
