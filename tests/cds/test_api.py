"""REST /api/devices/{id}/cds/ with a cpesim box behind /cwmp."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cds.models import Storage
from portal.models import AuditEvent
from tests.cds.conftest import SimBox

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(device, tail: str = "") -> str:
    return f"/api/devices/{device.pk}/cds/{tail}"


def test_read_delete_and_resize_through_the_api(sim, tenants):
    client = api(tenants["helpdesk"])
    device = sim.device()
    body = client.get(url(device)).json()
    assert body["read_at"] is None and body["age_seconds"] is None
    assert [s["read"] for s in body["storages"]] == [False, False]

    answer = client.post(url(device, "refresh/"))
    assert answer.status_code == 202 and answer.json()["status"] == "waiting"
    assert client.get(url(device)).json()["pending"] is True
    sim.session("6 CONNECTION REQUEST")
    body = client.get(url(device)).json()
    assert body["pending"] is False and body["age_seconds"] is not None
    push = body["storages"][0]
    assert push["service"] == "push" and push["kind"] == "folder" and push["resizable"]
    assert {i["instance"] for i in push["items"]} == set(sim.items("push"))
    assert push["capacity_mb"] - push["used_mb"] == push["free_mb"]

    victim = max(push["items"], key=lambda i: i["size"])
    answer = client.post(
        url(device, "delete/"),
        {"service": "push", "items": [victim["instance"]], "reason": "ticket 123"},
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    sim.session("6 CONNECTION REQUEST")
    after = client.get(url(device)).json()["storages"][0]
    assert victim["instance"] not in {i["instance"] for i in after["items"]}
    assert after["used_mb"] < push["used_mb"]
    assert AuditEvent.objects.get(kind="cds_item_deleted").details["reason"] == "ticket 123"

    answer = client.post(
        url(device, "resize/"),
        {"service": "push", "capacity_mb": after["used_mb"] + 5000},
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    sim.session("6 CONNECTION REQUEST")
    assert Storage.objects.get(device=device, service="push").capacity_mb == after["used_mb"] + 5000


def test_bad_requests_name_the_field_and_change_nothing(sim, tenants):
    client = api(tenants["helpdesk"])
    device = sim.device()
    client.post(url(device, "refresh/"))
    sim.session("6 CONNECTION REQUEST")
    cases = [
        ({"service": "push", "items": [1]}, "reason"),
        ({"service": "push", "items": [], "reason": "x"}, "items"),
        ({"service": "nope", "items": [1], "reason": "x"}, "service"),
        ({"service": "push", "items": ["a"], "reason": "x"}, "items"),
        ({"service": "push", "items": [424242], "reason": "x"}, "items"),
    ]
    for body, field in cases:
        answer = client.post(url(device, "delete/"), body, format="json")
        assert answer.status_code == 400 and field in answer.json(), (body, answer.json())
    answer = client.post(
        url(device, "delete/"), {"service": "push", "items": [424242], "reason": "x"}, format="json"
    )
    assert "item 424242 is not on the CDS push storage" in answer.json()["items"][0]
    answer = client.post(
        url(device, "resize/"), {"service": "push", "capacity_mb": 1}, format="json"
    )
    assert answer.status_code == 400 and "already uses" in answer.json()["capacity_mb"][0]
    assert not AuditEvent.objects.filter(kind__in=["cds_delete_requested", "cds_resize_requested"])


def test_access_by_role_and_tenant(sim, tenants):
    device = sim.device()
    assert api(tenants["supplier_b"]).get(url(device)).status_code == 404
    # A supplier may see its own boxes but has no CDS permissions.
    assert api(tenants["supplier_a"]).get(url(device)).status_code == 403
    assert api(tenants["supplier_a"]).post(url(device, "refresh/")).status_code == 403
    assert APIClient().get(url(device)).status_code in (401, 403)
    assert api(tenants["noc"]).get(url(device)).status_code == 200
    assert api(tenants["helpdesk"]).get(f"/api/devices/{device.pk + 999}/cds/").status_code == 404


def test_pull_without_consent_is_refused_by_the_api(tenants, acs_open):
    sim = SimBox("CDS00010", consent=False)
    sim.session()
    client = api(tenants["helpdesk"])
    device = sim.device()
    client.post(url(device, "refresh/"))
    sim.session("6 CONNECTION REQUEST")
    body = client.get(url(device)).json()
    assert body["consent"] is False and body["storages"][1]["items"] == []
    answer = client.post(
        url(device, "delete/"), {"service": "pull", "items": [1], "reason": "x"}, format="json"
    )
    assert answer.status_code == 400
    assert "RMSManagementEnabled is false" in answer.json()["items"][0]
