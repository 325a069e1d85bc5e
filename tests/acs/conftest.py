import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The tenants fixture creates five users; PBKDF2 makes that seconds on a shared machine."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _exact_session_count(settings):
    """Count live sessions in the database on every Inform (the portal caches it for a second)."""
    settings.CWMP_SESSION_COUNT_TTL = 0
