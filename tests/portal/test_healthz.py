"""`/healthz`: the liveness probe answers through Django's whole stack, anonymously, without the
database, and only to safe methods."""

from __future__ import annotations

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext


@pytest.mark.django_db
def test_liveness_needs_no_login_and_no_database(client):
    with CaptureQueriesContext(connections["default"]) as queries:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["X-Frame-Options"] == "DENY"  # the middleware ran
    assert len(queries) == 0
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
