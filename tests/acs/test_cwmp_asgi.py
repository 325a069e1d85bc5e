"""`acs.asgi`: the lean ASGI entry for /cwmp answers what the portal's Django stack answers (bodies,
cookies, digest challenges, refusals), keeps sessions interchangeable between the two, and serves
nothing else. `portal.asgi` sends /cwmp to it."""

from __future__ import annotations

import pytest
from django.core.handlers.asgi import ASGIHandler

from acs import digest
from acs.asgi import application
from acs.cwmp import messages as m
from acs.cwmp.codec import parse_envelope
from acs.models import CwmpSession, Device, SessionTranscript
from acs.services import devices as registry
from tests import asgi_client
from tests.acs.cpe import envelope, inform
from tests.asgi_client import header, header_values

pytestmark = pytest.mark.django_db(transaction=True)

#: Headers only Django's middleware adds (for browsers); the lean entry leaves them out.
BROWSER_HEADERS = {
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "x-content-type-options",
    "vary",
}


@pytest.fixture(autouse=True)
def _open_acs(settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    settings.CELERY_TASK_ALWAYS_EAGER = False


def call(app, body: bytes = b"", *, path="/cwmp", cookie: str | None = None, **kwargs):
    extra = kwargs.pop("headers", ())
    if cookie:
        extra = (*extra, (b"cookie", f"cwmp_session={cookie}".encode()))
    return asgi_client.call(app, body, path=path, headers=extra, **kwargs)


def session_cookie(headers) -> str | None:
    for value in header_values(headers, "Set-Cookie"):
        name, _, rest = value.partition("=")
        if name == "cwmp_session":
            return rest.split(";", 1)[0]
    return None


def box_headers(headers) -> list[tuple[str, str]]:
    """The headers a box sees, without the browser ones, the cookie's value and the length."""
    kept = []
    for name, value in headers:
        lower = name.lower()
        if lower in BROWSER_HEADERS:
            continue
        if lower == "set-cookie":
            value = value.split("=", 1)[0] + "=…;" + value.split(";", 1)[1]
        kept.append((lower, value))
    return sorted(kept)


def run_session(app, serial: str):
    """Inform then the empty POST through `app`; -> the two answers."""
    first = call(app, envelope(inform(serial), cwmp_id="7"))
    second = call(app, b"", cookie=session_cookie(first[1]))
    return first, second


def test_a_session_answers_what_the_portal_stack_answers(tenants):
    lean_inform, lean_close = run_session(application, "LEAN0001")
    full_inform, full_close = run_session(ASGIHandler(), "FULL0001")

    assert lean_inform[0] == full_inform[0] == 200
    assert parse_envelope(lean_inform[2]) == parse_envelope(full_inform[2])
    assert parse_envelope(lean_inform[2]).message == m.InformResponse(1)
    assert box_headers(lean_inform[1]) == box_headers(full_inform[1])
    assert header(lean_inform[1], "Content-Length") == str(len(lean_inform[2]))
    assert "HttpOnly" in header(lean_inform[1], "Set-Cookie")

    assert lean_close[0] == full_close[0] == 204
    assert lean_close[2] == b""
    assert header(lean_close[1], "Content-Length") is None  # RFC 9110: none on a 204
    cleared = header(lean_close[1], "Set-Cookie")
    assert cleared.startswith("cwmp_session=") and "Max-Age=0" in cleared
    assert not CwmpSession.objects.exists()
    assert SessionTranscript.objects.filter(device__serial_number="LEAN0001").count() == 1
    lean, full = (Device.objects.get(serial_number=s) for s in ("LEAN0001", "FULL0001"))
    assert (lean.software_version, lean.last_events) == (full.software_version, full.last_events)


def test_a_session_continues_across_the_two_entries(tenants):
    """Session state is stored, not held by a process: a session opened through Django's stack
    is closed through the lean entry, and the other way round."""
    for first, second in ((ASGIHandler(), application), (application, ASGIHandler())):
        opened = call(first, envelope(inform("SWAP0001"), cwmp_id="1"))
        assert opened[0] == 200
        closed = call(second, b"", cookie=session_cookie(opened[1]))
        assert closed[0] == 204
        assert not CwmpSession.objects.exists()


def test_digest_challenge_and_answer(tenants, settings):
    settings.CWMP_AUTH = "digest"
    settings.CWMP_UNKNOWN_DEVICES = "known-ouis"
    device = Device.objects.create(
        oui="00D09E", product_class="A-STB", serial_number="DIG0001", device_class=tenants["dc_a"]
    )
    registry.set_device_credentials(device, username="box1", password="s3cret", actor=None)
    body = envelope(inform("DIG0001"))
    status, headers, _ = call(application, body)
    assert status == 401
    challenges = header_values(headers, "WWW-Authenticate")
    full_status, full_headers, _ = call(ASGIHandler(), body)
    assert (status, len(challenges)) == (
        full_status,
        len(header_values(full_headers, "WWW-Authenticate")),
    )
    assert {c["algorithm"] for c in digest.parse_challenges(challenges)} == {"SHA-256", "MD5"}
    chosen = digest.parse_challenges(challenges)[0]
    authorization = digest.client_authorization(
        chosen, username="box1", password="s3cret", method="POST", uri="/cwmp"
    )
    status, headers, _ = call(
        application, body, headers=((b"authorization", authorization.encode()),)
    )
    assert status == 200
    assert call(application, b"", cookie=session_cookie(headers))[0] == 204


def test_bad_input_paths_hosts_and_methods(tenants, settings):
    settings.CWMP_MAX_BODY = 2000
    big = envelope(inform("BIG0001", extra={f"Device.X.{n}": "x" * 50 for n in range(60)}))
    assert len(big) > 2000
    status, _, answer = call(application, big)
    assert status == 413 and b"CWMP_MAX_BODY" in answer
    status, _, answer = call(application, b"<not-xml")
    assert status == 400 and answer.startswith(b"Malformed CWMP message")
    assert not Device.objects.exists() and not CwmpSession.objects.exists()

    status, headers, _ = call(application, method="GET")
    assert status == 405 and header(headers, "Allow") == "POST"
    assert call(application, method="GET", path="/cwmp/")[0] == 405
    assert call(application, path="/admin/")[0] == 404

    settings.ALLOWED_HOSTS = ["acs.example"]
    assert call(application, envelope(inform("HOST0001")), host=b"evil.example")[0] == 400
    assert not Device.objects.exists()
    assert call(application, envelope(inform("HOST0001")), host=b"acs.example")[0] == 200


def test_the_portals_asgi_application_serves_cwmp_through_the_lean_entry(tenants):
    from portal.asgi import http_application

    for path in ("/cwmp", "/cwmp/"):
        status, headers, _ = call(http_application, method="GET", path=path)
        assert status == 405
        assert header(headers, "X-Frame-Options") is None
    status, headers, _ = call(http_application, method="GET", path="/login/")
    assert status == 200 and header(headers, "X-Frame-Options") == "DENY"
