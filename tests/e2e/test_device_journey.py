"""The help-desk journey on the device pages in a real browser (issue 4, item 7).

A box registers itself through /cwmp; the help-desk agent finds it by serial number, opens it,
queues a reboot, and watches the task go queued -> sent -> done without reloading the page, as
the box answers the connection request and runs the CWMP session. The portal is served by uvicorn
(HTTP and websockets, as `make run` serves it), not Django's WSGI live server, so the page's
websocket is the real one.

With E2E_SCREENSHOTS=1 the journey also writes docs/screenshots/devices-*.png for the README.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import threading
import time
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from django.db import connections

from acs.choices import TaskRpc, TaskState
from acs.cwmp import messages as m
from acs.cwmp.codec import parse_envelope
from acs.models import Device, Task
from tests.acs.cpe import envelope, inform
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
    # Under ASGI, Django serves WhiteNoise's (synchronous) file responses by reading them through
    # sync_to_async and says so with this warning; harmless for our small CSS/JS files.
    pytest.mark.filterwarnings(
        "ignore:StreamingHttpResponse must consume synchronous iterators:Warning"
    ),
]

SERIAL = "NL4K-E2E-000042"
OUI, PRODUCT_CLASS = "00D09E", "NL-STB4000"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class _SharedConnections:
    """Django's per-thread connection storage, made one for all threads: an in-memory SQLite test
    database exists only in the test thread's connection (what Django's own live server does)."""

    def __init__(self, alias, connection) -> None:
        setattr(self, alias, connection)


@pytest.fixture
def asgi_server(transactional_db, settings, monkeypatch):
    """`portal.asgi.application` served by uvicorn on a free port, in a thread."""
    import uvicorn

    from portal.asgi import application

    conn = connections["default"]
    if conn.vendor == "sqlite" and conn.is_in_memory_db():
        conn.inc_thread_sharing()
        monkeypatch.setattr(connections, "_connections", _SharedConnections("default", conn))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
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
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()
    if conn.vendor == "sqlite" and conn.is_in_memory_db():
        conn.dec_thread_sharing()


class Cpe:
    """A box speaking CWMP to the served portal over real HTTP, with its session cookie."""

    def __init__(self, base_url: str) -> None:
        self.host, self.port = base_url.removeprefix("http://").split(":")
        self.cookie = ""

    def post(self, message: m.Message | None, cwmp_id: str = "1"):
        body = b"" if message is None else envelope(message, cwmp_id)
        conn = http.client.HTTPConnection(self.host, int(self.port), timeout=15)
        headers = {"Content-Type": "text/xml; charset=utf-8"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        try:
            conn.request("POST", "/cwmp", body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            cookie = SimpleCookie()
            for header in response.headers.get_all("Set-Cookie") or ():
                cookie.load(header)
            if "cwmp_session" in cookie:
                morsel = cookie["cwmp_session"]
                self.cookie = "" if not morsel.value else f"cwmp_session={morsel.value}"
            return response.status, parse_envelope(data) if data else None
        finally:
            conn.close()

    def session(self, events: tuple[str, ...], cr_url: str):
        """Inform, then the empty POST; returns the first ACS request (or None: 204)."""
        status, answer = self.post(
            inform(
                SERIAL,
                oui=OUI,
                product_class=PRODUCT_CLASS,
                software_version="4.2.0",
                events=events,
                extra={"Device.ManagementServer.ConnectionRequestURL": cr_url},
            ),
            cwmp_id="inform",
        )
        assert status == 200 and isinstance(answer.message, m.InformResponse)
        status, answer = self.post(None)
        return answer if status == 200 else None


class _ConnectionRequests(BaseHTTPRequestHandler):
    received = threading.Event()

    def do_GET(self):
        type(self).received.set()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def cr_endpoint():
    """The box's connection-request endpoint: answers 204 and tells the test it was called."""
    _ConnectionRequests.received = threading.Event()
    server = HTTPServer(("127.0.0.1", 0), _ConnectionRequests)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/cr", _ConnectionRequests.received
    server.shutdown()
    server.server_close()


