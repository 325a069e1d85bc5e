"""The QRC message layout, all in this one module (docs/qrc.md shows it as XML).

TS 102 542-4 clause 11.1.2 names `FirmwareUpdateCheck` (the box's identity) and
`FirmwareUpdateCheckResponse` (the URLs of the applicable updates, empty if none) but the normative
schema is not public: this layout is ours, in our own namespace, with the metadata's element names
(clause 7) wherever it has them. spyne turns these classes into the WSDL's schema, and the lxml
validator checks every request against it (wrong types and patterns are SOAP faults).
"""

from __future__ import annotations

from spyne import Array, ComplexModel, DateTime, Integer, Long, Unicode

NAMESPACE = "urn:rms-fus-portal:qrc:1"
SERVICE_NAME = "FirmwareUpdateService"

# Request fields (simple types of clause 7: an OUI is six hex digits, the rest short strings).
ManufacturerOUI = Unicode(min_occurs=1, nillable=False, pattern="[0-9A-Fa-f]{6}")
ProductClass = Unicode(min_occurs=1, nillable=False, min_len=1, max_len=64)
HardwareVersion = Unicode(min_occurs=1, nillable=False, max_len=64)
SoftwareVersion = Unicode(min_occurs=1, nillable=False, max_len=64)
SerialNumber = Unicode(min_occurs=1, nillable=False, max_len=64)
MACAddress = Unicode(min_occurs=0, max_len=17)


class _Model(ComplexModel):
    __namespace__ = NAMESPACE


class Location(_Model):
    """One way to fetch a file: a URL (http, https or dvb-mcast), the Table 1 interface it uses
    ("Unicast delivery" or "Multicast delivery") and its Preference (lowest first; absent = last)."""

    _type_info = [
        ("URL", Unicode(min_occurs=1)),
        ("Interface", Unicode(min_occurs=1)),
        ("Preference", Integer(min_occurs=0)),
    ]


class PackageFile(_Model):
    """A file of the update (PackageFile of clause 7), with its SHA-256 and where to get it."""

    _type_info = [
        ("FileName", Unicode(min_occurs=1)),
        ("FileSize", Long(min_occurs=1)),
        ("SHA256", Unicode(min_occurs=1)),
        ("ModuleType", Unicode(min_occurs=0)),
        ("Locations", Array(Location, min_occurs=1)),
    ]


class UpdateDescriptor(_Model):
    _type_info = [
        ("UpdateFlag", Unicode(min_occurs=1)),
        ("UpdateMethod", Unicode(min_occurs=1)),
        ("UpdatePriority", Integer(min_occurs=1)),
    ]


class ValidityTimeRange(_Model):
    _type_info = [
        ("StartTime", DateTime(min_occurs=0)),
        ("EndTime", DateTime(min_occurs=0)),
    ]


class FirmwareUpdate(_Model):
    """One applicable update, best first in the response."""

    _type_info = [
        ("SoftwareVersion", Unicode(min_occurs=1)),
        ("PackageName", Unicode(min_occurs=1)),
        ("PackageSize", Long(min_occurs=1)),
        ("UpdateDescriptor", UpdateDescriptor.customize(min_occurs=1)),
        ("ValidityTimeRange", ValidityTimeRange.customize(min_occurs=0)),
        ("MessageDescriptor", Unicode(min_occurs=0)),
        ("Files", Array(PackageFile, min_occurs=1)),
    ]


Updates = Array(FirmwareUpdate)
