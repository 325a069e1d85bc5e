"""The download server /firmware/: streaming, HEAD, ranges, conditional requests, integrity headers,
access control, nginx X-Accel-Redirect, traversal, and the download records."""

from __future__ import annotations

import asyncio
import base64
import email
import hashlib
import os
import time
import tracemalloc
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_finished
from django.db import close_old_connections

from acs import digest
from fus.delivery.auth import box_password
from fus.delivery.views import firmware_download
from fus.downloads import file_path, file_url
from fus.models import DownloadRecord, DownloadStatus, FirmwareFile
from fus.services import catalogue
from tests.factories import make_package
from tests.fus.delivery_helpers import approved_package

DATA = os.urandom(300_000)


@pytest.fixture
def package(tenants):
    return approved_package(tenants["dc_a"], data=DATA, actor=tenants["noc"])


@pytest.fixture
def image(package):
    return package.files.get()


@pytest.fixture
def url(image):
    return file_path(image)


def _get(client, url, **headers):
    response = client.get(url, headers=headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_whole_file_is_streamed_with_integrity_headers(client, image, url):
    response, body = _get(client, url)
    assert response.status_code == 200
    assert response.streaming
    assert body == DATA
    digest_b64 = base64.b64encode(hashlib.sha256(DATA).digest()).decode()
    assert response["Repr-Digest"] == f"sha-256=:{digest_b64}:"
    assert response["ETag"] == f'"{hashlib.sha256(DATA).hexdigest()}"'
    assert response["Content-Length"] == str(len(DATA))
    assert response["Accept-Ranges"] == "bytes"
    assert "image.bin" in response["Content-Disposition"]
    record = DownloadRecord.objects.get()
    assert record.status == DownloadStatus.COMPLETED
    assert record.bytes_sent == record.bytes_expected == len(DATA)
    assert record.file == image and record.range_start is None
    assert record.finished_at >= record.started_at


def test_head_sends_headers_only_and_records_nothing(client, url):
    response = client.head(url)
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response.content == b""
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=100-199", 100, 199),
        ("bytes=-10", len(DATA) - 10, len(DATA) - 1),
        ("bytes=299990-", 299990, 299999),
    ],
)
def test_single_range_resumes(client, url, header, first, last):
    response, body = _get(client, url, Range=header)
    assert response.status_code == 206
    assert body == DATA[first : last + 1]
    assert response["Content-Range"] == f"bytes {first}-{last}/{len(DATA)}"
    assert response["Content-Length"] == str(last - first + 1)
    record = DownloadRecord.objects.get()
    assert (record.range_start, record.range_end) == (first, last)
    assert record.status == DownloadStatus.COMPLETED


def test_multiple_ranges_are_multipart_byteranges(client, url):
    response, body = _get(client, url, Range="bytes=0-9,1000-1099")
    assert response.status_code == 206
    content_type = response["Content-Type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    assert int(response["Content-Length"]) == len(body)
    message = email.message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    parts = list(message.iter_parts())
    assert [p["Content-Range"] for p in parts] == [
        f"bytes 0-9/{len(DATA)}",
        f"bytes 1000-1099/{len(DATA)}",
    ]
    assert [p.get_payload(decode=True) for p in parts] == [DATA[0:10], DATA[1000:1100]]


def test_range_beyond_the_file_is_416(client, url):
    response = client.get(url, headers={"Range": f"bytes={len(DATA)}-"})
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(DATA)}"
    assert not DownloadRecord.objects.exists()


def test_if_none_match_is_304(client, url, image):
    for value in (f'"{image.sha256}"', f'"other", W/"{image.sha256}"', "*"):
        response = client.get(url, headers={"If-None-Match": value})
        assert response.status_code == 304
        assert response["ETag"] == f'"{image.sha256}"'
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_if_range_with_another_etag_sends_the_whole_file(client, url, image):
    response, body = _get(client, url, Range="bytes=0-9", **{"If-Range": '"stale"'})
    assert response.status_code == 200 and body == DATA
    response, body = _get(client, url, Range="bytes=0-9", **{"If-Range": f'"{image.sha256}"'})
    assert response.status_code == 206 and body == DATA[:10]


def test_only_approved_packages_are_served(client, tenants, package, url):
    draft = make_package(tenants["dc_a"], "3.0.0")
    assert client.get(file_path(draft.files.get())).status_code == 404
    catalogue.retire_firmware(package, actor=tenants["noc"], reason="superseded")
    assert client.get(url).status_code == 404
    assert not DownloadRecord.objects.exists()