def shoot(page: Page, name: str) -> None:
    if os.environ.get("E2E_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / name)


def test_helpdesk_finds_a_box_reboots_it_and_sees_the_task_live(
    seeded, asgi_server, cr_endpoint, browser, settings
):
    settings.CWMP_AUTH = "none"  # labs mode: the journey is about the pages, not box auth
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the connection request is sent by this process
    cr_url, connection_requested = cr_endpoint
    box = Cpe(asgi_server)

    # --- the box registers itself -------------------------------------------------------------
    assert box.session(("0 BOOTSTRAP", "1 BOOT"), cr_url) is None
    device = Device.objects.get(serial_number=SERIAL)
    assert device.device_class is not None and device.connection_request_url == cr_url

    context = browser.new_context(base_url=asgi_server, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        # --- the help-desk agent finds it by serial number ----------------------------------------
        log_in_checked(page, "helpdesk")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Devices").click()
        expect(page).to_have_url(re.compile(r"/devices/$"))
        page.get_by_label("Serial / MAC / IP").fill(SERIAL)
        page.get_by_role("button", name="Filter").click()
        table = page.get_by_test_id("device-table")
        expect(table.locator("tbody tr")).to_have_count(1)
        expect(table).to_contain_text(PRODUCT_CLASS)
        shoot(page, "devices-list.png")
        table.get_by_role("link", name=SERIAL).click()
        expect(page).to_have_url(re.compile(rf"/devices/{device.pk}/$"))
        expect(page.get_by_test_id("summary")).to_contain_text("4.2.0")
        live = page.get_by_test_id("live-status")
        expect(live).to_have_text("live")  # the websocket is up

        # --- queues a reboot ------------------------------------------------------------------------
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_test_id("reboot").click()
        expect(page.get_by_role("status").first).to_contain_text("Reboot queued as task")
        task = Task.objects.get(device=device)
        assert (task.rpc, task.state, task.created_by.username) == (
            TaskRpc.REBOOT,
            TaskState.QUEUED,
            "helpdesk",
        )
        row = page.locator(f'[data-testid="task-table"] tr[data-task-id="{task.pk}"]')
        state = row.get_by_test_id("task-state")
        expect(state).to_have_text("Queued")
        expect(live).to_have_text("live")
        page.evaluate("window.__notReloaded = true")

        # --- the box answers the connection request; the page follows the task live -------------
        assert connection_requested.wait(15), "the connection request did not reach the box"
        request = box.session(("6 CONNECTION REQUEST",), cr_url)
        assert isinstance(request.message, m.Reboot)
        expect(state).to_have_text("Sent")
        expect(page.get_by_test_id("in-session")).to_be_visible()
        status, answer = box.post(m.RebootResponse(), cwmp_id=request.cwmp_id)
        assert status == 204 and answer is None
        expect(state).to_have_text("Done")
        expect(page.get_by_test_id("in-session")).to_be_hidden()
        assert page.evaluate("window.__notReloaded") is True
        shoot(page, "devices-tasks.png")  # scrolled to #tasks by the action's redirect
        page.evaluate("window.scrollTo(0, 0)")
        shoot(page, "devices-detail.png")
        task.refresh_from_db()
        assert task.state == TaskState.DONE
    finally:
        context.close()
        connections.close_all()


def test_the_page_falls_back_to_polling_without_a_websocket(seeded, asgi_server, browser, settings):
    """A proxy that drops websockets: the page polls live.json and still shows the task change."""
    from fus.models import DeviceClass
    from tests.acs.ui.conftest import make_device

    device = make_device(DeviceClass.objects.get(product_class=PRODUCT_CLASS), "NL4K-POLL-1")
    context = browser.new_context(base_url=asgi_server, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    # Every websocket is closed at once, as by a proxy that does not pass them.
    context.route_web_socket(re.compile(r"/ws/devices/"), lambda ws: ws.close())
    page = context.new_page()
    try:
        log_in_checked(page, "noc")
        page.goto(f"/devices/{device.pk}/")
        expect(page.get_by_test_id("live-status")).to_contain_text("polling")
        from django.contrib.auth import get_user_model

        from acs.services import tasks as task_services

        noc = get_user_model().objects.get(username="noc")
        task = task_services.reboot(device, actor=noc)
        state = page.locator(f'tr[data-task-id="{task.pk}"]').get_by_test_id("task-state")
        expect(state).to_have_text("Queued")
        task_services.cancel_task(task, actor=noc)
        expect(state).to_have_text("Expired")
    finally:
        context.close()
        connections.close_all()


def log_in_checked(page: Page, username: str) -> None:
    log_in(page, username)
    expect(page.get_by_test_id("current-user")).to_contain_text(username)
