"""Sensor-like end devices (IEC 62608-1 annex B): the shipped sensor profiles converge a cpesim
sensor (TR-181 temperature sensors, the vendor telemetry object) through the real /cwmp endpoint,
with per-device variables for its cloud endpoint."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from acs.cwmp import messages as m
from acs.homenet import services
from acs.homenet.choices import ComplianceState
from acs.homenet.library import LIBRARY
from acs.homenet.models import Compliance
from tests.cds.conftest import SimBox
from tests.homenet.test_sessions import open_acs, profile  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)

TEMP = "Device.DeviceInfo.TemperatureStatus.TemperatureSensor."
TELEMETRY = "Device.X_SENSOR_Telemetry."
SENSOR_PROFILES = ("Sensor: cloud reporting", "Sensor: alarm thresholds")


def sensor_box(serial: str) -> SimBox:
    from cpesim.box import Box
    from cpesim.profiles import DeviceSpec

    sim = SimBox(serial)
    spec = DeviceSpec("0050C2", "HS-100", manufacturer="Alpha", kind="sensor")
    sim.box = Box(sim.box.config, spec, serial, 11)
    return sim


def library_sensor_profiles():
    for entry in LIBRARY:
        if entry["name"] in SENSOR_PROFILES:
            profile(entry["name"], values=entry["values"], triggers=entry["triggers"])


def test_sensor_profiles_converge_a_sensor_once_its_variables_are_set(open_acs):  # noqa: F811
    library_sensor_profiles()
    sensor = sensor_box("HS0001")
    rpcs = sensor.session()
    names = [type(r).__name__ for r in rpcs]
    # The sensor table is read by names, then one SetParameterValues carries everything the
    # device variables do not hold back.
    assert m.GetParameterNames(TEMP, False) in rpcs
    assert names.count("SetParameterValues") == 1, names
    model = sensor.model
    assert model.get(TEMP + "1.LowAlarmValue") == "5"
    assert model.get(TEMP + "1.HighAlarmValue") == "35"
    assert model.get(TEMP + "2.HighAlarmValue") == "85"
    assert model.get(TEMP + "2.PollingInterval") == "60"
    assert model.get(TELEMETRY + "ReportingInterval") == "300"
    assert model.get(TELEMETRY + "Enable") == "true"
    assert model.get(TELEMETRY + "URL") == ""  # held back: no {telemetry_url} yet
    device = sensor.device()
    compliance = Compliance.objects.get(device=device)
    assert compliance.state == ComplianceState.FAILED
    missing = sorted(p["message"] for p in compliance.problems)
    assert missing == [
        "the device has no variable {ntp_server}",
        "the device has no variable {telemetry_url}",
    ]

    # A bad value is refused before anything is stored or sent, naming the variable and path.
    with pytest.raises(ValidationError) as refused:
        services.set_variables(
            device,
            {"telemetry_url": "ftp://cloud.example/in", "ntp_server": "ntp.example"},
            actor=open_acs["noc"],
        )
    assert list(refused.value.message_dict) == ["telemetry_url"]
    assert (
        "Device.X_SENSOR_Telemetry.URL: 'ftp://cloud.example/in' is not an HTTP(S) URL"
        in (refused.value.message_dict["telemetry_url"][0])
    )
    assert services.custom_variables(device) == {}

    services.set_variables(
        device,
        {"telemetry_url": "https://cloud.example/sensors/HS0001", "ntp_server": "ntp.example"},
        actor=open_acs["noc"],
    )
    compliance.refresh_from_db()
    assert compliance.state == ComplianceState.DRIFTED  # re-evaluated, nothing sent yet
    # The dry run reflects the variables: no problem left; the two paths the ACS never read
    # (they were held back) are read first, then written.
    plan, _ = services.dry_run(device)
    assert plan.problems == ()
    assert set(plan.read_values) == {"Device.Time.NTPServer1", TELEMETRY + "URL"}

    rpcs = sensor.session("1 BOOT")
    assert [type(r).__name__ for r in rpcs] == ["GetParameterValues", "SetParameterValues"]
    (spv,) = [r for r in rpcs if isinstance(r, m.SetParameterValues)]
    assert {(p.name, p.value.text) for p in spv.parameters} == {
        ("Device.Time.NTPServer1", "ntp.example"),
        (TELEMETRY + "URL", "https://cloud.example/sensors/HS0001"),
    }
    assert model.get(TELEMETRY + "URL") == "https://cloud.example/sensors/HS0001"
    assert model.get("Device.Time.NTPServer1") == "ntp.example"
    assert Compliance.objects.get(device=device).state == ComplianceState.IN_SYNC
    assert sensor.session("1 BOOT") == []
    # Its page lists the cloud endpoints it is configured for.
    from acs.homenet.presenters import endpoints

    assert {(e["kind"], e["value"]) for e in endpoints(services.tree_of(device))} >= {
        ("Telemetry", "https://cloud.example/sensors/HS0001"),
        ("NTP", "ntp.example"),
    }


@pytest.mark.parametrize(
    ("path", "value", "type_", "error"),
    [
        (TEMP + "1.LowAlarmValue", "-300", "int", "-300 is below the minimum -274"),
        (TEMP + "*.PollingInterval", "-5", "unsignedInt", "-5"),
        (TELEMETRY + "ReportingInterval", "5", "unsignedInt", "5 is below the minimum 10"),
        (TELEMETRY + "Format", "XML", "string", "'XML' is not one of JSON, CSV"),
        (TELEMETRY + "URL", "mqtt://broker", "string", "is not an HTTP(S) URL"),
    ],
)
def test_impossible_sensor_values_are_refused_before_anything_is_stored(
    open_acs,  # noqa: F811
    path,
    value,
    type_,
    error,
):
    with pytest.raises(ValidationError) as refused:
        profile("bad sensor", values=[{"path": path, "value": value, "type": type_}])
    (message,) = refused.value.message_dict["values"]
    assert message.startswith("values[0]: ") and path.split("*")[0] in message
    assert error in message
