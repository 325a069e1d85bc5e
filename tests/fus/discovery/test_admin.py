"""Entity admin: administrators edit FUS/RMS entities and their locations (through the service);
the NOC may look only."""

from __future__ import annotations

import pytest

from fus.models import FusEntity, RmsEntity
from portal.models import AuditEvent

pytestmark = pytest.mark.django_db


def management(prefix: str, total: int) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def fus_post(**overrides) -> dict:
    data = {
        "name": "Admin FUS",
        "fus_id": "42",
        "description": "",
        "source_address": "",
        "supported_interfaces": ["Query Response Channel", "Unicast Delivery"],
        "delivery_rate": "",
        "is_default": "on",
        **management("locations", 2),
        "locations-0-kind": "unicast",
        "locations-0-url": "http://127.0.0.1:8000/firmware/",
        "locations-0-preference": "1",
        "locations-1-kind": "multicast_announcement",
        "locations-1-address": "239.255.1.1",
        "locations-1-port": "9875",
        "locations-1-protocol": "sap",
    }
    data.update(overrides)
    return data


def test_admin_adds_a_fus_entity_with_locations(tenants, client):
    client.force_login(tenants["admin"])
    assert client.get("/admin/fus/fusentity/add/").status_code == 200
    response = client.post("/admin/fus/fusentity/add/", fus_post())
    assert response.status_code == 302, response.content.decode()[-3000:]
    entity = FusEntity.objects.get()
    assert entity.is_default and entity.sdns_version == 1
    assert entity.supported_interfaces == ["Query Response Channel", "Unicast Delivery"]
    assert [(loc.kind, loc.protocol) for loc in entity.locations.all()] == [
        ("multicast_announcement", "sap"),
        ("unicast", ""),
    ]
    assert AuditEvent.objects.filter(
        message__startswith="Locations of", actor=tenants["admin"]
    ).exists()
    # Editing through the admin bumps the SD&S version.
    change = client.get(f"/admin/fus/fusentity/{entity.pk}/change/")
    assert change.status_code == 200 and "SD&amp;S version" in change.content.decode()


def test_admin_location_errors_are_shown_and_nothing_is_stored(tenants, client):
    client.force_login(tenants["admin"])
    response = client.post("/admin/fus/fusentity/add/", fus_post(**{"locations-1-protocol": ""}))
    assert response.status_code == 200
    assert "needs its Protocol (SAP or DVBSTP)" in response.content.decode()
    assert not FusEntity.objects.exists()


def test_admin_rms_entity(tenants, client):
    client.force_login(tenants["admin"])
    data = {
        "name": "ACS",
        "rms_id": "1",
        "description": "",
        **management("locations", 1),
        "locations-0-kind": "management_server",
        "locations-0-url": "http://127.0.0.1:8000/cwmp",
    }
    assert client.post("/admin/fus/rmsentity/add/", data).status_code == 302
    entity = RmsEntity.objects.get()
    assert entity.locations.get().url == "http://127.0.0.1:8000/cwmp"
    response = client.post(f"/admin/fus/rmsentity/{entity.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not RmsEntity.objects.exists()


def test_noc_views_but_cannot_change(tenants, client):
    client.force_login(tenants["admin"])
    client.post("/admin/fus/fusentity/add/", fus_post())
    entity = FusEntity.objects.get()
    client.force_login(tenants["noc"])
    assert client.get("/admin/fus/fusentity/").status_code == 200
    page = client.get(f"/admin/fus/fusentity/{entity.pk}/change/")
    assert (
        page.status_code == 200
        and "Save" not in page.content.decode().split("submit-row")[-1][:200]
    )
    assert (
        client.post(f"/admin/fus/fusentity/{entity.pk}/change/", fus_post(name="x")).status_code
        == 403
    )
    assert client.get("/admin/fus/fusentity/add/").status_code == 403
    assert FusEntity.objects.get().name == "Admin FUS"
    client.force_login(tenants["helpdesk"])
    assert client.get("/admin/fus/fusentity/").status_code in (302, 403)
