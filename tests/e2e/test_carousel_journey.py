"""The NOC's carousel journey in a real browser (issue 6): create a FLUTE carousel for an approved
package in the form, start it, watch its live state (state, bitrate, cycles, packets) change on the
open detail page without a reload, while a multicast receiver here gets the file over loopback
(TTL 0, interface 127.0.0.1) with the right hash; stop it and see it stopped.

Start dispatches the Celery task `fus.carousels.run` after commit. The live server's database (an
in-memory SQLite test database, or a PostgreSQL test database) is not one a separate worker process
could open, so the dispatch runs that same task body in a thread of this process, as a `-P threads`
carousel worker would (tests/fus/carousels/test_worker.py runs the real worker process).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading

import pytest
from django.db import connections

from fus.carousels import tasks
from fus.models import Carousel, CarouselRun
from fus.multicast import flute
from fus.services import carousels as service
from fus.services import catalogue
from tests.e2e import log_in
from tests.factories import DeviceClassFactory, ManufacturerFactory, UserFactory, make_package
from tests.fus.carousels.helpers import MulticastReceiver, free_channel

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

CAROUSEL_URL = re.compile(r"/catalogue/carousels/(\d+)/$")
DATA = bytes(range(256)) * 1200  # 300 KiB: many cycles a second at 20 Mbit/s


@pytest.fixture
def catalogue_ready(transactional_db, settings):
    settings.CAROUSEL_HEARTBEAT_SECONDS = 1.0
    from portal.roles import sync_roles

    sync_roles()
    noc = UserFactory(username="noc-e2e", role="noc")
    maker = ManufacturerFactory(name="Alpha", ouis=["00D09E"])
    device_class = DeviceClassFactory(manufacturer=maker, product_class="A-STB")
    package = make_package(device_class, "3.1.0", actor=noc, data=DATA)
    if package.status == "draft":
        catalogue.validate_firmware(package, actor=noc)
    return {"noc": noc, "package": catalogue.approve_firmware(package, actor=noc)}


@pytest.fixture
def carousel_worker(monkeypatch):
    """Run each dispatched `fus.carousels.run` task in a thread of this process."""
    threads: list[threading.Thread] = []

    def run(carousel_id, run_id):
        try:
            tasks.run_carousel(carousel_id=carousel_id, run_id=str(run_id))
        finally:
            connections.close_all()

    def dispatch(carousel_id, run_id):
        from django.db import transaction

        def go():
            thread = threading.Thread(target=run, args=(carousel_id, run_id), daemon=True)
            threads.append(thread)
            thread.start()

        transaction.on_commit(go)

    monkeypatch.setattr(service, "_dispatch", dispatch)
    yield threads
    Carousel.objects.update(desired_running=False)  # a failed journey must not leave it sending
    for thread in threads:
        thread.join(15)
        assert not thread.is_alive(), "the carousel loop did not stop"


def _number(locator) -> int:
    return int(locator.inner_text().strip())


def test_the_noc_creates_starts_watches_and_stops_a_flute_carousel(
    catalogue_ready, carousel_worker, new_page
):
    package = catalogue_ready["package"]
    group, port = free_channel()
    page = new_page()
    log_in(page, "noc-e2e", "pw")
    page.get_by_role("link", name="Carousels").click()
    page.get_by_role("link", name=re.compile(r"^Add ")).click()

    form = page.get_by_test_id("carousel-form")
    form.get_by_label("Name").fill("e2e-flute")
    form.get_by_label("Kind").select_option("flute")
    form.get_by_label("Multicast group").fill(group)
    form.get_by_label("Port").fill(str(port))
    form.get_by_label("TTL").fill("0")
    form.get_by_label("Interface address").fill("127.0.0.1")
    form.get_by_label("Rate (bit/s)").fill("20000000")
    form.get_by_label("Packages").select_option(label=str(package))
    expect(form.get_by_label("FLUTE TSI")).to_be_visible()  # the kind's own fields are shown
    expect(form.get_by_label("DSM-CC PID")).to_be_hidden()
    form.get_by_label("FLUTE TSI").fill("31")
    form.get_by_role("button", name="Save").click()

    expect(page).to_have_url(CAROUSEL_URL)
    carousel = Carousel.objects.get(name="e2e-flute")
    state = page.get_by_test_id("state")
    expect(state).to_have_text("Stopped")
    expect(page.get_by_test_id("control-stop")).to_be_hidden()

    rx = MulticastReceiver(group, port)
    try:
        page.get_by_test_id("control-start").click()
        # the page polls live.json: the loop's heartbeats show up without a reload
        expect(state).to_have_text("Running", timeout=20_000)
        expect(page.get_by_test_id("control-start")).to_be_hidden()
        receiver = flute.Receiver(31)
        got = rx.until(lambda d: receiver.feed(d), timeout=30)
        assert got and hashlib.sha256(got[0].data).hexdigest() == package.files.get().sha256
        packets = page.get_by_test_id("packets")
        expect(packets).not_to_have_text("0", timeout=20_000)
        first = _number(packets)
        expect(packets).not_to_have_text(str(first), timeout=20_000)  # still counting
        assert _number(packets) > first
        assert _number(page.get_by_test_id("cycles")) >= 1
        expect(page.locator("#live-bitrate")).to_contain_text("bit/s")
        expect(page.locator("#live-bitrate")).not_to_have_text(re.compile(r"^0(\.0)? bit/s$"))
        expect(page.get_by_test_id("errors")).to_have_text("0")

        page.get_by_test_id("control-stop").click()
        expect(state).to_have_text("Stopped", timeout=20_000)
        expect(page.get_by_test_id("control-start")).to_be_visible()
        expect(page.get_by_test_id("control-stop")).to_be_hidden()
    finally:
        rx.close()
    for thread in carousel_worker:
        thread.join(15)
        assert not thread.is_alive()
    run = CarouselRun.objects.get(carousel=carousel)
    assert run.state == "stopped" and run.packets > 0 and run.cycles >= 1
