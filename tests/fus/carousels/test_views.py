"""Carousel pages: every role (the NOC operates; help desk and suppliers cannot, and another
tenant's view of a carousel is a 404), form validation per field with nothing stored, start/stop/
delete through the services (audited), live.json with the state a loop writes, list and CSV.

The services dispatch the loop to the `carousel` queue after commit; here that dispatch is recorded
instead (a real worker runs in test_worker.py)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from fus.models import Carousel, CarouselRun, CarouselState
from fus.services import carousels as service
from fus.services import catalogue
from portal.models import AuditEvent
from tests.fus.carousels.helpers import approved_package

pytestmark = pytest.mark.django_db

BASE = "/catalogue/carousels/"


@pytest.fixture(autouse=True)
def dispatched(monkeypatch):
    sent = []
    monkeypatch.setattr(service, "_dispatch", lambda cid, rid: sent.append((cid, str(rid))))
    return sent


@pytest.fixture
def package(tenants):
    return approved_package(tenants, "3.0.0", b"demo image" * 500)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(package, **overrides) -> dict:
    data = {
        "name": "flute demo",
        "kind": "flute",
        "group": "239.255.1.1",
        "port": "4001",
        "source_address": "",
        "ttl": "1",
        "interface": "",
        "rate_bps": "2000000",
        "packages": [package.pk] if package else [],
        "tsi": "7",
        "flute_version": "1",
        "pid": "256",
        "carousel_id": "1",
        "service_id": "1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make(tenants, package, **fields) -> Carousel:
    defaults = {"name": "c1", "kind": "flute", "group": "239.255.9.9", "port": 5000}
    carousel = Carousel(**{**defaults, **fields})
    return service.save_carousel(carousel, packages=[package], actor=tenants["noc"])


def test_noc_creates_edits_starts_stops_and_deletes(tenants, package, dispatched):
    noc = client_for(tenants["noc"])
    page = noc.get(BASE + "add/")
    assert page.status_code == 200 and 'data-kinds="flute"' in page.content.decode()
    response = noc.post(BASE + "add/", form_data(package))
    carousel = Carousel.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{BASE}{carousel.pk}/"
    assert (carousel.kind, carousel.group, carousel.port, carousel.tsi) == (
        "flute",
        "239.255.1.1",
        4001,
        7,
    )
    assert list(carousel.packages.all()) == [package]
    assert CarouselRun.objects.get(carousel=carousel).state == CarouselState.STOPPED

    response = noc.post(
        f"{BASE}{carousel.pk}/edit/", form_data(package, rate_bps="500000", ttl="0")
    )
    assert response.status_code == 302
    carousel.refresh_from_db()
    assert (carousel.rate_bps, carousel.ttl) == (500_000, 0)

    detail = noc.get(f"{BASE}{carousel.pk}/").content.decode()
    assert 'data-testid="control-start"' in detail and str(package) in detail
    assert f'data-url="{BASE}{carousel.pk}/live.json"' in detail

    response = noc.post(f"{BASE}{carousel.pk}/start/")
    assert response.status_code == 302
    carousel.refresh_from_db()
    run = CarouselRun.objects.get(carousel=carousel)
    assert carousel.desired_running and run.state == CarouselState.STARTING
    assert dispatched == [(carousel.pk, str(run.run_id))]
    # starting a running carousel is refused with the service's message, nothing dispatched
    page = noc.post(f"{BASE}{carousel.pk}/start/", follow=True).content.decode()
    assert "is already running" in page and len(dispatched) == 1
    # a running carousel cannot be deleted
    page = noc.post(f"{BASE}{carousel.pk}/delete/", follow=True).content.decode()
    assert "Stop flute demo before deleting it." in page
    assert Carousel.objects.filter(pk=carousel.pk).exists()

    assert noc.post(f"{BASE}{carousel.pk}/stop/").status_code == 302
    carousel.refresh_from_db()
    assert not carousel.desired_running
    assert CarouselRun.objects.get(carousel=carousel).state == CarouselState.STOPPING
    kinds = set(
        AuditEvent.objects.filter(object_id=str(carousel.pk)).values_list("kind", flat=True)
    )
    assert {"carousel_started", "carousel_stopped"} <= kinds
    events = AuditEvent.objects.filter(object_id=str(carousel.pk), kind="carousel_started")
    assert events.get().actor == tenants["noc"]

    assert noc.get(f"{BASE}{carousel.pk}/delete/").status_code == 200
    response = noc.post(f"{BASE}{carousel.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == BASE
    assert not Carousel.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"group": "10.1.2.3"}, "group", "not a multicast address"),
        ({"group": "not-an-ip"}, "group", "valid IPv4 or IPv6"),
        ({"port": "70000"}, "port", "less than or equal to 65535"),
        ({"port": "0"}, "port", "greater than or equal to 1"),
        ({"ttl": "300"}, "ttl", "less than or equal to 255"),
        ({"rate_bps": "10"}, "rate_bps", "greater than or equal to 1000"),
        ({"kind": "warp"}, "kind", "Select a valid choice"),
        ({"group": "ff15::1", "source_address": "192.0.2.1"}, "source_address", "IP version"),
        ({"interface": "::1"}, "interface", "IP version"),
        ({"include_stub": "on"}, "include_stub", "Only a DVBSTP carousel"),
        ({"packages": []}, "packages", "needs at least one package"),
        ({"kind": "dvbstp", "include_stub": "on"}, "port", "port 3937"),
        ({"kind": "dvbstp", "packages": []}, "packages", "FUS stub and SD&S"),
        ({"kind": "dsmcc", "pid": "8191"}, "pid", "less than or equal to 8190"),
        ({"tsi": str(2**32)}, "tsi", "less than or equal to 4294967295"),
    ],
)
def test_bad_input_is_an_error_on_its_field_and_stores_nothing(
    tenants, package, overrides, field, message
):
    noc = client_for(tenants["noc"])
    response = noc.post(BASE + "add/", form_data(package, **overrides))
    assert response.status_code == 400
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert any(message in str(e) for e in form.errors[field]), form.errors[field]
    assert escape(message) in response.content.decode()
    assert not Carousel.objects.exists() and not CarouselRun.objects.exists()


def test_a_taken_channel_and_an_unapproved_package_are_refused(tenants, package):
    noc = client_for(tenants["noc"])
    existing = make(tenants, package, group="239.255.1.1", port=4001)
    draft = approved_package(tenants, "3.0.1", b"other" * 100)
    catalogue.retire_firmware(draft, actor=tenants["noc"], reason="superseded")
    response = noc.post(BASE + "add/", form_data(package, name="second"))
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    response = noc.post(
        BASE + "add/", form_data(package, name="third", port="4002") | {"packages": [draft.pk]}
    )
    assert response.status_code == 400
    assert "Select a valid choice" in str(response.context["form"].errors["packages"])
    assert list(Carousel.objects.all()) == [existing]
    # editing a carousel that carries a package retired since keeps it listed (not silently dropped)
    carousel = make(tenants, package, name="keeps", group="239.255.1.2", port=4003)
    carousel.packages.add(draft)
    response = noc.post(
        f"{BASE}{carousel.pk}/edit/",
        form_data(package, name="keeps", group="239.255.1.2", port="4003")
        | {"packages": [package.pk, draft.pk]},
    )
    assert response.status_code == 302
    assert set(carousel.packages.all()) == {package, draft}


@pytest.mark.parametrize("role", ["helpdesk", "supplier_a", "supplier_b"])
def test_help_desk_and_suppliers_cannot_see_or_operate(tenants, package, role, dispatched):
    carousel = make(tenants, package)
    client = client_for(tenants[role])
    assert client.get(BASE).status_code == 403
    assert client.get(BASE + "add/").status_code == 403
    assert client.post(BASE + "add/", form_data(package, name="x")).status_code == 403
    for path in ("", "live.json", "edit/", "delete/"):
        assert client.get(f"{BASE}{carousel.pk}/{path}").status_code == 404, path
    for path in ("start/", "stop/", "delete/", "edit/"):
        assert client.post(f"{BASE}{carousel.pk}/{path}", form_data(package)).status_code == 404
    bulk = client.post(BASE, {"action": "start", "pk": [carousel.pk]})
    assert bulk.status_code == 403
    carousel.refresh_from_db()
    assert not carousel.desired_running and dispatched == [] and carousel.name == "c1"
    menu = client.get("/").content.decode()
    assert BASE not in menu


def test_anonymous_is_sent_to_log_in(tenants, package):
    carousel = make(tenants, package)
    for path in (BASE, f"{BASE}{carousel.pk}/", f"{BASE}{carousel.pk}/live.json"):
        response = Client().get(path)
        assert response.status_code == 302 and "/login" in response["Location"], path
    assert Client().post(f"{BASE}{carousel.pk}/start/").status_code == 302
    carousel.refresh_from_db()
    assert not carousel.desired_running


def test_a_noc_user_without_operate_sees_but_cannot_start(tenants, package, dispatched):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    viewer = UserFactory(username="viewer")
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_carousel", content_type__app_label="fus")
    )
    carousel = make(tenants, package)
    client = client_for(viewer)
    page = client.get(f"{BASE}{carousel.pk}/").content.decode()
    assert 'data-testid="control-start"' not in page and "/edit/" not in page
    assert client.post(f"{BASE}{carousel.pk}/start/").status_code == 404
    assert dispatched == []
    assert client.get(BASE + "add/").status_code == 403


def test_live_json_shows_what_the_loop_writes(tenants, package, settings):
    settings.CAROUSEL_STALE_SECONDS = 30
    carousel = make(tenants, package, rate_bps=2_000_000)
    noc = client_for(tenants["noc"])
    state = noc.get(f"{BASE}{carousel.pk}/live.json").json()
    assert state["state"] == "stopped" and state["heartbeat_age"] is None
    assert state["packets"] == 0 and state["rate_bps"] == 2_000_000
    service.start_carousel(carousel, actor=tenants["noc"])
    now = timezone.now()
    CarouselRun.objects.filter(carousel=carousel).update(
        state=CarouselState.RUNNING,
        worker="celery@carousel-1",
        heartbeat_at=now - timedelta(seconds=3),
        cycles=12,
        packets=3456,
        bytes_sent=4_567_890,
        errors=2,
        bitrate_bps=1_987_654.3,
        cycle_seconds=1.25,
        last_error="firmware/9/image.bin: missing from storage",
    )
    response = noc.get(f"{BASE}{carousel.pk}/live.json")
    assert response["Cache-Control"] == "no-store"
    state = response.json()
    assert state["state"] == "running" and state["desired_running"] is True
    assert not state["stale"] and 2.5 <= state["heartbeat_age"] < 30
    assert (state["cycles"], state["packets"], state["bytes_sent"], state["errors"]) == (
        12,
        3456,
        4_567_890,
        2,
    )
    assert state["bitrate"] == "1.99 Mbit/s" and state["worker"] == "celery@carousel-1"
    assert state["last_error"] == "firmware/9/image.bin: missing from storage"
    page = noc.get(f"{BASE}{carousel.pk}/").content.decode()
    assert "missing from storage" in page and "3456" in page and 'data-control="stop"' in page
    # a loop that stopped heart-beating while meant to run is shown stale
    CarouselRun.objects.filter(carousel=carousel).update(heartbeat_at=now - timedelta(seconds=45))
    assert noc.get(f"{BASE}{carousel.pk}/live.json").json()["stale"] is True
    assert "Running (stale)" in noc.get(BASE).content.decode()


def test_list_filters_csv_and_bulk_start_stop(tenants, package, dispatched):
    flute = make(tenants, package, name="flute-1")
    sap = make(tenants, package, name="sap-1", kind="sap", group="239.255.255.255", port=9875)
    CarouselRun.objects.filter(carousel=flute).update(
        state=CarouselState.RUNNING, packets=99, bitrate_bps=512_000, heartbeat_at=timezone.now()
    )
    noc = client_for(tenants["noc"])
    page = noc.get(BASE).content.decode()
    assert "239.255.9.9:5000" in page and "239.255.255.255:9875" in page and "512 kbit/s" in page
    assert "Add carousel" in page and f'href="{BASE}"' in page  # the menu item
    only_sap = noc.get(BASE, {"kind": "sap"}).content.decode()
    assert "sap-1" in only_sap and "flute-1" not in only_sap
    running = noc.get(BASE, {"state": "running"}).content.decode()
    assert "flute-1" in running and "sap-1" not in running
    rows = list(csv.reader(io.StringIO(b"".join(noc.get(BASE, {"export": "csv"})).decode())))
    header = rows[0]
    assert header[:3] == ["Name", "Kind", "Group:port"]
    by_name = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert by_name["flute-1"]["Packets"] == "99" and by_name["flute-1"]["State"] == "running"
    assert by_name["sap-1"]["Group:port"] == "239.255.255.255:9875"

    noc.post(BASE, {"action": "start", "pk": [flute.pk, sap.pk]})
    assert {cid for cid, _ in dispatched} == {flute.pk, sap.pk}
    assert Carousel.objects.filter(desired_running=True).count() == 2
    noc.post(BASE, {"action": "stop", "pk": [sap.pk]})
    assert list(Carousel.objects.filter(desired_running=True)) == [flute]


def test_ipv6_channel_shown_in_brackets(tenants, package):
    carousel = make(tenants, package, group="ff15::1234", port=4001, interface="::1")
    noc = client_for(tenants["noc"])
    assert "[ff15::1234]:4001" in noc.get(BASE).content.decode()
    assert "[ff15::1234]:4001" in noc.get(carousel.get_absolute_url()).content.decode()
