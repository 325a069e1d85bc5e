"""A simulated home gateway (TR-181 Device:2): the home network the configurator of IEC 62608-1
manages — LAN/WLAN hosts (``Device.Hosts.Host.{i}``), Wi-Fi (``Device.WiFi.Radio/SSID/
AccessPoint``), the DHCPv4 server, NTP (``Device.Time``), QoS classification and an IGMP proxy
for IPTV multicast (``Device.X_IPTV_IGMPProxy.``: TR-181 Device:2 has no standard IGMP proxy
object, gateways expose a vendor one; the portal's configurator writes this one).

The schema is the STB's TR-181 part (DeviceInfo, ManagementServer, Ethernet, IP — the STB service
objects stay defined but get no instance) plus the objects above. A `DeviceSpec` with
``kind="gateway"`` makes `cpesim.box.Box` use `gateway_template`; its ``hosts`` are the devices
behind it (for instance the MACs of an STB group, `stb_hosts`).
"""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache

from acs.cwmp.messages import XsdType

from .datamodel import DataModel, Schema, Template
from .profiles import PERSONAL, STB, DeviceSpec, _count_entries, schema

S = XsdType.STRING
U = XsdType.UNSIGNED_INT
I = XsdType.INT  # noqa: E741 - the TR-069 type name
B = XsdType.BOOLEAN

SECURITY_MODES = (
    "None",
    "WPA2-Personal",
    "WPA3-Personal",
    "WPA2-WPA3-Personal",
    "WPA2-Enterprise",
)
INTERFACE_TYPES = ("Ethernet", "802.11", "USB", "HomePNA", "HomePlug", "MoCA", "UPA", "Other")


def _passphrase(model: DataModel, path: str, text: str) -> str | None:
    return None if 8 <= len(text) <= 63 else "a WPA passphrase has 8 to 63 characters"


def _ssid(model: DataModel, path: str, text: str) -> str | None:
    return None if 1 <= len(text) <= 32 else "an SSID has 1 to 32 characters"


