"""The supplier → NOC → other-supplier journey in a real browser (issue 2, "Tests").

supplier-a uploads a firmware package through the supplier portal, the NOC finds and approves it in
the catalogue, and supplier-b, a supplier of another manufacturer, can neither list nor open it.
"""

from __future__ import annotations

import hashlib
import os
import re

import pytest

from fus.models import FirmwarePackage
from tests.e2e import log_in

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
    pytest.mark.usefixtures("chromium_executable"),  # before seeding: skip or fail fast
]

PACKAGE_NAME = "nl-stb4000-4.3.0-e2e"
SOFTWARE_VERSION = "4.3.0"
IMAGE_SIZE = 384 * 1024
PACKAGE_URL = re.compile(r"/catalogue/firmware/(\d+)/$")


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    expect(page.get_by_test_id("current-user")).to_have_count(0)


def test_wrong_password_is_refused(seeded, new_page):
    page = new_page()
    log_in(page, "supplier-a", "not-the-password")

    expect(page.get_by_role("alert")).to_contain_text(
        "Please enter a correct username and password"
    )
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_test_id("current-user")).to_have_count(0)
    # Still anonymous: the supplier portal sends the browser back to the login page.
    page.goto("/supplier/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/supplier/$"))


def test_supplier_upload_noc_approval_and_tenant_isolation(seeded, new_page, tmp_path):
    image = tmp_path / "nl-stb4000-4.3.0.img"
    image.write_bytes(os.urandom(IMAGE_SIZE))
    image_sha256 = hashlib.sha256(image.read_bytes()).hexdigest()
    page = new_page()

    # --- supplier-a uploads a new SoftwareVersion for NL-STB4000 ---------------------------
    log_in(page, "supplier-a")
    expect(page).to_have_url(re.compile(r"/supplier/$"))
    expect(page.get_by_test_id("current-user")).to_contain_text("supplier-a")
    page.get_by_role("main").get_by_role("link", name="Upload firmware").click()
    expect(page).to_have_url(re.compile(r"/supplier/upload/$"))

    form = page.get_by_test_id("upload-form")
    form.get_by_label("00D09E-NL-STB4000").check()
    form.locator('[name="software_version"]').fill(SOFTWARE_VERSION)
    form.locator('[name="package_name"]').fill(PACKAGE_NAME)
    form.locator('input[name="files"]').set_input_files(image)
    form.get_by_role("button", name="Upload").click()

    expect(page).to_have_url(PACKAGE_URL)
    package_path = PACKAGE_URL.search(page.url).group(0)
    expect(page.get_by_test_id("status")).to_have_text("Validated")
    expect(page.locator("h1")).to_contain_text(PACKAGE_NAME)
    expect(page.locator("h1")).to_contain_text(SOFTWARE_VERSION)
    # The stored file is the one the browser sent: same name, size and SHA-256.
    expect(page.get_by_text(image.name, exact=True)).to_be_visible()
    expect(page.get_by_text(f"({IMAGE_SIZE} bytes)")).to_be_visible()
    expect(page.get_by_text(image_sha256, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)  # suppliers cannot

    page.goto("/supplier/")
    expect(page.get_by_role("link", name=PACKAGE_NAME)).to_be_visible()
    log_out(page)

    # --- noc finds it in the firmware list and approves it -----------------------------------
    log_in(page, "noc")
    expect(page.get_by_test_id("current-user")).to_contain_text("noc")
    page.goto("/catalogue/firmware/")
    page.get_by_role("link", name=PACKAGE_NAME, exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(package_path) + "$"))
    expect(page.get_by_test_id("status")).to_have_text("Validated")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("status")).to_have_text("Approved")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    log_out(page)

    package = FirmwarePackage.objects.get(package_name=PACKAGE_NAME)
    assert package.status == "approved"
    assert package.approved_by.username == "noc"
    assert package.uploaded_by.username == "supplier-a"
    assert package.manufacturer.name == "Nordlicht Electronics"
    assert [str(dc) for dc in package.device_classes.all()] == ["00D09E-NL-STB4000"]

    # --- supplier-b (Meridian) can neither list nor open it --------------------------------
    log_in(page, "supplier-b")
    expect(page.get_by_test_id("current-user")).to_contain_text("supplier-b")
    for listing in ("/supplier/", "/catalogue/firmware/"):
        page.goto(listing)
        # The listing works for supplier-b: its own package is there …
        expect(page.get_by_role("link", name="mx300-7.0.3", exact=True)).to_be_visible()
        # … and nothing of Nordlicht's is, not even in a filter's choices.
        expect(page.locator("body")).not_to_contain_text(PACKAGE_NAME)
        expect(page.locator("html")).not_to_contain_text("Nordlicht")
    response = page.goto(package_path)
    assert response is not None
    assert response.status == 404
    expect(page.locator("body")).not_to_contain_text(PACKAGE_NAME)
