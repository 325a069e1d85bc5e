"""The device list's columns, for its page and its CSV export.

Written out in the template (`acs/_device_table.html`) rather than rendered by django-tables2: the
list is one keyset page of a possibly million-row inventory, and django-tables2 spent ~0.35 ms per
cell (150-300 ms per 50-row page, 4x the rest of the request; see docs/benchmarks/device-list.md).
The CSV export streams the same columns straight from the rows.
"""

from __future__ import annotations

from acs.models import Device

#: (attribute, header) of the list's columns, in order; the CSV export writes the same.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("serial_number", "SerialNumber"),
    ("oui", "OUI"),
    ("product_class", "ProductClass"),
    ("hardware_version", "HardwareVersion"),
    ("software_version", "SoftwareVersion"),
    ("ip_address", "IP"),
    ("mac_address", "MAC"),
    ("last_inform", "Last Inform"),
    ("online", "Online"),
    ("tags", "Tags"),
)

#: The columns the list and the export read (no parameter tree, no credentials).
FIELDS = (
    "pk",
    "oui",
    "product_class",
    "serial_number",
    "serial_key",
    "hardware_version",
    "software_version",
    "ip_address",
    "mac_address",
    "last_inform",
    "online_until",
    "tags",
)


def csv_row(device: Device) -> list[str]:
    out = []
    for name, _ in COLUMNS:
        if name == "online":
            out.append("yes" if device.is_online else "no")
        elif name == "tags":
            out.append(" ".join(str(t) for t in device.tags or ()))
        elif name == "last_inform":
            out.append(device.last_inform.isoformat() if device.last_inform else "")
        else:
            value = getattr(device, name)
            out.append("" if value is None else str(value))
    return out
