"""The NOC's rollout journey in a real browser (issue 7): plan a staged rollout with a canary in the
wizard, check the wave preview, start it; the engine (ticked here as beat would) queues the
canary's Downloads; 2 of the first 5 boxes fail their transfer, the stop rule trips, and the
progress page — already open — shows the halt and its reason live, without a reload."""

from __future__ import annotations

import os
import re

import pytest

from acs.models import Task
from fus.models import Rollout
from fus.rollouts import engine
from fus.services import catalogue
from tests.e2e import log_in
from tests.factories import DeviceClassFactory, ManufacturerFactory, UserFactory, make_package
from tests.fus.rollouts.conftest import make_fleet
from tests.fus.rollouts.helpers import upgrade

try:
    from playwright.sync_api import expect
except ImportError:  # requirements-dev.txt installs it; CI (E2E_REQUIRED=1) must not skip
    if os.environ.get("E2E_REQUIRED") == "1":
        raise
    pytest.skip("the playwright package is not installed", allow_module_level=True)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("e2e"),
    pytest.mark.usefixtures("chromium_executable"),
]

ROLLOUT_URL = re.compile(r"/rollouts/(\d+)/$")


@pytest.fixture
def fleet(transactional_db, settings):
    settings.FUS_DOWNLOAD_BASE_URL = "https://fus.example.net/firmware/"
    from portal.roles import sync_roles

    sync_roles()
    noc = UserFactory(username="noc-e2e", role="noc")
    maker = ManufacturerFactory(name="Alpha", ouis=["00D09E"])
    device_class = DeviceClassFactory(manufacturer=maker, product_class="A-STB")
    package = catalogue.approve_firmware(make_package(device_class, "2.0.0", actor=noc), actor=noc)
    make_fleet(device_class, 60)
    return {"noc": noc, "package": package}


def plan_rollout(new_page, package, name: str, **fields: str):
    """The NOC logs in and plans a rollout of `package` (canary 10, then 50 %, 1,000 starts per
    minute; `fields` fill more of the form by label) -> the page, on the rollout's detail."""
    page = new_page()
    log_in(page, "noc-e2e", "pw")
    page.get_by_role("link", name="Rollouts").click()
    page.get_by_test_id("new-rollout").click()
    form = page.get_by_test_id("rollout-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Package").select_option(label=str(package))
    form.get_by_label("Stages").fill("canary 10, 50%")
    for label, value in {**fields, "Starts per minute": "1000"}.items():
        form.get_by_label(label).fill(value)
    form.get_by_test_id("plan").click()
    expect(page).to_have_url(ROLLOUT_URL)
    return page


def test_the_canary_trips_the_stop_rule_and_the_page_shows_the_halt_live(fleet, new_page):
    page = plan_rollout(
        new_page,
        fleet["package"],
        "Spring 2.0.0",
        **{"Minimum sample": "5", "Halt at failure rate (%)": "20"},
    )
    rollout = Rollout.objects.get()
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("canary — 10 devices")
    expect(preview).to_contain_text("wave 1 — 30 devices")
    expect(preview).to_contain_text("rest — 20 devices")
    expect(page.get_by_test_id("status")).to_have_text("Draft")

    page.get_by_test_id("control-start").click()
    expect(page.get_by_test_id("status")).to_have_text("Running")

    # beat's tick: the canary is released and its Downloads queued
    engine.tick(rollout.pk)
    expect(page.get_by_test_id("n-in-flight")).to_have_text("10", timeout=20_000)
    tasks = list(Task.objects.filter(rpc="Download").select_related("device"))
    assert len(tasks) == 10
    # 20% of the boxes are told to fail: 2 of the first 5 outcomes are failed transfers
    from django.utils import timezone

    now = timezone.now()
    for i, task in enumerate(tasks[:5]):
        upgrade(task, now=now, fault_code=9010 if i < 2 else 0)
    engine.tick(rollout.pk)

    halt = page.get_by_test_id("halt-reason")
    expect(halt).to_be_visible(timeout=20_000)
    expect(halt).to_contain_text("Stop rule: 2 of 5 outcomes")
    expect(halt).to_contain_text("fault 9010 x2")
    expect(page.get_by_test_id("status")).to_have_text("Halted")
    expect(page.get_by_test_id("n-failed")).to_have_text("2")
    expect(page.get_by_test_id("failure-rate")).to_have_text("40.0%")
    expect(page.get_by_test_id("control-resume")).to_be_visible()
    expect(page.get_by_test_id("control-pause")).to_be_hidden()
    expect(page.get_by_test_id("control-start")).to_be_hidden()
    # no further wave started, nothing more queued
    assert Task.objects.filter(rpc="Download").count() == 10
    assert not Task.objects.filter(rpc="Download", state="queued").exists()
    assert rollout.waves.filter(number__gt=0, state="pending").count() == 2

    # the outcome table lists the failures with their fault code
    page.get_by_test_id("device-table-link").click()
    page.get_by_label("Outcome").select_option("failures")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("devices").locator("tbody tr")).to_have_count(2)
    expect(page.get_by_test_id("devices")).to_contain_text("9010")


def test_the_noc_schedules_a_staged_rollout_and_watches_it_complete_live(fleet, new_page):
    """The wizard, the preview, the start; then wave after wave the boxes take the Download and
    report success while the page, never reloaded, follows the counts to Completed."""
    from django.utils import timezone

    page = plan_rollout(new_page, fleet["package"], "Summer 2.0.0")
    rollout = Rollout.objects.get()
    expect(page.get_by_test_id("preview")).to_contain_text("rest — 20 devices")
    page.get_by_test_id("control-start").click()
    expect(page.get_by_test_id("status")).to_have_text("Running")
    page.evaluate("window.__notReloaded = true")

    succeeded = 0
    for wave_size in (10, 30, 20):  # canary, wave 1, rest: beat's ticks release them in turn
        engine.tick(rollout.pk)
        expect(page.get_by_test_id("n-in-flight")).to_have_text(str(wave_size), timeout=20_000)
        now = timezone.now()
        for task in Task.objects.filter(rpc="Download", state="queued").select_related("device"):
            upgrade(task, now=now)
        succeeded += wave_size
        engine.tick(rollout.pk)
        expect(page.get_by_test_id("n-succeeded")).to_have_text(str(succeeded), timeout=20_000)

    expect(page.get_by_test_id("status")).to_have_text("Completed", timeout=20_000)
    expect(page.get_by_test_id("n-failed")).to_have_text("0")
    assert page.evaluate("window.__notReloaded") is True  # followed live, not reloaded
    assert Task.objects.filter(rpc="Download").count() == 60
