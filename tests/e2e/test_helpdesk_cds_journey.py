"""The help-desk CDS journey in a real browser (issue 8, item 6).

A cpesim box (the simulator's fleet, unchanged: its own HTTP client, its connection-request
listener) registers with the portal served by uvicorn (HTTP and websockets). The help-desk agent
finds it by serial number, reads its CDS storage, ticks the biggest push item, confirms the deletion
with a reason, and watches the item disappear and the used space drop without reloading the page,
as the box answers the connection request and runs the session.

With E2E_SCREENSHOTS=1 the journey also writes docs/screenshots/cds-*.png.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from django.db import connections

from acs.models import Device
from cds.models import Storage
from cpesim.fleet import Fleet, FleetConfig, Group
from cpesim.profiles import PUSH, DeviceSpec
from portal.models import AuditEvent
from tests.e2e import VIEWPORT, log_in

try:
    from playwright.sync_api import Page, expect
except ImportError:  # requirements-dev.txt installs it; CI (E2E_REQUIRED=1) must not skip
    if os.environ.get("E2E_REQUIRED") == "1":
        raise
    pytest.skip("the playwright package is not installed", allow_module_level=True)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("e2e"),
    pytest.mark.usefixtures("chromium_executable"),
    pytest.mark.filterwarnings(
        "ignore:StreamingHttpResponse must consume synchronous iterators:Warning"
    ),
]

OUI, PRODUCT_CLASS = "00D09E", "NL-STB4000"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class _SharedConnections:
    """One Django connection for all threads: the in-memory SQLite test database exists only in
    the test thread's connection (what Django's own live server does)."""

    def __init__(self, alias, connection) -> None:
        setattr(self, alias, connection)


def _free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@pytest.fixture
def portal_server(transactional_db, monkeypatch):
    """`portal.asgi.application` under uvicorn on a free port, in a thread."""
    import uvicorn

    from portal.asgi import application

    conn = connections["default"]
    shared = conn.vendor == "sqlite" and conn.is_in_memory_db()
    if shared:
        conn.inc_thread_sharing()
        monkeypatch.setattr(connections, "_connections", _SharedConnections("default", conn))
    sock = _free_port()
    config = uvicorn.Config(
        application, lifespan="off", log_level="warning", ws="websockets-sansio", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()
    if shared:
        conn.dec_thread_sharing()


@pytest.fixture
def fleet(portal_server):
    """One cpesim box of the demo class (with the user's pull consent), running in its own
    asyncio loop in a thread, listening for connection requests."""
    probe = _free_port()
    cr_port = probe.getsockname()[1]
    probe.close()
    config = FleetConfig(
        acs_url=f"{portal_server}/cwmp",
        connection_request_base=f"http://127.0.0.1:{cr_port}/cr",
        consent_fraction=1.0,
        cr_username="",
        cr_password="",
        periodic_interval=3600,
        reboot_seconds=0.5,
        time_scale=0.05,
    )
    spec = DeviceSpec(OUI, PRODUCT_CLASS, manufacturer="Nordlicht Electronics")
    fleet = Fleet(config, [Group(spec, 1, serial_start=42, serial_format="NL4K-CDS-{:06d}")])
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fleet.start(listen=("127.0.0.1", cr_port)))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "the fleet did not start"
    yield fleet
    asyncio.run_coroutine_threadsafe(fleet.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def shoot(page: Page, name: str) -> None:
    if os.environ.get("E2E_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / name, full_page=True)


def _wait(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_helpdesk_finds_a_box_deletes_content_and_sees_the_storage_free_up(
    seeded, portal_server, fleet, browser, settings
):
    settings.CWMP_AUTH = "none"  # labs mode: the journey is about the pages, not box auth
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = True  # connection requests go out from the web process
    box = fleet.boxes[0]
    _wait(lambda: Device.objects.filter(serial_number=box.serial).exists(), "the box's Inform")
    device = Device.objects.get(serial_number=box.serial)
    _wait(lambda: not box.in_session, "the first session to end")

    context = browser.new_context(base_url=portal_server, viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        # --- the help desk finds the box ----------------------------------------------------------
        log_in_checked(page, "helpdesk")
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Help desk: find a box").click()
        page.get_by_label("Serial number, MAC, IP address or customer reference").fill(box.serial)
        page.get_by_role("button", name="Find").click()
        expect(page).to_have_url(re.compile(rf"/devices/{device.pk}/#cds$"))
        cds = page.get_by_test_id("cds")
        expect(cds).to_contain_text("Never read from the box")
        expect(page.get_by_test_id("cds-live")).to_have_text("live")
        # The device page's own live task list still has its websocket (no clash with ours).
        expect(page.get_by_test_id("live-status")).to_have_text("live")

        # --- reads the storage: the box answers the connection request ---------------------------
        page.get_by_test_id("cds-refresh").click()
        expect(page.get_by_role("status").first).to_contain_text("CDS storage read queued")
        push_table = page.get_by_test_id("cds-push-items")
        expect(push_table.locator("tbody tr[data-item]").first).to_be_visible()
        storage = Storage.objects.get(device=device, service="push")
        expect(page.get_by_test_id("cds-age")).to_contain_text("Read from the box")
        items = {i.instance: i for i in storage.items.all()}
        assert set(items) == set(box.model.instances(PUSH + "Content.Item."))
        victim = max(items.values(), key=lambda i: i.size)
        used_before = storage.used_mb
        used = page.get_by_test_id("cds-push-used")
        used_text = used.inner_text()
        shoot(page, "cds-storage.png")

        # --- ticks the biggest item and deletes it, with a reason ---------------------------------
        page.evaluate("window.__notReloaded = true")
        push_table.locator(f'tr[data-item="push-{victim.instance}"] input[type=checkbox]').check()
        page.get_by_test_id("cds-push-delete").click()
        confirm = page.get_by_test_id("cds-delete-confirm")
        expect(confirm).to_contain_text(victim.crid)
        page.get_by_label("Reason (required, kept in the audit log)").fill(
            "customer cannot record: storage full"
        )
        page.get_by_test_id("cds-confirm-delete").click()
        expect(page.get_by_role("status").first).to_contain_text("Deletion of 1 item queued")
        page.evaluate("window.__notReloaded = true")

        # --- the box deletes it; the page follows live: the item goes, the space frees up ---------
        expect(push_table.locator(f'tr[data-item="push-{victim.instance}"]')).to_have_count(0)
        expect(used).not_to_have_text(used_text)
        storage.refresh_from_db()
        assert storage.used_mb < used_before
        expect(used).to_contain_text(
            f"{storage.used_mb / 1000:.1f} GB"
            if storage.used_mb >= 10_000
            else f"{storage.used_mb} MB"
        )
        assert page.evaluate("window.__notReloaded") is True
        assert victim.instance not in box.model.instances(PUSH + "Content.Item.")
        event = AuditEvent.objects.get(kind="cds_item_deleted")
        assert event.actor.username == "helpdesk"
        assert event.details["reason"] == "customer cannot record: storage full"
        shoot(page, "cds-freed.png")
    finally:
        context.close()
        connections.close_all()


def log_in_checked(page: Page, username: str) -> None:
    log_in(page, username)
    expect(page.get_by_test_id("current-user")).to_contain_text(username)
