"""The QRC endpoint `/qrc` (public, CSRF-exempt): spyne's `DjangoView`, mounted once, behind the
checks spyne does not make.

* `GET /qrc?wsdl`: the WSDL, its service address taken from each request (`cache_wsdl=False`: spyne
  otherwise freezes the first request's host into every later WSDL). spyne builds it on a shared
  document object, so builds are serialised by a lock, and the state spyne forgets to reset
  between builds is reset here (without it the second WSDL has no portType).
* `POST /qrc`: refused with a SOAP `Client` fault, before spyne parses anything, when the body is
  larger than `FUS_QRC_MAX_BODY` or carries a DOCTYPE/entity declaration; spyne's own parser has
  entities, DTDs and network access off, and its lxml validator faults on wrong types and patterns.
* `FUS_QRC_AUTH=digest`: an HTTP digest challenge first (per-box credentials, `fus.delivery.auth`);
  the authenticated user name must be the box the request is about (`<OUI>-<SerialNumber>`).

Nothing is stored by a check, so a refused request leaves nothing behind.
"""

from __future__ import annotations

import threading

import spyne.const
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from lxml import etree
from spyne.server.django import DjangoServer, DjangoView

from fus.delivery import auth
from fus.delivery.conf import delivery_settings
from fus.qrc.service import build_application

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

# spyne runs a full gc.collect() when a method context closes, at most once a second per process
# ("to have file descriptors returned in a timely manner"): 0.1-0.3 s of a Django process's time
# each, a third of the QRC's throughput in the benchmark. Our contexts hold no files; Python's own
# generational GC still runs.
spyne.const.MIN_GC_INTERVAL = float("inf")

_application = build_application()
_server = DjangoServer(_application, cache_wsdl=False)
_spyne_view = DjangoView.as_view(application=_application, server=_server)
_wsdl_lock = threading.Lock()


def _wsdl(request: HttpRequest) -> HttpResponse:
    """Build the WSDL for this request's address. spyne resets only its `service_elt_dict`
    between builds; its `port_type_dict` would keep the first build's portType element, so every
    later WSDL came out without a portType (zeep refuses those). Reset both, under the lock."""
    with _wsdl_lock:
        _server.doc.wsdl11.port_type_dict = {}
        return _spyne_view(request)


def soap_fault(code: str, text: str, *, status: int = 500) -> HttpResponse:
    """A SOAP 1.1 fault envelope (HTTP 500, as SOAP 1.1's HTTP binding wants for faults)."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    fault = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap11env:{code}"
    etree.SubElement(fault, "faultstring").text = text
    return HttpResponse(
        etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"),
        status=status,
        content_type="text/xml; charset=utf-8",
    )


def _read_limited(request: HttpRequest, limit: int) -> bytes | None:
    """The body, or None when it is longer than `limit` (read at most limit + 1 bytes)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    data = request.read(limit + 1)
    if len(data) > limit:
        return None
    # spyne reads request.body: hand it what was read (Django keeps the body in `_body`).
    request._body = data
    return data


@csrf_exempt
def qrc_endpoint(request: HttpRequest) -> HttpResponse:
    if request.method in ("GET", "HEAD"):
        return _wsdl(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "HEAD", "POST"])
    conf = delivery_settings()
    request.fus_box = ""
    if conf.qrc_auth == "digest":
        outcome = auth.check_digest(request)
        if outcome.challenge is not None:
            return outcome.challenge
        request.fus_box = outcome.username or ""
        request.fus_box_required = True
    body = _read_limited(request, conf.qrc_max_body)
    if body is None:
        return soap_fault(
            "Client.RequestTooLong", f"The request is larger than {conf.qrc_max_body} bytes."
        )
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        return soap_fault("Client.DTDForbidden", "DOCTYPE and entity declarations are not allowed.")
    if not body.strip():
        return soap_fault("Client.EmptyRequest", "The request has no SOAP envelope.")
    return _spyne_view(request)