@lru_cache(maxsize=1)
def gateway_schema() -> Schema:
    s: Schema = copy.deepcopy(schema())
    p, o = s.param, s.obj

    o("Device.Hosts.")
    p("Device.Hosts.HostNumberOfEntries", U, dynamic=_count_entries)
    h = "Device.Hosts.Host.{i}."
    o(h)
    p(h + "PhysAddress", S, max_length=64)
    p(h + "IPAddress", S, max_length=45)
    p(h + "AddressSource", S, default="DHCP", enum=("DHCP", "Static", "AutoIP", "None"))
    p(h + "HostName", S, max_length=64)
    p(h + "InterfaceType", S, default="Ethernet", enum=INTERFACE_TYPES)
    p(h + "Layer1Interface", S, max_length=256)
    p(h + "Active", B, default="true")

    w = "Device.WiFi."
    o(w)
    for table in ("Radio", "SSID", "AccessPoint"):
        p(w + table + "NumberOfEntries", U, dynamic=_count_entries)
    r = w + "Radio.{i}."
    o(r)
    p(r + "Enable", B, writable=True, default="true")
    p(r + "Status", S, default="Up", enum=("Up", "Down", "Unknown", "Error"))
    p(r + "OperatingFrequencyBand", S, writable=True, default="2.4GHz", enum=("2.4GHz", "5GHz"))
    p(
        r + "OperatingStandards",
        S,
        writable=True,
        default="n",
        enum=("a", "b", "g", "n", "ac", "ax"),
        is_list=True,
    )
    p(r + "Channel", U, writable=True, min=1, max=233, default="6")
    p(r + "AutoChannelEnable", B, writable=True, default="true")
    p(r + "TransmitPower", I, writable=True, min=-1, max=100, default="100")
    ssid = w + "SSID.{i}."
    o(ssid, addable=True, deletable=True, max_entries=8)
    p(ssid + "Enable", B, writable=True, default="false")
    p(ssid + "Status", S, default="Up", enum=("Up", "Down", "Unknown", "Error"))
    p(ssid + "SSID", S, writable=True, default="", validator=_ssid_or_empty)
    p(ssid + "LowerLayers", S, writable=True, default="Device.WiFi.Radio.1.", max_length=1024)
    p(ssid + "BSSID", S, default="", max_length=17)
    ap = w + "AccessPoint.{i}."
    o(ap, addable=True, deletable=True, max_entries=8)
    p(ap + "Enable", B, writable=True, default="false")
    p(ap + "SSIDReference", S, writable=True, default="", max_length=256)
    p(ap + "SSIDAdvertisementEnabled", B, writable=True, default="true")
    p(ap + "WMMEnable", B, writable=True, default="true")
    o(ap + "Security.")
    p(ap + "Security.ModeEnabled", S, writable=True, default="WPA2-Personal", enum=SECURITY_MODES)
    p(ap + "Security.KeyPassphrase", S, writable=True, secret=True, validator=_passphrase)

    d = "Device.DHCPv4."
    o(d)
    o(d + "Server.")
    p(d + "Server.Enable", B, writable=True, default="true")
    p(d + "Server.PoolNumberOfEntries", U, dynamic=_count_entries)
    pool = d + "Server.Pool.{i}."
    o(pool, addable=True, deletable=True, max_entries=4)
    p(pool + "Enable", B, writable=True, default="true")
    p(pool + "MinAddress", S, writable=True, default="192.168.1.100", max_length=15)
    p(pool + "MaxAddress", S, writable=True, default="192.168.1.199", max_length=15)
    p(pool + "SubnetMask", S, writable=True, default="255.255.255.0", max_length=15)
    p(pool + "DNSServers", S, writable=True, default="192.168.1.1", max_length=256)
    p(pool + "IPRouters", S, writable=True, default="192.168.1.1", max_length=256)
    p(pool + "LeaseTime", I, writable=True, min=-1, default="3600")

    t = "Device.Time."
    o(t)
    p(t + "Enable", B, writable=True, default="false")
    p(
        t + "Status",
        S,
        default="Disabled",
        enum=("Disabled", "Unsynchronized", "Synchronized", "Error"),
    )
    p(t + "NTPServer1", S, writable=True, default="", max_length=64)
    p(t + "NTPServer2", S, writable=True, default="", max_length=64)
    p(t + "LocalTimeZone", S, writable=True, default="", max_length=256)

    g = "Device.X_IPTV_IGMPProxy."
    o(g)
    p(g + "Enable", B, writable=True, default="false")
    p(g + "Version", U, writable=True, min=1, max=3, default="2")
    p(g + "FastLeave", B, writable=True, default="false")
    p(g + "Snooping", B, writable=True, default="false")
    p(g + "Interfaces", S, writable=True, default="Device.IP.Interface.1.", max_length=1024)

    q = "Device.QoS."
    o(q)
    p(q + "ClassificationNumberOfEntries", U, dynamic=_count_entries)
    c = q + "Classification.{i}."
    o(c, addable=True, deletable=True, max_entries=16)
    p(c + "Enable", B, writable=True, default="false")
    p(c + "Alias", S, writable=True, default="", max_length=64)
    p(c + "DestIP", S, writable=True, default="", max_length=45)
    p(c + "DSCPMark", I, writable=True, min=-2, max=63, default="-1")
    p(c + "TrafficClass", I, writable=True, min=-1, default="-1")
    return s


def _ssid_or_empty(model: DataModel, path: str, text: str) -> str | None:
    return _ssid(model, path, text)


def host_mac(oui: str, serial: str) -> str:
    """The MAC cpesim gives a box (`cpesim.box.Box`): its OUI and three bytes of a hash."""
    digest = hashlib.sha256(f"{oui}/{serial}".encode()).digest()
    return ":".join(f"{b:02X}" for b in (bytes.fromhex(oui) + digest[:3]))


