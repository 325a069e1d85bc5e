"""`portal.lean`: what a lean entry writes (Content-Length, cookies, streaming) and how its pool
size is configured."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, StreamingHttpResponse

from portal.lean import send_response, threads_from_environment


def sent(response) -> tuple[dict, bytes]:
    messages = []

    async def send(message):
        messages.append(message)

    asyncio.run(send_response(send, response))
    start, *bodies = messages
    headers = {}
    for name, value in start["headers"]:
        headers.setdefault(name.decode().lower(), []).append(value.decode())
    return {"status": start["status"], **headers}, b"".join(m.get("body", b"") for m in bodies)


def test_complete_answers_carry_their_length_but_204_and_304_carry_none():
    head, body = sent(HttpResponse(b"hello"))
    assert head["content-length"] == ["5"] and body == b"hello"
    for status in (204, 304):
        head, body = sent(HttpResponse(status=status))
        assert "content-length" not in head and body == b""


def test_cookies_and_repeated_headers_are_written():
    response = HttpResponse(b"x")
    response.set_cookie("cwmp_session", "abc", httponly=True)
    head, _ = sent(response)
    (cookie,) = head["set-cookie"]
    assert cookie.startswith("cwmp_session=abc;") and "HttpOnly" in cookie


def test_a_streaming_answer_is_sent_in_chunks_without_a_length():
    head, body = sent(StreamingHttpResponse(iter([b"a", b"b", b"c"])))
    assert "content-length" not in head and body == b"abc"


def test_request_finished_is_sent_once_per_request_in_the_pool_thread():
    """Django's `HttpResponse.close()` sends `request_finished` too; on the loop's thread that
    would clean up connections in an async context (SynchronousOnlyOperation on SQLite)."""
    from django.core import signals

    from portal.lean import LeanEndpoint
    from tests import asgi_client

    threads = []

    def finished(**kwargs):
        threads.append(threading.current_thread().name)

    entry = LeanEndpoint(
        name="lean-test",
        paths=("/x",),
        view=lambda request: HttpResponse(b"ok"),
        max_body=lambda: 1000,
        threads=1,
    )
    signals.request_finished.connect(finished, dispatch_uid="test-lean-finished")
    try:
        status, _, body = asgi_client.call(entry, b"", path="/x")
    finally:
        signals.request_finished.disconnect(dispatch_uid="test-lean-finished")
    assert (status, body) == (200, b"ok")
    assert len(threads) == 1 and threads[0].startswith("lean-test"), threads


def test_the_pool_size_comes_from_the_environment_and_a_bad_one_is_refused(monkeypatch):
    monkeypatch.delenv("X_THREADS", raising=False)
    assert threads_from_environment("X_THREADS") == 4
    monkeypatch.setenv("X_THREADS", "8")
    assert threads_from_environment("X_THREADS") == 8
    for bad in ("0", "-1", "many"):
        monkeypatch.setenv("X_THREADS", bad)
        with pytest.raises(
            ImproperlyConfigured, match=f"X_THREADS must be a positive integer, not '{bad}'"
        ):
            threads_from_environment("X_THREADS")
