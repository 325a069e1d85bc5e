"""Shared fixtures. Tests use an in-memory (SQLite) or test_ (PostgreSQL) database, and every
test stores firmware under its own temporary MEDIA_ROOT."""

import pytest


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test stores firmware in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's 1M iterations cost seconds per user on a busy machine; tests need no strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_targeting_index(settings):
    """The per-process targeting index must not outlive a test's rolled-back catalogue."""
    from fus.services import targeting

    settings.TARGETING_CACHE_SECONDS = 0
    targeting._CATALOGUE.invalidate()


@pytest.fixture
def tenants(db):
    """Two manufacturers with a device class and a supplier user each, plus noc, helpdesk, admin."""
    from tests.factories import DeviceClassFactory, ManufacturerFactory, UserFactory

    users = {
        "noc": UserFactory(username="noc", role="noc", is_staff=True),
        "helpdesk": UserFactory(username="helpdesk", role="helpdesk"),
        "admin": UserFactory(username="admin", role="admin", is_staff=True, is_superuser=True),
        "supplier_a": UserFactory(username="supplier-a", role="supplier"),
        "supplier_b": UserFactory(username="supplier-b", role="supplier"),
    }
    a = ManufacturerFactory(name="Alpha", ouis=["00D09E"], members=[users["supplier_a"]])
    b = ManufacturerFactory(name="Beta", ouis=["3C62F0"], members=[users["supplier_b"]])
    return {
        **users,
        "a": a,
        "b": b,
        "dc_a": DeviceClassFactory(manufacturer=a, product_class="A-STB"),
        "dc_b": DeviceClassFactory(manufacturer=b, product_class="B-STB"),
    }


def incoming_leftovers(media_root):
    incoming = media_root / ".incoming"
    return sorted(p.name for p in incoming.glob("*")) if incoming.exists() else []


@pytest.fixture(autouse=True)
def _no_connection_request_credentials_provisioning(settings):
    """Scripted boxes in most tests expect exactly the RPCs their scenario queues; the ACS's own
    SetParameterValues of connection-request credentials is switched on where it is under test
    (tests/acs/test_cr_credentials.py) and for the cpesim fleets that rely on it."""
    settings.CWMP_PROVISION_CONNECTION_REQUEST_CREDENTIALS = False


@pytest.fixture(autouse=True)
def _quick_live_page_leases(monkeypatch):
    """On Redis a live page's first snapshot waits until every sender sees its lease
    (`portal.watchers`): tests, all senders in one process, shorten that wait and the senders'
    reading interval alike (tests/portal/test_watchers.py checks the real relation)."""
    from portal import watchers

    monkeypatch.setattr(watchers, "REFRESH", 0.1)
    monkeypatch.setattr(watchers, "CATCH_UP", 0.25)


@pytest.fixture(autouse=True)
def _celery_reads_django_settings():
    """Celery reads CELERY_* from Django's settings on every lookup, so `settings.CELERY_...` in a
    test lasts for that test. A value set on `app.conf` itself outlives the test and silently
    overrides later tests' settings (one made a bulk action's connection requests go to the
    broker instead of running inline): fail the test that leaves one."""
    yield
    from portal.celery import app

    changes = app.conf.changes
    left = [key for key in ("task_always_eager", "task_eager_propagates") if key in changes]
    for key in left:
        del changes[key]
    assert not left, f"set through Django's settings instead of app.conf: {left}"
