"""Lean ASGI entries: one plain Django view served without Django's ASGI handler and the portal's
middleware, for the two endpoints boxes call by the million (`/qrc`: `fus.qrc.asgi`, `/cwmp`:
`acs.asgi`). `portal.asgi` sends their paths here; everything else goes to Django.

Why: through Django's ASGI handler and the middleware stack a request costs about 1-2.5 ms of CPU
on these machines (thread hops for the request signals and the sync middleware, a disconnect
listener task, every middleware), several times what the QRC or a periodic CWMP POST itself costs
(docs/benchmarks/qrc.md, docs/benchmarks/acs-sessions.md).

What an entry keeps and what it leaves out:

* kept: the view itself, on a Django `ASGIRequest` (cookies, headers, REMOTE_ADDR, is_secure()
  with SECURE_PROXY_SSL_HEADER, exactly as Django builds them); ALLOWED_HOSTS (checked before the
  view: 400 otherwise); Django's `request_started` / `request_finished` signals around each request
  (queries log reset, database connections closed when unusable or past CONN_MAX_AGE, returned to
  the pool); the body read at most to the endpoint's limit + 1 bytes (the view then refuses it, so
  an oversized body is never held); cookies the view sets; a Content-Length on every complete
  answer but 204/304 (boxes' HTTP clients are simple: no chunked encoding is forced on them);
* left out, as a box needs none of them: sessions, authentication and messages (lazy, never
  touched by these views), CSRF (the views are exempt), the audit actor (boxes are not users),
  the upload cleanup (no uploads), security headers for browsers (X-Frame-Options,
  Referrer-Policy, COOP, nosniff); TLS and HSTS belong to the proxy or uvicorn in front.

Each request's sync work runs in a fixed pool of threads per entry (`<PREFIX>_THREADS`, default 4),
so database connections stay per thread: none per request, none leaked.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.core import signals
from django.core.exceptions import DisallowedHost, ImproperlyConfigured, SuspiciousOperation
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse

from portal import live

logger = logging.getLogger(__name__)

#: Statuses whose answer carries no body and no Content-Length (RFC 9110 8.6).
_NO_BODY = (204, 304)


class LeanEndpoint:
    """An ASGI application serving `view` at `paths` (anything else: 404).

    `max_body` is called per request (settings may change in tests); `threads` sizes the pool."""

    def __init__(
        self,
        *,
        name: str,
        paths: tuple[str, ...],
        view: Callable[[HttpRequest], HttpResponse],
        max_body: Callable[[], int],
        threads: int = 4,
    ) -> None:
        self.name = name
        self.paths = frozenset(paths)
        self.view = view
        self.max_body = max_body
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    def serves(self, path: str) -> bool:
        return path in self.paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"The {self.name} entry serves HTTP only, not {scope['type']!r}.")
        if scope["path"] not in self.paths:
            await send_response(send, _plain("Not Found", 404))
            return
        try:
            body = await _read_body(receive, self.max_body())
        except ConnectionAbortedError:
            return
        loop = asyncio.get_running_loop()
        live.attach(loop)  # the views' live announcements are sent on this loop
        response = await loop.run_in_executor(self.executor, self._serve, scope, body)
        await send_response(send, response)

    def _serve(self, scope: dict, body: bytes) -> HttpResponse:
        """One request, in a pool thread: Django's request signals around the view."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        try:
            request = ASGIRequest(scope, io.BytesIO(body))
            try:
                request.get_host()  # ALLOWED_HOSTS, as Django's handler would
            except DisallowedHost:
                return _plain("Bad Request (host)", 400)
            try:
                return self.view(request)
            except SuspiciousOperation:
                return _plain("Bad Request", 400)
            except Exception:
                logger.exception("%s request failed", self.name)
                return _plain("Server Error", 500)
        finally:
            signals.request_finished.send(sender=self.__class__)


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain")


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


async def send_response(send, response: HttpResponse) -> None:
    """Write a Django response as ASGI messages: its headers (repeated ones included), its
    cookies, a Content-Length for a complete body (none for 204/304)."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
    headers += [
        (b"set-cookie", cookie.output(header="").strip().encode("latin-1"))
        for cookie in response.cookies.values()
    ]
    status = response.status_code
    complete = not response.streaming and not response.has_header("Content-Length")
    if complete and status not in _NO_BODY:
        headers.append((b"content-length", str(len(response.content)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if response.streaming:
        for chunk in response.streaming_content:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        body = b"" if status in _NO_BODY else response.content
        await send({"type": "http.response.body", "body": body})
    _release(response)


def _release(response: HttpResponse) -> None:
    """`HttpResponse.close()` without its `request_finished` signal: the entry sends that in the
    pool thread that served the request, where the request's database connections are. Sent here,
    on the event loop's thread, it would run Django's connection clean-up in an async context."""
    for closer in response._resource_closers:
        try:
            closer()
        except Exception:  # as Django's close(): a failing closer must not stop the others
            logger.debug("closing a response resource failed", exc_info=True)
    response._resource_closers.clear()
    response.closed = True


async def _lifespan(receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def threads_from_environment(variable: str, default: int = 4) -> int:
    """A pool size from the environment, refused clearly when it is not a positive integer."""
    raw = os.environ.get(variable, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ImproperlyConfigured(f"{variable} must be a positive integer, not {raw!r}.")
    return value
