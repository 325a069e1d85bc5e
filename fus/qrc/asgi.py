"""A lean ASGI entry for the QRC alone: `uvicorn fus.qrc.asgi:application`, behind a proxy that
sends `/qrc` to it (docs/qrc.md, "Serving the QRC at scale").

The same Django view (`fus.qrc.views.qrc_endpoint`: the one spyne mounting, its body limit, DTD
refusal, digest challenge) on a Django `ASGIRequest`, without what Django's ASGI handler and the
portal's middleware cost per request (measured in docs/benchmarks/qrc.md: about 1 ms of CPU per
request, three times the QRC's own work). What is kept and what is left out:

* kept: ALLOWED_HOSTS (the host is checked before the view: 400 otherwise), Django's
  `request_started` / `request_finished` signals around each request (queries log reset, database
  connections closed when unusable or past CONN_MAX_AGE, returned to the pool), the view's own
  checks; a body is read at most to `FUS_QRC_MAX_BODY` + 1 bytes (the view then answers
  `Client.RequestTooLong`), so an oversized body is never held;
* left out, as a SOAP box needs none of them: sessions, authentication and messages (lazy and never
  touched by the QRC), CSRF (the view is exempt), the audit actor (a check writes nothing),
  the upload cleanup (no uploads), security headers for browsers (X-Frame-Options, Referrer-Policy,
  COOP, nosniff); TLS and HSTS belong to the proxy in front.

Each request's sync work runs in a fixed pool of `FUS_QRC_THREADS` threads (default 4), so
database connections stay per thread (no connection per request, none leaked). Only `/qrc` is
served; anything else is 404.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup(set_prefix=False)

from django.core import signals  # noqa: E402  (after setup)
from django.core.exceptions import DisallowedHost, SuspiciousOperation  # noqa: E402
from django.core.handlers.asgi import ASGIRequest  # noqa: E402
from django.http import HttpResponse  # noqa: E402

from fus.delivery.conf import delivery_settings  # noqa: E402
from fus.qrc.views import qrc_endpoint  # noqa: E402

logger = logging.getLogger(__name__)

PATH = "/qrc"
_executor = ThreadPoolExecutor(
    max_workers=int(os.environ.get("FUS_QRC_THREADS", "4")), thread_name_prefix="qrc"
)


def _serve(scope: dict, body: bytes) -> HttpResponse:
    """One request, in a pool thread: Django's request signals around the view."""
    signals.request_started.send(sender=__name__, scope=scope)
    try:
        request = ASGIRequest(scope, io.BytesIO(body))
        try:
            request.get_host()  # ALLOWED_HOSTS, as Django's handler would
        except DisallowedHost:
            return HttpResponse("Bad Request (host)", status=400, content_type="text/plain")
        try:
            return qrc_endpoint(request)
        except SuspiciousOperation:
            return HttpResponse("Bad Request", status=400, content_type="text/plain")
        except Exception:
            logger.exception("QRC request failed")
            return HttpResponse("Server Error", status=500, content_type="text/plain")
    finally:
        signals.request_finished.send(sender=__name__)


async def _read_body(receive, limit: int) -> bytes:
    """The request body, at most `limit` + 1 bytes (the rest is not kept)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError
        chunk = message.get("body", b"")
        if size <= limit:
            chunks.append(chunk[: limit + 1 - size])
            size += len(chunks[-1])
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_response(send, response: HttpResponse) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    if response.streaming:
        for chunk in response.streaming_content:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.body", "body": response.content})
    response.close()


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        raise ValueError(f"The QRC serves HTTP only, not {scope['type']!r}.")
    if scope["path"] != PATH:
        await _send_response(send, HttpResponse("Not Found", status=404, content_type="text/plain"))
        return
    try:
        body = await _read_body(receive, delivery_settings().qrc_max_body)
    except ConnectionAbortedError:
        return
    loop = asyncio.get_running_loop()
    response = await loop.run_in_executor(_executor, _serve, scope, body)
    await _send_response(send, response)
