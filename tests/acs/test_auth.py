"""Box authentication at /cwmp: digest (RFC 7616, MD5 and SHA-256) against an independent client
(requests' HTTPDigestAuth on a live server), nonce replay, no existence oracle, basic over TLS
only, unknown-device policies, bootstrap credentials and their replacement."""

from __future__ import annotations

import logging

import pytest
import requests
from django.test import Client
from requests.auth import HTTPDigestAuth

from acs import digest
from acs.choices import TaskState
from acs.cwmp import messages as m
from acs.models import CwmpNonce, CwmpSession, Device, Task
from acs.services import devices as registry
from tests.acs.cpe import Box, envelope, inform

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _digest(settings):
    settings.CWMP_AUTH = "digest"
    settings.CWMP_UNKNOWN_DEVICES = "known-ouis"
    settings.CWMP_BOOTSTRAP_USERNAME = ""
    settings.CWMP_BOOTSTRAP_PASSWORD = ""


@pytest.fixture
def known_box(tenants):
    device = Device.objects.create(
        oui="00D09E",
        product_class="A-STB",
        serial_number="SN0001",
        manufacturer="Alpha",
        device_class=tenants["dc_a"],
    )
    registry.set_device_credentials(device, username="box1", password="s3cret", actor=None)
    return device


def post_with_digest(client: Client, body: bytes, username: str, password: str, *, algorithm=None):
    """Challenge, then answer it with acs.digest's client side (nc=1)."""
    first = client.post("/cwmp", data=body, content_type="text/xml")
    assert first.status_code == 401
    challenges = digest.parse_challenges(
        [v for k, v in first.items() if k.lower() == "www-authenticate"]
        + [v for k, v in getattr(first, "repeated_headers", [])]
    )
    chosen = next(c for c in challenges if algorithm is None or c["algorithm"] == algorithm)
    header = digest.client_authorization(
        chosen, username=username, password=password, method="POST", uri="/cwmp"
    )
    return client.post(
        "/cwmp", data=body, content_type="text/xml", HTTP_AUTHORIZATION=header
    ), header


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_with_requests_against_the_live_server(live_server, tenants, settings, algorithm):
    settings.CWMP_DIGEST_ALGORITHMS = (algorithm,)
    device = Device.objects.create(
        oui="00D09E", product_class="A-STB", serial_number="SN0001", manufacturer="Alpha"
    )
    registry.set_device_credentials(device, username="box1", password="s3cret", actor=None)
    session = requests.Session()
    session.auth = HTTPDigestAuth("box1", "s3cret")
    url = live_server.url + "/cwmp"
    response = session.post(url, data=envelope(inform()), headers={"Content-Type": "text/xml"})
    assert response.status_code == 200, response.text
    sent = response.request.headers["Authorization"]
    assert f'algorithm="{algorithm}"' in sent or f"algorithm={algorithm}," in sent
    assert "InformResponse" in response.text
    response = session.post(url, data=b"")
    assert response.status_code == 204
    device.refresh_from_db()
    assert device.last_inform is not None and device.software_version == "1.0.0"


@pytest.mark.django_db(transaction=True)
def test_both_challenges_are_offered_with_one_nonce(live_server):
    response = requests.post(live_server.url + "/cwmp", data=envelope(inform()))
    assert response.status_code == 401
    raw = response.raw.headers.getlist("WWW-Authenticate")
    challenges = digest.parse_challenges(raw)
    assert [c["algorithm"] for c in challenges] == ["SHA-256", "MD5"]
    assert len({c["nonce"] for c in challenges}) == 1
    assert all(c["qop"] == "auth" and c["realm"] == "rms-fus" for c in challenges)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_digest_both_algorithms(known_box, algorithm):
    response, _ = post_with_digest(
        Client(), envelope(inform()), "box1", "s3cret", algorithm=algorithm
    )
    assert response.status_code == 200


def test_a_replayed_request_is_refused(known_box):
    client = Client()
    response, header = post_with_digest(client, envelope(inform()), "box1", "s3cret")
    assert response.status_code == 200
    assert CwmpNonce.objects.count() == 1
    # The same Authorization (same nonce and nc) from anyone, even without the session: refused.
    replay = Client().post(
        "/cwmp", data=envelope(inform()), content_type="text/xml", HTTP_AUTHORIZATION=header
    )
    assert replay.status_code == 401
    assert "stale=true" in replay["WWW-Authenticate"]


