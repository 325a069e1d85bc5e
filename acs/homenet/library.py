"""The shipped library of IPTV profiles (IEC 62608-1's layered model): gateway layer (WAN/cloud
endpoints, LAN/DHCP, Wi-Fi, IGMP proxy, QoS for IPTV) and end-device layer (STB A/V outputs of
TR-135; sensor-like devices of IEC 62608-1 annex B: TR-181 temperature sensors with thresholds and
their cloud telemetry, see `cpesim.sensor` for the parameters chosen). Loaded by `manage.py load_profile_library` (idempotent: same names are updated in place,
operator-made profiles are never touched). All are disabled until an operator enables them and
restricts them to device classes."""

from __future__ import annotations

U, B, S, I = "unsignedInt", "boolean", "string", "int"  # noqa: E741


def v(path: str, value: str, type_: str = S) -> dict:
    return {"path": path, "value": value, "type": type_}


W = "Device.WiFi."
STB = "Device.Services.STBService.1.Components."
TEMP = "Device.DeviceInfo.TemperatureStatus.TemperatureSensor."
TELEMETRY = "Device.X_SENSOR_Telemetry."

LIBRARY: list[dict] = [
    {
        "name": "Gateway: cloud endpoints (ACS, NTP)",
        "layer": "gateway",
        "priority": 0,
        "triggers": ["bootstrap", "boot"],
        "description": "The ACS a gateway informs, its interval, and NTP for set-top boxes' EPG times.",
        "values": [
            v("Device.ManagementServer.PeriodicInformEnable", "true", B),
            v("Device.ManagementServer.PeriodicInformInterval", "3600", U),
            v("Device.Time.Enable", "true", B),
            v("Device.Time.NTPServer1", "{ntp_server}"),
        ],
        "objects": [],
    },
    {
        "name": "Gateway: LAN and DHCP",
        "layer": "gateway",
        "priority": 0,
        "triggers": ["bootstrap", "boot"],
        "description": "One DHCPv4 pool for the home LAN, a day's lease.",
        "values": [
            v("Device.DHCPv4.Server.Pool.1.Enable", "true", B),
            v("Device.DHCPv4.Server.Pool.1.MinAddress", "192.168.1.100"),
            v("Device.DHCPv4.Server.Pool.1.MaxAddress", "192.168.1.199"),
            v("Device.DHCPv4.Server.Pool.1.SubnetMask", "255.255.255.0"),
            v("Device.DHCPv4.Server.Pool.1.LeaseTime", "86400", I),
        ],
        "objects": [],
    },
    {
        "name": "Gateway: Wi-Fi for IPTV",
        "layer": "gateway",
        "priority": 0,
        "triggers": ["bootstrap", "boot", "value_change"],
        "description": "WPA2/WPA3, the 5 GHz radio on a fixed non-DFS channel for multicast video, "
        "a per-box SSID and passphrase from device variables.",
        "values": [
            v(W + "Radio.*.Enable", "true", B),
            v(W + "Radio.2.AutoChannelEnable", "false", B),
            v(W + "Radio.2.Channel", "36", U),
            v(W + "SSID.1.SSID", "IPTV-{serial}"),
            v(W + "AccessPoint.*.Security.ModeEnabled", "WPA2-WPA3-Personal"),
            v(W + "AccessPoint.1.Security.KeyPassphrase", "{wifi_passphrase}"),
            v(W + "AccessPoint.*.WMMEnable", "true", B),
        ],
        "objects": [],
    },
    {
        "name": "Gateway: IGMP proxy for IPTV",
        "layer": "gateway",
        "priority": 0,
        "triggers": ["bootstrap", "boot", "periodic"],
        "description": "IGMPv3 proxy with snooping and fast leave, so channel changes are quick and "
        "multicast does not flood the Wi-Fi.",
        "values": [
            v("Device.X_IPTV_IGMPProxy.Enable", "true", B),
            v("Device.X_IPTV_IGMPProxy.Version", "3", U),
            v("Device.X_IPTV_IGMPProxy.FastLeave", "true", B),
            v("Device.X_IPTV_IGMPProxy.Snooping", "true", B),
        ],
        "objects": [],
    },
    {
        "name": "Gateway: QoS for IPTV",
        "layer": "gateway",
        "priority": 0,
        "triggers": ["bootstrap", "boot"],
        "description": "Multicast video (232.0.0.0/8 SSM range) marked AF41.",
        "values": [],
        "objects": [
            {
                "table": "Device.QoS.Classification.",
                "match": [{"name": "Alias", "value": "iptv-multicast", "type": S}],
                "present": True,
                "settings": [
                    {"name": "Enable", "value": "true", "type": B},
                    {"name": "DestIP", "value": "232.0.0.0", "type": S},
                    {"name": "DSCPMark", "value": "34", "type": I},
                ],
            }
        ],
    },
    {
        "name": "STB: audio and video outputs",
        "layer": "end_device",
        "priority": 0,
        "triggers": ["bootstrap", "boot"],
        "description": "TR-135 outputs: HDMI 1080p50 chosen by the box, 16:9, a moderate audio level.",
        "values": [
            v(STB + "HDMI.1.ResolutionMode", "Auto"),
            v(STB + "VideoOutput.1.DisplayFormat", "16:9"),
            v(STB + "AudioOutput.*.AudioLevel", "60", U),
            v(STB + "AudioOutput.*.CancelMute", "false", B),
        ],
        "objects": [],
    },
    {
        "name": "STB: studio monitoring outputs",
        "layer": "end_device",
        "priority": 10,
        "triggers": ["bootstrap", "boot", "value_change"],
        "description": "IEC 62608-1 annex A (studio): fixed 720p50 and full audio level, for boxes "
        "tagged 'studio'; wins over the home defaults by priority.",
        "tags": ["studio"],
        "values": [
            v(STB + "HDMI.1.ResolutionMode", "Manual"),
            v(STB + "HDMI.1.ResolutionValue", "1280x720p/50Hz"),
            v(STB + "AudioOutput.*.AudioLevel", "100", U),
        ],
        "objects": [],
    },
    {
        "name": "Sensor: cloud reporting",
        "layer": "end_device",
        "priority": 0,
        "triggers": ["bootstrap", "boot"],
        "description": "IEC 62608-1 annex B: a sensor measures every minute and reports to the "
        "household's cloud endpoint (device variable telemetry_url) every 5 minutes, as JSON, with "
        "NTP time (device variable ntp_server); the ACS hears from it hourly.",
        "values": [
            v("Device.ManagementServer.PeriodicInformEnable", "true", B),
            v("Device.ManagementServer.PeriodicInformInterval", "3600", U),
            v("Device.Time.Enable", "true", B),
            v("Device.Time.NTPServer1", "{ntp_server}"),
            v(TEMP + "*.Enable", "true", B),
            v(TEMP + "*.PollingInterval", "60", U),
            v(TELEMETRY + "Enable", "true", B),
            v(TELEMETRY + "URL", "{telemetry_url}"),
            v(TELEMETRY + "ReportingInterval", "300", U),
            v(TELEMETRY + "Format", "JSON"),
        ],
        "objects": [],
    },
    {
        "name": "Sensor: alarm thresholds",
        "layer": "end_device",
        "priority": 0,
        "triggers": ["bootstrap", "boot", "value_change"],
        "description": "Home defaults: the room sensor (1) alarms below 5 °C (frost) and above "
        "35 °C, the device's own sensor (2) above 85 °C. A higher-priority profile (e.g. by tag) "
        "overrides them per room.",
        "values": [
            v(TEMP + "1.LowAlarmValue", "5", I),
            v(TEMP + "1.HighAlarmValue", "35", I),
            v(TEMP + "2.HighAlarmValue", "85", I),
        ],
        "objects": [],
    },
]
