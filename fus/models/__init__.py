"""FUS models: the firmware catalogue (`catalogue`), its target rows (`targeting`), and the\noperator's FUS and RMS entities (`entities`)."""

from fus.models.carousels import Carousel, CarouselKind, CarouselRun, CarouselState
from fus.models.catalogue import (
    DeviceClass,
    FirmwareFile,
    FirmwarePackage,
    FirmwareTarget,
    Manufacturer,
    ManufacturerOUI,
    SigningCertificate,
)
from fus.models.entities import FusEntity, RmsEntity, ServiceLocation
from fus.models.reports import DownloadRecord, DownloadStatus, UpdateReport, UpdateResult
from fus.models.rollouts import (
    Rollout,
    RolloutDevice,
    RolloutRange,
    RolloutSample,
    RolloutWave,
)
from fus.models.targeting import RangeEntry, TargetEntry, TargetVersion

__all__ = [
    "Carousel",
    "CarouselKind",
    "CarouselRun",
    "CarouselState",
    "DeviceClass",
    "DownloadRecord",
    "DownloadStatus",
    "FirmwareFile",
    "FirmwarePackage",
    "FirmwareTarget",
    "FusEntity",
    "Manufacturer",
    "ManufacturerOUI",
    "RangeEntry",
    "RmsEntity",
    "Rollout",
    "RolloutDevice",
    "RolloutRange",
    "RolloutSample",
    "RolloutWave",
    "ServiceLocation",
    "SigningCertificate",
    "TargetEntry",
    "TargetVersion",
    "UpdateReport",
    "UpdateResult",
]
