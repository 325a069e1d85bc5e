"""The CWMP endpoint (`/cwmp`, and port 7547 when configured): a plain Django view.

It reads the body within CWMP_MAX_BODY, hands the request to `acs.services.cwmp.serve` and writes
its answer. No CSRF (boxes are not browsers), no login: boxes authenticate with HTTP digest (see
`acs.services.auth`).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from acs.conf import acs_settings
from acs.services import cwmp


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit` (declared or actual)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    data = request.read(limit + 1)
    return None if len(data) > limit else data


class CwmpResponse(HttpResponse):
    """An HttpResponse that may repeat a header (one WWW-Authenticate challenge per digest
    algorithm, RFC 7616 3.7); Django's handlers write `items()`."""

    repeated_headers: list[tuple[str, str]]

    def items(self):
        yield from super().items()
        yield from getattr(self, "repeated_headers", ())


@csrf_exempt
def cwmp_endpoint(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        response = HttpResponse(
            b"This is the TR-069 ACS endpoint: CPEs POST CWMP messages here.\n",
            status=405,
            content_type="text/plain; charset=utf-8",
        )
        response["Allow"] = "POST"
        return response
    limit = acs_settings().max_body
    body = _read_body(request, limit)
    if body is None:
        return HttpResponse(
            f"CWMP message larger than {limit} bytes (CWMP_MAX_BODY).\n".encode(),
            status=413,
            content_type="text/plain; charset=utf-8",
        )
    answer = cwmp.serve(
        cwmp.CwmpRequest(
            body=body,
            cookie=request.COOKIES.get(cwmp.COOKIE, ""),
            authorization=request.META.get("HTTP_AUTHORIZATION", ""),
            method=request.method,
            path=request.path,
            query=request.META.get("QUERY_STRING", ""),
            secure=request.is_secure(),
            remote_addr=request.META.get("REMOTE_ADDR") or None,
        )
    )
    response = CwmpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    if answer.status == 204:
        del response["Content-Type"]
    response.repeated_headers = []
    for name, value in answer.headers:
        if name in response:
            response.repeated_headers.append((name, value))
        else:
            response[name] = value
    if answer.set_cookie:
        response.set_cookie(
            cwmp.COOKIE, answer.set_cookie, httponly=True, secure=request.is_secure(), path="/"
        )
    elif answer.clear_cookie and cwmp.COOKIE in request.COOKIES:
        response.delete_cookie(cwmp.COOKIE, path="/")
    return response
