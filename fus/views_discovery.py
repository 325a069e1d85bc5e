"""Discovery documents for boxes, and the NOC's read-only page of what is announced.

- `GET|HEAD /dvb-ipi-fus-stub.dvb` — the FUS stub file (TS 102 034 clause 9.1.2: boxes fetch
  `http(s)://siaddr/dvb-ipi-fus-stub.dvb`), long form, or compact with `?form=compact`;
- `GET|HEAD /sdns/rms-fus-discovery.xml` — the SD&S RMS-FUS record (PayloadID 0x08 over HTTP).

Both are public (boxes have no portal login), built per request from the entities and approved
packages (`fus.services.entities`), with a strong ETag (SHA-256 of the body), Last-Modified, and
304 answers to If-None-Match / If-Modified-Since. `/catalogue/entities/` shows the NOC the same
data, what each document leaves out and why.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_http_methods

from fus.discovery import sdns, stub
from fus.models import FusEntity, RmsEntity
from fus.services import entities
from portal.permissions import can

#: Boxes may cache the documents this long (seconds); revalidation is cheap (ETag).
MAX_AGE = 60


def _document_response(
    request: HttpRequest, body: bytes, content_type: str, last_modified
) -> HttpResponse:
    etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"'
    timestamp = int(last_modified.timestamp()) if last_modified is not None else None
    not_modified = get_conditional_response(request, etag=etag, last_modified=timestamp)
    if not_modified is not None:
        patch_cache_control(not_modified, public=True, max_age=MAX_AGE)
        return not_modified
    response = HttpResponse(b"" if request.method == "HEAD" else body, content_type=content_type)
    response["Content-Length"] = str(len(body))
    response["ETag"] = etag
    if timestamp is not None:
        response["Last-Modified"] = http_date(timestamp)
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    return response


@require_http_methods(["GET", "HEAD"])
def fus_stub(request: HttpRequest) -> HttpResponse:
    form = request.GET.get("form", "long")
    if form not in {"long", "compact"}:
        return HttpResponseBadRequest(
            f"form={form!r}: expected 'long' or 'compact'", content_type="text/plain"
        )
    document = entities.build_stub()
    body = stub.write(document.stub, compact=form == "compact")
    response = _document_response(
        request, body, "text/plain; charset=utf-8", document.last_modified
    )
    response["Content-Disposition"] = f'inline; filename="{stub.FILE_NAME}"'
    return response


@require_http_methods(["GET", "HEAD"])
def sdns_record(request: HttpRequest) -> HttpResponse:
    domain = entities.sdns_domain_name(request.get_host())
    document = entities.build_sdns(domain)
    body = sdns.write(document.discovery)
    return _document_response(request, body, "application/xml", document.last_modified)


@login_required
def entities_page(request: HttpRequest) -> HttpResponse:
    if not (can(request.user, FusEntity, "view") or can(request.user, RmsEntity, "view")):
        raise PermissionDenied
    fus_entities = FusEntity.objects.restrict(request.user).prefetch_related("locations")
    rms_entities = RmsEntity.objects.restrict(request.user).prefetch_related("locations")
    stub_document = entities.build_stub()
    sdns_document = entities.build_sdns(entities.sdns_domain_name(request.get_host()))
    return render(
        request,
        "fus/entities/entities.html",
        {
            "fus_entities": fus_entities,
            "rms_entities": rms_entities,
            "stub": stub_document,
            "stub_text": stub.write(stub_document.stub).decode(),
            "sdns": sdns_document,
            "sdns_text": sdns.write(sdns_document.discovery).decode(),
            "can_change": can(request.user, FusEntity, "change"),
        },
    )
