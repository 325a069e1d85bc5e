"""What the configurator knows of the data models it writes: types, ranges, enumerations.

Pure (no Django). A profile value is checked against this table before it is stored, and again
before anything is sent, so an impossible value (a Wi-Fi channel 300, an audio level 150, a WPA
passphrase of 5 characters) is refused with a message naming the path and the value instead of
being discovered as a CPE fault. Paths not in the table are checked against their declared type
only (and against the type the device itself reports, in `acs.homenet.converge`).

Sources: TR-181 Device:2 (WiFi, DHCPv4, Hosts, ManagementServer, Time, QoS, DeviceInfo
TemperatureStatus), TR-135 STBService:1 (the A/V outputs), and two vendor extensions: the IGMP
proxy of IPTV gateways (``Device.X_IPTV_IGMPProxy.``: TR-181 Device:2 standardises no IGMP proxy
object, so gateways expose a vendor object; cpesim's gateway uses this one) and a sensor's cloud
telemetry (``Device.X_SENSOR_Telemetry.``, see `cpesim.sensor`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from acs.cwmp.messages import XsdType, lexical_error

S = XsdType.STRING
U = XsdType.UNSIGNED_INT
I = XsdType.INT  # noqa: E741 - the TR-069 type name
B = XsdType.BOOLEAN


@dataclass(frozen=True, slots=True)
class Constraint:
    """The type of a parameter and what its value may be."""

    type: XsdType
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    list_of: tuple[str, ...] = ()  # a comma-separated list of these words
    check: Callable[[str], str | None] | None = None


def _ipv4(text: str) -> str | None:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return f"{text!r} is not an IPv4 address"
    return None


def _url(text: str) -> str | None:
    return None if re.fullmatch(r"https?://\S+", text) else f"{text!r} is not an HTTP(S) URL"


def _host(text: str) -> str | None:
    if text == "" or re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", text):
        return None
    return f"{text!r} is not a host name or address"


SECURITY_MODES = (
    "None",
    "WEP-64",
    "WEP-128",
    "WPA-Personal",
    "WPA2-Personal",
    "WPA3-Personal",
    "WPA-WPA2-Personal",
    "WPA2-WPA3-Personal",
    "WPA-Enterprise",
    "WPA2-Enterprise",
    "WPA3-Enterprise",
    "WPA-WPA2-Enterprise",
)
FREQUENCY_BANDS = ("2.4GHz", "5GHz", "6GHz")
WIFI_STANDARDS = ("a", "b", "g", "n", "ac", "ax", "be")
HDMI_RESOLUTIONS = (
    "720x480p/59.94Hz",
    "720x576p/50Hz",
    "1280x720p/50Hz",
    "1280x720p/59.94Hz",
    "1920x1080i/50Hz",
    "1920x1080p/50Hz",
    "3840x2160p/50Hz",
)
DISPLAY_FORMATS = ("Letterbox", "Pan-Scan", "CenterCutOut", "4:3", "16:9", "14:9")

W = "Device.WiFi."
AP = W + "AccessPoint.{i}."
DHCP = "Device.DHCPv4.Server.Pool.{i}."
STB = "Device.Services.STBService.{i}.Components."
IGMP = "Device.X_IPTV_IGMPProxy."
TEMP = "Device.DeviceInfo.TemperatureStatus.TemperatureSensor.{i}."
TELEMETRY = "Device.X_SENSOR_Telemetry."

#: Known parameters by schema path (instance numbers written ``{i}``).
KNOWN: dict[str, Constraint] = {
    # TR-181 ManagementServer and Time (the cloud endpoints of a home device)
    "Device.ManagementServer.URL": Constraint(S, max_length=256, check=_url),
    "Device.ManagementServer.PeriodicInformEnable": Constraint(B),
    "Device.ManagementServer.PeriodicInformInterval": Constraint(U, minimum=1),
    "Device.Time.Enable": Constraint(B),
    "Device.Time.NTPServer1": Constraint(S, max_length=64, check=_host),
    "Device.Time.NTPServer2": Constraint(S, max_length=64, check=_host),
    "Device.Time.LocalTimeZone": Constraint(S, max_length=256),
    # Wi-Fi
    W + "Radio.{i}.Enable": Constraint(B),
    W + "Radio.{i}.Channel": Constraint(U, minimum=1, maximum=233),
    W + "Radio.{i}.AutoChannelEnable": Constraint(B),
    W + "Radio.{i}.OperatingFrequencyBand": Constraint(S, enum=FREQUENCY_BANDS),
    W + "Radio.{i}.OperatingStandards": Constraint(S, list_of=WIFI_STANDARDS),
    W + "Radio.{i}.TransmitPower": Constraint(I, minimum=-1, maximum=100),
    W + "SSID.{i}.Enable": Constraint(B),
    W + "SSID.{i}.SSID": Constraint(S, min_length=1, max_length=32),
    W + "SSID.{i}.LowerLayers": Constraint(S, max_length=1024),
    AP + "Enable": Constraint(B),
    AP + "SSIDReference": Constraint(S, max_length=256),
    AP + "SSIDAdvertisementEnabled": Constraint(B),
    AP + "WMMEnable": Constraint(B),
    AP + "Security.ModeEnabled": Constraint(S, enum=SECURITY_MODES),
    AP + "Security.KeyPassphrase": Constraint(S, min_length=8, max_length=63),
    # LAN / DHCP
    DHCP + "Enable": Constraint(B),
    DHCP + "MinAddress": Constraint(S, check=_ipv4),
    DHCP + "MaxAddress": Constraint(S, check=_ipv4),
    DHCP + "SubnetMask": Constraint(S, check=_ipv4),
    DHCP + "DNSServers": Constraint(S, max_length=256),
    DHCP + "IPRouters": Constraint(S, max_length=256),
    DHCP + "LeaseTime": Constraint(I, minimum=-1),
    "Device.IP.Interface.{i}.IPv4Address.{i}.IPAddress": Constraint(S, check=_ipv4),
    "Device.IP.Interface.{i}.IPv4Address.{i}.SubnetMask": Constraint(S, check=_ipv4),
    # IGMP proxy for IPTV multicast (vendor extension, see the module text)
    IGMP + "Enable": Constraint(B),
    IGMP + "Version": Constraint(U, minimum=1, maximum=3),
    IGMP + "FastLeave": Constraint(B),
    IGMP + "Snooping": Constraint(B),
    IGMP + "Interfaces": Constraint(S, max_length=1024),
    # QoS (TR-181 Device.QoS)
    "Device.QoS.Classification.{i}.Enable": Constraint(B),
    "Device.QoS.Classification.{i}.DSCPMark": Constraint(I, minimum=-2, maximum=63),
    "Device.QoS.Classification.{i}.DestIP": Constraint(S, max_length=45),
    "Device.QoS.Classification.{i}.TrafficClass": Constraint(I, minimum=-1),
    "Device.QoS.Classification.{i}.Alias": Constraint(S, max_length=64),
    # Sensor-like end devices (IEC 62608-1 annex B): TR-181 DeviceInfo temperature sensors
    # (degrees Celsius; -274, below absolute zero, means "not set") and the vendor telemetry
    # object sensor agents ship for their cloud endpoint (cpesim.sensor says why not BulkData).
    TEMP + "Enable": Constraint(B),
    TEMP + "Reset": Constraint(B),
    TEMP + "LowAlarmValue": Constraint(I, minimum=-274),
    TEMP + "HighAlarmValue": Constraint(I, minimum=-274),
    TEMP + "PollingInterval": Constraint(U, minimum=0),
    TELEMETRY + "Enable": Constraint(B),
    TELEMETRY + "URL": Constraint(S, max_length=256, check=_url),
    TELEMETRY + "ReportingInterval": Constraint(U, minimum=10, maximum=86400),
    TELEMETRY + "Format": Constraint(S, enum=("JSON", "CSV")),
    TELEMETRY + "Username": Constraint(S, max_length=256),
    TELEMETRY + "Password": Constraint(S, max_length=256),
    # TR-135 STB audio/video outputs
    STB + "AudioOutput.{i}.AudioLevel": Constraint(U, minimum=0, maximum=100),
    STB + "AudioOutput.{i}.CancelMute": Constraint(B),
    STB + "AudioOutput.{i}.Enable": Constraint(B),
    STB + "VideoOutput.{i}.Enable": Constraint(B),
    STB + "VideoOutput.{i}.ColorbarEnable": Constraint(B),
    STB + "VideoOutput.{i}.DisplayFormat": Constraint(S, enum=DISPLAY_FORMATS),
    STB + "VideoOutput.{i}.VideoFormat": Constraint(S, max_length=64),
    STB + "HDMI.{i}.Enable": Constraint(B),
    STB + "HDMI.{i}.ResolutionMode": Constraint(S, enum=("Auto", "Manual")),
    STB + "HDMI.{i}.ResolutionValue": Constraint(S, enum=HDMI_RESOLUTIONS),
}

_INSTANCE = re.compile(r"\.(\d+|\*)(?=\.)")


def schema_path(path: str) -> str:
    """``Device.WiFi.SSID.2.SSID`` (or ``.*.``) -> ``Device.WiFi.SSID.{i}.SSID``."""
    return _INSTANCE.sub(".{i}", path)


def constraint_for(path: str) -> Constraint | None:
    return KNOWN.get(schema_path(path))


def value_error(path: str, text: str, xsd_type: XsdType) -> str | None:
    """Why `text` cannot be written to `path` as `xsd_type`, or None when it can. Checks the lexical
    form of the type, then what the data model says of the path where it is known."""
    problem = lexical_error(text, xsd_type)
    if problem is not None:
        return f"{path}: {problem}"
    known = constraint_for(path)
    if known is None:
        return None
    if known.type != xsd_type:
        problem = lexical_error(text, known.type)
        if problem is not None:
            return f"{path} is {known.type} in the data model: {problem}"
    if known.type in (U, I, XsdType.LONG, XsdType.UNSIGNED_LONG):
        number = int(text)
        if known.minimum is not None and number < known.minimum:
            return f"{path}: {number} is below the minimum {known.minimum}"
        if known.maximum is not None and number > known.maximum:
            return f"{path}: {number} is above the maximum {known.maximum}"
    if known.enum and text not in known.enum:
        return f"{path}: {text!r} is not one of {', '.join(known.enum)}"
    if known.list_of:
        bad = [word for word in text.split(",") if word.strip() not in known.list_of]
        if bad:
            return f"{path}: {bad[0]!r} is not one of {', '.join(known.list_of)}"
    if known.min_length is not None and len(text) < known.min_length:
        return f"{path}: {text!r} is shorter than {known.min_length} characters"
    if known.max_length is not None and len(text) > known.max_length:
        return f"{path}: the value is longer than {known.max_length} characters"
    if known.check is not None:
        problem = known.check(text)
        if problem is not None:
            return f"{path}: {problem}"
    return None


def known_type(path: str) -> XsdType | None:
    known = constraint_for(path)
    return known.type if known is not None else None
