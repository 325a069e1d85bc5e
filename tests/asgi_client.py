"""Driving an ASGI application in process, for the lean entries' tests (`portal.lean`): one HTTP
request (`call`; `serve` on a loop already running), its body in two chunks, the answer's headers
kept in order (repeated ones included)."""

from __future__ import annotations

import asyncio


def call(app, body: bytes = b"", **kwargs) -> tuple[int, list[tuple[str, str]], bytes]:
    """-> (status, [(header, value), ...], body), on an event loop of its own."""
    return asyncio.run(serve(app, body, **kwargs))


async def serve(
    app,
    body: bytes = b"",
    *,
    method: str = "POST",
    path: str,
    query: bytes = b"",
    host: bytes = b"127.0.0.1",
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> tuple[int, list[tuple[str, str]], bytes]:
    """`call` on the running event loop (beside what else runs on it)."""
    sent: dict = {"status": None, "headers": [], "body": b""}
    chunks = [
        {"type": "http.request", "body": body[:100], "more_body": True},
        {"type": "http.request", "body": body[100:], "more_body": False},
    ]

    async def receive():
        if chunks:
            return chunks.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = [(k.decode(), v.decode()) for k, v in message["headers"]]
        else:
            sent["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [
            (b"host", host),
            (b"content-type", b"text/xml; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return sent["status"], sent["headers"], sent["body"]


def header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


def header(headers: list[tuple[str, str]], name: str) -> str | None:
    values = header_values(headers, name)
    return values[0] if values else None