def test_the_nonce_count_rides_in_the_informs_transaction(known_box, monkeypatch):
    """An Inform that fails inside its transaction leaves no nonce count behind (the box may send
    the same answer again, and it is accepted); one that succeeds commits it with the session.
    A POST that is not an Inform records its count at once: its replay is refused."""
    from acs.services import cwmp

    body = envelope(inform())
    first = Client().post("/cwmp", data=body, content_type="text/xml")
    chal = digest.parse_challenges([first["WWW-Authenticate"]])[0]
    header = digest.client_authorization(
        chal, username="box1", password="s3cret", method="POST", uri="/cwmp"
    )

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(cwmp.registry, "apply_inform", broken)
        failed = Client(raise_request_exception=False).post(
            "/cwmp", data=body, content_type="text/xml", HTTP_AUTHORIZATION=header
        )
    assert failed.status_code == 500
    assert not CwmpNonce.objects.exists() and not CwmpSession.objects.exists()
    again = Client().post("/cwmp", data=body, content_type="text/xml", HTTP_AUTHORIZATION=header)
    assert again.status_code == 200
    assert CwmpNonce.objects.get().nc == 1

    header2 = digest.client_authorization(
        chal, username="box1", password="s3cret", method="POST", uri="/cwmp", nc=2
    )
    empty = Client().post("/cwmp", data=b"", content_type="text/xml", HTTP_AUTHORIZATION=header2)
    assert empty.status_code == 204
    assert CwmpNonce.objects.get().nc == 2
    replay = Client().post("/cwmp", data=b"", content_type="text/xml", HTTP_AUTHORIZATION=header2)
    assert replay.status_code == 401 and "stale=true" in replay["WWW-Authenticate"]


def test_a_higher_nonce_count_is_accepted(known_box):
    client = Client()
    first = client.post("/cwmp", data=envelope(inform()), content_type="text/xml")
    chal = digest.parse_challenges([first["WWW-Authenticate"]])[0]
    for nc in (1, 2):
        header = digest.client_authorization(
            chal, username="box1", password="s3cret", method="POST", uri="/cwmp", nc=nc
        )
        response = Client().post(
            "/cwmp",
            data=envelope(inform(events=("2 PERIODIC",))),
            content_type="text/xml",
            HTTP_AUTHORIZATION=header,
        )
        assert response.status_code == 200
        CwmpSession.objects.all().delete()  # as if the session had ended
    assert CwmpNonce.objects.get().nc == 2


