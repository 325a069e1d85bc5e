"""Playwright fixtures for the real-browser journeys.

The browser is Debian's Chromium (Playwright cannot download its own here). When it is missing the
journeys are skipped with the reason, except where E2E_REQUIRED=1 (CI): there a missing browser is a
failure, so a broken runner cannot pass silently.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connections

from tests.e2e import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_path

HERE = Path(__file__).parent

# The live server's WSGI handler builds WhiteNoise's middleware, which warns when STATIC_ROOT does
# not exist (collectstatic has not run; WHITENOISE_USE_FINDERS serves static/ directly). Harmless
# here, and an error under the suite's filterwarnings=error; ignore exactly that one warning.
WHITENOISE_NO_STATIC_ROOT = pytest.mark.filterwarnings("ignore:No directory at :UserWarning")


def pytest_configure(config):
    # pytest-xdist registers this marker itself; with `-p no:xdist` --strict-markers needs it here.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(WHITENOISE_NO_STATIC_ROOT)


def _unavailable(reason: str) -> None:
    if os.environ.get("E2E_REQUIRED") == "1":
        pytest.fail(f"E2E_REQUIRED=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def seeded(transactional_db) -> None:
    """The demo users, manufacturers, device classes and packages (`manage.py seed_demo`)."""
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def chromium_executable() -> str:
    """Debian's Chromium; skips (or, with E2E_REQUIRED=1, fails) the journey when it is missing.

    Cheap: journeys list it in `usefixtures` so that this is decided before any seeding.
    """
    executable = chromium_path()
    if executable is None:
        _unavailable(
            f"Chromium not found at {CHROMIUM} (apt install chromium, or set E2E_CHROMIUM)"
        )
    return executable


@pytest.fixture
def browser(chromium_executable, monkeypatch) -> Iterator:
    """A headless Chromium, started and stopped for each journey."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (requirements-dev.txt)")
    # Playwright's sync API keeps an asyncio loop on this thread; Django's ORM calls made by the
    # test itself (fixtures, assertions on the database) would otherwise be refused as async-unsafe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()
            # ORM calls the journey makes while Playwright's loop runs on this thread are served by
            # a connection of their own (asgiref's Local sees the running loop), which pytest-django
            # never closes: close it here, still inside that context, or on PostgreSQL it keeps the
            # test database busy and its teardown fails.
            connections.close_all()


@pytest.fixture
def new_page(browser, live_server):
    """Make a fresh browser context (its own cookies: one user) and return its page."""
    contexts = []

    def make():
        context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
