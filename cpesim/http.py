"""A small HTTP/1.1 client and server on asyncio streams (standard library only).

The simulator needs exactly this much HTTP: keep-alive POSTs of one CWMP session on one connection
(cookies and auth headers are the caller's business), streamed GETs for firmware downloads
(``Content-Length``, chunked, or read-to-close bodies, hashed as they arrive) and a tiny server for
connection requests. Every read is bounded: header block, body size and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024


class HttpError(Exception):
    """A transport or protocol failure (connection refused, reset, time-out, malformed answer)."""


class Unreachable(HttpError):
    """The server could not be contacted at all (DNS, refused, TLS handshake, connect time-out)."""


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]


@dataclass(frozen=True, slots=True)
class Url:
    scheme: str
    host: str
    port: int
    target: str  # path and query

    @classmethod
    def parse(cls, url: str) -> Url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{url!r}: only http and https URLs are supported")
        if not parts.hostname:
            raise ValueError(f"{url!r}: no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(parts.scheme, parts.hostname, port, target)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


@dataclass
class Connection:
    """One HTTP/1.1 connection (keep-alive until either side closes it)."""

    url: Url
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    closed: bool = False
    extra_headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    async def open(
        cls, url: Url, *, ssl_context: ssl.SSLContext | None = None, timeout: float = 10.0
    ) -> Connection:
        context = None
        if url.scheme == "https":
            context = ssl_context or ssl.create_default_context()
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    url.host,
                    url.port,
                    ssl=context,
                    server_hostname=url.host if context else None,
                    limit=MAX_HEAD,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise Unreachable(f"cannot connect to {url.host}:{url.port}: {exc!r}") from None
        return cls(url, reader, writer)

    async def send(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.url.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (OSError, ConnectionError) as exc:
            self.closed = True
            raise HttpError(f"sending {method} {target}: {exc!r}") from None

    async def read_head(self, timeout: float) -> Response:
        try:
            async with asyncio.timeout(timeout):
                head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            self.closed = True
            raise HttpError(f"response header block larger than {MAX_HEAD} bytes") from None
        except asyncio.IncompleteReadError:
            self.closed = True
            raise HttpError("connection closed before a response") from None
        except TimeoutError:
            self.closed = True
            raise HttpError(f"no response within {timeout:g} s") from None
        except (OSError, ConnectionError) as exc:
            self.closed = True
            raise HttpError(f"reading the response: {exc!r}") from None
        return parse_head(head)

    async def body_chunks(
        self, response: Response, *, limit: int, timeout: float
    ) -> AsyncIterator[bytes]:
        """The response body piece by piece; raises HttpError if it is cut off, too large or late
        (`timeout` bounds the whole body)."""
        deadline = asyncio.get_running_loop().time() + timeout
        length_text = response.header("content-length")
        chunked = "chunked" in (response.header("transfer-encoding") or "").lower()
        if response.status in (204, 304) or 100 <= response.status < 200:
            return
        received = 0
        try:
            if chunked:
                while True:
                    line = await self._within(deadline, self.reader.readuntil(b"\r\n"))
                    try:
                        size = int(line.split(b";", 1)[0].strip(), 16)
                    except ValueError:
                        raise HttpError(f"bad chunk size line {line[:40]!r}") from None
                    if size == 0:
                        while (
                            await self._within(deadline, self.reader.readuntil(b"\r\n")) != b"\r\n"
                        ):
                            pass
                        break
                    received += size
                    if received > limit:
                        raise HttpError(f"body larger than {limit} bytes")
                    yield await self._within(deadline, self.reader.readexactly(size))
                    if await self._within(deadline, self.reader.readexactly(2)) != b"\r\n":
                        raise HttpError("chunk not followed by CRLF")
            elif length_text is not None:
                try:
                    remaining = int(length_text)
                except ValueError:
                    raise HttpError(f"bad Content-Length {length_text!r}") from None
                if remaining > limit:
                    raise HttpError(f"body of {remaining} bytes is larger than {limit}")
                while remaining:
                    piece = await self._within(deadline, self.reader.read(min(CHUNK, remaining)))
                    if not piece:
                        raise HttpError(f"connection closed with {remaining} body bytes missing")
                    remaining -= len(piece)
                    yield piece
            else:
                self.closed = True  # the body runs until the server closes
                while piece := await self._within(deadline, self.reader.read(CHUNK)):
                    received += len(piece)
                    if received > limit:
                        raise HttpError(f"body larger than {limit} bytes")
                    yield piece
        except HttpError:
            self.closed = True
            raise
        except (
            OSError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ) as exc:
            self.closed = True
            raise HttpError(f"reading the body: {exc!r}") from None
        if (response.header("connection") or "").lower() == "close":
            self.closed = True

    async def _within(self, deadline: float, awaitable: Awaitable[bytes]) -> bytes:
        # asyncio.timeout_at, not wait_for: on Python 3.11 wait_for returns a result that arrives
        # together with a cancellation and so loses the cancellation (a stopping fleet waits for
        # a task that goes on running).
        try:
            async with asyncio.timeout_at(deadline):
                return await awaitable
        except TimeoutError:
            raise HttpError("the body did not arrive in time") from None

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
        *,
        timeout: float = 30.0,
        limit: int = 8 * 1024 * 1024,
    ) -> Response:
        await self.send(method, target, headers, body)
        response = await self.read_head(timeout)
        pieces = [piece async for piece in self.body_chunks(response, limit=limit, timeout=timeout)]
        response.body = b"".join(pieces)
        return response

    async def close(self) -> None:
        self.closed = True
        self.writer.close()
        with contextlib.suppress(OSError, ConnectionError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(2):
                await self.writer.wait_closed()

    def abort(self) -> None:
        """Drop the TCP connection without a goodbye (the misbehaving box)."""
        self.closed = True
        transport = self.writer.transport
        transport.abort()


def parse_head(head: bytes) -> Response:
    try:
        text = head.decode("latin-1")
        status_line, *header_lines = text.split("\r\n")
        version, status, *reason = status_line.split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(status_line)
        headers = []
        for line in header_lines:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return Response(int(status), reason[0] if reason else "", headers)
    except ValueError:
        raise HttpError(f"malformed response head {head[:80]!r}") from None


# --- server ---------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    peer: str

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


Handler = Callable[[Request], Awaitable[tuple[int, list[tuple[str, str]], bytes]]]


async def serve(handler: Handler, host: str, port: int, *, timeout: float = 10.0) -> asyncio.Server:
    """Serve GET/HEAD requests (bodies are refused) with `handler`, keep-alive included."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        peer_text = peer[0] if isinstance(peer, tuple) else str(peer)
        try:
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        head = await reader.readuntil(b"\r\n\r\n")
                except (
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    TimeoutError,
                    OSError,
                ):
                    return
                request = _parse_request(head, peer_text)
                if request is None:
                    writer.write(_response(400, [("Connection", "close")], b"bad request\n"))
                    return
                length = request.header("content-length")
                if (length and length.strip() != "0") or request.header("transfer-encoding"):
                    writer.write(_response(413, [("Connection", "close")], b"no bodies here\n"))
                    return
                status, headers, body = await handler(request)
                close = (request.header("connection") or "").lower() == "close"
                if close:
                    headers = [*headers, ("Connection", "close")]
                writer.write(_response(status, headers, b"" if request.method == "HEAD" else body))
                await writer.drain()
                if close:
                    return
        except (OSError, ConnectionError):
            return
        finally:
            writer.close()

    return await asyncio.start_server(connection, host, port, limit=16 * 1024)


_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    503: "Service Unavailable",
}


def _response(status: int, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _parse_request(head: bytes, peer: str) -> Request | None:
    try:
        text = head.decode("latin-1")
        request_line, *lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
        if not version.startswith("HTTP/1."):
            return None
    except ValueError:
        return None
    headers = []
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
    return Request(method, target, headers, peer)
