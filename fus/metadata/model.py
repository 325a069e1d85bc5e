"""The RMS-FUS metadata of ETSI TS 102 542-4 clause 7 as frozen dataclasses.

One `RMSFUSMetadata` document describes one firmware update file and its target population. Names
follow the XML elements (see `fus/metadata/schema/rms-fus-metadata.xsd`, our reconstruction of the
TS 102 824 annex B schema). Values are kept exactly as written in the XML (a MAC address keeps its
notation, a serial number its leading zeros); `fus.metadata.targeting` interprets them.

Sequences are tuples; optional elements are ``None``; repeated optional elements are empty tuples.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Namespace(enum.Enum):
    """The two metadata namespaces (ours; see docs/metadata.md): `rms` IPv4, `rms12` adds IPv6."""

    RMS = "urn:x-rms-fus-portal:metadata:rms:2009"
    RMS12 = "urn:x-rms-fus-portal:metadata:rms12:2012"

    @property
    def prefix(self) -> str:
        return self.name.lower()


class Interface(enum.Enum):
    """7.2.8 InterfaceType: the interfaces of the reference model (TS 102 542-4 Table 1)."""

    FIRMWARE_PACKAGE = "Firmware Package"
    METADATA = "Metadata"
    RMS_ADMINISTRATOR = "RMS Administrator"
    FUS_INTERFACE = "FUS Interface"
    MULTICAST_DELIVERY = "Multicast Delivery"
    UNICAST_DELIVERY = "Unicast Delivery"
    FIRMWARE_ANNOUNCEMENT = "Firmware Announcement"
    QUERY_RESPONSE_CHANNEL = "Query Response Channel"
    CPE_MANAGEMENT = "CPE Management"

    @property
    def number(self) -> int:
        """The interface's number in Table 1 (1-9)."""
        return list(Interface).index(self) + 1


#: The interfaces a target device may list in `TargetDevicesInfo.SupportedInterfaces` (7.4.2.4).
DEVICE_INTERFACES = frozenset(i for i in Interface if i.number >= 5)


class Availability(enum.Enum):
    """`@Availability` of a Range or Item: the entry includes or excludes the devices it names."""

    INCLUSIVE = "inclusive"
    EXCLUSIVE = "exclusive"


class IdentifierType(enum.Enum):
    """`@IdentifierType` of a Range or Item: which device identifier its values are."""

    SERIAL_NUMBER = "SerialNumber"
    MAC_ADDRESS = "MACAddress"


class Mode(enum.Enum):
    """7.4.1: whether the update file is meant for managed (TR-069) or unmanaged devices."""

    MANAGED = "managed"
    UNMANAGED = "unmanaged"


class UpdateFlag(enum.Enum):
    """UpdateDescriptor.UpdateFlag: whether the update is applied manually or automatically."""

    MANUAL = "manual"
    AUTOMATIC = "automatic"


class UpdateMethod(enum.Enum):
    """UpdateDescriptor.UpdateMethod: when the update is applied."""

    IMMEDIATE = "immediate"
    USER_CONVENIENCE = "user_convenience"
    NEXT_RESTART = "next_restart"


# -- 7.2.6 RangeList -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Range:
    """A contiguous range of serial numbers or MAC addresses, bounds included."""

    lower_bound: str
    upper_bound: str
    availability: Availability = Availability.INCLUSIVE
    identifier_type: IdentifierType = IdentifierType.SERIAL_NUMBER


@dataclass(frozen=True, slots=True)
class Item:
    """A list of individual serial numbers or MAC addresses (`ItemID`s)."""

    item_ids: tuple[str, ...]
    availability: Availability = Availability.INCLUSIVE
    identifier_type: IdentifierType = IdentifierType.SERIAL_NUMBER


RangeListEntry = Range | Item


@dataclass(frozen=True, slots=True)
class RangeList:
    """Ranges and items in document order. A device is in the list when it is in some inclusive
    entry (or there is no inclusive entry at all) and in no exclusive entry
    (docs/decisions/0002-rangelist-semantics.md)."""

    entries: tuple[RangeListEntry, ...]


# -- 7.2.9 - 7.2.13 --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceClass:
    """7.2.9: a product of a manufacturer."""

    manufacturer_oui: str
    product_class: str


@dataclass(frozen=True, slots=True)
class DeviceClassHardwareVersion:
    """7.2.10: a device class restricted to some hardware versions."""

    manufacturer_oui: str
    product_class: str
    hardware_versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceClassSoftware:
    """7.2.11: a device class restricted to some (current, "from") software versions."""

    manufacturer_oui: str
    product_class: str
    software_versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceClassInfo:
    """7.2.12: a device class with optional hardware and software versions (empty = any)."""

    manufacturer_oui: str
    product_class: str
    hardware_versions: tuple[str, ...] = ()
    software_versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceAccessInfo:
    """7.2.13: how to reach a resource: a URL and/or an address and port, with a Preference
    (lowest value = most preferred; ``None`` = after every numbered one)."""

    url: str | None = None
    address: str | None = None
    port: int | None = None
    preference: int | None = None


