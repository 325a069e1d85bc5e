"""A simulated sensor-like end device (TR-181 Device:2) for IEC 62608-1 annex B: a small box on the
home network (usually on the WLAN) that measures, raises alarms on thresholds and reports its
readings to a cloud server, managed by the ACS like any CWMP device.

What a sensor agent on CWMP exposes here, and why:

* ``Device.DeviceInfo.TemperatureStatus.TemperatureSensor.{i}.`` — **TR-181's own** sensor object
  (DeviceInfo:1): ``Enable``, ``Status``, ``Name``, ``Value`` (°C), ``LastUpdate``,
  ``MinValue``/``MaxValue``, the thresholds ``LowAlarmValue``/``HighAlarmValue`` (°C; ``-274``,
  below absolute zero, means "not set") with ``LowAlarmTime``/``HighAlarmTime``, ``Reset``
  (reads false) and ``PollingInterval`` (seconds between measurements; 0: the device decides).
  Each threshold is checked on its own (an integer from -274); the box does not refuse a low
  alarm above the high one (TR-181 does not ask it to; the profile author's job).
  Two sensors: 1 the room (``ambient``), 2 the device itself (``board``).
* ``Device.X_SENSOR_Telemetry.`` — where and how often readings go to the cloud: ``Enable``,
  ``URL`` (HTTP(S)), ``ReportingInterval`` (10 s to a day), ``Format`` (JSON or CSV),
  ``Username``/``Password`` (secret), ``LastReportTime`` and ``LastReportStatus``. A vendor object
  (as gateways' ``X_IPTV_IGMPProxy``): TR-181's standard upload, ``Device.BulkData.`` (TR-069
  annex N), needs a ``Profile.{i}`` *and* ``Parameter.{i}`` rows inside that new profile, i.e.
  nested instances the configurator could only create over two runs; sensor agents commonly ship
  a flat vendor object like this one instead.
* ``Device.ManagementServer.`` (the ACS, its periodic Inform), ``Device.Time.`` (NTP: readings are
  time-stamped) and the TR-181 base every cpesim box has (DeviceInfo, Ethernet — the MAC the
  gateway lists among its hosts — and IP).

Simulation: ``Value`` is computed on every read from the serial and the time (a room between about
18 and 26 °C, the board ~12 °C warmer); nothing is uploaded (``LastReportStatus`` stays ``None``):
the simulator is about the management plane.
"""

from __future__ import annotations

import copy
import hashlib
import time
from functools import lru_cache

from acs.cwmp.messages import XsdType

from .datamodel import DataModel, Schema, Template, parent_of
from .profiles import PERSONAL, STB, DeviceSpec, _count_entries, _url, schema

S = XsdType.STRING
U = XsdType.UNSIGNED_INT
I = XsdType.INT  # noqa: E741 - the TR-069 type name
B = XsdType.BOOLEAN
DT = XsdType.DATE_TIME

TEMPERATURE = "Device.DeviceInfo.TemperatureStatus."
SENSOR = TEMPERATURE + "TemperatureSensor.{i}."
TELEMETRY = "Device.X_SENSOR_Telemetry."
NOT_SET = "-274"  # TR-181: below absolute zero, "no value"
NEVER = "0001-01-01T00:00:00Z"


