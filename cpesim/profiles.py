"""The Device:2 data model of a simulated set-top box: schema and per-profile templates.

Parameter names, types, writability and ranges follow the Broadband Forum data models in
``/work/shared/specs/cwmp/``: TR-181 (``Device.DeviceInfo``, ``Device.ManagementServer``,
``Device.Ethernet``, ``Device.IP``), TR-135 STBService:1.4 (``Device.Services.STBService.1.``)
and TR-140 StorageService:1.3 (``Device.Services.StorageService.1.``); a test cross-checks every
STBService/StorageService parameter against the XML. On top come the DVB CDS extensions of
ETSI TS 102 542-4 clause 13:

* ``STBService.1.Capabilities.X_DVB_CDSPush.CDSPushCapable`` and ``...CDSPullCapable`` (the seed
  names the pull flag under ``X_DVB_CDSPush`` twice, very likely a slip; the box answers it both
  there and under ``Capabilities.X_DVB_CDSPull.CDSPullCapable``),
* ``STBService.1.Components.X_DVB_CDSPush.Reference`` / ``X_DVB_CDSPull.Reference``: the TR-140
  Folder holding each service's storage (folders, as TS 102 824 F.1 recommends, so their quota
  can be resized remotely),
* ``...X_DVB_CDSPush.Content.Item.{i}.ContentReferenceId`` (TV-Anytime CRID), ``VersionNumber``,
  plus ``Title`` and ``Size`` (bytes of *all* the item's files: content, bookmarks, player files),
* ``...X_DVB_CDSPull.RMSManagementEnabled``: the user's consent (given on the TV, read-only over
  CWMP) that the operator may manage the pull storage; without it the box refuses (fault 9001)
  every request touching pull content or the pull folder's quota, and leaves pull content out of
  whole-tree reads.

TR-135 1.1 standardised the same functions as ``STBService.1.Capabilities.CDS.PushCapable`` /
``PullCapable`` and ``STBService.1.Applications.CDSPush|CDSPull`` (``Reference``,
``ContentItem.{i}.ContentReferenceId``, ``VersionNumber``, ``DeleteItem``); the box keeps both
views of the same items in step (same instance numbers; deleting either deletes both).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from functools import lru_cache

from acs.cwmp.messages import XsdType

from .datamodel import DataModel, Schema, Template, parent_of

S = XsdType.STRING
U = XsdType.UNSIGNED_INT
I = XsdType.INT  # noqa: E741 - the TR-069 type name
B = XsdType.BOOLEAN
UL = XsdType.UNSIGNED_LONG
DT = XsdType.DATE_TIME
HEX = XsdType.HEX_BINARY

STB = "Device.Services.STBService.1."
STORAGE = "Device.Services.StorageService.1."
VOLUME = STORAGE + "LogicalVolume.1."
PVR_FOLDER = VOLUME + "Folder.1."
PUSH_FOLDER = VOLUME + "Folder.2."
PULL_FOLDER = VOLUME + "Folder.3."
PUSH = STB + "Components.X_DVB_CDSPush."
PULL = STB + "Components.X_DVB_CDSPull."
APP_PUSH = STB + "Applications.CDSPush."
APP_PULL = STB + "Applications.CDSPull."
CONSENT = PULL + "RMSManagementEnabled"
MB = 1_000_000  # TR-140 capacities are in MB; the simulator counts 10^6 bytes per MB

VIDEO_FORMATS = ("MPEG-2 Part 2", "MPEG-4 Part 10", "SMPTE VC-1")
DISPLAY_FORMATS = ("Letterbox", "Pan-Scan", "CenterCutOut", "4:3", "16:9", "14:9")
HDMI_RESOLUTIONS = (
    "720x480p/59.94Hz",
    "720x576p/50Hz",
    "1280x720p/50Hz",
    "1280x720p/59.94Hz",
    "1920x1080i/50Hz",
    "1920x1080p/50Hz",
    "3840x2160p/50Hz",
)
ANALOG_VIDEO = ("NTSC-M", "PAL-B", "PAL-G", "PAL-I", "SECAM-L")
AUDIO_FORMATS = ("ANALOG-2-CHANNELS", "DIGITAL-OPTICAL-SP/DIF", "HDMI")
STATUS = ("Disabled", "Enabled", "Error")


# --- dynamic parameters ---------------------------------------------------------------------------


def _count_entries(model: DataModel, path: str) -> str:
    """``X.FooNumberOfEntries`` counts the visible instances of ``X.Foo.``."""
    name = path[path.rfind(".") + 1 : -len("NumberOfEntries")]
    table = parent_of(path) + name + "."
    return str(sum(1 for n in model.instances(table) if model.visible(f"{table}{n}.")))


def _uptime(model: DataModel, path: str) -> str:
    return str(model.context.uptime() if model.context is not None else 0)


def _always_false(model: DataModel, path: str) -> str:
    return "false"


def folder_used_bytes(model: DataModel, folder: str) -> int:
    """Bytes in a folder: the content items of every CDS storage that references it, plus the
    folder's other files (recordings), which the box's context reports."""
    used = model.context.other_bytes(folder) if model.context is not None else 0
    for service in (PUSH, PULL):
        if model.get(service + "Reference").rstrip(".") + "." != folder:
            continue
        table = service + "Content.Item."
        for number in model.instances(table):
            used += int(model.get(f"{table}{number}.Size"))
    return used


def _mb(used: int) -> int:
    return -(-used // MB)  # any used byte counts as a MB


def _folder_used(model: DataModel, path: str) -> str:
    folder = parent_of(parent_of(path))  # ...Folder.N.Quota.UsedSpace -> ...Folder.N.
    return str(_mb(folder_used_bytes(model, folder)))


def _volume_used(model: DataModel, path: str) -> str:
    volume = parent_of(path)
    used = model.context.other_bytes(volume) if model.context is not None else 0
    for number in model.instances(volume + "Folder."):
        used += folder_used_bytes(model, f"{volume}Folder.{number}.")
    return str(_mb(used))


def _threshold(model: DataModel, path: str) -> str:
    """TR-140: true when ThresholdLimit > 0 and UsedSpace + ThresholdLimit >= Capacity."""
    base = parent_of(path)
    limit = int(model.get(base + "ThresholdLimit"))
    used = int(model.get(base + "UsedSpace"))
    capacity = int(model.get(base + "Capacity"))
    return "true" if limit > 0 and used + limit >= capacity else "false"


# --- validators (SetParameterValues beyond type and range: fault 9007) ----------------------------


def _in_list(list_param: str):
    def check(model: DataModel, path: str, text: str) -> str | None:
        allowed = [item.strip() for item in model.get(list_param).split(",") if item.strip()]
        return (
            None
            if text in allowed
            else f"{text!r} is not one of {list_param} ({', '.join(allowed)})"
        )

    return check


def _hdmi_resolution(model: DataModel, path: str, text: str) -> str | None:
    supported = parent_of(path) + "DisplayDevice.SupportedResolutions"
    return _in_list(supported)(model, path, text)


def _quota_capacity(model: DataModel, path: str, text: str) -> str | None:
    folder = parent_of(parent_of(path))
    used = _mb(folder_used_bytes(model, folder))
    new = int(text)
    if new < used:
        return f"{new} MB is less than the {used} MB the folder already uses"
    volume = parent_of(parent_of(folder))
    others = sum(
        int(model.get(f"{volume}Folder.{n}.Quota.Capacity"))
        for n in model.instances(volume + "Folder.")
        if f"{volume}Folder.{n}." != folder
    )
    capacity = int(model.get(volume + "Capacity"))
    if others + new > capacity:
        return f"{new} MB with the other folders' {others} MB exceeds the volume's {capacity} MB"
    return None


def _volume_capacity(model: DataModel, path: str, text: str) -> str | None:
    if text == model.get(path):
        return None
    return "the logical volume is a fixed partition; resize a Folder's Quota.Capacity instead"


def _url(model: DataModel, path: str, text: str) -> str | None:
    return None if text.startswith(("http://", "https://")) else f"{text!r} is not an HTTP(S) URL"


@lru_cache(maxsize=1)
def schema() -> Schema:
    """The schema of every simulated STB (built once per process)."""
    s = Schema("Device.")
    p, o = s.param, s.obj
    p("Device.RootDataModelVersion", S, default="2.11", forced_inform=True)

    o("Device.DeviceInfo.")
    d = "Device.DeviceInfo."
    p(d + "Manufacturer", S, max_length=64)
    p(d + "ManufacturerOUI", S, max_length=6)
    p(d + "ModelName", S, max_length=64)
    p(d + "Description", S, max_length=256)
    p(d + "ProductClass", S, max_length=64)
    p(d + "SerialNumber", S, max_length=64)
    p(d + "HardwareVersion", S, max_length=64, forced_inform=True)
    p(d + "SoftwareVersion", S, max_length=64, forced_inform=True)
    p(d + "ProvisioningCode", S, writable=True, max_length=64, forced_inform=True)
    p(d + "UpTime", U, dynamic=_uptime, deny_active=True)

    o("Device.ManagementServer.")
    m = "Device.ManagementServer."
    p(m + "EnableCWMP", B, writable=True, default="true")
    p(m + "URL", S, writable=True, max_length=256, validator=_url)
    p(m + "Username", S, writable=True, max_length=256)
    p(m + "Password", S, writable=True, max_length=256, secret=True)
    p(m + "PeriodicInformEnable", B, writable=True, default="true")
    p(m + "PeriodicInformInterval", U, writable=True, min=1, default="3600")
    p(m + "PeriodicInformTime", DT, writable=True, default="0001-01-01T00:00:00Z")
    p(m + "ParameterKey", S, max_length=32, forced_inform=True)
    p(m + "ConnectionRequestURL", S, max_length=256, forced_inform=True)
    p(m + "ConnectionRequestUsername", S, writable=True, max_length=256)
    p(m + "ConnectionRequestPassword", S, writable=True, max_length=256, secret=True)
    p(m + "UDPConnectionRequestAddress", S, max_length=256)
    p(m + "UpgradesManaged", B, writable=True, default="true")
    p(m + "CWMPRetryMinimumWaitInterval", U, writable=True, min=1, max=65535, default="5")
    p(m + "CWMPRetryIntervalMultiplier", U, writable=True, min=1000, max=65535, default="2000")
    p(m + "AliasBasedAddressing", B, default="false", forced_inform=True)

    o("Device.Ethernet.")
    p("Device.Ethernet.InterfaceNumberOfEntries", U, dynamic=_count_entries)
    o("Device.Ethernet.Interface.{i}.")
    e = "Device.Ethernet.Interface.{i}."
    p(e + "Enable", B, writable=True, default="true")
    p(
        e + "Status",
        S,
        default="Up",
        enum=("Up", "Down", "Unknown", "Dormant", "NotPresent", "LowerLayerDown", "Error"),
    )
    p(e + "Name", S, default="eth0", max_length=64)
    p(e + "MACAddress", S, max_length=17)
    p(e + "MaxBitRate", I, writable=True, min=-1, default="-1")
    p(e + "CurrentBitRate", U, default="1000")
    p(e + "DuplexMode", S, writable=True, default="Auto", enum=("Half", "Full", "Auto"))

    o("Device.IP.")
    p("Device.IP.InterfaceNumberOfEntries", U, dynamic=_count_entries)
    o("Device.IP.Interface.{i}.")
    ip = "Device.IP.Interface.{i}."
    p(ip + "Enable", B, writable=True, default="true")
    p(
        ip + "Status",
        S,
        default="Up",
        enum=("Up", "Down", "Unknown", "Dormant", "NotPresent", "LowerLayerDown", "Error"),
    )
    p(ip + "Name", S, default="wan", max_length=64)
    p(ip + "LowerLayers", S, default="Device.Ethernet.Interface.1.", max_length=1024)
    p(ip + "IPv4AddressNumberOfEntries", U, dynamic=_count_entries)
    o(ip + "IPv4Address.{i}.")
    p(ip + "IPv4Address.{i}.Enable", B, writable=True, default="true")
    p(ip + "IPv4Address.{i}.IPAddress", S, max_length=15)
    p(ip + "IPv4Address.{i}.SubnetMask", S, default="255.255.0.0", max_length=15)
    p(
        ip + "IPv4Address.{i}.AddressingType",
        S,
        default="DHCP",
        enum=("DHCP", "IKEv2", "AutoIP", "IPCP", "Static"),
    )

    o("Device.Services.")
    p("Device.Services.STBServiceNumberOfEntries", U, dynamic=_count_entries)
    p("Device.Services.StorageServiceNumberOfEntries", U, dynamic=_count_entries)
    _stb_service(s)
    _storage_service(s)
    return s


def _stb_service(s: Schema) -> None:
    p, o = s.param, s.obj
    b = "Device.Services.STBService.{i}."
    o(b)
    p(b + "Enable", B, writable=True, default="true")
    c = b + "Capabilities."
    o(c)
    p(c + "MaxActiveAVStreams", I, min=-1, default="2")
    p(c + "MaxActiveAVPlayers", I, min=-1, default="2")
    o(c + "FrontEnd.")
    o(c + "FrontEnd.IP.")
    f = c + "FrontEnd.IP."
    p(f + "MaxActiveIPStreams", I, min=-1, default="2")
    p(f + "MaxActiveInboundIPStreams", I, min=-1, default="2")
    p(f + "MaxActiveOutboundIPStreams", I, min=-1, default="0")
    p(f + "StreamingControlProtocols", S, default="RTSP,IGMP")
    p(f + "StreamingTransportProtocols", S, default="RTP,UDP,TCP")
    p(f + "StreamingTransportControlProtocols", S, default="RTCP")
    p(f + "DownloadTransportProtocols", S, default="HTTP,FLUTE")
    p(f + "MultiplexTypes", S, default="MPEG2-TS")
    p(f + "MaxDejitteringBufferSize", I, min=-1, default="1000")
    o(c + "PVR.")
    p(c + "PVR.MaxIOStreams", I, min=-1, default="2")
    p(c + "PVR.MaxRecordingStreams", I, min=-1, default="2")
    p(c + "PVR.MaxPlaybackStreams", I, min=-1, default="1")
    p(c + "PVR.MaxTimeDelay", I, min=-1, default="7200")
    o(c + "AudioDecoder.")
    p(c + "AudioDecoder.AudioStandards", S, default="MPEG1-Part3-Layer2,AAC,AC3,E-AC3")
    o(c + "VideoDecoder.")
    p(c + "VideoDecoder.VideoStandards", S, default="MPEG2-Part2,MPEG4-Part10")
    o(c + "AudioOutput.")
    p(c + "AudioOutput.AudioFormats", S, default=",".join(AUDIO_FORMATS))
    o(c + "VideoOutput.")
    p(c + "VideoOutput.CompositeVideoStandards", S, default="PAL-B,PAL-G,PAL-I")
    p(c + "VideoOutput.VideoFormats", S, default="CVBS,HDMI")
    p(c + "VideoOutput.Macrovision", S, default="", max_length=32)
    p(c + "VideoOutput.HDCP", S, default="2.2", max_length=32)
    p(c + "VideoOutput.DisplayFormats", S, default=",".join(DISPLAY_FORMATS))
    o(c + "HDMI.")
    p(c + "HDMI.SupportedResolutions", S, default=",".join(HDMI_RESOLUTIONS))
    p(c + "HDMI.CECSupport", B, default="true")
    p(c + "HDMI.HDMI3D", B, default="false")
    o(c + "CDS.")
    p(c + "CDS.PushCapable", B, default="true")
    p(c + "CDS.PullCapable", B, default="true")
    o(c + "X_DVB_CDSPush.")
    p(c + "X_DVB_CDSPush.CDSPushCapable", B, default="true")
    p(c + "X_DVB_CDSPush.CDSPullCapable", B, default="true")
    o(c + "X_DVB_CDSPull.")
    p(c + "X_DVB_CDSPull.CDSPullCapable", B, default="true")

    k = b + "Components."
    o(k)
    for table in ("FrontEnd", "AudioDecoder", "VideoDecoder", "AudioOutput", "VideoOutput", "HDMI"):
        p(k + table + "NumberOfEntries", U, dynamic=_count_entries)
    o(k + "FrontEnd.{i}.")
    p(k + "FrontEnd.{i}.Enable", B, writable=True, default="true")
    p(k + "FrontEnd.{i}.Status", S, default="Enabled", enum=STATUS)
    p(k + "FrontEnd.{i}.Name", S, default="IP front end", max_length=256)
    o(k + "AudioDecoder.{i}.")
    p(k + "AudioDecoder.{i}.Enable", B, writable=True, default="true")
    p(k + "AudioDecoder.{i}.Status", S, default="Enabled", enum=STATUS)
    p(k + "AudioDecoder.{i}.Name", S, default="Audio decoder", max_length=256)
    p(k + "AudioDecoder.{i}.AudioStandard", S, default="AAC")
    o(k + "VideoDecoder.{i}.")
    p(k + "VideoDecoder.{i}.Enable", B, writable=True, default="true")
    p(k + "VideoDecoder.{i}.Status", S, default="Enabled", enum=STATUS)
    p(k + "VideoDecoder.{i}.Name", S, default="Video decoder", max_length=256)
    p(k + "VideoDecoder.{i}.ContentAspectRatio", S, default="16:9", enum=("4:3", "16:9"))

    a = k + "AudioOutput.{i}."
    o(a)
    p(a + "Enable", B, writable=True, default="true")
    p(a + "Status", S, default="Enabled", enum=("Disabled", "Enabled", "Muted", "Error"))
    p(a + "Name", S, default="Audio output", max_length=256)
    p(a + "AudioFormat", S, default="HDMI")
    p(a + "AudioLevel", U, writable=True, min=0, max=100, default="60")
    p(a + "CancelMute", B, writable=True, default="false")

    v = k + "VideoOutput.{i}."
    o(v)
    p(v + "Enable", B, writable=True, default="true")
    p(v + "Status", S, default="Enabled", enum=("Disabled", "Enabled", "ColorbarEnabled", "Error"))
    p(v + "ColorbarEnable", B, writable=True, default="false")
    p(v + "Name", S, default="Video output", max_length=256)
    p(v + "CompositeVideoStandard", S, default="PAL-G")
    p(
        v + "VideoFormat",
        S,
        writable=True,
        default="HDMI",
        validator=_in_list(STB + "Capabilities.VideoOutput.VideoFormats"),
    )
    p(
        v + "AspectRatioBehaviour",
        S,
        default="Letterbox",
        enum=(
            "None",
            "Letterbox",
            "16:9 Letterbox",
            "14:9 Letterbox",
            "CenterCutOut",
            "Combined",
            "Combined 16:9 Letterbox and CenterCutOut",
            "Combined 14:9 Letterbox and CenterCutOut",
        ),
    )
    p(
        v + "DisplayFormat",
        S,
        writable=True,
        default="16:9",
        validator=_in_list(STB + "Capabilities.VideoOutput.DisplayFormats"),
    )
    p(v + "Macrovision", B, default="false")
    p(v + "HDCP", B, default="true")

    h = k + "HDMI.{i}."
    o(h)
    p(h + "Enable", B, writable=True, default="true")
    p(h + "Status", S, default="Enabled", enum=STATUS)
    p(h + "Name", S, default="HDMI", max_length=256)
    p(h + "ResolutionMode", S, writable=True, default="Auto", enum=("Auto", "Manual"))
    p(
        h + "ResolutionValue",
        S,
        writable=True,
        default="1920x1080p/50Hz",
        validator=_hdmi_resolution,
    )
    o(h + "DisplayDevice.")
    dd = h + "DisplayDevice."
    p(dd + "Status", S, default="Present", enum=("Present", "None", "Error"))
    p(dd + "Name", S, default="TV", max_length=256)
    p(dd + "EEDID", HEX, default="00FFFFFFFFFFFF00", max_length=256)
    p(dd + "SupportedResolutions", S, default=",".join(HDMI_RESOLUTIONS[:6]))
    p(dd + "PreferredResolution", S, default="1920x1080p/50Hz")
    p(dd + "VideoLatency", U, default="0")
    p(dd + "CECSupport", B, default="true")
    p(dd + "AutoLipSyncSupport", B, default="false")
    p(dd + "HDMI3DPresent", B, default="false")

    o(k + "PVR.")
    p(k + "PVR.StorageNumberOfEntries", U, dynamic=_count_entries)
    o(k + "PVR.Storage.{i}.")
    p(k + "PVR.Storage.{i}.Name", S, default="PVR", max_length=256)
    p(k + "PVR.Storage.{i}.Reference", S, max_length=256)

    for service in ("X_DVB_CDSPush", "X_DVB_CDSPull"):
        x = k + service + "."
        o(x)
        p(x + "Reference", S, max_length=256)
        if service == "X_DVB_CDSPull":
            p(x + "RMSManagementEnabled", B, default="false")
        o(x + "Content.")
        p(x + "Content.ItemNumberOfEntries", U, dynamic=_count_entries)
        # Content arrives by CDS download, never by AddObject; DeleteObject deletes it.
        o(x + "Content.Item.{i}.", addable=False, deletable=True)
        item = x + "Content.Item.{i}."
        p(item + "ContentReferenceId", S, max_length=256)
        p(item + "VersionNumber", U, min=0, max=255, default="0")
        p(item + "Title", S, max_length=256)
        p(item + "Size", UL, default="0")

    ap = b + "Applications."
    o(ap)
    for service in ("CDSPush", "CDSPull"):
        x = ap + service + "."
        o(x)
        p(x + "Reference", S, max_length=256)
        p(x + "ContentItemNumberOfEntries", U, dynamic=_count_entries)
        o(x + "ContentItem.{i}.", addable=False, deletable=True)
        p(x + "ContentItem.{i}.Alias", S, writable=True, max_length=64)
        p(x + "ContentItem.{i}.ContentReferenceId", S)
        p(x + "ContentItem.{i}.VersionNumber", U, min=0, max=255, default="0")
        p(x + "ContentItem.{i}.DeleteItem", B, writable=True, dynamic=_always_false)


def _storage_service(s: Schema) -> None:
    p, o = s.param, s.obj
    b = "Device.Services.StorageService.{i}."
    o(b)
    p(b + "Enable", B, writable=True, default="true")
    for table in ("PhysicalMedium", "LogicalVolume"):
        p(b + table + "NumberOfEntries", U, dynamic=_count_entries)
    c = b + "Capabilities."
    o(c)
    p(c + "FTPCapable", B, default="false")
    p(c + "SFTPCapable", B, default="false")
    p(c + "HTTPCapable", B, default="false")
    p(c + "HTTPSCapable", B, default="false")
    p(c + "HTTPWritable", B, default="false")
    p(c + "SupportedNetworkProtocols", S, default="")
    p(c + "SupportedFileSystemTypes", S, default="EXT4,FAT32")
    p(c + "SupportedRaidTypes", S, default="")
    p(c + "VolumeEncryptionCapable", B, default="false")

    pm = b + "PhysicalMedium.{i}."
    o(pm)
    p(pm + "Alias", S, writable=True, max_length=64)
    p(pm + "Name", S, writable=True, default="disk0", max_length=64)
    p(pm + "Vendor", S, default="", max_length=64)
    p(pm + "Model", S, default="", max_length=128)
    p(pm + "SerialNumber", S, default="", max_length=64)
    p(pm + "FirmwareVersion", S, default="", max_length=64)
    p(
        pm + "ConnectionType",
        S,
        default="SATA/300",
        enum=("USB 2.0", "USB 3.0", "SATA/150", "SATA/300", "SATA/600"),
    )
    p(pm + "Type", S, default="HDD", enum=("HDD", "SSD", "SSHD"))
    p(pm + "Removable", B, default="false")
    p(pm + "Capacity", U, default="0")
    p(pm + "Status", S, default="Online", enum=("Online", "Standby", "Offline"))
    p(pm + "SMARTCapable", B, default="false")
    p(pm + "Health", S, default="OK", enum=("OK", "Failing", "Error"))
    p(pm + "HotSwappable", B, default="false")

    lv = b + "LogicalVolume.{i}."
    o(lv, addable=False, deletable=False)
    p(lv + "Alias", S, writable=True, max_length=64)
    p(lv + "Name", S, writable=True, default="data", max_length=64)
    p(lv + "Status", S, default="Online", enum=("Offline", "Online", "Error"))
    p(lv + "Enable", B, writable=True, default="true")
    p(lv + "PhysicalReference", S, writable=True, max_length=256)
    p(lv + "FileSystem", S, default="EXT4")
    p(lv + "Capacity", U, writable=True, default="0", validator=_volume_capacity)
    p(lv + "UsedSpace", U, dynamic=_volume_used)
    p(lv + "ThresholdLimit", U, writable=True, default="0")
    p(lv + "ThresholdReached", B, dynamic=_threshold)
    p(lv + "Encrypted", B, default="false")
    p(lv + "FolderNumberOfEntries", U, dynamic=_count_entries)

    fo = lv + "Folder.{i}."
    o(fo, addable=True, deletable=True, max_entries=16)
    p(fo + "Alias", S, writable=True, max_length=64)
    p(fo + "Name", S, writable=True, default="folder", max_length=64)
    p(fo + "Enable", B, writable=True, default="true")
    p(fo + "UserAccountAccess", U, writable=True, min=0, max=3, default="0")
    o(fo + "Quota.")
    q = fo + "Quota."
    p(q + "Enable", B, writable=True, default="true")
    p(q + "Capacity", U, writable=True, default="0", validator=_quota_capacity)
    p(q + "UsedSpace", U, dynamic=_folder_used)
    p(q + "ThresholdLimit", U, writable=True, default="0")
    p(q + "ThresholdReached", B, dynamic=_threshold)


# --- device profiles and templates -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What all boxes of one fleet share (the device class)."""

    oui: str
    product_class: str
    manufacturer: str = "cpesim"
    model_name: str = ""
    hardware_version: str = "1.0"
    disk_mb: int = 500_000
    content_variants: int = 8
    #: "stb" (TR-135 set-top box), "gateway" (cpesim.gateway: hosts, Wi-Fi, DHCP, IGMP, QoS) or
    #: "sensor" (cpesim.sensor: TR-181 temperature sensors with thresholds, cloud telemetry)
    kind: str = "stb"
    #: gateway only: the hosts behind it, (mac, ip, host name, interface type)
    hosts: tuple[tuple[str, str, str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.hosts and self.kind != "gateway":
            raise ValueError(f"hosts: only a gateway has hosts behind it, not a {self.kind}")


KINDS = ("stb", "gateway", "sensor")


#: Per-box parameters: their values live in each box's overlay, formatted from the box identity.
PERSONAL = (
    "Device.DeviceInfo.SerialNumber",
    "Device.DeviceInfo.SoftwareVersion",
    "Device.ManagementServer.URL",
    "Device.ManagementServer.Username",
    "Device.ManagementServer.Password",
    "Device.ManagementServer.PeriodicInformInterval",
    "Device.ManagementServer.ConnectionRequestURL",
    "Device.ManagementServer.ConnectionRequestUsername",
    "Device.ManagementServer.ConnectionRequestPassword",
    "Device.ManagementServer.UDPConnectionRequestAddress",
    "Device.Ethernet.Interface.1.MACAddress",
    "Device.IP.Interface.1.IPv4Address.1.IPAddress",
    CONSENT,
)


@lru_cache(maxsize=256)
def template(spec: DeviceSpec, variant: int) -> Template:
    """The shared tree of one device class and content variant (built once, then frozen)."""
    model = DataModel.empty(schema())
    d = "Device.DeviceInfo."
    model.put(d + "Manufacturer", spec.manufacturer)
    model.put(d + "ManufacturerOUI", spec.oui)
    model.put(d + "ModelName", spec.model_name or spec.product_class)
    model.put(d + "Description", f"{spec.manufacturer} {spec.product_class} IPTV set-top box")
    model.put(d + "ProductClass", spec.product_class)
    model.put(d + "HardwareVersion", spec.hardware_version)
    model.add_instance("Device.Ethernet.Interface.")
    model.add_instance("Device.IP.Interface.")
    model.add_instance("Device.IP.Interface.1.IPv4Address.")

    model.add_instance("Device.Services.STBService.")
    k = STB + "Components."
    model.add_instance(k + "FrontEnd.")
    model.add_instance(k + "AudioDecoder.")
    model.add_instance(k + "VideoDecoder.")
    model.add_instance(k + "AudioOutput.", {"Name": "HDMI audio", "AudioFormat": "HDMI"})
    model.add_instance(
        k + "AudioOutput.",
        {"Name": "S/PDIF", "AudioFormat": "DIGITAL-OPTICAL-SP/DIF", "AudioLevel": "100"},
    )
    model.add_instance(k + "VideoOutput.")
    model.add_instance(k + "HDMI.")
    model.add_instance(k + "PVR.Storage.", {"Reference": PVR_FOLDER.rstrip(".")})

    model.add_instance("Device.Services.StorageService.")
    model.add_instance(
        STORAGE + "PhysicalMedium.",
        {
            "Vendor": spec.manufacturer,
            "Model": f"{spec.product_class}-HDD",
            "Capacity": str(spec.disk_mb),
        },
    )
    volume_mb = spec.disk_mb - spec.disk_mb // 50  # the file system keeps 2%
    model.add_instance(
        STORAGE + "LogicalVolume.",
        {
            "Name": "data",
            "PhysicalReference": STORAGE + "PhysicalMedium.1",
            "Capacity": str(volume_mb),
        },
    )
    quotas = {
        "pvr": volume_mb * 6 // 10,
        "cds-push": volume_mb * 2 // 10,
        "cds-pull": volume_mb // 10,
    }
    for name, quota in quotas.items():
        number = model.add_instance(VOLUME + "Folder.", {"Name": name})
        model.put(f"{VOLUME}Folder.{number}.Quota.Capacity", str(quota))
    for service, app, folder in ((PUSH, APP_PUSH, PUSH_FOLDER), (PULL, APP_PULL, PULL_FOLDER)):
        model.put(service + "Reference", folder.rstrip("."))
        model.put(app + "Reference", folder.rstrip("."))

    rng = random.Random(f"{spec.oui}/{spec.product_class}/{variant}")
    for service, app, kind, count in (
        (PUSH, APP_PUSH, "push", rng.randint(2, 6)),
        (PULL, APP_PULL, "pull", rng.randint(0, 4)),
    ):
        for _ in range(count):
            n = rng.randint(1, 9999)
            add_content(
                model,
                service,
                app,
                crid=f"crid://cds.operator.example/{kind}/{n}",
                version=rng.randint(0, 255),
                title=f"{kind.title()} item {n}",
                size=rng.randint(150, 4000) * MB + rng.randint(0, MB),
            )
    return model.freeze((path, "") for path in PERSONAL)


def add_content(
    model: DataModel, service: str, app: str, *, crid: str, version: int, title: str, size: int
) -> int:
    """Store a content item in both views (DVB extension and TR-135 Applications), same number."""
    number = model.add_instance(
        service + "Content.Item.",
        {
            "ContentReferenceId": crid,
            "VersionNumber": str(version),
            "Title": title,
            "Size": str(size),
        },
    )
    mirror = model.add_instance(
        app + "ContentItem.", {"ContentReferenceId": crid, "VersionNumber": str(version)}
    )
    if mirror != number:  # pragma: no cover - both tables only ever grow together
        raise RuntimeError(f"content tables out of step: {number} != {mirror}")
    return number


def content_mirror(path: str) -> str | None:
    """The other view's path of a content item instance, or None for anything else."""
    for service, app in ((PUSH, APP_PUSH), (PULL, APP_PULL)):
        if path.startswith(service + "Content.Item."):
            return app + "ContentItem." + path[len(service + "Content.Item.") :]
        if path.startswith(app + "ContentItem."):
            return service + "Content.Item." + path[len(app + "ContentItem.") :]
    return None


def pull_managed(path: str, pull_folder: str) -> bool:
    """Whether touching `path` needs the user's consent to RMS management of pull storage: the
    pull content (both views) and the quota of the folder ``X_DVB_CDSPull.Reference`` names
    (`pull_folder`, with its trailing dot)."""
    return path.startswith((PULL + "Content.", APP_PULL + "ContentItem.", pull_folder + "Quota."))


def variant_of(serial: str, variants: int) -> int:
    return int.from_bytes(hashlib.sha256(serial.encode()).digest()[:4], "big") % max(1, variants)