def stb_hosts(
    oui: str, serials: list[str], *, wireless: int = 0
) -> tuple[tuple[str, str, str, str], ...]:
    """Hosts for a gateway: the STBs of these serials (MACs as cpesim makes them), the first
    `wireless` of them on the WLAN; (mac, ip, host name, interface type)."""
    return tuple(
        (
            host_mac(oui, serial),
            f"192.168.1.{100 + n}",
            f"stb-{serial}",
            "802.11" if n < wireless else "Ethernet",
        )
        for n, serial in enumerate(serials)
    )


#: The hosts a simulated gateway can list: its DHCP pool 192.168.1.100-199.
MAX_HOSTS = 100


def home_hosts(
    stbs: list[tuple[str, str]], sensors: list[tuple[str, str]] = (), *, wireless_stbs: int = 0
) -> tuple[tuple[str, str, str, str], ...]:
    """Hosts for a gateway: set-top boxes (``(oui, serial)``; the first `wireless_stbs` of them on
    the WLAN, the others wired) then sensors (always on the WLAN), with the MACs cpesim gives those
    boxes and addresses from the DHCP pool. More than `MAX_HOSTS` is a ValueError."""
    if len(stbs) + len(sensors) > MAX_HOSTS:
        raise ValueError(
            f"{len(stbs) + len(sensors)} hosts behind one gateway exceed its DHCP pool of "
            f"{MAX_HOSTS} addresses"
        )
    hosts = []
    for n, (oui, serial) in enumerate(stbs):
        kind = "802.11" if n < wireless_stbs else "Ethernet"
        hosts.append((host_mac(oui, serial), f"192.168.1.{100 + n}", f"stb-{serial}", kind))
    for n, (oui, serial) in enumerate(sensors, start=len(stbs)):
        hosts.append((host_mac(oui, serial), f"192.168.1.{100 + n}", f"sensor-{serial}", "802.11"))
    return tuple(hosts)


@lru_cache(maxsize=64)
def gateway_template(spec: DeviceSpec) -> Template:
    model = DataModel.empty(gateway_schema())
    d = "Device.DeviceInfo."
    model.put(d + "Manufacturer", spec.manufacturer)
    model.put(d + "ManufacturerOUI", spec.oui)
    model.put(d + "ModelName", spec.model_name or spec.product_class)
    model.put(d + "Description", f"{spec.manufacturer} {spec.product_class} home gateway")
    model.put(d + "ProductClass", spec.product_class)
    model.put(d + "HardwareVersion", spec.hardware_version)
    model.add_instance("Device.Ethernet.Interface.")
    model.add_instance("Device.IP.Interface.")
    model.add_instance("Device.IP.Interface.1.IPv4Address.")
    w = "Device.WiFi."
    model.add_instance(w + "Radio.", {"OperatingFrequencyBand": "2.4GHz", "Channel": "6"})
    model.add_instance(
        w + "Radio.",
        {"OperatingFrequencyBand": "5GHz", "Channel": "100", "OperatingStandards": "ac"},
    )
    model.add_instance(
        w + "SSID.", {"SSID": "home", "Enable": "true", "LowerLayers": w + "Radio.1."}
    )
    model.add_instance(w + "AccessPoint.", {"Enable": "true", "SSIDReference": w + "SSID.1."})
    model.add_instance("Device.DHCPv4.Server.Pool.")
    for mac, ip, name, kind in spec.hosts:
        model.add_instance(
            "Device.Hosts.Host.",
            {
                "PhysAddress": mac,
                "IPAddress": ip,
                "HostName": name,
                "InterfaceType": kind,
                "Layer1Interface": "Device.WiFi.SSID.1."
                if kind == "802.11"
                else "Device.Ethernet.Interface.1.",
            },
        )
    return model.freeze((path, "") for path in PERSONAL if not path.startswith(STB))
