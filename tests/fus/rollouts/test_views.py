"""The NOC console: list, wizard with bad input, preview, controls, live.json, device table and
CSV; the supplier sees its own rollouts only (another manufacturer's rollout is a 404); REST."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from acs.models import Task
from fus.models import Rollout
from fus.rollouts import engine, services
from fus.services import catalogue
from tests.factories import make_package
from tests.fus.rollouts.conftest import make_fleet
from tests.fus.rollouts.helpers import Clock, create, open_downloads, upgrade

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


FORM = {
    "name": "spring firmware",
    "channels": ["managed"],
    "assignment": "spread",
    "stages": "canary 5, 20%, 100%",
    "time_zone": "Europe/Paris",
    "windows": "mon-sun 00:00-00:00",
    "max_concurrent": "100",
    "starts_per_minute": "600",
    "jitter_seconds": "0",
    "gate": "auto",
    "success_threshold": "90",
    "soak_minutes": "0",
    "failure_threshold": "20",
    "failure_window_minutes": "60",
    "min_sample": "5",
    "count_timeouts": "on",
    "device_timeout_minutes": "240",
}


def test_the_wizard_plans_previews_and_starts(package, fleet, tenants):
    noc = client_for(tenants["noc"])
    assert noc.get("/rollouts/new/").status_code == 200
    response = noc.post("/rollouts/new/", {**FORM, "package": package.pk})
    rollout = Rollout.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/rollouts/{rollout.pk}/"
    assert rollout.stages == [{"name": "canary", "count": 5}, {"percent": 20.0}, {"percent": 100.0}]
    assert rollout.windows == [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "00:00"}]
    page = noc.get(f"/rollouts/{rollout.pk}/").content.decode()
    assert 'data-testid="preview"' in page and "canary — 5 devices" in page
    assert "wave 1 — 20 devices" in page and "wave 2 — 75 devices" in page
    # the preview CSV is exactly the planned devices with their waves
    rows = list(
        csv.DictReader(
            io.StringIO(
                b"".join(
                    noc.get(f"/rollouts/{rollout.pk}/devices/?export=csv").streaming_content
                ).decode()
            )
        )
    )
    assert len(rows) == 100 and sorted({r["wave"] for r in rows}) == ["0", "1", "2"]
    assert sum(r["wave"] == "0" for r in rows) == 5
    response = noc.post(f"/rollouts/{rollout.pk}/start/")
    assert response.status_code == 302
    assert Rollout.objects.get().status == "running"
    live = noc.get(f"/rollouts/{rollout.pk}/live.json").json()
    assert live["status"] == "running" and live["controls"] == [
        "pause",
        "deactivate",
        "retry-failed",
        "cancel",
    ]
    assert [w["size"] for w in live["waves"]] == [5, 20, 75]


def test_the_wizard_names_each_bad_field(package, tenants):
    noc = client_for(tenants["noc"])
    bad = {
        **FORM,
        "package": package.pk,
        "stages": "canary ten",
        "windows": "someday 02:00-03:00",
        "range_list": "include serial 9..1",
        "time_zone": "Nowhere/Land",
    }
    page = noc.post("/rollouts/new/", bad).content.decode()
    assert "stage 1: &#x27;canary ten&#x27;" in page
    assert "window line 1: &#x27;someday&#x27; is not a day" in page
    assert not Rollout.objects.exists()
    bad = {**FORM, "package": package.pk, "range_list": "include serial 9..1", "time_zone": "X/Y"}
    page = noc.post("/rollouts/new/", bad).content.decode()
    assert 'data-testid="error-range_list"' in page and "range list line 1" in page
    assert 'data-testid="error-time_zone"' in page and "X/Y" in page


def test_controls_from_the_page_and_refusals(package, fleet, tenants):
    noc = client_for(tenants["noc"])
    rollout = create(package, tenants["noc"], stages=[{"count": 10}, {"percent": 100}])
    assert (
        noc.post(f"/rollouts/{rollout.pk}/pause/", follow=True)
        .content.decode()
        .count("only running rollouts")
        == 1
    )
    noc.post(f"/rollouts/{rollout.pk}/start/")
    noc.post(f"/rollouts/{rollout.pk}/pause/")
    assert Rollout.objects.get().status == "paused"
    noc.post(f"/rollouts/{rollout.pk}/resume/")
    assert Rollout.objects.get().status == "running"
    assert noc.post(f"/rollouts/{rollout.pk}/explode/").status_code == 404
    assert noc.get(f"/rollouts/{rollout.pk}/pause/").status_code == 405
    # the help desk may look but not operate
    helpdesk = client_for(tenants["helpdesk"])
    assert helpdesk.get(f"/rollouts/{rollout.pk}/").status_code == 200
    assert helpdesk.post(f"/rollouts/{rollout.pk}/cancel/").status_code == 404
    assert Rollout.objects.get().status == "running"


def test_the_device_table_shows_fault_codes(package, fleet, tenants):
    clock = Clock()
    rollout = create(package, tenants["noc"], stages=[{"count": 10}, {"percent": 100}])
    services.start_rollout(rollout, actor=tenants["noc"])
    clock.tick(rollout)
    for i, task in enumerate(open_downloads(rollout)):
        upgrade(task, now=clock.now, fault_code=9010 if i < 3 else 0)
    clock.tick(rollout)
    noc = client_for(tenants["noc"])
    page = noc.get(f"/rollouts/{rollout.pk}/devices/?state=failures").content.decode()
    assert page.count("<td>9010</td>") == 3
    assert "Download failure" in page
    detail = noc.get(f"/rollouts/{rollout.pk}/").content.decode()
    assert "Stop rule: 3 of 10" in detail and 'data-testid="halt-reason"' in detail


def test_suppliers_see_their_own_rollouts_only(package, fleet, tenants):
    clock = Clock()
    other = catalogue.approve_firmware(
        make_package(tenants["dc_b"], "9.0.0", actor=tenants["noc"]), actor=tenants["noc"]
    )
    make_fleet(tenants["dc_b"], 5, start=500)
    mine = create(package, tenants["noc"], name="alpha rollout", stages=[{"percent": 100}])
    theirs = create(other, tenants["noc"], name="beta rollout", stages=[{"percent": 100}])
    for r in (mine, theirs):
        services.start_rollout(r, actor=tenants["noc"])
        clock.tick(r)
    supplier = client_for(tenants["supplier_a"])
    home = supplier.get("/supplier/").content.decode()
    assert 'data-testid="rollout-outcomes"' in home
    assert "alpha rollout" in home and "beta rollout" not in home
    assert supplier.get(f"/rollouts/{mine.pk}/").status_code == 200
    assert supplier.get(f"/rollouts/{theirs.pk}/").status_code == 404
    assert supplier.get(f"/rollouts/{theirs.pk}/live.json").status_code == 404
    assert supplier.get(f"/rollouts/{theirs.pk}/devices/?export=csv").status_code == 404
    assert supplier.post(f"/rollouts/{mine.pk}/cancel/").status_code == 404  # read-only
    listing = supplier.get("/rollouts/").content.decode()
    assert "alpha rollout" in listing and "beta rollout" not in listing
    assert supplier.get(f"/api/rollouts/{theirs.pk}/").status_code == 404
    assert [r["name"] for r in supplier.get("/api/rollouts/").json()["results"]] == [
        "alpha rollout"
    ]


def test_rest_api_creates_and_controls(package, fleet, tenants):
    noc = client_for(tenants["noc"])
    response = noc.post(
        "/api/rollouts/",
        {
            "name": "api rollout",
            "package": package.pk,
            "channels": ["managed"],
            "stages": [{"name": "canary", "count": 10}, {"percent": 100}],
            "min_sample": 5,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert [w["size"] for w in body["waves"]] == [10, 90]
    pk = body["id"]
    bad = noc.post(
        "/api/rollouts/",
        {"name": "x", "package": package.pk, "channels": ["managed"], "stages": [{"count": -1}]},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "stages[0].count: -1" in str(bad.json())
    assert noc.post(f"/api/rollouts/{pk}/pause/").status_code == 400
    assert noc.post(f"/api/rollouts/{pk}/start/").json()["status"] == "running"
    assert noc.post(f"/api/rollouts/{pk}/pause/").json()["status"] == "paused"
    assert noc.post(f"/api/rollouts/{pk}/resume/").json()["status"] == "running"
    engine.tick(pk)
    assert Task.objects.filter(rpc="Download").count() == 10
    progress = noc.get(f"/api/rollouts/{pk}/progress/").json()
    assert progress["totals"]["in_flight"] == 10
    devices = noc.get(f"/api/rollouts/{pk}/devices/?state=in_flight").json()
    assert devices["count"] == 10
    assert noc.post(f"/api/rollouts/{pk}/retry-failed/").status_code == 200
    assert noc.post(f"/api/rollouts/{pk}/cancel/").json()["status"] == "cancelled"
    assert not Task.objects.filter(rpc="Download", state="queued").exists()
    helpdesk = client_for(tenants["helpdesk"])
    assert helpdesk.post(f"/api/rollouts/{pk}/resume/").status_code == 403


def test_the_list_counts_planned_devices_before_their_wave_is_released(package, fleet, tenants):
    rollout = create(package, tenants["noc"], stages=[{"count": 10}, {"percent": 100}])
    response = client_for(tenants["noc"]).get("/rollouts/")
    (row,) = [r for r in response.context["page"] if r.pk == rollout.pk]
    assert row.n_members == 100  # no member row yet: all planned
    services.start_rollout(rollout, actor=tenants["noc"])
    Clock().tick(rollout)  # the canary's 10 member rows are written
    response = client_for(tenants["noc"]).get("/rollouts/")
    (row,) = [r for r in response.context["page"] if r.pk == rollout.pk]
    assert row.n_members == 100 and row.n_in_flight == 10
