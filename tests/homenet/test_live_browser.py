"""The live compliance pages in a real browser (Debian's Chromium, as tests/e2e): a cpesim box
speaks CWMP over real HTTP to the portal served by uvicorn (HTTP and websockets); a profile the box
refuses is applied on its next boot, and the open dashboard and device page show the fault without
reloading. Skipped (with the reason) where Chromium or Playwright is missing, as the e2e journeys."""

from __future__ import annotations

import http.client
import os
from http.cookies import SimpleCookie

import pytest

from acs.cwmp.codec import CWMP_1_2, parse_envelope, write_envelope
from acs.models import Device
from cpesim.box import Box
from cpesim.fleet import FleetConfig
from cpesim.profiles import DeviceSpec
from tests.e2e import VIEWPORT
from tests.e2e.conftest import browser, chromium_executable, seeded  # noqa: F401 - fixtures

try:
    from playwright.sync_api import expect
except ImportError:
    if os.environ.get("E2E_REQUIRED") == "1":
        raise
    pytest.skip("the playwright package is not installed", allow_module_level=True)

from tests.e2e.test_device_journey import asgi_server, log_in  # noqa: F401 - fixture
from tests.homenet.test_sessions import OUT, av_profile, profile

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("e2e"),
    pytest.mark.usefixtures("chromium_executable"),
    pytest.mark.filterwarnings("ignore:No directory at :UserWarning"),
    pytest.mark.filterwarnings(
        "ignore:StreamingHttpResponse must consume synchronous iterators:Warning"
    ),
]


class HttpBox:
    """A cpesim box whose CWMP sessions go over real HTTP to the served portal."""

    def __init__(self, base_url: str, serial: str) -> None:
        self.host, port = base_url.removeprefix("http://").split(":")
        self.port = int(port)
        config = FleetConfig(acs_url=f"{base_url}/cwmp", cr_username="", cr_password="")
        self.box = Box(config, DeviceSpec("00D09E", "NL-STB4000", manufacturer="Demo"), serial, 0)
        self.cookie = ""

    def _post(self, body: bytes):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
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
                value = cookie["cwmp_session"].value
                self.cookie = f"cwmp_session={value}" if value else ""
            return response.status, data
        finally:
            conn.close()

    def session(self, *events: str) -> list[str]:
        box = self.box
        if not box.online:
            box.power_on()
        for event in events:
            box.add_event(event)
        inform, delivered = box.build_inform()
        status, data = self._post(write_envelope(inform, cwmp_id="1", namespace=CWMP_1_2))
        assert status == 200, data
        box.inform_delivered(delivered)
        handled = []
        status, data = self._post(b"")
        while status == 200 and data:
            request = parse_envelope(data)
            handled.append(type(request.message).__name__)
            reply = box.handle_rpc(request.message)
            status, data = self._post(
                write_envelope(reply, cwmp_id=request.cwmp_id, namespace=CWMP_1_2)
            )
        assert status == 204, data
        return handled


def test_a_fault_shows_on_the_open_dashboard_and_device_page_without_reload(
    seeded,  # noqa: F811
    asgi_server,  # noqa: F811
    browser,  # noqa: F811
    settings,
):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    av_profile()
    box = HttpBox(asgi_server, "NL4K-HN-0001")
    assert "SetParameterValues" in box.session()
    device = Device.objects.get(serial_number="NL4K-HN-0001")

    context = browser.new_context(base_url=asgi_server, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    try:
        board = context.new_page()
        log_in(board, "noc")
        board.goto("/home-network/")
        live = board.get_by_test_id("live-status")
        expect(live).to_have_text("live")
        expect(board.locator('[data-count="in_sync"]')).to_have_text("1")
        page = context.new_page()
        page.goto(f"/home-network/devices/{device.pk}/")
        expect(page.get_by_test_id("live-status")).to_have_text("live")
        expect(page.get_by_test_id("compliance-state")).to_have_text("In sync")

        for tab in (board, page):  # gone if a tab reloaded
            tab.evaluate("window.notReloaded = true")

        # The operator adds a profile this box refuses; the box's next boot applies it.
        profile(
            "Bad video format",
            values=[{"path": OUT + "VideoOutput.1.VideoFormat", "value": "SCART"}],
            triggers=("boot",),
        )
        box.box.online = False
        assert "SetParameterValues" in box.session("1 BOOT")

        expect(page.get_by_test_id("compliance-state")).to_have_text("Failed")
        expect(page.get_by_test_id("fault")).to_contain_text("SCART")
        expect(page.get_by_test_id("dry-run")).to_contain_text("VideoOutput.1.VideoFormat")
        expect(board.locator('[data-count="failed"]')).to_have_text("1")
        expect(board.locator('[data-count="in_sync"]')).to_have_text("0")
        row = board.locator(f'tr[data-device-id="{device.pk}"]')
        expect(row.get_by_test_id("row-state")).to_have_text("Failed")
        expect(row).to_contain_text("SCART")
        assert board.evaluate("window.notReloaded") and page.evaluate("window.notReloaded")
    finally:
        context.close()
