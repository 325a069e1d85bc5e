"""Streaming firmware uploads: straight to disk, sized and hashed on the way, never whole in memory.

`HashingUploadHandler` is Django's only upload handler (settings.FILE_UPLOAD_HANDLERS). Each uploaded
file is written in chunks to `MEDIA_ROOT/.incoming/<random>.part` (the same filesystem as the final
firmware folder, so accepting it is an atomic `os.replace`) while its size and SHA-256 are computed.

Failures never raise inside Django's multipart parser (that would surface as a bare "400 Bad
Request" page): the handler stops writing, deletes the partial file, drains the rest of the stream
and hands the form an `IncomingFile` whose `error` says what went wrong (storage full, file too large).
A file cut off half-way never produces an `IncomingFile` at all, and its partial file is deleted.
`purge_stale_incoming()` removes what a killed process may have left behind.

Under the ASGI server (uvicorn, with body backpressure), Django's ASGI handler first spools the request body to a temporary file (TMPDIR) before
the view runs, so a client that disconnects mid-upload never reaches this code; in production nginx
buffers bodies the same way (`client_body_temp_path`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
STALE_AFTER_SECONDS = 24 * 3600


def incoming_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / ".incoming"
    path.mkdir(parents=True, exist_ok=True)
    return path


class IncomingFile(UploadedFile):
    """An uploaded file on disk under .incoming/, with its size and SHA-256 known.

    `error` is set (and nothing is on disk) when the upload could not be stored. The file must be
    either accepted with `move_to()` or thrown away with `discard()`; the service layer does one or
    the other in every path.
    """

    def __init__(
        self,
        *,
        name: str,
        content_type: str,
        path: Path | None,
        size: int,
        sha256: str,
        error: str = "",
    ) -> None:
        fh = open(path, "rb") if path is not None else None  # noqa: SIM115 (owned by UploadedFile)
        super().__init__(file=fh, name=name, content_type=content_type, size=size)
        self.path = path
        self.sha256 = sha256
        self.error = error

    def temporary_file_path(self) -> str:
        if self.path is None:
            raise ValueError(f"{self.name}: the upload was not stored ({self.error}).")
        return str(self.path)

    def move_to(self, destination: Path) -> None:
        """Accept the file: rename it into place (same filesystem: atomic, no copy)."""
        if self.path is None:
            raise ValueError(f"{self.name}: the upload was not stored ({self.error}).")
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.close()
        os.replace(self.path, destination)
        self.path = None

    def discard(self) -> None:
        """Throw the file away (idempotent)."""
        if not self.closed:
            self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

    def close(self) -> None:
        if self.file is not None and not self.file.closed:
            self.file.close()


class HashingUploadHandler(FileUploadHandler):
    """Streams each file to .incoming/ while hashing it; see the module docstring."""

    chunk_size = CHUNK_SIZE

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self._fh = None
        self._path: Path | None = None
        self._hash = None
        self._size = 0
        self._error = ""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._size = 0
        self._error = ""
        self._hash = hashlib.sha256()
        self._path = incoming_dir() / f"{secrets.token_hex(16)}.part"
        try:
            fd = os.open(
                self._path,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                settings.FILE_UPLOAD_PERMISSIONS or 0o640,
            )
            self._fh = os.fdopen(fd, "wb")
        except OSError as exc:
            self._fail(_storage_message(exc))

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self._error:
            return None  # drain the rest of this file's data without storing it
        self._size += len(raw_data)
        limit = settings.FIRMWARE_MAX_FILE_SIZE
        if self._size > limit:
            self._fail(
                f"the file is larger than the limit of {limit:,} bytes (FIRMWARE_MAX_FILE_SIZE)"
            )
            return None
        self._hash.update(raw_data)
        try:
            self._fh.write(raw_data)
        except OSError as exc:
            self._fail(_storage_message(exc))
        return None

    def file_complete(self, file_size: int) -> IncomingFile:
        path, error = self._path, self._error
        if not error:
            try:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
            except OSError as exc:
                self._fail(_storage_message(exc))
                path, error = None, self._error
        self._fh = None
        self._path = None
        return IncomingFile(
            name=self.file_name,
            content_type=self.content_type or "application/octet-stream",
            path=None if error else path,
            size=self._size,
            sha256="" if error else self._hash.hexdigest(),
            error=error,
        )

    def upload_interrupted(self) -> None:
        """The request body ended before this file did: nothing of it may remain."""
        self._discard_partial()

    def _fail(self, message: str) -> None:
        log.warning("Upload of %r refused: %s", getattr(self, "file_name", "?"), message)
        self._error = message
        self._discard_partial()

    def _discard_partial(self) -> None:
        if self._fh is not None:
            # Closing a file on a full disk may fail again; unlinking it still frees the space.
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None


def _storage_message(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            "the firmware storage is full; nothing was stored, ask an administrator to free space"
        )
    return f"the firmware storage could not be written ({os.strerror(exc.errno or 0) or exc})"


def purge_stale_incoming(max_age_seconds: int = STALE_AFTER_SECONDS) -> int:
    """Delete partial uploads older than `max_age_seconds` (left by a killed process)."""
    cutoff = time.time() - max_age_seconds
    removed = 0
    for path in incoming_dir().glob("*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


class UploadCleanupMiddleware:
    """After every request, delete the incoming files that no service accepted (form errors,
    refusals, exceptions): a refused or abandoned upload leaves nothing on disk."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            files = getattr(request, "_files", None)
            if files:
                for upload in files.values():
                    if isinstance(upload, IncomingFile):
                        upload.discard()


def incoming_from_bytes(
    name: str, chunks, content_type: str = "application/octet-stream"
) -> IncomingFile:
    """An IncomingFile made from bytes on this side (demo data, metadata imports, tests), stored and
    hashed exactly as an HTTP upload would be."""
    if isinstance(chunks, bytes | bytearray):
        chunks = [bytes(chunks)]
    handler = HashingUploadHandler()
    handler.new_file("file", name, content_type, None)
    offset = 0
    for chunk in chunks:
        handler.receive_data_chunk(chunk, offset)
        offset += len(chunk)
    return handler.file_complete(offset)
