"""REST /api/profiles/: CRUD validated by the engine, dry run, apply, compliance, permissions;
the shipped library."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from acs.cwmp import messages as m
from acs.homenet.models import Compliance, Profile
from acs.models import Device, DeviceParameters, Task

OUT = "Device.Services.STBService.1.Components."


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def device(tenants):
    device = Device.objects.create(
        oui="00D09E",
        product_class="A-STB",
        serial_number="SN7",
        manufacturer="Alpha",
        device_class=tenants["dc_a"],
        mac_address="00:d0:9e:00:00:07",
    )
    DeviceParameters.objects.create(
        device=device,
        tree={
            OUT + "AudioOutput.": [None, None, False],
            OUT + "AudioOutput.1.AudioLevel": ["60", "unsignedInt", True],
            OUT + "AudioOutput.2.AudioLevel": ["40", "unsignedInt", True],
        },
    )
    return device


BODY = {
    "name": "quiet",
    "layer": "end_device",
    "priority": 3,
    "triggers": ["boot"],
    "values": [{"path": OUT + "AudioOutput.*.AudioLevel", "value": 40, "type": "unsignedInt"}],
}


def test_create_dry_run_apply_and_compliance(tenants, device):
    noc = client_for(tenants["noc"])
    response = noc.post("/api/profiles/", BODY, format="json")
    assert response.status_code == 201, response.json()
    response = noc.get(f"/api/profiles/dry-run/{device.pk}/")
    assert response.status_code == 200
    data = response.json()
    assert data["profiles"] == ["quiet"]
    assert data["describe"] == [f"set {OUT}AudioOutput.1.AudioLevel: '60' -> '40' (quiet)"]
    assert [m.from_dict(r) for r in data["rpcs"]] == [
        m.SetParameterValues(
            (
                m.ParameterValue(
                    OUT + "AudioOutput.1.AudioLevel", m.TypedValue("40", m.XsdType.UNSIGNED_INT)
                ),
            ),
            "homenet",
        )
    ]
    assert Task.objects.count() == 0  # a dry run sends nothing
    response = noc.post(f"/api/profiles/apply/{device.pk}/")
    assert response.status_code == 202
    assert response.json()["state"] == "converging"
    task = Task.objects.get()
    assert task.rpc == "SetParameterValues"
    response = noc.get("/api/profiles/compliance/")
    assert [row["state"] for row in response.json()["results"]] == ["converging"]


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        (
            {
                "values": [
                    {"path": OUT + "AudioOutput.1.AudioLevel", "value": 150, "type": "unsignedInt"}
                ]
            },
            "values",
            "above the maximum 100",
        ),
        (
            {"values": [{"path": "Device.A", "value": "x", "type": "float"}]},
            "values",
            "type 'float' is not one of",
        ),
        ({"values": [{"value": "x"}]}, "values", "values[0]: {path, value, type} is expected"),
        ({"triggers": ["sometimes"]}, "triggers", "unknown trigger"),
        ({"objects": [{"table": "Device.WiFi.SSID"}]}, "objects", "ends with '.'"),
    ],
)
def test_invalid_profiles_are_refused_naming_field_and_value(tenants, change, field, text):
    response = client_for(tenants["noc"]).post("/api/profiles/", {**BODY, **change}, format="json")
    assert response.status_code == 400
    assert text in str(response.json()[field])
    assert not Profile.objects.exists()


def test_suppliers_see_no_profiles_and_helpdesk_cannot_write(tenants, device):
    client_for(tenants["noc"]).post("/api/profiles/", BODY, format="json")
    supplier = client_for(tenants["supplier_a"])
    assert supplier.get("/api/profiles/").status_code == 403
    assert supplier.get(f"/api/profiles/dry-run/{device.pk}/").status_code == 403
    helpdesk = client_for(tenants["helpdesk"])
    assert helpdesk.get("/api/profiles/").status_code == 200
    assert helpdesk.post("/api/profiles/", {**BODY, "name": "x"}, format="json").status_code == 403


def test_profile_library_loads_idempotently_and_validates(db):
    call_command("load_profile_library")
    first = {p.name: p.updated for p in Profile.objects.all()}
    assert len(first) >= 7 and all(p.library and not p.enabled for p in Profile.objects.all())
    call_command("load_profile_library")
    assert set(first) == set(Profile.objects.values_list("name", flat=True))


def test_missing_device_variable_is_a_problem_in_the_dry_run(tenants, device):
    noc = client_for(tenants["noc"])
    noc.post(
        "/api/profiles/",
        {**BODY, "values": [{"path": "Device.Time.NTPServer1", "value": "{ntp_server}"}]},
        format="json",
    )
    data = noc.get(f"/api/profiles/dry-run/{device.pk}/").json()
    assert data["problems"] == [
        {
            "profile": "quiet",
            "path": "Device.Time.NTPServer1",
            "message": "the device has no variable {ntp_server}",
        }
    ]
    assert data["rpcs"] == []
    assert not Compliance.objects.exists()


def test_scheduled_profiles_converge_devices_that_are_due(tenants, device):
    from datetime import timedelta

    from django.utils import timezone

    from acs.homenet.services import due_for_schedule, save_profile

    profile = save_profile(
        Profile(
            name="every hour", triggers=["schedule"], schedule_minutes=60, values=BODY["values"]
        ),
        actor=None,
        device_classes=[tenants["dc_a"]],
    )
    assert due_for_schedule() == 1
    assert Task.objects.get().rpc == "SetParameterValues"
    assert due_for_schedule() == 0  # evaluated just now; in flight
    Compliance.objects.update(evaluated=timezone.now() - timedelta(hours=2), pending={})
    assert due_for_schedule() == 1
    profile.device_classes.set([tenants["dc_b"]])
    Compliance.objects.update(evaluated=timezone.now() - timedelta(hours=2), pending={})
    assert due_for_schedule() == 0
