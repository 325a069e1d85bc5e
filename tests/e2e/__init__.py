"""Real-browser journeys and the README screenshots, both driving Debian's Chromium."""

from __future__ import annotations

import os
import shutil

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # runners and containers are often root, where Chromium refuses its sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when it is not installed."""
    if os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which(CHROMIUM) if os.sep not in CHROMIUM else None


def log_in(page, username: str, password: str | None = None) -> None:
    """Submit the login form (password: the user name unless given); the caller checks the
    outcome it expects."""
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(username if password is None else password)
    page.get_by_role("button", name="Log in").click()
