"""The device REST API: restricted lists with filters and keyset pagination, detail, the task
queue of a device (list, create through the services), errors naming the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from acs.choices import TaskState
from acs.models import Device, Task
from portal.models import AuditEvent
from tests.factories import make_package

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def fleet(tenants):
    now = timezone.now()
    devices = []
    for n in range(12):
        devices.append(
            Device.objects.create(
                oui="00D09E",
                product_class="A-STB",
                serial_number=f"A{n:04d}",
                software_version="1.0.0" if n % 2 else "2.0.0",
                hardware_version="HW1",
                mac_address=f"00:d0:9e:00:00:{n:02x}",
                device_class=tenants["dc_a"],
                online_until=now + timedelta(minutes=5) if n < 4 else now - timedelta(minutes=1),
            )
        )
    devices.append(
        Device.objects.create(
            oui="3C62F0",
            product_class="B-STB",
            serial_number="B0001",
            software_version="9.0",
            device_class=tenants["dc_b"],
        )
    )
    return devices


def test_list_is_restricted_filtered_and_keyset_paginated(tenants, fleet):
    noc = api(tenants["noc"])
    body = noc.get("/api/devices/?limit=5").json()
    assert len(body["results"]) == 5 and body["next"] and "cursor=" in body["next"]
    seen = [d["id"] for d in body["results"]]
    while body["next"]:
        body = noc.get(body["next"]).json()
        seen += [d["id"] for d in body["results"]]
    assert seen == sorted(d.pk for d in fleet)

    def ids(query, user="noc"):
        return {
            d["serial_number"]
            for d in api(tenants[user]).get(f"/api/devices/?{query}").json()["results"]
        }

    assert ids("oui=00-d0-9e&software_version=1.0.0") == {f"A{n:04d}" for n in range(1, 12, 2)}
    assert ids("product_class=B-STB") == {"B0001"}
    assert ids("hardware_version=HW1&online=true") == {f"A{n:04d}" for n in range(4)}
    assert len(ids("online=false")) == 9
    assert ids("serial=A0003") == {"A0003"}
    assert ids("mac=00D09E000005") == {"A0005"}
    assert ids("mac=garbage") == set()
    assert ids("", user="supplier_b") == {"B0001"}
    assert ids("serial=A0003", user="supplier_b") == set()


def test_list_query_count_does_not_grow_with_the_page(tenants, fleet):
    noc = api(tenants["noc"])
    noc.get("/api/devices/?limit=2")  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as small:
        assert noc.get("/api/devices/?limit=2").status_code == 200
    with CaptureQueriesContext(connection) as large:
        assert noc.get("/api/devices/?limit=13").status_code == 200
    assert len(large) == len(small) <= 6


def test_detail_and_another_tenants_device_is_404(tenants, fleet):
    a = fleet[0]
    body = api(tenants["supplier_a"]).get(f"/api/devices/{a.pk}/").json()
    assert body["serial_number"] == "A0000" and body["online"] is True
    assert body["manufacturer_name"] == "Alpha"
    assert api(tenants["supplier_b"]).get(f"/api/devices/{a.pk}/").status_code == 404
    assert api(tenants["supplier_b"]).get(f"/api/devices/{a.pk}/tasks/").status_code == 404
    assert APIClient().get("/api/devices/").status_code == 401


def test_helpdesk_queues_tasks_and_the_queue_lists_them(tenants, fleet):
    device = fleet[0]
    client = api(tenants["helpdesk"])
    url = f"/api/devices/{device.pk}/tasks/"
    response = client.post(url, {"rpc": "Reboot"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["state"] == TaskState.QUEUED
    response = client.post(
        url,
        {
            "rpc": "SetParameterValues",
            "values": {
                "Device.ManagementServer.PeriodicInformInterval": {
                    "value": "600",
                    "type": "unsignedInt",
                },
                "Device.X_Enabled": True,
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    client.post(url, {"rpc": "GetParameterValues", "names": ["Device.DeviceInfo."]}, format="json")
    client.post(url, {"rpc": "AddObject", "object_name": "Device.X.Item."}, format="json")
    client.post(url, {"rpc": "ScheduleInform", "delay_seconds": 30}, format="json")
    listed = client.get(url).json()["results"]
    assert [t["rpc"] for t in listed] == [
        "Reboot",
        "SetParameterValues",
        "GetParameterValues",
        "AddObject",
        "ScheduleInform",
    ]
    spv = Task.objects.get(rpc="SetParameterValues").request["parameters"]
    assert spv[0]["value"] == {"_type": "TypedValue", "text": "600", "type": "unsignedInt"}
    assert spv[1]["value"]["text"] == "true"
    assert AuditEvent.objects.filter(kind="acs_task_queued").count() == 5
    assert client.get(url + "?state=done").json()["results"] == []


def test_task_errors_name_the_field(tenants, fleet):
    url = f"/api/devices/{fleet[0].pk}/tasks/"
    client = api(tenants["noc"])
    cases = [
        ({"rpc": "Nope"}, "rpc"),
        ({"rpc": "GetParameterValues"}, "names"),
        (
            {"rpc": "SetParameterValues", "values": {"Device.A": {"value": "x", "type": "int"}}},
            "values",
        ),
        ({"rpc": "AddObject", "object_name": "Device.X"}, "non_field_errors"),
        ({"rpc": "Download"}, "package"),
        ({"rpc": "SetParameterAttributes", "attributes": [{"notification": 9}]}, "attributes"),
    ]
    for payload, field in cases:
        response = client.post(url, payload, format="json")
        assert response.status_code == 400, payload
        assert (
            field in response.json()["errors"] if "errors" in response.json() else response.json()
        ), payload
    assert "'x' is not an integer" in str(client.post(url, cases[2][0], format="json").json())
    assert not Task.objects.exists()


def test_download_task_through_the_api(tenants, fleet, settings):
    from fus.services import catalogue

    settings.FUS_DOWNLOAD_BASE_URL = "https://fus.example.net/firmware/"
    package = catalogue.approve_firmware(
        make_package(tenants["dc_a"], "3.0.0", actor=tenants["noc"]), actor=tenants["noc"]
    )
    url = f"/api/devices/{fleet[0].pk}/tasks/"
    response = api(tenants["noc"]).post(
        url, {"rpc": "Download", "package": package.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["expected_software_version"] == "3.0.0"
    # Another manufacturer's package id is "does not exist" for a supplier-scoped user.
    other = make_package(tenants["dc_b"], "4.0.0", actor=tenants["noc"])
    response = api(tenants["noc"]).post(
        url, {"rpc": "Download", "package": other.pk}, format="json"
    )
    assert response.status_code == 400


def test_suppliers_may_not_queue_tasks(tenants, fleet):
    url = f"/api/devices/{fleet[0].pk}/tasks/"
    assert api(tenants["supplier_a"]).post(url, {"rpc": "Reboot"}, format="json").status_code in (
        403,
        404,
    )
    assert api(tenants["supplier_a"]).get("/api/devices/").status_code == 200
    assert not Task.objects.exists()
