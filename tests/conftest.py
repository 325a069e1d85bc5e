"""Shared fixtures. Each test session gets its own runtime folder, so firmware files and the Celery
broker folders of a test run never touch the developer's var/."""

import os
import tempfile

# Must happen before Django settings are read (pytest-django reads them after conftest import).
os.environ.setdefault("PORTAL_VAR_DIR", tempfile.mkdtemp(prefix="portal-test-var-"))