def _reading(model: DataModel, path: str) -> int:
    """The sensor's temperature now: a per-box base, a slow swing, the board warmer."""
    key = model.get("Device.DeviceInfo.SerialNumber")
    digest = hashlib.sha256(f"sensor/{key}".encode()).digest()
    base = 18 + digest[0] % 8
    swing = int(time.time() // 600 + digest[1]) % 3 - 1
    board = 12 if parent_of(path).endswith(".2.") else 0
    return base + swing + board


def _value(model: DataModel, path: str) -> str:
    return (
        str(_reading(model, path)) if model.get(parent_of(path) + "Enable") == "true" else NOT_SET
    )


def _status(model: DataModel, path: str) -> str:
    return "Enabled" if model.get(parent_of(path) + "Enable") == "true" else "Disabled"


def _min(model: DataModel, path: str) -> str:
    return str(_reading(model, path) - 1)


def _max(model: DataModel, path: str) -> str:
    return str(_reading(model, path) + 1)


def _now(model: DataModel, path: str) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _telemetry_url(model: DataModel, path: str, text: str) -> str | None:
    return None if text == "" else _url(model, path, text)


@lru_cache(maxsize=1)
def sensor_schema() -> Schema:
    s: Schema = copy.deepcopy(schema())
    p, o = s.param, s.obj

    o(TEMPERATURE)
    p(TEMPERATURE + "TemperatureSensorNumberOfEntries", U, dynamic=_count_entries)
    o(SENSOR)
    p(SENSOR + "Enable", B, writable=True, default="true")
    p(SENSOR + "Status", S, enum=("Disabled", "Enabled", "Error"), dynamic=_status)
    p(SENSOR + "Reset", B, writable=True, default="false")
    p(SENSOR + "ResetTime", DT, default=NEVER)
    p(SENSOR + "Name", S, max_length=256)
    p(SENSOR + "Value", I, min=-274, dynamic=_value)
    p(SENSOR + "LastUpdate", DT, dynamic=_now)
    p(SENSOR + "MinValue", I, min=-274, dynamic=_min)
    p(SENSOR + "MinTime", DT, default=NEVER)
    p(SENSOR + "MaxValue", I, min=-274, dynamic=_max)
    p(SENSOR + "MaxTime", DT, default=NEVER)
    p(SENSOR + "LowAlarmValue", I, writable=True, min=-274, default=NOT_SET)
    p(SENSOR + "LowAlarmTime", DT, default=NEVER)
    p(SENSOR + "HighAlarmValue", I, writable=True, min=-274, default=NOT_SET)
    p(SENSOR + "HighAlarmTime", DT, default=NEVER)
    p(SENSOR + "PollingInterval", U, writable=True, default="0")

    o(TELEMETRY)
    p(TELEMETRY + "Enable", B, writable=True, default="false")
    p(TELEMETRY + "URL", S, writable=True, default="", max_length=256, validator=_telemetry_url)
    p(TELEMETRY + "ReportingInterval", U, writable=True, min=10, max=86400, default="3600")
    p(TELEMETRY + "Format", S, writable=True, default="JSON", enum=("JSON", "CSV"))
    p(TELEMETRY + "Username", S, writable=True, default="", max_length=256)
    p(TELEMETRY + "Password", S, writable=True, default="", max_length=256, secret=True)
    p(TELEMETRY + "LastReportTime", DT, default=NEVER)
    p(TELEMETRY + "LastReportStatus", S, default="None", enum=("None", "Success", "Error"))

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
    return s


@lru_cache(maxsize=64)
def sensor_template(spec: DeviceSpec) -> Template:
    model = DataModel.empty(sensor_schema())
    d = "Device.DeviceInfo."
    model.put(d + "Manufacturer", spec.manufacturer)
    model.put(d + "ManufacturerOUI", spec.oui)
    model.put(d + "ModelName", spec.model_name or spec.product_class)
    model.put(d + "Description", f"{spec.manufacturer} {spec.product_class} home sensor")
    model.put(d + "ProductClass", spec.product_class)
    model.put(d + "HardwareVersion", spec.hardware_version)
    model.add_instance("Device.Ethernet.Interface.")
    model.add_instance("Device.IP.Interface.", {"Name": "lan"})
    model.add_instance("Device.IP.Interface.1.IPv4Address.")
    table = TEMPERATURE + "TemperatureSensor."
    model.add_instance(table, {"Name": "ambient"})
    model.add_instance(table, {"Name": "board"})
    return model.freeze((path, "") for path in PERSONAL if not path.startswith(STB))
