"""Screenshots of the portal for the README, taken from a running portal in Debian's Chromium.

    .venv/bin/python -m tests.e2e.screenshots [BASE_URL]    (default http://127.0.0.1:8000)

Start the portal first (`make run`, or `manage.py runportal`) with the demo data loaded; the script
logs in as `noc` and `supplier-a` (password: the user name, or DEMO_PASSWORD) and writes 1280x800
PNGs into docs/screenshots/.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright

from tests.e2e import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "docs" / "screenshots"
PACKAGE_PATH = re.compile(r"^/catalogue/firmware/\d+/$")


class ScreenshotError(RuntimeError):
    pass


def password_for(username: str) -> str:
    return os.environ.get("DEMO_PASSWORD") or username


def log_in(page: Page, username: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password_for(username))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    if page.get_by_test_id("current-user").count() == 0:
        raise ScreenshotError(
            f"could not log in as {username!r} at {page.url} "
            "(demo data loaded? password changed? set DEMO_PASSWORD)"
        )


def shoot(page: Page, path: str, out: Path, name: str) -> Path:
    if path:
        response = page.goto(path)
        if response is None or not response.ok:
            status = response.status if response else "no response"
            raise ScreenshotError(f"{path} answered {status}")
    page.wait_for_load_state("networkidle")
    target = out / name
    page.screenshot(path=target)  # the viewport: 1280x800
    print(f"  {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")
    return target


def first_package_path(page: Page) -> str:
    """The firmware list's first package, preferring one awaiting approval (shows the action)."""
    rows = page.locator("table tbody tr")
    for want_validated in (True, False):
        for i in range(rows.count()):
            row = rows.nth(i)
            if want_validated and "Validated" not in row.inner_text():
                continue
            for href in row.locator("a").evaluate_all("links => links.map(a => a.pathname)"):
                if PACKAGE_PATH.match(href):
                    return href
    raise ScreenshotError("the firmware list shows no package (run `manage.py seed_demo`)")


def take(base_url: str, out: Path) -> list[Path]:
    executable = chromium_path()
    if executable is None:
        raise ScreenshotError(f"Chromium not found at {CHROMIUM} (apt install chromium)")
    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for username, pages in (
                (
                    "noc",
                    [
                        ("/", "noc-overview.png"),
                        ("/catalogue/firmware/", "firmware-list.png"),
                        (None, "firmware-detail.png"),
                        ("/devices/", "devices-list.png"),
                        ("/rollouts/", "rollouts-list.png"),
                        ("/catalogue/carousels/", "carousels-list.png"),
                        ("/home-network/", "home-network.png"),
                        ("/profiles/", "profiles.png"),
                    ],
                ),
                (
                    "supplier-a",
                    [
                        ("/supplier/", "supplier-portal.png"),
                        ("/supplier/upload/", "supplier-upload.png"),
                    ],
                ),
            ):
                context = browser.new_context(base_url=base_url, viewport=VIEWPORT)
                page = context.new_page()
                if username == "noc":  # the login page, once, before anyone logs in
                    shots.append(shoot(page, "/login/", out, "login.png"))
                log_in(page, username)
                for path, name in pages:
                    if path is None:  # the detail of a package picked from the list just shown
                        path = first_package_path(page)
                    shots.append(shoot(page, path, out, name))
                context.close()
        finally:
            browser.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="default: docs/screenshots")
    args = parser.parse_args(argv)
    print(f"Screenshots of {args.base_url} into {args.out}:")
    try:
        take(args.base_url.rstrip("/"), args.out)
    except (ScreenshotError, PlaywrightError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
