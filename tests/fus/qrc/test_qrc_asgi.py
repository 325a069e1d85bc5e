"""`fus.qrc.asgi`: the lean ASGI entry for /qrc answers exactly what the portal's Django stack
answers, keeps the body limit, the DTD refusal, ALLOWED_HOSTS and the WSDL, and serves nothing else."""

from __future__ import annotations

import asyncio

import pytest
from django.core.handlers.asgi import ASGIHandler
from lxml import etree

from fus.choices import MetadataMode
from fus.models import DownloadRecord, FirmwarePackage, UpdateReport
from fus.qrc.asgi import application
from tests import asgi_client
from tests.asgi_client import header
from tests.fus.delivery_helpers import approved_package
from tests.fus.qrc.test_qrc import Q, envelope

pytestmark = pytest.mark.django_db(transaction=True)


def call(app, body: bytes = b"", *, path="/qrc", **kwargs):
    return asgi_client.call(app, body, path=path, **kwargs)


def faultcode(body: bytes) -> str:
    return etree.fromstring(body).xpath("string(//s:Fault/faultcode)", namespaces=Q)


@pytest.fixture
def package(tenants):
    package = approved_package(tenants["dc_a"], "2.0.0")
    FirmwarePackage.objects.filter(pk=package.pk).update(mode=MetadataMode.UNMANAGED)
    return package


def test_answers_what_the_portal_stack_answers(package):
    for body in (envelope(), envelope(product_class="OTHER"), b"<not-xml"):
        lean = call(application, body)
        full = call(ASGIHandler(), body)
        assert lean[0] == full[0]
        assert lean[2] == full[2]
        assert header(lean[1], "Content-Type") == header(full[1], "Content-Type")
    status, _, answer = call(application, envelope())
    assert status == 200
    versions = etree.fromstring(answer).xpath("//q:SoftwareVersion/text()", namespaces=Q)
    assert versions == ["2.0.0"]


def test_bad_input_is_refused_and_nothing_stored(package, settings):
    settings.FUS_QRC_MAX_BODY = 1000
    status, _, body = call(application, envelope(extra="<!-- " + "x" * 5000 + " -->"))
    assert (status, faultcode(body)) == (500, "soap11env:Client.RequestTooLong")
    doctype = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x/>'
    status, _, body = call(application, doctype)
    assert (status, faultcode(body)) == (500, "soap11env:Client.DTDForbidden")
    status, _, body = call(application, envelope(oui="XYZ123"))
    assert (status, faultcode(body)) == (500, "soap11env:Client.SchemaValidationError")
    assert not UpdateReport.objects.exists()
    assert not DownloadRecord.objects.exists()


def test_hosts_paths_and_methods(package, settings):
    settings.ALLOWED_HOSTS = ["qrc.example"]
    assert call(application, envelope(), host=b"evil.example")[0] == 400
    assert call(application, envelope(), host=b"qrc.example")[0] == 200
    assert call(application, envelope(), host=b"qrc.example", path="/admin/")[0] == 404
    assert call(application, b"x", host=b"qrc.example", method="PUT")[0] == 405
    status, _, wsdl = call(application, method="GET", query=b"wsdl", host=b"qrc.example")
    assert status == 200
    location = etree.fromstring(wsdl).xpath(
        "//soap:address/@location", namespaces={"soap": "http://schemas.xmlsoap.org/wsdl/soap/"}
    )
    assert location == ["http://qrc.example/qrc"]


def test_lifespan_and_other_scopes():
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message["type"])

    asyncio.run(application({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(ValueError, match="websocket"):
        asyncio.run(application({"type": "websocket"}, receive, send))


def test_the_portals_asgi_application_serves_qrc_through_the_lean_entry(package):
    """`portal.asgi` (what uvicorn serves in `make run` and production) sends /qrc to the lean
    entry, other paths to Django: the QRC's answer carries none of the middleware's browser
    headers, a page does."""
    from portal.asgi import http_application

    status, headers, answer = call(http_application, envelope())
    assert status == 200
    assert answer == call(application, envelope())[2]
    assert header(headers, "X-Frame-Options") is None
    status, headers, _ = call(http_application, method="GET", path="/login/")
    assert status == 200 and header(headers, "X-Frame-Options") == "DENY"
