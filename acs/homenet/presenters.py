"""The home-network view of a gateway (IEC 62608-1 figure 3: the gateway and the devices behind
it), read from the ACS's stored tree: LAN/WLAN hosts (TR-181 ``Device.Hosts.Host.{i}``), which
of them the ACS manages (matched by MAC to `acs.Device.mac`) with their compliance, and the cloud
endpoints configured on the gateway (ACS, FUS, NTP)."""

from __future__ import annotations

import re

from acs.homenet.models import Compliance
from acs.models import Device
from fus.metadata.identifiers import format_mac, try_parse_mac

HOST = re.compile(r"^Device\.Hosts\.Host\.(\d+)\.(\w+)$")
WIRELESS = ("802.11", "WiFi", "Wi-Fi")


def hosts(tree: dict) -> list[dict]:
    rows: dict[int, dict] = {}
    for path, entry in tree.items():
        found = HOST.match(path)
        if found:
            rows.setdefault(int(found.group(1)), {"number": int(found.group(1))})[
                found.group(2)
            ] = entry[0]
    out = []
    for number in sorted(rows):
        row = rows[number]
        kind = row.get("InterfaceType") or ""
        layer1 = row.get("Layer1Interface") or ""
        wireless = kind in WIRELESS or ".WiFi." in layer1
        mac = try_parse_mac(row.get("PhysAddress") or None)
        out.append(
            {
                "number": number,
                "mac": format_mac(mac) if mac is not None else (row.get("PhysAddress") or ""),
                "mac_int": mac,
                "ip": row.get("IPAddress") or "",
                "name": row.get("HostName") or "",
                "interface": "WLAN" if wireless else ("LAN" if kind or layer1 else "?"),
                "interface_detail": kind or layer1,
                "active": (row.get("Active") or "").lower() in ("1", "true"),
            }
        )
    return out


def endpoints(tree: dict) -> list[dict]:
    """Cloud servers the device is configured to reach (ACS, NTP, FUS, a sensor's telemetry)."""
    out = []
    for path, entry in sorted(tree.items()):
        value = entry[0]
        if not value:
            continue
        if path.endswith("ManagementServer.URL"):
            out.append({"kind": "ACS", "path": path, "value": value})
        elif re.search(r"\.Time\.NTPServer\d+$", path):
            out.append({"kind": "NTP", "path": path, "value": value})
        elif "FUS" in path.upper().split(".")[-1] or re.search(r"X_\w*FUS\w*\.", path):
            out.append({"kind": "FUS", "path": path, "value": value})
        elif re.search(r"\.X_\w*Telemetry\.URL$", path):  # a sensor's cloud (cpesim.sensor)
            out.append({"kind": "Telemetry", "path": path, "value": value})
    return out


def home_network(gateway: Device, tree: dict, user) -> dict:
    rows = hosts(tree)
    macs = [r["mac_int"] for r in rows if r["mac_int"] is not None]
    managed = {
        d.mac: d
        for d in Device.objects.restrict(user, "view").filter(mac__in=macs).exclude(pk=gateway.pk)
    }
    states = dict(
        Compliance.objects.filter(device__in=list(managed.values())).values_list(
            "device_id", "state"
        )
    )
    for row in rows:
        device = managed.get(row["mac_int"])
        row["device"] = device
        row["state"] = states.get(device.pk, "unknown") if device is not None else None
        row["endpoints"] = []
    return {
        "hosts": rows,
        "endpoints": endpoints(tree),
        "managed": len([r for r in rows if r["device"] is not None]),
        "wireless": len([r for r in rows if r["interface"] == "WLAN"]),
    }
