"""Help-desk pages: search, storage cards on the device page, delete with confirmation and reason,
resize, customer reference, the nearly-full report, access by role and tenant."""

from __future__ import annotations

import pytest
from django.test import Client

from cds.models import CustomerReference, Operation, Storage
from cds.services import storage as cds
from portal.models import AuditEvent
from tests.cds.conftest import SimBox

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def read(sim, user):
    device = sim.device()
    cds.refresh_storage(device, actor=user)
    sim.session("6 CONNECTION REQUEST")
    return device


def test_search_by_serial_customer_reference_and_ip(sim, tenants):
    client = login(tenants["helpdesk"])
    device = sim.device()
    cds.set_customer_reference(device, "CUST-77", actor=tenants["helpdesk"])
    for text in ("CDS00001", "cust-77", str(device.ip_address)):
        answer = client.get("/cds/", {"q": text})
        assert answer.status_code == 302 and answer["Location"].endswith(
            f"/devices/{device.pk}/#cds"
        ), text
    SimBox("CDS00002").session()
    answer = client.get("/cds/", {"q": "CDS0000"})
    assert answer.status_code == 200
    assert b"CDS00001" in answer.content and b"CDS00002" in answer.content
    assert b"No set-top box you may see matches" in client.get("/cds/", {"q": "zzz"}).content
    # Another manufacturer's supplier finds nothing (and has no help-desk page at all).
    assert login(tenants["supplier_b"]).get("/cds/", {"q": "CDS00001"}).status_code == 403


def test_device_page_shows_the_cards_and_the_delete_journey(sim, tenants):
    user = tenants["helpdesk"]
    client = login(user)
    device = sim.device()
    page = client.get(f"/devices/{device.pk}/")
    assert b'data-testid="cds"' in page.content and b"Never read from the box" in page.content
    client.post(f"/cds/devices/{device.pk}/refresh/")
    assert b"Waiting for the box" in client.get(f"/cds/devices/{device.pk}/cards/").content
    sim.session("6 CONNECTION REQUEST")
    cards = client.get(f"/cds/devices/{device.pk}/cards/").content.decode()
    push = Storage.objects.get(device=device, service="push")
    item = push.items.order_by("instance").first()
    assert item.crid in cards and 'data-testid="cds-push-capacity"' in cards
    # The cards' form leads to a confirmation page; no reason: asked again, nothing queued.
    confirm = client.post(
        f"/cds/devices/{device.pk}/delete/", {"service": "push", "items": [item.instance]}
    )
    assert confirm.status_code == 200 and item.crid.encode() in confirm.content
    again = client.post(
        f"/cds/devices/{device.pk}/delete/",
        {"service": "push", "items": [item.instance], "confirm": "yes", "reason": " "},
    )
    assert b"a reason is required" in again.content
    assert not Operation.objects.filter(kind="delete").exists()
    done = client.post(
        f"/cds/devices/{device.pk}/delete/",
        {"service": "push", "items": [item.instance], "confirm": "yes", "reason": "ticket 9"},
    )
    assert done.status_code == 302
    sim.session("6 CONNECTION REQUEST")
    cards = client.get(f"/cds/devices/{device.pk}/cards/").content.decode()
    assert f'data-item="push-{item.instance}"' not in cards
    assert AuditEvent.objects.filter(kind="cds_item_deleted", actor=user).count() == 1


def test_resize_and_refusals_are_shown(sim, tenants):
    client = login(tenants["helpdesk"])
    device = read(sim, tenants["helpdesk"])
    answer = client.post(
        f"/cds/devices/{device.pk}/resize/", {"service": "push", "capacity_mb": "abc"}, follow=True
    )
    assert b"is not a whole number of MB" in answer.content
    push = Storage.objects.get(device=device, service="push")
    answer = client.post(
        f"/cds/devices/{device.pk}/resize/",
        {"service": "push", "capacity_mb": str(push.used_mb + 100)},
        follow=True,
    )
    assert b"Resize to" in answer.content
    answer = client.post(
        f"/cds/devices/{device.pk}/delete/",
        {"service": "push", "items": ["99999"], "confirm": "yes", "reason": "x"},
        follow=True,
    )
    assert b"item 99999 is not on the CDS push storage" in answer.content


def test_customer_reference_form(sim, tenants):
    client = login(tenants["helpdesk"])
    device = sim.device()
    client.post(f"/cds/devices/{device.pk}/customer/", {"reference": "CUST-1"})
    assert CustomerReference.objects.get(device=device).reference == "CUST-1"


def test_nearly_full_report_and_csv(sim, tenants):
    user = tenants["noc"]
    device = read(sim, user)
    push = Storage.objects.get(device=device, service="push")
    client = login(user)
    over = client.get("/cds/nearly-full/", {"percent": "1"})
    assert device.serial_number.encode() in over.content
    csv = client.get("/cds/nearly-full/", {"percent": "1", "export": "csv"})
    body = b"".join(csv.streaming_content).decode()
    assert f"{device.serial_number},00D09E,A-STB,,push,folder,{push.capacity_mb}" in body
    empty = client.get("/cds/nearly-full/", {"percent": "100"})
    assert device.serial_number.encode() not in empty.content


def test_access_by_role_and_tenant(sim, tenants):
    device = sim.device()
    assert login(tenants["supplier_b"]).get(f"/cds/devices/{device.pk}/cards/").status_code == 404
    assert login(tenants["supplier_a"]).get(f"/cds/devices/{device.pk}/cards/").status_code == 403
    assert (
        login(tenants["supplier_a"]).post(f"/cds/devices/{device.pk}/refresh/").status_code == 403
    )
    page = login(tenants["supplier_a"]).get(f"/devices/{device.pk}/")
    assert page.status_code == 200 and b'data-testid="cds"' not in page.content
    assert login(tenants["helpdesk"]).get("/cds/jobs/").status_code == 403
    assert login(tenants["noc"]).get("/cds/jobs/").status_code == 200