# -- 7.3 groupings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceGroup:
    """7.3.1: a device class info narrowed by a RangeList of serial numbers and/or MACs."""

    device_class_info: DeviceClassInfo
    range_list: RangeList | None = None


@dataclass(frozen=True, slots=True)
class PackageFile:
    """One file of a software package."""

    file_name: str
    file_size: int | None = None
    vendor_specific_info: str | None = None
    module_type: str | None = None


@dataclass(frozen=True, slots=True)
class FootprintSize:
    """Bytes of volatile (RAM) and non-volatile storage the update needs."""

    volatile: int | None = None
    non_volatile: int | None = None


@dataclass(frozen=True, slots=True)
class ImagePackaging:
    """Whether the image is signed, and whether a manifest is used."""

    signed_packaging: bool = False
    manifest: bool = False


@dataclass(frozen=True, slots=True)
class UpdateDescriptor:
    """DVB-SSU style hints for applying the update; priority 1 is the most urgent, 4 the least."""

    update_flag: UpdateFlag
    update_method: UpdateMethod
    update_priority: int


@dataclass(frozen=True, slots=True)
class SoftwarePackageInfo:
    """7.3.2: the structure and installation requirements of the update package."""

    package_name: str
    package_size: int
    package_files: tuple[PackageFile, ...] = ()
    footprint_size: FootprintSize | None = None
    image_packaging: ImagePackaging | None = None
    update_descriptor: UpdateDescriptor | None = None


@dataclass(frozen=True, slots=True)
class ValidityTimeRange:
    """7.3.3: the update is available from StartTime to EndTime, both included (aware datetimes)."""

    start_time: datetime
    end_time: datetime


# -- 7.4.2 entities --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CEManufacturer:
    """7.4.2.1: the manufacturer, where its images can be fetched, where unmanaged boxes report."""

    manufacturer_oui: str
    manufacturer_name: str | None = None
    download_locations: tuple[ResourceAccessInfo, ...] = ()
    reporting_orders: tuple[ResourceAccessInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class FUS:
    """7.4.2.2: the firmware update server delivering this file and its interfaces."""

    fus_name: str | None = None
    fus_id: str | None = None
    source_address: str | None = None
    supported_interfaces: tuple[Interface, ...] = ()
    fus_query_interface_locations: tuple[ResourceAccessInfo, ...] = ()
    multicast_announcement_interface_locations: tuple[ResourceAccessInfo, ...] = ()
    unicast_interface_locations: tuple[ResourceAccessInfo, ...] = ()
    multicast_interface_locations: tuple[ResourceAccessInfo, ...] = ()
    delivery_rate: int | None = None


@dataclass(frozen=True, slots=True)
class RMS:
    """7.4.2.3: the remote management system (ACS) of managed devices."""

    management_server_locations: tuple[ResourceAccessInfo, ...]
    rms_name: str | None = None
    rms_id: str | None = None


@dataclass(frozen=True, slots=True)
class TargetDevicesInfo:
    """7.4.2.4 "Target devices": the interfaces (5-9) the devices use, and vendor information."""

    supported_interfaces: tuple[Interface, ...] = ()
    vendor_specific_info: str | None = None


# -- 7.4.3 FirmwareUpgrade -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetDevices:
    """The target population: a device is targeted when it matches any entry."""

    device_classes: tuple[DeviceClass, ...] = ()
    device_class_hardware_versions: tuple[DeviceClassHardwareVersion, ...] = ()
    device_class_softwares: tuple[DeviceClassSoftware, ...] = ()
    device_groups: tuple[DeviceGroup, ...] = ()

    def entries(self) -> tuple[Target, ...]:
        """Every entry, in document order."""
        return (
            *self.device_classes,
            *self.device_class_hardware_versions,
            *self.device_class_softwares,
            *self.device_groups,
        )


Target = DeviceClass | DeviceClassHardwareVersion | DeviceClassSoftware | DeviceGroup


@dataclass(frozen=True, slots=True)
class MessageDescriptor:
    """Text for the viewer about the update, optionally tagged with an ISO 639-2 language."""

    text: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class FirmwareUpgrade:
    """7.4.3: the update file: the software version it installs, whom and when it targets."""

    software_version: str
    target_devices: TargetDevices
    software_package_info: SoftwarePackageInfo
    validity_time_range: ValidityTimeRange | None = None
    message_descriptors: tuple[MessageDescriptor, ...] = ()


@dataclass(frozen=True, slots=True)
class RMSFUSMetadata:
    """One metadata document: the root element `RMSFUSMetadata`."""

    mode: Mode
    ce_manufacturer: CEManufacturer
    firmware_upgrade: FirmwareUpgrade
    fus: FUS | None = None
    rms: RMS | None = None
    target_devices_info: TargetDevicesInfo | None = None