@pytest.mark.parametrize(
    "suffix",
    [
        "../../../../etc/passwd",
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2e%2e/%2e%2e/secret_key",
        "image.bin/../image.bin",
        "./image.bin",
        "image.bin%00",
        "IMAGE.BIN",
    ],
)
def test_path_traversal_is_404(client, package, suffix):
    response = client.get(f"/firmware/{package.pk}/{suffix}")
    assert response.status_code == 404


def test_a_row_pointing_outside_the_firmware_folder_is_404(client, image, url, settings):
    secret = settings.MEDIA_ROOT / "elsewhere.bin"
    secret.write_bytes(DATA)
    FirmwareFile.objects.filter(pk=image.pk).update(file="firmware/../elsewhere.bin")
    assert client.get(url).status_code == 404


def test_a_file_changed_on_disk_is_not_served(client, image, url):
    with open(image.file.path, "ab") as fh:
        fh.write(b"tampered")
    assert client.get(url).status_code == 404


def test_an_aborted_download_is_recorded_as_such(rf, image, settings):
    settings.FUS_DOWNLOAD_CHUNK_SIZE = 16 * 1024
    request = rf.get(file_path(image))
    response = firmware_download(request, image.package_id, image.file_name)
    next(iter(response))  # the client goes away after the first block
    # the server closes the response; keep the test's database connection open meanwhile
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    record = DownloadRecord.objects.get()
    assert record.status == DownloadStatus.ABORTED
    assert 0 < record.bytes_sent < len(DATA)


# --- file_url and signed URLs ------------------------------------------------------------------


def test_file_url(image, settings):
    settings.FUS_DOWNLOAD_BASE_URL = "https://fus.example.net/firmware/"
    assert file_url(image) == f"https://fus.example.net/firmware/{image.package_id}/image.bin"
    assert file_url(image, base="http://10.0.0.1:8080") == (
        f"http://10.0.0.1:8080/firmware/{image.package_id}/image.bin"
    )
    settings.FUS_DOWNLOAD_BASE_URL = ""
    with pytest.raises(ImproperlyConfigured, match="FUS_DOWNLOAD_BASE_URL"):
        file_url(image)


def test_bad_settings_are_named(image, settings):
    settings.FUS_DOWNLOAD_AUTH = "magic"
    with pytest.raises(ImproperlyConfigured, match="FUS_DOWNLOAD_AUTH='magic'"):
        file_url(image, base="http://x")


@pytest.fixture
def signed(settings):
    settings.FUS_DOWNLOAD_AUTH = "signed-url"
    settings.FUS_DOWNLOAD_URL_TTL = 600


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_url_downloads_and_names_the_box(client, image, url, signed):
    link = file_url(image, base="http://127.0.0.1", box="00D09E-SN42")
    assert "sig=" in link and "expires=" in link
    response, body = _get(client, _local(link))
    assert response.status_code == 200 and body == DATA
    assert response["Cache-Control"] == "private, no-store"
    assert DownloadRecord.objects.get().box == "00D09E-SN42"


def test_signed_url_refusals(client, image, url, signed):
    link = _local(file_url(image, base="http://127.0.0.1", box="00D09E-SN42"))
    assert client.get(url).status_code == 403  # unsigned
    tampered = link.replace("SN42", "SN43")
    response = client.get(tampered)
    assert response.status_code == 403 and b"signature" in response.content
    other_file = link.replace("image.bin", "other.bin")
    assert client.get(other_file).status_code == 404
    from fus.delivery.auth import sign_path

    expired = sign_path(url, box="b", now=time.time() - 10_000)
    response = client.get(expired)
    assert response.status_code == 403 and b"expired" in response.content
    assert not DownloadRecord.objects.exists()


def test_digest_access_control(client, url, settings):
    settings.FUS_DOWNLOAD_AUTH = "digest"
    challenge = client.get(url)
    assert challenge.status_code == 401
    (chal,) = digest.parse_challenges([challenge["WWW-Authenticate"]])
    user = "00D09E-SN7"

    def answer(password, nc=1):
        return digest.client_authorization(
            chal, username=user, password=password, method="GET", uri=url, nc=nc
        )

    assert client.get(url, headers={"Authorization": answer("wrong")}).status_code == 401
    response, body = _get(client, url, Authorization=answer(box_password(user)))
    assert response.status_code == 200 and body == DATA
    assert DownloadRecord.objects.get().box == user
    replay = client.get(url, headers={"Authorization": answer(box_password(user))})
    assert replay.status_code == 401 and "stale=true" in replay["WWW-Authenticate"]


# --- nginx X-Accel-Redirect ------------------------------------------------------------------------


