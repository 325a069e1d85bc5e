"""The download server: `GET|HEAD /firmware/<package id>/<file name>` (interface 6).

Streams approved packages' files from MEDIA_ROOT without reading them into memory: under ASGI an
async iterator reading 1 MiB blocks in a worker thread (Django's FileResponse would be consumed
whole into memory by the ASGI handler, it being a sync iterator), under WSGI a plain generator.
Single and multiple byte ranges (206, multipart/byteranges), 416 for ranges beyond the file,
`ETag` = the quoted SHA-256 with `If-None-Match` (304) and `If-Range`, `Repr-Digest`. Access
control per `FUS_DOWNLOAD_AUTH`; in production nginx sends the bytes (`X-Accel-Redirect`, see
docs/deploy-nginx.md) and reports the end of each download back through `/firmware/-/done`.
Every GET is recorded (`fus.services.reports.start_download` / `finish_download`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    StreamingHttpResponse,
)
from django.utils.crypto import get_random_string
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from fus.choices import FirmwareStatus
from fus.delivery import auth
from fus.delivery.conf import delivery_settings
from fus.delivery.ranges import Unsatisfiable, etag_matches, parse_range
from fus.models import FirmwareFile
from fus.services import reports
from portal.audit import client_ip

logger = logging.getLogger(__name__)

Ranges = list[tuple[int, int]]


def stored_path(file: FirmwareFile) -> Path | None:
    """The file's path under MEDIA_ROOT/firmware, or None if it points anywhere else."""
    root = (Path(settings.MEDIA_ROOT) / "firmware").resolve()
    try:
        path = (Path(settings.MEDIA_ROOT) / file.file.name).resolve()
    except (OSError, ValueError):
        return None
    return path if path.is_relative_to(root) else None


def repr_digest(sha256_hex: str) -> str:
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


# --- the byte streams ----------------------------------------------------------------------------


class _Parts:
    """What goes out: the file's byte ranges, with multipart framing when there are several."""

    def __init__(self, ranges: Ranges, size: int, content_type: str):
        self.ranges = ranges
        self.multipart = len(ranges) > 1
        self.boundary = get_random_string(24)
        self.heads = [
            (
                f"\r\n--{self.boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n"
            ).encode()
            for first, last in ranges
        ]
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_length(self) -> int:
        body = sum(last - first + 1 for first, last in self.ranges)
        if self.multipart:
            body += sum(len(h) for h in self.heads) + len(self.tail)
        return body


class FirmwareStream(StreamingHttpResponse):
    """A streamed file body that records the end of its download when the server closes it."""

    def __init__(
        self,
        path: Path,
        parts: _Parts,
        *,
        chunk_size: int,
        asynchronous: bool,
        record_id: int | None,
        **kwargs,
    ):
        self.bytes_sent = 0
        self._record_id = record_id
        self._fd = os.open(path, os.O_RDONLY)
        self._chunk_size = chunk_size
        self._parts = parts
        content = self._aiter() if asynchronous else self._iter()
        super().__init__(content, **kwargs)

    def _pieces(self) -> Iterator[tuple[bytes | None, int, int]]:
        """(framing to send first, offset, length) per range."""
        parts = self._parts
        for i, (first, last) in enumerate(parts.ranges):
            yield (parts.heads[i] if parts.multipart else None, first, last - first + 1)

    def _iter(self) -> Iterator[bytes]:
        for head, offset, length in self._pieces():
            if head:
                yield head
            while length > 0:
                block = os.pread(self._fd, min(self._chunk_size, length), offset)
                if not block:
                    raise OSError(f"{self._fd}: file shorter than recorded")
                offset += len(block)
                length -= len(block)
                self.bytes_sent += len(block)
                yield block
        if self._parts.multipart:
            yield self._parts.tail

    async def _aiter(self) -> AsyncIterator[bytes]:
        for head, offset, length in self._pieces():
            if head:
                yield head
            while length > 0:
                block = await asyncio.to_thread(
                    os.pread, self._fd, min(self._chunk_size, length), offset
                )
                if not block:
                    raise OSError(f"{self._fd}: file shorter than recorded")
                offset += len(block)
                length -= len(block)
                self.bytes_sent += len(block)
                yield block
        if self._parts.multipart:
            yield self._parts.tail

    def close(self) -> None:
        # Record first: super().close() sends request_finished, which closes this thread's
        # database connection (a connection opened after it would be left open).
        try:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None  # type: ignore[assignment]
            if self._record_id is not None:
                record_id, self._record_id = self._record_id, None
                try:
                    reports.finish_download(record_id, bytes_sent=self.bytes_sent)
                except Exception:  # the download went out; a lost statistic is logged, not raised
                    logger.exception("could not record the end of download %s", record_id)
        finally:
            super().close()


# --- the view ------------------------------------------------------------------------------------