def test_forged_and_expired_nonces_are_refused(known_box, settings):
    chal = {"realm": "rms-fus", "nonce": "0.abc.def", "qop": "auth", "algorithm": "MD5"}
    header = digest.client_authorization(
        chal, username="box1", password="s3cret", method="POST", uri="/cwmp"
    )
    response = Client().post(
        "/cwmp", data=envelope(inform()), content_type="text/xml", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 401
    settings.CWMP_NONCE_LIFETIME = -120  # every nonce is already too old
    response, _ = (
        Client().post("/cwmp", data=envelope(inform()), content_type="text/xml"),
        None,
    )
    chal = digest.parse_challenges([response["WWW-Authenticate"]])[0]
    header = digest.client_authorization(
        chal, username="box1", password="s3cret", method="POST", uri="/cwmp"
    )
    response = Client().post(
        "/cwmp", data=envelope(inform()), content_type="text/xml", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 401 and "stale=true" in response["WWW-Authenticate"]
    assert not Device.objects.filter(last_inform__isnull=False).exists()


def test_wrong_credentials_reveal_nothing_about_the_device(known_box, caplog):
    cases = {
        "wrong password, known device": ("box1", "nope", inform()),
        "unknown user": ("nobody", "nope", inform()),
        "unknown user, unknown device": ("nobody", "nope", inform(serial="NOPE")),
        "right password, another device's Inform": ("box1", "s3cret", inform(serial="OTHER")),
    }
    shapes = set()
    for name, (user, password, message) in cases.items():
        before = Device.objects.count()
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="acs"):
            response, _ = post_with_digest(Client(), envelope(message), user, password)
        assert response.status_code == 401, name
        assert Device.objects.count() == before
        shapes.add((response.status_code, response.content, response.get("Content-Type")))
        assert caplog.records, f"{name}: the reason goes to the log"
    assert len(shapes) == 1
    known_box.refresh_from_db()
    assert known_box.last_inform is None


def test_unknown_device_policies(tenants, settings):
    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "known-ouis"
    assert Box().send(inform(oui="ABCDEF")).status_code == 403
    assert Box().send(inform(oui="00D09E")).status_code == 200
    settings.CWMP_UNKNOWN_DEVICES = "refuse"
    assert Box().send(inform(serial="NEW")).status_code == 403
    settings.CWMP_UNKNOWN_DEVICES = "all"
    assert Box().send(inform(oui="ABCDEF")).status_code == 200
    assert sorted(Device.objects.values_list("oui", flat=True)) == ["00D09E", "ABCDEF"]


def test_refused_unknown_device_under_digest_is_a_plain_401(tenants, settings):
    settings.CWMP_UNKNOWN_DEVICES = "refuse"
    settings.CWMP_BOOTSTRAP_USERNAME = "bootstrap"
    settings.CWMP_BOOTSTRAP_PASSWORD = "first-contact"
    response, _ = post_with_digest(Client(), envelope(inform()), "bootstrap", "first-contact")
    assert response.status_code == 401
    assert not Device.objects.exists()


def test_bootstrap_credentials_are_replaced_by_the_devices_own(tenants, settings):
    settings.CWMP_BOOTSTRAP_USERNAME = "bootstrap"
    settings.CWMP_BOOTSTRAP_PASSWORD = "first-contact"
    box = Box()
    response, _ = post_with_digest(box.client, envelope(inform()), "bootstrap", "first-contact")
    assert response.status_code == 200
    device = Device.objects.get()
    assert not device.has_credentials and device.pending_username == "00D09E-A-STB-SN0001"
    spv = box.parsed(box.send(None))
    assert isinstance(spv.message, m.SetParameterValues)
    sent = {p.name: p.value.text for p in spv.message.parameters}
    username = sent["Device.ManagementServer.Username"]
    password = sent["Device.ManagementServer.Password"]
    assert username == "00D09E-A-STB-SN0001" and len(password) >= 20
    assert box.send(m.SetParameterValuesResponse(0), cwmp_id=spv.cwmp_id).status_code == 204
    device.refresh_from_db()
    assert device.has_credentials and device.cwmp_username == username
    assert password not in str(Task.objects.get().request)  # masked once delivered
    assert Task.objects.get().state == TaskState.DONE
    # From now on the bootstrap credentials no longer speak for this box; its own do.
    response, _ = post_with_digest(Client(), envelope(inform()), "bootstrap", "first-contact")
    assert response.status_code == 401
    response, _ = post_with_digest(Client(), envelope(inform()), username, password)
    assert response.status_code == 200


def test_basic_is_refused_over_plain_http_with_a_log_line(known_box, settings, caplog):
    settings.CWMP_AUTH = "basic"
    import base64

    credentials = "Basic " + base64.b64encode(b"box1:s3cret").decode()
    with caplog.at_level(logging.ERROR, logger="acs.auth"):
        response = Client().post(
            "/cwmp",
            data=envelope(inform()),
            content_type="text/xml",
            HTTP_AUTHORIZATION=credentials,
        )
    assert response.status_code == 403
    assert "over plain HTTP" in caplog.text
    secure = Client()
    response = secure.post(
        "/cwmp",
        data=envelope(inform()),
        content_type="text/xml",
        HTTP_AUTHORIZATION=credentials,
        secure=True,
    )
    assert response.status_code == 200
    wrong = "Basic " + base64.b64encode(b"box1:wrong").decode()
    response = Client().post(
        "/cwmp",
        data=envelope(inform()),
        content_type="text/xml",
        HTTP_AUTHORIZATION=wrong,
        secure=True,
    )
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Basic")


def test_auth_none_warns_loudly_in_the_log_and_the_ui(tenants, settings, caplog):
    from acs.services import auth

    settings.CWMP_AUTH = "none"
    settings.CWMP_UNKNOWN_DEVICES = "all"
    auth._warned_none = False
    with caplog.at_level(logging.WARNING, logger="acs.auth"):
        assert Box().send(inform()).status_code == 200
    assert "WITHOUT authentication" in caplog.text
    client = Client()
    client.force_login(tenants["noc"])
    page = client.get("/")
    assert b"CWMP_AUTH=none" in page.content
    settings.CWMP_AUTH = "digest"
    assert b"CWMP_AUTH=none" not in client.get("/").content
