"""cpesim's sensor-like end device (cpesim.sensor): TR-181 temperature sensors with thresholds and
the vendor telemetry object, with TR-069 RPC semantics."""

from __future__ import annotations

import pytest

from acs.cwmp import messages as m
from cpesim.box import Box
from cpesim.datamodel import CwmpFault
from cpesim.fleet import FleetConfig
from cpesim.profiles import DeviceSpec
from cpesim.rpc import get_parameter_names, get_parameter_values, set_parameter_values

TEMP = "Device.DeviceInfo.TemperatureStatus.TemperatureSensor."
TELEMETRY = "Device.X_SENSOR_Telemetry."
U, I = m.XsdType.UNSIGNED_INT, m.XsdType.INT  # noqa: E741


@pytest.fixture
def sensor():
    spec = DeviceSpec("0050C2", "HS-100", manufacturer="Gamma", kind="sensor")
    return Box(FleetConfig(acs_url="http://acs.example/cwmp"), spec, "HS0001", 0)


def values(box, name):
    answer = get_parameter_values(box.model, m.GetParameterValues((name,))).response
    return {p.name: (p.value.text, p.value.type) for p in answer.parameters}


def spv(box, *items):
    return set_parameter_values(
        box.model,
        m.SetParameterValues(tuple(m.ParameterValue(n, m.TypedValue(v, t)) for n, v, t in items)),
    )


def test_the_sensor_reports_two_temperature_sensors_and_its_telemetry(sensor):
    got = values(sensor, "Device.DeviceInfo.TemperatureStatus.")
    assert got[TEMP[: -len("TemperatureSensor.")] + "TemperatureSensorNumberOfEntries"][0] == "2"
    assert got[TEMP + "1.Name"] == ("ambient", m.XsdType.STRING)
    ambient, board = int(got[TEMP + "1.Value"][0]), int(got[TEMP + "2.Value"][0])
    assert 16 < ambient < 28 and board == ambient + 12
    assert got[TEMP + "1.HighAlarmValue"] == ("-274", I)  # not set
    assert got[TEMP + "1.PollingInterval"] == ("0", U)
    telemetry = values(sensor, TELEMETRY)
    assert telemetry[TELEMETRY + "Enable"][0] == "false"
    assert telemetry[TELEMETRY + "ReportingInterval"] == ("3600", U)
    names = {
        p.name
        for p in get_parameter_names(
            sensor.model, m.GetParameterNames("Device.", False)
        ).response.parameters
    }
    assert {"Device.DeviceInfo.", "Device.ManagementServer.", TELEMETRY, "Device.Time."} <= names
    services = values(sensor, "Device.Services.")
    assert services["Device.Services.STBServiceNumberOfEntries"][0] == "0"


def test_thresholds_interval_and_endpoint_are_set_and_checked(sensor):
    spv(
        sensor,
        (TEMP + "1.LowAlarmValue", "5", I),
        (TEMP + "1.HighAlarmValue", "35", I),
        (TEMP + "2.PollingInterval", "60", U),
        (TELEMETRY + "URL", "https://cloud.example/in", m.XsdType.STRING),
        (TELEMETRY + "ReportingInterval", "300", U),
    )
    assert sensor.model.get(TEMP + "1.HighAlarmValue") == "35"
    assert sensor.model.get(TELEMETRY + "URL") == "https://cloud.example/in"
    for name, value, xsd_type, why in [
        (TELEMETRY + "ReportingInterval", "5", U, "below the minimum 10"),
        (TELEMETRY + "URL", "ftp://cloud.example", m.XsdType.STRING, "URL"),
        (TELEMETRY + "Format", "XML", m.XsdType.STRING, "not one of"),
        (TEMP + "1.LowAlarmValue", "-300", I, "below the minimum -274"),
        (TEMP + "1.Value", "20", I, "read-only"),
    ]:
        with pytest.raises(CwmpFault) as fault:
            spv(sensor, (name, value, xsd_type), (TELEMETRY + "Username", "u1", m.XsdType.STRING))
        assert fault.value.code in (9003, 9008)
        (detail,) = fault.value.parameter_faults
        assert detail.parameter_name == name and why in detail.fault_string
    assert sensor.model.get(TELEMETRY + "Username") == ""  # all or nothing


def test_a_disabled_sensor_has_no_value(sensor):
    spv(sensor, (TEMP + "2.Enable", "false", m.XsdType.BOOLEAN))
    got = values(sensor, TEMP + "2.")
    assert got[TEMP + "2.Value"][0] == "-274" and got[TEMP + "2.Status"][0] == "Disabled"


def test_device_kinds_are_checked():
    with pytest.raises(ValueError, match="kind 'fridge' is not one of stb, gateway, sensor"):
        DeviceSpec("0050C2", "X", kind="fridge")
    with pytest.raises(ValueError, match="only a gateway has hosts"):
        DeviceSpec("0050C2", "X", kind="sensor", hosts=(("a", "b", "c", "Ethernet"),))