def _done_token(record_id: int) -> str:
    key = delivery_settings().url_secret
    mac = hmac.new(key, f"done:{record_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{record_id}.{mac}"


@require_http_methods(["GET", "HEAD"])
def firmware_download(
    request: HttpRequest, package_id: int, file_name: str, manufacturer_id: int | None = None
) -> HttpResponse:
    conf = delivery_settings()
    if any(ord(c) < 32 or c == "\x7f" for c in file_name):
        raise Http404("No such firmware file.")  # never a stored name; PostgreSQL refuses NUL
    files = FirmwareFile.objects.select_related("package").defer("signature")
    if manufacturer_id is not None:
        files = files.filter(package__manufacturer_id=manufacturer_id)
    file = files.filter(
        package_id=package_id, file_name=file_name, package__status=FirmwareStatus.APPROVED
    ).first()
    path = stored_path(file) if file is not None else None
    if file is None or path is None:
        raise Http404("No such firmware file.")
    try:
        on_disk = path.stat().st_size
    except OSError:
        logger.error("firmware file %s (%s) is missing from storage", file.pk, path)
        raise Http404("No such firmware file.") from None
    if on_disk != file.size:
        logger.error(
            "firmware file %s is %s bytes on disk, %s recorded", file.pk, on_disk, file.size
        )
        raise Http404("No such firmware file.")

    box = ""
    if conf.download_auth == "signed-url":
        try:
            box = auth.check_signed(request)
        except auth.AccessDenied as exc:
            return HttpResponseForbidden(str(exc), content_type="text/plain; charset=utf-8")
    elif conf.download_auth == "digest":
        outcome = auth.check_digest(request)
        if outcome.challenge is not None:
            return outcome.challenge
        box = outcome.username or ""

    size = file.size
    etag = f'"{file.sha256}"'
    modified = file.package.approved_at or file.created
    headers = {
        "ETag": etag,
        "Repr-Digest": repr_digest(file.sha256),
        "Accept-Ranges": "bytes",
        "Last-Modified": http_date(modified.astimezone(UTC).timestamp()),
        # Approved packages never change; with access control, keep shared caches out.
        "Cache-Control": "public, max-age=86400, immutable"
        if conf.download_auth == "none"
        else "private, no-store",
    }
    if etag_matches(request.headers.get("If-None-Match"), etag, weak=True):
        return HttpResponse(status=304, headers=headers)

    ranges: Ranges | None = None
    if_range = request.headers.get("If-Range")
    if request.headers.get("Range") and (not if_range or etag_matches(if_range, etag, weak=False)):
        try:
            ranges = parse_range(request.headers["Range"], size)
        except Unsatisfiable:
            return HttpResponse(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    content_type = "application/octet-stream"
    whole = [(0, size - 1)] if size else []
    parts = _Parts(ranges or whole, size, content_type)
    if ranges is not None:
        status = 206
        if parts.multipart:
            headers["Content-Type"] = f"multipart/byteranges; boundary={parts.boundary}"
        else:
            first, last = ranges[0]
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"
            headers["Content-Type"] = content_type
    else:
        status = 200
        headers["Content-Type"] = content_type
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(file.file_name)}"
    expected = sum(last - first + 1 for first, last in parts.ranges)
    range_start, range_end = (ranges[0][0], ranges[-1][1]) if ranges else (None, None)

    if conf.download_accel_redirect:
        # nginx reads the file and answers Range itself; it reports the end to /firmware/-/done.
        record = None
        if request.method == "GET":
            record = reports.start_download(
                file,
                range_start=range_start,
                range_end=range_end,
                bytes_expected=expected,
                client_ip=client_ip(request),
                box=box,
                via_accel=True,
            )
        accel_headers = {
            k: v for k, v in headers.items() if k in ("ETag", "Repr-Digest", "Cache-Control")
        }
        accel_headers["Content-Type"] = content_type
        accel_headers["Content-Disposition"] = (
            f"attachment; filename*=UTF-8''{quote(file.file_name)}"
        )
        accel_headers["X-Accel-Redirect"] = conf.download_accel_redirect + quote(file.file.name)
        if record is not None:
            accel_headers["X-Fus-Download"] = _done_token(record.pk)
        return HttpResponse(status=200, headers=accel_headers)

    headers["Content-Length"] = str(parts.content_length)
    if request.method == "HEAD":
        return HttpResponse(status=status, headers=headers)
    record = reports.start_download(
        file,
        range_start=range_start,
        range_end=range_end,
        bytes_expected=expected,
        client_ip=client_ip(request),
        box=box,
    )
    return FirmwareStream(
        path,
        parts,
        chunk_size=conf.download_chunk_size,
        asynchronous=isinstance(request, ASGIRequest),
        record_id=record.pk,
        status=status,
        headers=headers,
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def download_done(request: HttpRequest) -> HttpResponse:
    """nginx's `post_action` after an X-Accel-Redirect download: `?t=<token>&bytes=<sent>&done=<OK or
    empty>`. The token is the signed record id the download response carried; anything else is 404."""
    token = request.GET.get("t", "")
    record_text, _, _ = token.partition(".")
    try:
        record_id = int(record_text)
        sent = int(request.GET.get("bytes", "0"))
    except ValueError:
        raise Http404 from None
    if not hmac.compare_digest(_done_token(record_id), token) or sent < 0:
        raise Http404
    reports.finish_download(
        record_id, bytes_sent=sent, completed=request.GET.get("done", "") == "OK"
    )
    return HttpResponse(status=204)