def test_accel_redirect_hands_the_file_to_nginx_and_records_its_end(client, image, url, settings):
    settings.FUS_DOWNLOAD_ACCEL_REDIRECT = "/protected-firmware/"
    response = client.get(url, headers={"Range": "bytes=0-9"})
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-firmware/{image.file.name}"
    assert response["ETag"] == f'"{image.sha256}"'
    assert response["Repr-Digest"].startswith("sha-256=:")
    record = DownloadRecord.objects.get()
    assert record.via_accel and record.status == DownloadStatus.STARTED
    assert (record.range_start, record.range_end) == (0, 9)
    token = response["X-Fus-Download"]
    assert client.get(f"/firmware/-/done?t={record.pk}.forged&bytes=10&done=OK").status_code == 404
    assert client.get(f"/firmware/-/done?t={token}&bytes=10&done=OK").status_code == 204
    record.refresh_from_db()
    assert record.status == DownloadStatus.COMPLETED and record.bytes_sent == 10
    # a second report for the same download changes nothing
    assert client.get(f"/firmware/-/done?t={token}&bytes=0&done=").status_code == 204
    record.refresh_from_db()
    assert record.status == DownloadStatus.COMPLETED


def test_accel_redirect_setting_is_checked(client, url, settings):
    settings.FUS_DOWNLOAD_ACCEL_REDIRECT = "protected"
    with pytest.raises(ImproperlyConfigured, match="FUS_DOWNLOAD_ACCEL_REDIRECT"):
        client.get(url)


# --- the real ASGI path ----------------------------------------------------------------------------


async def _asgi_get(path: str, *, stop_after: int | None = None, keep_body: bool = True):
    """Drive Django's ASGI handler like uvicorn does; the client disconnects after `stop_after`
    body bytes if given. Returns (status, headers, body bytes or count)."""
    app = ASGIHandler()
    gone = asyncio.Event()
    state = {"asked": False, "status": None, "headers": {}, "body": bytearray(), "count": 0}

    async def receive():
        if not state["asked"]:
            state["asked"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            state["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            state["count"] += len(chunk)
            if keep_body:
                state["body"] += chunk
            if stop_after is not None and state["count"] >= stop_after:
                gone.set()
                await asyncio.sleep(0.05)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return state["status"], state["headers"], bytes(state["body"]) if keep_body else state["count"]


@pytest.mark.django_db(transaction=True)
def test_asgi_streams_and_records(tenants):
    package = approved_package(tenants["dc_a"], data=DATA)
    path = file_path(package.files.get())
    status, _headers, body = asyncio.run(_asgi_get(path))
    assert status == 200 and body == DATA
    record = DownloadRecord.objects.get()
    assert record.status == DownloadStatus.COMPLETED and record.bytes_sent == len(DATA)


@pytest.mark.django_db(transaction=True)
def test_asgi_client_going_away_is_an_aborted_download(tenants, settings):
    settings.FUS_DOWNLOAD_CHUNK_SIZE = 16 * 1024
    package = approved_package(tenants["dc_a"], data=DATA)
    path = file_path(package.files.get())
    status, _, count = asyncio.run(_asgi_get(path, stop_after=32 * 1024, keep_body=False))
    assert status == 200 and count < len(DATA)
    record = DownloadRecord.objects.get()
    assert record.status == DownloadStatus.ABORTED
    assert record.bytes_sent < len(DATA)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_asgi_never_holds_the_file_in_memory(tenants):
    """64 MiB streamed through the ASGI handler with a bounded Python heap (Django's FileResponse
    would be consumed whole into memory there)."""
    package = approved_package(tenants["dc_a"], data=b"x" * 1024)
    image = package.files.get()
    size = 64 * 1024 * 1024
    with open(image.file.path, "r+b") as fh:  # sparse, no bytes of ours in memory
        fh.truncate(size)
    FirmwareFile.objects.filter(pk=image.pk).update(size=size)
    tracemalloc.start()
    try:
        status, _, count = asyncio.run(_asgi_get(file_path(image), keep_body=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200 and count == size
    assert peak < 16 * 1024 * 1024, f"peak Python heap {peak / 2**20:.1f} MiB while streaming"


def test_the_storage_layout_url_serves_the_same_file(client, image):
    """URLs built from a file's stored name (firmware/<manufacturer>/<package>/<file>) work too."""
    response, body = _get(client, "/" + image.file.name)
    assert response.status_code == 200 and body == DATA
    package = image.package
    wrong = f"/firmware/{package.manufacturer_id + 1}/{package.pk}/{image.file_name}"
    assert client.get(wrong).status_code == 404
